/**
 * The Presence contract, passed by every implementation (Memory, Redis standalone, Redis
 * Cluster) alike: counts per user over instances, joins and leaves on the 0 <-> n transitions
 * only, idempotent updates, removal of an instance's share, the member limit, tenancy, and the
 * presence envelopes reaching exactly the instances routed for the topic.
 */
import { afterEach, describe, expect, test } from 'bun:test';
import type { Broker } from '../../../src/cluster/broker.ts';
import type { Inbox } from '../../../src/cluster/inbox.ts';
import type { Presence } from '../../../src/cluster/presence.ts';
import type { Envelope, PresenceEnvelope } from '../../../src/protocol/envelope.ts';
import { waitFor } from '../../../src/lib/waitFor.ts';

export interface PresenceFixture {
  presence: Presence;
  /** The broker of the same cluster: its routes decide where joins and leaves go. */
  broker: Pick<Broker, 'addRoute' | 'removeRoute'>;
  /** An inbox of `instanceId` in the same cluster. */
  inbox(instanceId: string): Inbox;
}

const counts = (entries: [string, number][]) => new Map(entries);

export function presenceContract(name: string, fixture: () => PresenceFixture): void {
  describe(`Presence contract: ${name}`, () => {
    const running: Inbox[] = [];
    let n = 0;
    /** A topic of its own per test: implementations may share a store between tests. */
    const topic = (label: string) => `room:${label}-${++n}`;
    afterEach(async () => {
      for (const inbox of running.splice(0)) await inbox.stop();
    });

    /** Starts `instanceId`'s inbox; returns the presence envelopes that reach it, in order. */
    async function listen(f: PresenceFixture, instanceId: string): Promise<PresenceEnvelope[]> {
      const got: PresenceEnvelope[] = [];
      const inbox = f.inbox(instanceId);
      running.push(inbox);
      await inbox.start((batch: readonly Envelope[]) => {
        for (const envelope of batch) if (envelope.kind === 'presence') got.push(envelope);
      });
      return got;
    }

    test('a user joins with the first session and leaves with the last; sessions add up over instances', async () => {
      const { presence } = fixture();
      const t = topic('counts');
      expect(await presence.update('app', t, 'i-1', counts([['alice', 1]]))).toEqual({ joined: ['alice'], left: [] });
      expect(await presence.update('app', t, 'i-1', counts([['alice', 2], ['bob', 1]]))).toEqual({ joined: ['bob'], left: [] });
      expect(await presence.update('app', t, 'i-2', counts([['alice', 1]]))).toEqual({ joined: [], left: [] });
      expect(await presence.members('app', t, 100)).toEqual({
        count: 2,
        members: [
          { user: 'alice', sessions: 3 },
          { user: 'bob', sessions: 1 },
        ],
      });
      // alice is still on i-2: no leave.
      expect(await presence.update('app', t, 'i-1', counts([['alice', 0]]))).toEqual({ joined: [], left: [] });
      expect(await presence.update('app', t, 'i-2', counts([['alice', 0]]))).toEqual({ joined: [], left: ['alice'] });
      expect(await presence.update('app', t, 'i-1', counts([['bob', 0]]))).toEqual({ joined: [], left: ['bob'] });
      expect(await presence.members('app', t, 100)).toEqual({ count: 0, members: [] });
    });

    test('an update states counts: sent twice, it changes nothing the second time', async () => {
      const { presence } = fixture();
      const t = topic('idempotent');
      const update = counts([['carol', 2]]);
      expect((await presence.update('app', t, 'i-1', update)).joined).toEqual(['carol']);
      expect(await presence.update('app', t, 'i-1', update)).toEqual({ joined: [], left: [] });
      expect(await presence.members('app', t, 10)).toEqual({ count: 1, members: [{ user: 'carol', sessions: 2 }] });
      const gone = counts([['carol', 0]]);
      expect((await presence.update('app', t, 'i-1', gone)).left).toEqual(['carol']);
      expect(await presence.update('app', t, 'i-1', gone)).toEqual({ joined: [], left: [] });
    });

    test('a full update drops the users of the instance it does not list', async () => {
      const { presence } = fixture();
      const t = topic('full');
      await presence.update('app', t, 'i-1', counts([['a', 1], ['b', 1], ['c', 1]]));
      await presence.update('app', t, 'i-2', counts([['b', 1]]));
      const changed = await presence.update('app', t, 'i-1', counts([['c', 2], ['d', 1]]), true);
      expect(changed.joined).toEqual(['d']);
      expect(changed.left).toEqual(['a']);
      expect(await presence.members('app', t, 10)).toEqual({
        count: 3,
        members: [
          { user: 'b', sessions: 1 },
          { user: 'c', sessions: 2 },
          { user: 'd', sessions: 1 },
        ],
      });
    });

    test("removing an instance takes out its sessions, with leaves for users present nowhere else; a second time, nothing", async () => {
      const { presence } = fixture();
      const [t1, t2] = [topic('remove'), topic('remove')];
      await presence.update('app', t1, 'dying', counts([['erin', 1], ['frank', 3]]));
      await presence.update('app', t2, 'dying', counts([['erin', 1]]));
      await presence.update('app', t1, 'alive', counts([['frank', 1]]));
      expect(await presence.removeInstance('dying')).toBe(2);
      expect(await presence.members('app', t1, 10)).toEqual({ count: 1, members: [{ user: 'frank', sessions: 1 }] });
      expect(await presence.members('app', t2, 10)).toEqual({ count: 0, members: [] });
      expect(await presence.removeInstance('dying')).toBe(0);
      // The instance can hold presence again afterwards (a restart under the same ID).
      expect((await presence.update('app', t2, 'dying', counts([['erin', 1]]))).joined).toEqual(['erin']);
    });

    test('count is exact and at most `limit` members are listed, each a real one, sorted by user', async () => {
      const { presence } = fixture();
      const t = topic('limit');
      const users = Array.from({ length: 250 }, (_, i) => `user-${String(i).padStart(3, '0')}`);
      await presence.update('app', t, 'i-1', counts(users.map((u, i) => [u, 1 + (i % 3)])));
      const listed = await presence.members('app', t, 40);
      expect(listed.count).toBe(250);
      expect(listed.members.length).toBe(40);
      expect(listed.members.map((m) => m.user)).toEqual([...listed.members.map((m) => m.user)].sort());
      for (const m of listed.members) expect(m.sessions).toBe(1 + (users.indexOf(m.user) % 3));
      expect((await presence.members('app', t, 250)).members.map((m) => m.user)).toEqual(users);
    });

    test('apps are separate: the same topic and user in two apps are two memberships', async () => {
      const { presence } = fixture();
      const t = topic('tenancy');
      await presence.update('app-a', t, 'i-1', counts([['gina', 1]]));
      expect(await presence.members('app-b', t, 10)).toEqual({ count: 0, members: [] });
      expect((await presence.update('app-b', t, 'i-1', counts([['gina', 1]]))).joined).toEqual(['gina']);
      expect((await presence.update('app-a', t, 'i-1', counts([['gina', 0]]))).left).toEqual(['gina']);
      expect(await presence.members('app-b', t, 10)).toEqual({ count: 1, members: [{ user: 'gina', sessions: 1 }] });
    });

    test('joins and leaves reach the inbox of every instance routed for the topic, and of no other', async () => {
      const f = fixture();
      const t = topic('events');
      const [routed1, routed2, other] = await Promise.all([listen(f, 'ev-1'), listen(f, 'ev-2'), listen(f, 'ev-3')]);
      await f.broker.addRoute('app', t, 'ev-1');
      await f.broker.addRoute('app', t, 'ev-2');
      await f.presence.update('app', t, 'ev-1', counts([['hal', 1], ['ivy', 1]]));
      await f.presence.update('app', t, 'ev-2', counts([['hal', 1]]));
      await f.presence.update('app', t, 'ev-1', counts([['hal', 0], ['ivy', 0]]));
      const expected: PresenceEnvelope[] = [
        { kind: 'presence', app: 'app', topic: t, joined: ['hal', 'ivy'], left: [] },
        { kind: 'presence', app: 'app', topic: t, joined: [], left: ['ivy'] },
      ];
      await waitFor(() => routed1.length >= 2 && routed2.length >= 2, { what: 'two presence envelopes at each routed instance' });
      expect(routed1).toEqual(expected);
      expect(routed2).toEqual(expected);
      // A marker on a topic routed to the third instance: whatever was sent to it before has arrived.
      const marker = topic('marker');
      await f.broker.addRoute('app', marker, 'ev-3');
      await f.presence.update('app', marker, 'ev-3', counts([['marker', 1]]));
      await waitFor(() => other.length >= 1, { what: 'the marker at the third instance' });
      expect(other.map((e) => e.topic)).toEqual([marker]);
    });

    test('removing an instance sends the leaves to the routed instances', async () => {
      const f = fixture();
      const t = topic('reap-events');
      const survivor = await listen(f, 'rs-1');
      await f.broker.addRoute('app', t, 'rs-1');
      await f.presence.update('app', t, 'rs-dead', counts([['jo', 2]]));
      await f.presence.update('app', t, 'rs-1', counts([['kim', 1]]));
      await f.presence.removeInstance('rs-dead');
      await waitFor(() => survivor.some((e) => e.left.includes('jo')), { what: 'the leave of jo' });
      expect(survivor.map((e) => [e.joined, e.left])).toEqual([
        [['jo'], []],
        [['kim'], []],
        [[], ['jo']],
      ]);
    });

    test('user IDs are data: quotes, unicode, spaces and names of Object.prototype members', async () => {
      const f = fixture();
      const t = topic('names');
      const got = await listen(f, 'names-1');
      await f.broker.addRoute('app', t, 'names-1');
      const users = ['__proto__', 'constructor', 'toString', 'a "quoted" \\ name', 'Zoë 🚀', 'with space', '1'];
      await f.presence.update('app', t, 'names-1', counts(users.map((u) => [u, 1])));
      expect((await f.presence.members('app', t, 100)).members.map((m) => m.user)).toEqual([...users].sort());
      await waitFor(() => got.length >= 1, { what: 'the joins' });
      expect([...got[0]!.joined].sort()).toEqual([...users].sort());
    });
  });
}
