/**
 * Users across real gateway processes on one real Redis: a direct message from a session on
 * one instance reaches the recipient's sessions on another, and is written to no other
 * instance's inbox (precise delivery); user status and the session quota count sessions
 * cluster-wide; and an instance killed with SIGKILL while direct messages for its user sit
 * unread in its instance inbox loses none of them: the user gets them all, in order, on the
 * next connection, and the dead instance's sessions leave the user registry once it is reaped.
 *
 * Each test runs its own instances under its own key prefix; they are killed and the keys
 * deleted afterwards. Heartbeats are fast (200 ms, TTL 1500 ms) so that reaping happens
 * within the test.
 */
import { afterAll, afterEach, beforeAll, expect, test } from 'bun:test';
import { sign } from 'hono/jwt';
import { waitFor } from '../../src/lib/waitFor.ts';
import { deleteTestKeys, TestCluster, type ClusterInstance } from '../support/cluster.ts';
import { requireRedis, uniquePrefix } from '../support/redis.ts';
import { WsClient } from '../support/wsClient.ts';

const PREFIX = uniquePrefix('users-proc');
const APP = { id: 'chat', secret: 'users-process-secret-0123456789', allowDirect: true, maxSessionsPerUser: 2 };
const ENV = {
  APPS: JSON.stringify([APP]),
  HEARTBEAT_INTERVAL_MS: '200',
  INSTANCE_TTL_MS: '1500',
  DRAIN_TIMEOUT_MS: '1000',
};
const TEST_TIMEOUT_MS = 30_000;

const clusters: TestCluster[] = [];
const clients: WsClient[] = [];
let n = 0;

function newCluster(): TestCluster {
  const cluster = new TestCluster(`${PREFIX}${++n}:`, ENV);
  clusters.push(cluster);
  return cluster;
}

async function connect(instance: ClusterInstance, user: string): Promise<WsClient> {
  const token = await sign({ sub: user, exp: Math.floor(Date.now() / 1000) + 600 }, APP.secret, 'HS256');
  const c = await WsClient.connect(`${instance.wsUrl(APP.id)}&token=${token}`);
  clients.push(c);
  await c.waitFor(() => true);
  return c;
}

async function sendHttp(instance: ClusterInstance, user: string, data: unknown): Promise<string> {
  const res = await fetch(`${instance.http}/api/apps/${APP.id}/users/${user}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${APP.secret}` },
    body: JSON.stringify({ data }),
  });
  if (!res.ok) throw new Error(`send failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { messageId: string }).messageId;
}

async function presence(instance: ClusterInstance, user: string): Promise<{ online: boolean; sessions: number }> {
  const res = await fetch(`${instance.http}/api/apps/${APP.id}/users/${user}/presence`, { headers: { authorization: `Bearer ${APP.secret}` } });
  return (await res.json()) as { online: boolean; sessions: number };
}

const directs = (c: WsClient) => c.frames.filter((f) => f.type === 'direct');

beforeAll(() => requireRedis());
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const cluster of clusters.splice(0)) await cluster.dispose();
});
afterAll(() => deleteTestKeys(PREFIX));

test('a direct message goes from instance A to the recipient on instance B, and into no other inbox', async () => {
  const cluster = newCluster();
  const [a, b, c] = await cluster.startAll(['ua', 'ub', 'uc']);
  const alice = await connect(a!, 'alice');
  const bob = await connect(b!, 'bob');
  const before = await Promise.all(['ua', 'ub', 'uc'].map((id) => cluster.inboxEntriesAdded(id)));
  const ack = await alice.request({ type: 'send', to: 'bob', data: { hi: 'bob' } });
  expect(ack.type).toBe('ack');
  const got = await bob.waitFor((f) => f.type === 'direct');
  expect(got).toEqual({ type: 'direct', messageId: String(ack.messageId), from: 'alice', data: { hi: 'bob' } });
  const after = await Promise.all(['ua', 'ub', 'uc'].map((id) => cluster.inboxEntriesAdded(id)));
  // One envelope, to bob's instance only.
  expect(after[1]! - before[1]!).toBe(1);
  expect(after[0]).toBe(before[0]);
  expect(after[2]).toBe(before[2]);
  // User status sees bob from every instance.
  expect(await alice.request({ type: 'presence', users: ['bob', 'carol'] })).toMatchObject({ online: { bob: true, carol: false } });
  expect(await presence(c!, 'bob')).toEqual({ online: true, sessions: 1 });
}, TEST_TIMEOUT_MS);

test('maxSessionsPerUser counts sessions on every instance', async () => {
  const cluster = newCluster();
  const [a, b] = await cluster.startAll(['qa', 'qb']);
  const first = await connect(a!, 'dora');
  const second = await connect(b!, 'dora');
  expect([first.frames[0]!.type, second.frames[0]!.type]).toEqual(['welcome', 'welcome']);
  const third = await connect(a!, 'dora');
  expect(third.frames[0]).toMatchObject({ type: 'error', code: 'limit_exceeded' });
  expect((await third.closed).code).toBe(4504);
  expect(await presence(b!, 'dora')).toEqual({ online: true, sessions: 2 });
}, TEST_TIMEOUT_MS);

test('kill -9 while direct messages sit in the instance inbox: none is lost, and the dead sessions leave the registry', async () => {
  const cluster = newCluster();
  const [a, b] = await cluster.startAll(['ka', 'kb']);
  const bob = await connect(b!, 'bob');
  expect(bob.frames[0]).toMatchObject({ type: 'welcome', inbox: { pending: 0 } });
  const early = [await sendHttp(a!, 'bob', 0), await sendHttp(a!, 'bob', 1)];
  await waitFor(() => directs(bob).length === 2, { timeoutMs: 5000, what: 'the first two messages' });
  // Frozen, kb reads nothing: what follows stays in its inbox, unread, until it is killed.
  b!.process.proc.kill('SIGSTOP');
  const addedBefore = (await cluster.inboxEntriesAdded('kb'))!;
  const later: string[] = [];
  for (let i = 2; i < 12; i++) later.push(await sendHttp(a!, 'bob', i));
  expect((await cluster.inboxEntriesAdded('kb'))! - addedBefore).toBe(10);
  expect(await cluster.stop('kb', 'SIGKILL')).not.toBe(0);
  // The reaper removes kb's sessions from the user registry within the TTL plus heartbeats.
  await waitFor(async () => !(await presence(a!, 'bob')).online, { timeoutMs: 10_000, intervalMs: 100, what: 'bob offline after kb was reaped' });
  expect(await cluster.redis.exists(cluster.keys.inbox('kb'))).toBe(0);
  // bob reconnects elsewhere: everything not confirmed, in order.
  const again = await connect(a!, 'bob');
  expect(again.frames[0]).toMatchObject({ type: 'welcome', inbox: { pending: 12 } });
  await waitFor(() => directs(again).length === 12, { timeoutMs: 5000, what: 'all twelve messages' });
  expect(directs(again).map((f) => f.messageId)).toEqual([...early, ...later]);
  expect(directs(again).map((f) => f.data)).toEqual(Array.from({ length: 12 }, (_, i) => i));
  expect(await again.request({ type: 'received', upTo: later[9] })).toMatchObject({ type: 'ack' });
  const third = await connect(a!, 'bob');
  expect(third.frames[0]).toMatchObject({ type: 'welcome', inbox: { pending: 0 } });
}, TEST_TIMEOUT_MS);
