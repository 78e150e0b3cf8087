/** The SessionDirectory contract: Memory and Redis implementations pass the same suite. */
import { describe, expect, test } from 'bun:test';
import type { SessionDirectory } from '../../../src/cluster/sessions.ts';
import type { RpcEnvelope } from '../../../src/protocol/envelope.ts';

const reply = (requestId: string): RpcEnvelope => ({ kind: 'rpc', event: 'result', sessionId: 's', requestId, data: '1' });

export function sessionsContract(name: string, make: () => SessionDirectory): void {
  describe(`SessionDirectory contract: ${name}`, () => {
    test('claim makes an owner; park keeps replies for it; a claim elsewhere takes them', async () => {
      const d = make();
      expect(await d.owner('s1')).toBeNull();
      expect(await d.claim('s1', 'a', 10_000)).toEqual([]);
      expect(await d.owner('s1')).toBe('a');
      expect(await d.park('s1', 'a', reply('r1'), 10_000)).toEqual({ parked: true });
      expect(await d.park('s1', 'a', reply('r2'), 10_000)).toEqual({ parked: true });
      expect(await d.claim('s1', 'b', 10_000)).toEqual([reply('r1'), reply('r2')]);
      expect(await d.owner('s1')).toBe('b');
      // The old owner learns where the session went instead of parking.
      expect(await d.park('s1', 'a', reply('r3'), 10_000)).toEqual({ parked: false, owner: 'b' });
      expect(await d.claim('s1', 'b', 10_000)).toEqual([]);
    });

    test('claimIfFree never takes a session from another owner', async () => {
      const d = make();
      expect(await d.claimIfFree('s2', 'a', 10_000)).toBe(true);
      expect(await d.claimIfFree('s2', 'a', 10_000)).toBe(true);
      await d.claim('s2', 'b', 10_000);
      expect(await d.claimIfFree('s2', 'a', 10_000)).toBe(false);
      expect(await d.owner('s2')).toBe('b');
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
