/**
 * Topic presence across real gateway processes on one real Redis: joins and leaves reach the
 * subscribers on every instance and only the instances with subscribers; a presence request
 * or the server API on any instance sees every instance's members; an instance killed with
 * SIGKILL has its sessions leave presence, with leave events, once it is reaped (within
 * INSTANCE_TTL_MS plus two heartbeats); a graceful stop leaves nothing of its presence behind;
 * an instance reaped while paused states its sessions again when it comes back; one restarted
 * under its ID takes out what its predecessor held.
 * Heartbeats are fast (200 ms, TTL 1500 ms) so that reaping happens within the test.
 */
import { afterAll, afterEach, beforeAll, expect, test } from 'bun:test';
import { sign } from 'hono/jwt';
import { waitFor } from '../../src/lib/waitFor.ts';
import { deleteTestKeys, TestCluster, type ClusterInstance } from '../support/cluster.ts';
import { keysUnder, requireRedis, uniquePrefix } from '../support/redis.ts';
import { WsClient } from '../support/wsClient.ts';

const PREFIX = uniquePrefix('presence-multi');
const APP = { id: 'docs', secret: 'presence-cluster-secret-0123456789', presenceTopics: ['room:'] };
const HEARTBEAT_INTERVAL_MS = 200;
const INSTANCE_TTL_MS = 1500;
/** Room for a slow, shared test machine on top of the bound under test. */
const SLACK_MS = 3000;
const ENV = {
  APPS: JSON.stringify([APP]),
  HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_INTERVAL_MS),
  INSTANCE_TTL_MS: String(INSTANCE_TTL_MS),
  DRAIN_TIMEOUT_MS: '1000',
};

const clusters: TestCluster[] = [];
const clients: WsClient[] = [];

function newCluster(name: string): TestCluster {
  const cluster = new TestCluster(`${PREFIX}${name}:`, ENV);
  clusters.push(cluster);
  return cluster;
}

async function connect(instance: ClusterInstance, user: string): Promise<WsClient> {
  const token = await sign({ sub: user }, APP.secret, 'HS256');
  const c = await WsClient.open(`${instance.wsUrl(APP.id)}&token=${encodeURIComponent(token)}`);
  clients.push(c);
  return c;
}

async function subscribe(c: WsClient, topic: string): Promise<void> {
  expect(await c.request({ type: 'subscribe', topics: [topic] })).toMatchObject({ type: 'ack' });
}

function events(c: WsClient, topic: string): string[] {
  return c.frames.filter((f) => (f.type === 'join' || f.type === 'leave') && f.topic === topic).map((f) => `${f.type} ${f.user}`);
}

function waitForEvent(c: WsClient, topic: string, event: string, timeoutMs = 5000): Promise<unknown> {
  const [type, user] = event.split(' ');
  return c.waitFor((f) => f.type === type && f.topic === topic && f.user === user, timeoutMs);
}

async function httpPresence(instance: ClusterInstance, topic: string): Promise<unknown> {
  const res = await fetch(`${instance.http}/api/apps/${APP.id}/topics/${encodeURIComponent(topic)}/presence`, { headers: { authorization: `Bearer ${APP.secret}` } });
  expect(res.status).toBe(200);
  return res.json();
}

beforeAll(() => requireRedis());

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(clusters.splice(0).map((c) => c.dispose()));
});

afterAll(() => deleteTestKeys(PREFIX));

test('joins and leaves reach the subscribers on every instance, and only the instances with subscribers', async () => {
  const cluster = newCluster('events');
  const [a, b, c] = (await cluster.startAll(['pa', 'pb', 'pc'])) as [ClusterInstance, ClusterInstance, ClusterInstance];
  const topic = 'room:doc-42';
  const alice = await connect(a, 'alice');
  await subscribe(alice, topic);
  const bob = await connect(b, 'bob');
  await subscribe(bob, topic);
  await waitForEvent(alice, topic, 'join bob');
  await waitForEvent(bob, topic, 'join bob');
  // c has a session, but none on the room: no presence envelope goes to its inbox.
  const onC = await connect(c, 'carol');
  await subscribe(onC, 'room:elsewhere');
  const cBefore = await cluster.inboxEntriesAdded('pc');
  const alice2 = await connect(b, 'alice');
  await subscribe(alice2, topic);

  const expected = { count: 2, members: [{ user: 'alice', sessions: 2 }, { user: 'bob', sessions: 1 }] };
  expect(await bob.request({ type: 'presence', topic })).toMatchObject({ type: 'ack', presence: expected });
  expect(await httpPresence(c, topic)).toEqual(expected);

  alice.close();
  await alice.closed;
  bob.close();
  await waitForEvent(alice2, topic, 'leave bob');
  // alice was present already when her second session came: no join for it.
  expect(events(alice2, topic)).toEqual(['leave bob']);
  expect(await httpPresence(a, topic)).toEqual({ count: 1, members: [{ user: 'alice', sessions: 1 }] });
  expect(await cluster.inboxEntriesAdded('pc')).toBe(cBefore);
}, 30_000);

test('kill -9: the dead instance\'s sessions leave presence, with leave events on the other instances, once it is reaped', async () => {
  const cluster = newCluster('kill');
  const [a, b] = (await cluster.startAll(['ka', 'kb'])) as [ClusterInstance, ClusterInstance];
  const doomed = await cluster.start('kdead');
  const topic = 'room:doc-kill';
  const watcherA = await connect(a, 'watcher-a');
  await subscribe(watcherA, topic);
  const watcherB = await connect(b, 'watcher-b');
  await subscribe(watcherB, topic);
  // dave only on the doomed instance (two sessions); erin there and on b.
  for (const user of ['dave', 'dave', 'erin']) await subscribe(await connect(doomed, user), topic);
  await subscribe(await connect(b, 'erin'), topic);
  await waitForEvent(watcherA, topic, 'join erin');
  expect(await httpPresence(a, topic)).toEqual({
    count: 4,
    members: [
      { user: 'dave', sessions: 2 },
      { user: 'erin', sessions: 2 },
      { user: 'watcher-a', sessions: 1 },
      { user: 'watcher-b', sessions: 1 },
    ],
  });
  expect(await cluster.redis.exists(cluster.keys.instancePresence('kdead'))).toBe(1);

  expect(await cluster.stop('kdead', 'SIGKILL')).not.toBe(0);
  // The bound under test, with room for a loaded machine (the wait is on the event, not a sleep).
  const bound = INSTANCE_TTL_MS + 2 * HEARTBEAT_INTERVAL_MS + SLACK_MS;
  await Promise.all([waitForEvent(watcherA, topic, 'leave dave', bound), waitForEvent(watcherB, topic, 'leave dave', bound)]);
  // erin still has a session on b: she did not leave.
  expect(await httpPresence(b, topic)).toEqual({
    count: 3,
    members: [
      { user: 'erin', sessions: 1 },
      { user: 'watcher-a', sessions: 1 },
      { user: 'watcher-b', sessions: 1 },
    ],
  });
  expect(events(watcherA, topic).filter((e) => e.startsWith('leave'))).toEqual(['leave dave']);
  expect(events(watcherB, topic).filter((e) => e.startsWith('leave'))).toEqual(['leave dave']);
  // Nothing of the dead instance's presence is left.
  const left = (await keysUnder(cluster.redis, cluster.prefix)).filter((k) => k.endsWith('{i:kdead}:presence') || k.endsWith(':pi:kdead'));
  expect(left).toEqual([]);
  // The reaper logs once it finished the instance (after the leaves went out).
  await waitFor(() => /"reaped instance".*"presenceLeaves":1/.test(cluster.logs()), { what: 'the reaper to log one presence leave' });
}, 30_000);

test('a graceful stop: its sessions leave with leave events, and nothing of its presence stays in Redis', async () => {
  const cluster = newCluster('stop');
  const [a] = (await cluster.startAll(['sa', 'sb'])) as [ClusterInstance, ClusterInstance];
  const topic = 'room:doc-stop';
  const watcher = await connect(a, 'watcher');
  await subscribe(watcher, topic);
  const b = cluster.get('sb');
  for (const user of ['fay', 'gus']) await subscribe(await connect(b, user), topic);
  await waitForEvent(watcher, topic, 'join gus');
  expect(await cluster.stop('sb', 'SIGTERM')).toBe(0);
  await waitForEvent(watcher, topic, 'leave fay');
  await waitForEvent(watcher, topic, 'leave gus');
  expect(await httpPresence(a, topic)).toEqual({ count: 1, members: [{ user: 'watcher', sessions: 1 }] });
  const left = (await keysUnder(cluster.redis, cluster.prefix)).filter((k) => k.endsWith('{i:sb}:presence') || k.endsWith(':pi:sb'));
  expect(left).toEqual([]);
}, 30_000);

test('an instance taken for dead while paused: its users leave, and join again when it comes back', async () => {
  const cluster = newCluster('pause');
  const [a, p] = (await cluster.startAll(['wa', 'wp'])) as [ClusterInstance, ClusterInstance];
  const topic = 'room:doc-pause';
  const watcher = await connect(a, 'watcher');
  await subscribe(watcher, topic);
  const paused = await connect(p, 'hugo');
  await subscribe(paused, topic);
  await waitForEvent(watcher, topic, 'join hugo');
  p.process.proc.kill('SIGSTOP');
  try {
    await waitForEvent(watcher, topic, 'leave hugo', INSTANCE_TTL_MS + 2 * HEARTBEAT_INTERVAL_MS + SLACK_MS);
  } finally {
    p.process.proc.kill('SIGCONT');
  }
  // Its next heartbeat finds the registry entry gone: routes and presence are stated again.
  await waitFor(async () => {
    const res = await fetch(`${a.http}/api/apps/${APP.id}/topics/${encodeURIComponent(topic)}/presence`, { headers: { authorization: `Bearer ${APP.secret}` } });
    return ((await res.json()) as { count: number }).count === 2;
  }, { timeoutMs: 10_000, what: 'hugo to be present again' });
  await waitFor(() => events(watcher, topic).length === 4, { what: "hugo's second join" });
  expect(events(watcher, topic)).toEqual(['join watcher', 'join hugo', 'leave hugo', 'join hugo']);
}, 30_000);

test('restarted under its ID after kill -9, before being reaped: what its predecessor held leaves at once', async () => {
  const cluster = newCluster('restart');
  // Nobody is reaped within this test: the leave can only come from the restarted process.
  const long = { INSTANCE_TTL_MS: '60000' };
  const a = await cluster.start('ra', long);
  await cluster.start('rr', long);
  const topic = 'room:doc-restart';
  const watcher = await connect(a, 'watcher');
  await subscribe(watcher, topic);
  await subscribe(await connect(cluster.get('rr'), 'ines'), topic);
  await waitForEvent(watcher, topic, 'join ines');
  expect(await cluster.stop('rr', 'SIGKILL')).not.toBe(0);
  await cluster.start('rr', long);
  await waitForEvent(watcher, topic, 'leave ines');
  expect(await httpPresence(a, topic)).toEqual({ count: 1, members: [{ user: 'watcher', sessions: 1 }] });
  expect(cluster.logs()).toContain('removed presence left by an earlier process with this instance ID');
}, 30_000);
