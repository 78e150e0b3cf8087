/**
 * PresenceTracker, on both backends' Presence: what changes while a write is in flight goes
 * into one next write; a session that leaves and comes back meanwhile causes no event; join()
 * settles once the store counts the session; restore() states every local count again after
 * the store lost them.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { loadConfig } from '../../src/config.ts';
import type { Presence, PresenceTransitions } from '../../src/cluster/presence.ts';
import { PresenceTracker } from '../../src/gateway/presenceTracker.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { BACKENDS, createBackend, type TestBackend } from '../support/backends.ts';

/** The backend's Presence, with every update call recorded. */
function counting(presence: Presence): { presence: Presence; calls: { topic: string; sessions: [string, number][]; full: boolean }[]; results: PresenceTransitions[] } {
  const calls: { topic: string; sessions: [string, number][]; full: boolean }[] = [];
  const results: PresenceTransitions[] = [];
  return {
    calls,
    results,
    presence: {
      update: async (app, topic, instanceId, sessions, full = false) => {
        calls.push({ topic, sessions: [...sessions], full });
        const result = await presence.update(app, topic, instanceId, sessions, full);
        results.push(result);
        return result;
      },
      members: (app, topic, limit) => presence.members(app, topic, limit),
      removeInstance: (instanceId) => presence.removeInstance(instanceId),
    },
  };
}

for (const backend of BACKENDS) describe(backend, () => {
  let made: TestBackend;
  beforeAll(async () => {
    made = await createBackend(backend, loadConfig({ INSTANCE_ID: 'tracker-test' }));
    await made.backend.start();
  });
  afterAll(async () => {
    await made.backend.close();
    await made.cleanup();
  });

  test('joins that come while a write is in flight go in one next write; the count is exact', async () => {
    const { presence, calls } = counting(made.backend.presence);
    const tracker = new PresenceTracker('i-coalesce', presence, 1000, silentLogger);
    const first = tracker.join('app', 'room:burst', 'user-0');
    const rest = Array.from({ length: 199 }, (_, i) => tracker.join('app', 'room:burst', `user-${i + 1}`));
    await Promise.all([first, ...rest]);
    // All in the turn the first write waits for: one write for the lot.
    expect(calls.length).toBe(1);
    expect(calls[0]!.sessions.length).toBe(200);
    expect((await tracker.members('app', 'room:burst')).count).toBe(200);
  });

  test('a session that leaves and comes back before the write causes no event', async () => {
    const { presence, calls, results } = counting(made.backend.presence);
    const tracker = new PresenceTracker('i-flap', presence, 1000, silentLogger);
    await tracker.join('app', 'room:flap', 'alice');
    tracker.leave('app', 'room:flap', 'alice');
    await tracker.join('app', 'room:flap', 'alice');
    // The second write states alice's count (1): nothing changed, so nothing joined or left.
    expect(calls.map((c) => c.sessions)).toEqual([[['alice', 1]], [['alice', 1]]]);
    expect(results).toEqual([
      { joined: ['alice'], left: [] },
      { joined: [], left: [] },
    ]);
    expect(await tracker.members('app', 'room:flap')).toEqual({ count: 1, members: [{ user: 'alice', sessions: 1 }] });
  });

  test('sessions of one user on one instance are counted; the last one out writes 0', async () => {
    const tracker = new PresenceTracker('i-count', made.backend.presence, 1000, silentLogger);
    await tracker.join('app', 'room:count', 'bob');
    await tracker.join('app', 'room:count', 'bob');
    expect(await tracker.members('app', 'room:count')).toEqual({ count: 1, members: [{ user: 'bob', sessions: 2 }] });
    tracker.leave('app', 'room:count', 'bob');
    tracker.leave('app', 'room:count', 'bob');
    // A leave of a session that was never counted changes nothing.
    tracker.leave('app', 'room:count', 'nobody');
    await waitFor(async () => (await tracker.members('app', 'room:count')).count === 0, { what: "bob's leave to be written" });
    expect(tracker.localSessions).toBe(0);
  });

  test('restore states every local count again after the store lost them', async () => {
    const { presence, calls } = counting(made.backend.presence);
    const tracker = new PresenceTracker('i-restore', presence, 1000, silentLogger);
    await tracker.join('app', 'room:restore', 'carol');
    await tracker.join('app', 'room:restore', 'dan');
    // The store forgets this instance (as a reaper does while it is paused).
    await made.backend.presence.removeInstance('i-restore');
    expect((await tracker.members('app', 'room:restore')).count).toBe(0);
    tracker.restore();
    await waitFor(async () => (await tracker.members('app', 'room:restore')).count === 2, { what: 'the restore to be written' });
    expect(calls.at(-1)).toEqual({ topic: 'room:restore', sessions: [['carol', 1], ['dan', 1]], full: true });
  });
});
