/**
 * The UserInbox contract: the durable per-user inbox and the send path of direct messages,
 * passed by the Memory and the Redis implementation alike. The fixture gives a fresh cluster
 * per test: its user inbox (with the options given), its user registry and the instance
 * inboxes its sends write to.
 */
import { afterEach, describe, expect, test } from 'bun:test';
import type { Inbox } from '../../../src/cluster/inbox.ts';
import type { UserInbox } from '../../../src/cluster/userInbox.ts';
import type { UserRegistry } from '../../../src/cluster/users.ts';
import type { DirectEnvelope, Envelope, Payload } from '../../../src/protocol/envelope.ts';
import { compareOffsets } from '../../../src/protocol/offset.ts';
import { waitFor } from '../../../src/lib/waitFor.ts';

export interface UserInboxOptions {
  maxLength: number;
  ttlMs: number;
}

export interface UserInboxFixture {
  userInbox: UserInbox;
  users: UserRegistry;
  /** The inbox of `instanceId` in the same cluster. */
  inbox(instanceId: string): Inbox;
}

const DEFAULTS: UserInboxOptions = { maxLength: 1000, ttlMs: 3_600_000 };

export function userInboxContract(name: string, make: (options: UserInboxOptions) => UserInboxFixture): void {
  describe(`UserInbox contract: ${name}`, () => {
    const running: Inbox[] = [];
    afterEach(async () => {
      for (const inbox of running.splice(0)) await inbox.stop();
    });

    /** Starts reading an instance's inbox; returns what it receives. */
    async function reading(f: UserInboxFixture, instanceId: string): Promise<Envelope[]> {
      const got: Envelope[] = [];
      const inbox = f.inbox(instanceId);
      running.push(inbox);
      await inbox.start((envelopes) => void got.push(...envelopes));
      return got;
    }

    test('message IDs increase strictly; read returns unconfirmed messages in order, paged', async () => {
      const f = make(DEFAULTS);
      const sent = [];
      for (let i = 0; i < 12; i++) sent.push(await f.userInbox.send('a', 'bob', { from: i % 2 ? 'alice' : null, data: JSON.stringify({ i }) }));
      for (let i = 1; i < sent.length; i++) {
        expect(compareOffsets(sent[i]!.messageId, sent[i - 1]!.messageId)).toBeGreaterThan(0);
        expect(sent[i]!.prev).toBe(sent[i - 1]!.messageId);
      }
      expect(sent[0]!.prev).toBe('0-0');
      const first = await f.userInbox.read('a', 'bob', '0-0', 5);
      expect(first.map((m) => m.data)).toEqual([0, 1, 2, 3, 4].map((i) => JSON.stringify({ i })));
      expect(first.map((m) => m.from)).toEqual([null, 'alice', null, 'alice', null]);
      const rest = await f.userInbox.read('a', 'bob', first[4]!.messageId, 100);
      expect(rest.map((m) => m.messageId)).toEqual(sent.slice(5).map((s) => s.messageId));
      expect(await f.userInbox.status('a', 'bob')).toEqual({ pending: 12, lost: false, head: sent[11]!.messageId });
      const between = await f.userInbox.readBetween('a', 'bob', sent[2]!.messageId, sent[5]!.messageId);
      expect(between).toEqual([
        { messageId: sent[3]!.messageId, from: 'alice', data: JSON.stringify({ i: 3 }) },
        { messageId: sent[4]!.messageId, from: null, data: JSON.stringify({ i: 4 }) },
      ]);
    });

    test('a user never sent to has nothing pending', async () => {
      const f = make(DEFAULTS);
      expect(await f.userInbox.status('a', 'nobody')).toEqual({ pending: 0, lost: false, head: '0-0' });
      expect(await f.userInbox.read('a', 'nobody', '0-0', 10)).toEqual([]);
      expect(await f.userInbox.confirm('a', 'nobody', '1-0')).toBe(false);
    });

    test('confirm removes up to and including upTo; known IDs only', async () => {
      const f = make(DEFAULTS);
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push((await f.userInbox.send('a', 'bob', { from: null, data: String(i) })).messageId);
      expect(await f.userInbox.confirm('a', 'bob', ids[1]!)).toBe(true);
      expect((await f.userInbox.read('a', 'bob', '0-0', 10)).map((m) => m.data)).toEqual(['2', '3', '4']);
      // At or below what was confirmed: known, nothing changes.
      expect(await f.userInbox.confirm('a', 'bob', ids[0]!)).toBe(true);
      expect((await f.userInbox.status('a', 'bob')).pending).toBe(3);
      // Never issued: between two messages, and past the newest.
      const [ms, seq] = ids[3]!.split('-');
      const invented = `${ms}-${Number(seq) + 100_000}`;
      if (compareOffsets(invented, ids[4]!) < 0) expect(await f.userInbox.confirm('a', 'bob', invented)).toBe(false);
      expect(await f.userInbox.confirm('a', 'bob', '99999999999999-0')).toBe(false);
      // Another app's or user's inbox does not know these IDs.
      expect(await f.userInbox.confirm('b', 'bob', ids[4]!)).toBe(false);
      expect(await f.userInbox.confirm('a', 'carol', ids[4]!)).toBe(false);
      expect(await f.userInbox.confirm('a', 'bob', ids[4]!)).toBe(true);
      expect(await f.userInbox.status('a', 'bob')).toEqual({ pending: 0, lost: false, head: ids[4]! });
    });

    test('an idempotency key stores a message once', async () => {
      const f = make(DEFAULTS);
      const first = await f.userInbox.send('a', 'bob', { from: null, data: '1', key: 'k1' });
      const again = await f.userInbox.send('a', 'bob', { from: null, data: '1', key: 'k1' });
      expect(again).toEqual({ ...first, duplicate: true });
      expect(first.duplicate).toBe(false);
      // Keys are per user.
      expect((await f.userInbox.send('a', 'carol', { from: null, data: '1', key: 'k1' })).duplicate).toBe(false);
      expect((await f.userInbox.status('a', 'bob')).pending).toBe(1);
    });

    test('the cap drops the oldest unconfirmed messages and marks the inbox lost until confirmed past', async () => {
      const f = make({ ...DEFAULTS, maxLength: 3 });
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push((await f.userInbox.send('a', 'bob', { from: null, data: String(i) })).messageId);
      expect(await f.userInbox.status('a', 'bob')).toEqual({ pending: 3, lost: true, head: ids[4]! });
      expect((await f.userInbox.read('a', 'bob', '0-0', 10)).map((m) => m.data)).toEqual(['2', '3', '4']);
      // A dropped ID is one of the user's.
      expect(await f.userInbox.confirm('a', 'bob', ids[0]!)).toBe(true);
      expect((await f.userInbox.status('a', 'bob')).lost).toBe(true);
      expect(await f.userInbox.confirm('a', 'bob', ids[2]!)).toBe(true);
      expect(await f.userInbox.status('a', 'bob')).toEqual({ pending: 2, lost: false, head: ids[4]! });
    });

    test('messages past the age limit are dropped and mark the inbox lost', async () => {
      const f = make({ ...DEFAULTS, ttlMs: 1000 });
      await f.userInbox.send('a', 'bob', { from: null, data: 'old' });
      await waitFor(async () => (await f.userInbox.status('a', 'bob')).lost, { timeoutMs: 5000, intervalMs: 100, what: 'the message to age out' });
      expect((await f.userInbox.status('a', 'bob')).pending).toBe(0);
      const fresh = await f.userInbox.send('a', 'bob', { from: null, data: 'new' });
      expect((await f.userInbox.read('a', 'bob', '0-0', 10)).map((m) => m.data)).toEqual(['new']);
      expect(await f.userInbox.confirm('a', 'bob', fresh.messageId)).toBe(true);
      expect((await f.userInbox.status('a', 'bob')).lost).toBe(false);
    });

    test("precise delivery: an envelope goes to the inboxes of the user's instances only", async () => {
      const f = make(DEFAULTS);
      const atX = await reading(f, 'x');
      const atY = await reading(f, 'y');
      const atZ = await reading(f, 'z');
      await f.users.add('a', 'bob', 'x');
      await f.users.add('a', 'bob', 'x');
      await f.users.add('a', 'bob', 'y');
      await f.users.add('a', 'marker', 'z');
      const sent = await f.userInbox.send('a', 'bob', { from: 'alice', data: '{"hi":1}' });
      // Sent after bob's message: once z has it, z would have had bob's before it.
      await f.userInbox.send('a', 'marker', { from: null, data: '0' });
      await waitFor(() => atX.length >= 1 && atY.length >= 1 && atZ.length >= 1, { timeoutMs: 5000, what: 'envelopes' });
      const expected: DirectEnvelope = { kind: 'direct', app: 'a', user: 'bob', messageId: sent.messageId, prev: '0-0', from: 'alice', data: '{"hi":1}' };
      // One envelope per instance, however many sessions the user has there.
      expect(atX).toEqual([expected]);
      expect(atY).toEqual([expected]);
      expect(atZ.map((e) => (e as DirectEnvelope).user)).toEqual(['marker']);
    });

    test('bytes are stored, read back and routed as bytes; text stays text (issue 14)', async () => {
      const f = make(DEFAULTS);
      const atX = await reading(f, 'x');
      await f.users.add('a', 'bob', 'x');
      const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      const first = await f.userInbox.send('a', 'bob', { from: 'alice', data: bytes });
      const second = await f.userInbox.send('a', 'bob', { from: null, data: '"text"' });
      const third = await f.userInbox.send('a', 'bob', { from: null, data: new Uint8Array([0xff, 0x00, 0xc3]), key: 'k1' });
      expect((await f.userInbox.send('a', 'bob', { from: null, data: new Uint8Array([0xff, 0x00, 0xc3]), key: 'k1' })).messageId).toBe(third.messageId);
      const hex = (data: Payload) => (typeof data === 'string' ? data : `bytes:${Buffer.from(data).toString('hex')}`);
      const expected = [
        { messageId: first.messageId, from: 'alice', data: hex(bytes) },
        { messageId: second.messageId, from: null, data: '"text"' },
        { messageId: third.messageId, from: null, data: 'bytes:ff00c3' },
      ];
      expect((await f.userInbox.read('a', 'bob', '0-0', 10)).map((m) => ({ ...m, data: hex(m.data) }))).toEqual(expected);
      expect((await f.userInbox.readBetween('a', 'bob', '0-0', third.messageId)).map((m) => ({ ...m, data: hex(m.data) }))).toEqual(expected.slice(0, 2));
      await waitFor(() => atX.length >= 3, { timeoutMs: 5000, what: 'three envelopes' });
      expect(atX.map((e) => (e.kind === 'direct' ? { messageId: e.messageId, from: e.from, data: hex(e.data) } : null))).toEqual(expected);
    });

    test('a user with no session gets only the durable copy', async () => {
      const f = make(DEFAULTS);
      const atX = await reading(f, 'x');
      await f.users.add('a', 'marker', 'x');
      await f.userInbox.send('a', 'offline', { from: null, data: '1' });
      await f.userInbox.send('a', 'marker', { from: null, data: '2' });
      await waitFor(() => atX.length >= 1, { timeoutMs: 5000, what: 'the marker' });
      expect(atX.map((e) => (e as DirectEnvelope).user)).toEqual(['marker']);
      expect((await f.userInbox.status('a', 'offline')).pending).toBe(1);
    });
  });
}
