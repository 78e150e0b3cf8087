/**
 * The Inbox contract: what the gateway and SessionDelivery rely on, passed by the Memory and
 * the Redis implementation alike. `make(instanceId)` returns an inbox of one shared cluster.
 */
import { afterEach, describe, expect, test } from 'bun:test';
import type { Inbox } from '../../../src/cluster/inbox.ts';
import type { Envelope, Payload } from '../../../src/protocol/envelope.ts';
import { waitFor } from '../../../src/lib/waitFor.ts';

export interface InboxFixture {
  /** An inbox of `instanceId` in the fixture's cluster (created anew by each test). */
  inbox(instanceId: string): Inbox;
}

function message(i: number): Envelope {
  return { kind: 'message', app: 'a', topic: 't', offset: `${i + 1}-0`, prev: `${i}-0`, data: JSON.stringify(i) };
}

function data(envelopes: readonly Envelope[]): Payload[] {
  return envelopes.map((e) => (e.kind === 'rpc' ? e.requestId : e.kind === 'presence' ? e.topic : e.data));
}

export function inboxContract(name: string, fixture: () => InboxFixture): void {
  describe(`Inbox contract: ${name}`, () => {
    const running: Inbox[] = [];
    let n = 0;
    const id = (label: string) => `${label}-${++n}`;
    afterEach(async () => {
      for (const inbox of running.splice(0)) await inbox.stop();
    });

    test('envelopes reach the started inbox in send order, each once', async () => {
      const f = fixture();
      const me = id('order');
      const got: Envelope[] = [];
      const inbox = f.inbox(me);
      running.push(inbox);
      await inbox.start((batch) => void got.push(...batch));
      const sender = f.inbox(id('sender'));
      for (let i = 0; i < 40; i += 10) {
        expect(await sender.send(Array.from({ length: 10 }, (_, k) => ({ instanceId: me, envelope: message(i + k) })))).toEqual([]);
      }
      await waitFor(() => got.length >= 40, { what: '40 envelopes' });
      expect(data(got)).toEqual(Array.from({ length: 40 }, (_, i) => String(i)));
    });

    test('bytes in a topic message or a direct message arrive as the same bytes (issue 14)', async () => {
      const f = fixture();
      const me = id('bytes');
      const got: Envelope[] = [];
      const inbox = f.inbox(me);
      running.push(inbox);
      await inbox.start((batch) => void got.push(...batch));
      const bytes = Uint8Array.from({ length: 256 }, (_, i) => 255 - i);
      const envelopes: Envelope[] = [
        { kind: 'message', app: 'a', topic: 't', offset: '2-0', prev: '1-0', data: bytes },
        { kind: 'direct', app: 'a', user: 'u', messageId: '3-0', prev: '0-0', from: null, data: bytes.subarray(10, 20) },
        { kind: 'direct', app: 'a', user: 'u', messageId: '4-0', prev: '3-0', from: 'v', data: '"text"' },
      ];
      await f.inbox(id('sender')).send(envelopes.map((envelope) => ({ instanceId: me, envelope })));
      await waitFor(() => got.length >= 3, { what: '3 envelopes' });
      const hex = (d: Payload) => (typeof d === 'string' ? d : Buffer.from(d).toString('hex'));
      expect(got.map((e) => (e.kind === 'message' || e.kind === 'direct' ? hex(e.data) : null))).toEqual(envelopes.map((e) => hex((e as { data: Payload }).data)));
      expect(got.map((e) => (e.kind === 'message' || e.kind === 'direct' ? typeof e.data : null))).toEqual(['object', 'object', 'string']);
    });

    test('an instance without an inbox is reported missing, and nothing is stored for it', async () => {
      const f = fixture();
      const ghost = id('ghost');
      expect(await f.inbox(id('sender')).send([{ instanceId: ghost, envelope: message(0) }])).toEqual([ghost]);
      const got: Envelope[] = [];
      const inbox = f.inbox(ghost);
      running.push(inbox);
      await inbox.start((batch) => void got.push(...batch));
      const marker = message(1);
      await f.inbox(id('sender')).send([{ instanceId: ghost, envelope: marker }]);
      await waitFor(() => got.length >= 1, { what: 'the marker' });
      expect(data(got)).toEqual([String(1)]);
    });

    test('what is sent to an existing inbox while nobody reads it is delivered on start', async () => {
      const f = fixture();
      const me = id('later');
      const inbox = f.inbox(me);
      await inbox.ensure();
      await inbox.ensure(); // idempotent
      expect(await f.inbox(id('sender')).send([0, 1, 2].map((i) => ({ instanceId: me, envelope: message(i) })))).toEqual([]);
      const got: Envelope[] = [];
      running.push(inbox);
      await inbox.start((batch) => void got.push(...batch));
      await waitFor(() => got.length >= 3, { what: 'the backlog' });
      expect(data(got)).toEqual(['0', '1', '2']);
    });

    test('a handler that throws neither stops the inbox nor fails the sender', async () => {
      const f = fixture();
      const me = id('throws');
      const got: Envelope[] = [];
      let calls = 0;
      const inbox = f.inbox(me);
      running.push(inbox);
      await inbox.start((batch) => {
        calls += 1;
        if (batch.some((e) => e.kind === 'message' && e.data === '0')) throw new Error('handler bug');
        got.push(...batch);
      });
      const sender = f.inbox(id('sender'));
      expect(await sender.send([{ instanceId: me, envelope: message(0) }])).toEqual([]);
      // The failing batch is handled (and given up on) before the next envelope is sent.
      await waitFor(() => calls >= 1, { what: 'the failing batch' });
      expect(await sender.send([{ instanceId: me, envelope: message(1) }])).toEqual([]);
      await waitFor(() => got.length >= 1, { what: 'the envelope after the failing one' });
      expect(data(got)).toEqual(['1']);
    });

    test('after stop nothing is handed to the old handler; a new start gets what came meanwhile', async () => {
      const f = fixture();
      const me = id('restart');
      const first: Envelope[] = [];
      const inbox = f.inbox(me);
      await inbox.start((batch) => void first.push(...batch));
      await inbox.stop();
      await f.inbox(id('sender')).send([{ instanceId: me, envelope: message(7) }]);
      const second: Envelope[] = [];
      const again = f.inbox(me);
      running.push(again);
      await again.start((batch) => void second.push(...batch));
      await waitFor(() => second.length >= 1, { what: 'the envelope sent while stopped' });
      expect(first).toEqual([]);
      expect(data(second)).toEqual(['7']);
    });
  });
}
