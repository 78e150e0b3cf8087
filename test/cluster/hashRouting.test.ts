/**
 * Hash routing end to end (ROUTING=hash): three real gateway processes on Redis behind a
 * proxy that replays upgrades the way Fly's proxy does with `fly-replay`. Clients (the SDK)
 * name a room at connect; every member of a room ends on the room's home instance. When the
 * home of some rooms is killed with SIGKILL, those rooms move and their clients resume with no
 * gap; when an instance joins, only the rooms that must move do, and their sessions are told
 * to reconnect (4008).
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { SwitchyardClient } from '../../src/client/index.ts';
import type { MessageFrame } from '../../src/protocol/frames.ts';
import { HashRing } from '../../src/cluster/ring.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { PublishLog, sequenceProblems, TestCluster, type Published } from '../support/cluster.ts';
import { APP_A } from '../support/gateway.ts';
import { requireRedis, uniquePrefix } from '../support/redis.ts';
import { startReplayProxy, type ReplayProxy } from '../support/replayProxy.ts';

const prefix = uniquePrefix('hashrouting');
const ENV = {
  APPS: JSON.stringify([APP_A]),
  ROUTING: 'hash',
  HEARTBEAT_INTERVAL_MS: '250',
  INSTANCE_TTL_MS: '1500',
  REBALANCE_WINDOW_MS: '500',
};
const ROOMS = Array.from({ length: 12 }, (_, i) => `doc-${i}`);
const MEMBERS = 3;

let cluster: TestCluster;
let proxy: ReplayProxy;
const clients: { room: string; client: SwitchyardClient; got: Published[] }[] = [];
const log = new PublishLog();

/** Which instance the gateway on `port` sends a room to (its own ID when it keeps it). */
async function homeSeenBy(id: string, room: string): Promise<string> {
  const res = await fetch(`${cluster.get(id).http}/ws?app=${APP_A.id}&room=${room}`, { headers: { upgrade: 'websocket' } });
  if (res.status !== 421) return id;
  const body = (await res.json()) as { home: { instanceId: string; url: string } };
  expect(res.headers.get('fly-replay')).toBe(`instance=${body.home.instanceId}`);
  expect(res.headers.get('x-switchyard-home')).toBe(body.home.url);
  return body.home.instanceId;
}

/** Waits until every running instance places every room as a ring of `ids` does. */
async function agreeOn(ids: string[]): Promise<HashRing> {
  const ring = new HashRing(ids);
  await waitFor(
    async () => {
      for (const instance of cluster.instances()) {
        for (const room of ROOMS) if ((await homeSeenBy(instance.id, room)) !== ring.home(room)) return false;
      }
      return true;
    },
    { timeoutMs: 15_000, intervalMs: 50, what: `every instance to place rooms on ${ids.join(', ')}` },
  );
  return ring;
}

async function publishRound(via: string, n: number): Promise<void> {
  await Promise.all(ROOMS.map(async (room) => {
    for (let i = 0; i < n; i++) await log.publish(cluster.get(via).http, APP_A, `room:${room}`, { room, i: log.count(`room:${room}`) });
  }));
}

async function everyoneHasEverything(): Promise<void> {
  await waitFor(() => clients.every((c) => c.got.length === log.count(`room:${c.room}`)), {
    timeoutMs: 20_000,
    intervalMs: 50,
    what: 'every member to receive every message of its room',
  });
  for (const c of clients) expect(sequenceProblems(c.got, log.expected(`room:${c.room}`))).toEqual([]);
}

beforeAll(async () => {
  await requireRedis();
  cluster = new TestCluster(prefix, ENV);
  await cluster.startAll(['hr-1', 'hr-2', 'hr-3']);
  proxy = await startReplayProxy(() => new Map(cluster.instances().map((i) => [i.id, i.process.port])));
});

afterAll(async () => {
  for (const c of clients) c.client.close();
  await proxy?.stop();
  await cluster?.dispose();
});

test('every member of a room ends on its home; a killed home moves its rooms and their members resume with no gap', async () => {
  const ring = await agreeOn(['hr-1', 'hr-2', 'hr-3']);
  for (const room of ROOMS) {
    for (let m = 0; m < MEMBERS; m++) {
      const client = new SwitchyardClient({
        urls: [`ws://127.0.0.1:${proxy.port}/ws?room=${room}`],
        app: APP_A.id,
        minReconnectDelayMs: 20,
        maxReconnectDelayMs: 300,
      });
      const entry = { room, client, got: [] as Published[] };
      client.on('message', (frame: MessageFrame) => entry.got.push({ offset: frame.offset, data: frame.data }));
      clients.push(entry);
    }
  }
  await Promise.all(clients.map((c) => c.client.subscribe(`room:${c.room}`)));
  for (const c of clients) expect(c.client.instanceId).toBe(ring.home(c.room)!);
  expect(proxy.replays).toBeGreaterThan(0);

  // The home of the first room dies while its rooms are busy.
  const victim = ring.home(ROOMS[0]!)!;
  const survivor = ['hr-1', 'hr-2', 'hr-3'].find((id) => id !== victim)!;
  await publishRound(survivor, 5);
  await cluster.stop(victim, 'SIGKILL');
  await publishRound(survivor, 5);
  const after = await agreeOn(['hr-1', 'hr-2', 'hr-3'].filter((id) => id !== victim));
  await publishRound(survivor, 5);
  await everyoneHasEverything();
  for (const c of clients) {
    expect(c.client.instanceId).toBe(after.home(c.room)!);
    // Rooms that lived elsewhere did not move.
    if (ring.home(c.room) !== victim) expect(after.home(c.room)).toBe(ring.home(c.room)!);
  }
}, 60_000);

test('an instance that joins takes only the rooms that must move; their members are told to reconnect (4008) and lose nothing', async () => {
  const before = new HashRing(cluster.instances().map((i) => i.id));
  const closeCodes: number[] = [];
  for (const c of clients) c.client.on('state', (state, detail) => void (state === 'reconnecting' && detail.closeCode !== undefined && closeCodes.push(detail.closeCode)));
  await cluster.start('hr-4');
  const ids = cluster.instances().map((i) => i.id);
  const ring = await agreeOn(ids);
  const moved = ROOMS.filter((room) => ring.home(room) !== before.home(room));
  for (const room of moved) expect(ring.home(room)).toBe('hr-4');
  await publishRound(ids.find((id) => id !== 'hr-4')!, 5);
  await waitFor(() => clients.every((c) => c.client.instanceId === ring.home(c.room)), {
    timeoutMs: 15_000,
    intervalMs: 50,
    what: 'every member on its room’s home after the join',
  });
  await publishRound('hr-4', 5);
  await everyoneHasEverything();
  // Exactly the members of moved rooms were moved, each with the room-moved code.
  expect(closeCodes.length).toBe(moved.length * MEMBERS);
  for (const code of closeCodes) expect(code).toBe(4008);
}, 60_000);
