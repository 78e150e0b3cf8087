/** The SessionDirectory contract: Memory and Redis implementations pass the same suite. */
import { describe, expect, test } from 'bun:test';
import type { SessionDirectory } from '../../../src/cluster/sessions.ts';
import type { RpcEnvelope } from '../../../src/protocol/envelope.ts';

const reply = (requestId: string): RpcEnvelope => ({ kind: 'rpc', reply: 'result', sessionId: 's', requestId, data: '1' });

export function sessionsContract(name: string, make: () => SessionDirectory): void {
  describe(`SessionDirectory contract: ${name}`, () => {
    test('claim makes an owner; park keeps replies for it; a claim elsewhere takes them', async () => {
      const d = make();
      expect(await d.owner('s1')).toBeNull();
      expect(await d.claim('s1', 'a', 10_000)).toEqual({ parked: [], open: [] });
      expect(await d.owner('s1')).toBe('a');
      expect(await d.park('s1', 'a', reply('r1'), 10_000)).toEqual({ parked: true });
      expect(await d.park('s1', 'a', reply('r2'), 10_000)).toEqual({ parked: true });
      expect(await d.claim('s1', 'b', 10_000)).toEqual({ parked: [reply('r1'), reply('r2')], open: [] });
      expect(await d.owner('s1')).toBe('b');
      // The old owner learns where the session went instead of parking.
      expect(await d.park('s1', 'a', reply('r3'), 10_000)).toEqual({ parked: false, owner: 'b' });
      expect((await d.claim('s1', 'b', 10_000)).parked).toEqual([]);
    });

    test('openJob records the deadline and never takes a session from another owner', async () => {
      const d = make();
      expect(await d.openJob('s2', 'a', { requestId: 'j1', deadlineMs: 1000 }, 10_000)).toBe(true);
      expect(await d.openJob('s2', 'a', { requestId: 'j2', deadlineMs: 2000 }, 10_000)).toBe(true);
      expect(await d.owner('s2')).toBe('a');
      const claimed = await d.claim('s2', 'b', 10_000);
      expect(claimed.open.sort((x, y) => x.deadlineMs - y.deadlineMs)).toEqual([
        { requestId: 'j1', deadlineMs: 1000 },
        { requestId: 'j2', deadlineMs: 2000 },
      ]);
      // A job started on the old instance after the move is still recorded, without taking the session back.
      expect(await d.openJob('s2', 'a', { requestId: 'j3', deadlineMs: 3000 }, 10_000)).toBe(false);
      expect(await d.owner('s2')).toBe('b');
      await d.closeJob('s2', 'j1');
      await d.closeJob('s2', 'j3');
      expect((await d.claim('s2', 'b', 10_000)).open).toEqual([{ requestId: 'j2', deadlineMs: 2000 }]);
    });

    test('a dead owner can still be parked for: the reaper parks on its behalf until the session resumes', async () => {
      const d = make();
      await d.openJob('s4', 'dead', { requestId: 'j', deadlineMs: 5000 }, 10_000);
      expect(await d.park('s4', 'dead', reply('j'), 10_000)).toEqual({ parked: true });
      const claimed = await d.claim('s4', 'c', 10_000);
      expect(claimed).toEqual({ parked: [reply('j')], open: [{ requestId: 'j', deadlineMs: 5000 }] });
      // Resumed on c: what the dead instance still holds goes to c.
      expect(await d.park('s4', 'dead', reply('k'), 10_000)).toEqual({ parked: false, owner: 'c' });
    });

    test('nobody owns a released or unknown session; parking there drops the reply', async () => {
      const d = make();
      expect(await d.park('s3', 'a', reply('r'), 10_000)).toEqual({ parked: false, owner: null });
      await d.claim('s3', 'a', 10_000);
      await d.release('s3', 'b'); // not the owner: no effect
      expect(await d.owner('s3')).toBe('a');
      await d.release('s3', 'a');
      expect(await d.owner('s3')).toBeNull();
    });
  });
}
