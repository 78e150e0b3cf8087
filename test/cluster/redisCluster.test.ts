/**
 * Two real gateway processes on a private three-master Redis Cluster (REDIS_CLUSTER=true,
 * REDIS_URL naming one seed node): fan-out across instances for topics whose keys live on
 * every master (JSON and binary messages), recovery by offset on the other instance, the
 * instance registry, and a graceful stop that leaves no instance keys on any master.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { sign } from 'hono/jwt';
import { Keys } from '../../src/cluster/redis/keys.ts';
import { APP_A } from '../support/gateway.ts';
import { instanceIds, publishWhenReady, waitWithLogs } from '../support/gatewayProbe.ts';
import { spawnGateway, type GatewayProcess } from '../support/process.ts';
import { startRedisCluster, type RedisCluster } from '../support/redisCluster.ts';
import { uniquePrefix } from '../support/redis.ts';
import { WsClient } from '../support/wsClient.ts';

const prefix = uniquePrefix('cluster');
const keys = new Keys(prefix);
const IDS = ['cl-1', 'cl-2'];
/** An instance started only to be killed and reaped. */
const CRASHED_ID = 'cl-crash';
/** Bounds a test or hook that waits on conditions (5 s each at most); each normally takes under 1 s. */
const TEST_TIMEOUT_MS = 20_000;

let cluster: RedisCluster | null = null;
const gateways: GatewayProcess[] = [];
let crashed: GatewayProcess | null = null;
const clients: WsClient[] = [];
/** Two topics per master, chosen by where their keys hash. */
let topics: string[] = [];

function wait<T>(check: () => T | Promise<T>, what: string): Promise<NonNullable<T>> {
  return waitWithLogs(gateways, check, { what, timeoutMs: 5000 });
}

async function open(g: GatewayProcess): Promise<WsClient> {
  const c = await WsClient.open(`ws://127.0.0.1:${g.port}/ws?app=${APP_A.id}`);
  clients.push(c);
  return c;
}

/** Topic names whose history and route keys spread over every master, `perNode` each. */
async function topicsOnEveryNode(c: RedisCluster, perNode: number): Promise<string[]> {
  const byNode = c.nodes.map((): string[] => []);
  for (let i = 0; byNode.some((t) => t.length < perNode); i++) {
    if (i > 1000) throw new Error('could not find topics for every master');
    const topic = `topic-${i}`;
    const node = await c.nodeOf(keys.history(APP_A.id, topic));
    if (byNode[node]!.length < perNode) byNode[node]!.push(topic);
  }
  return byNode.flat();
}

function gatewayEnv(id: string, seedUrl: string): Record<string, string> {
  return {
    REDIS_URL: seedUrl,
    REDIS_CLUSTER: 'true',
    REDIS_KEY_PREFIX: prefix,
    INSTANCE_ID: id,
    APPS: JSON.stringify([{ ...APP_A, allowDirect: true, presenceTopics: ['room:'] }]),
    LOG_LEVEL: 'debug',
    // A short TTL lets the reaper test see a killed instance as dead within about 2 s.
    HEARTBEAT_INTERVAL_MS: '200',
    INSTANCE_TTL_MS: '2000',
    INBOX_BLOCK_MS: '500',
    DRAIN_TIMEOUT_MS: '1000',
  };
}

/** Log lines at warn or error: none is expected while the cluster is healthy. */
function problems(g: GatewayProcess): string[] {
  return g.output.filter((line) => /"level":"(warn|error)"/.test(line));
}

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  topics = await topicsOnEveryNode(cluster, 2);
  const seed = cluster.seedUrl;
  gateways.push(...(await Promise.all(IDS.map((id) => spawnGateway(gatewayEnv(id, seed))))));
}, TEST_TIMEOUT_MS);

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all([...gateways, ...(crashed ? [crashed] : [])].map((g) => g.stop('SIGKILL')));
  await cluster?.stop();
});

test('GET /api/instances on either instance lists both', async () => {
  for (const g of gateways) expect(await instanceIds(g.port)).toEqual(IDS);
});

test('the cluster spreads the test topics and the inboxes over the masters', async () => {
  const c = cluster!;
  const nodes = new Set(await Promise.all(topics.map((t) => c.nodeOf(keys.history(APP_A.id, t)))));
  expect(nodes.size).toBe(c.nodes.length);
  // Each inbox exists on the master its hash tag maps to.
  for (const id of IDS) {
    const node = await c.nodeOf(keys.inbox(id));
    expect(await c.admins[node]!.exists(keys.inbox(id))).toBe(1);
  }
});

test('fan-out: every topic, published through either instance, reaches subscribers on both, in order', async () => {
  const subscribers = await Promise.all(gateways.map(open));
  for (const s of subscribers) expect((await s.request({ type: 'subscribe', topics })).type).toBe('ack');
  const sent = new Map<string, string[]>(topics.map((t) => [t, []]));
  for (let round = 0; round < 3; round++) {
    for (const [i, topic] of topics.entries()) {
      const data = `${topic}#${round}`;
      await publishWhenReady(gateways[(i + round) % gateways.length]!.port, APP_A, topic, data);
      sent.get(topic)!.push(data);
    }
  }
  await wait(() => subscribers.every((s) => topics.every((t) => s.messages(t).length >= 3)), 'three messages per topic at every subscriber');
  for (const s of subscribers) {
    for (const topic of topics) expect(s.messages(topic).map((f) => f.data)).toEqual(sent.get(topic)!);
  }
  // Both instances hold a route for every topic, on whichever master the topic lives.
  for (const topic of topics) {
    const node = await cluster!.nodeOf(keys.routes(APP_A.id, topic));
    expect((await cluster!.admins[node]!.smembers(keys.routes(APP_A.id, topic))).sort()).toEqual(IDS);
  }
});

test('recovery with `since` on the other instance replays what followed, then goes live', async () => {
  const topic = topics[topics.length - 1]!;
  const [one, two] = [gateways[0]!, gateways[1]!];
  const first = await open(one);
  expect((await first.request({ type: 'subscribe', topics: [topic] })).type).toBe('ack');
  const offsets: string[] = [];
  for (let i = 0; i < 4; i++) offsets.push(await publishWhenReady(one.port, APP_A, topic, `recover-${i}`));
  await wait(() => first.messages(topic).some((f) => f.data === 'recover-3'), 'the first session to see all four');
  const seen = first.messages(topic).find((f) => f.data === 'recover-1')!;
  expect(seen.offset).toBe(offsets[1]!);
  first.close();

  // Resumes on the other instance after the second message it saw.
  const second = await open(two);
  const ack = await second.request({ type: 'subscribe', topics: [topic], since: { [topic]: offsets[1]! } });
  expect(ack.type).toBe('ack');
  expect(ack.recovered).toEqual({ [topic]: true });
  expect(second.messages(topic).map((f) => f.data)).toEqual(['recover-2', 'recover-3']);
  await publishWhenReady(one.port, APP_A, topic, 'recover-live');
  await wait(() => second.messages(topic).some((f) => f.data === 'recover-live'), 'the live message after the replay');
  expect(second.messages(topic).map((f) => f.data)).toEqual(['recover-2', 'recover-3', 'recover-live']);
});

test("direct messages on the cluster: a user's keys share one slot, users on every master get their messages live and on connect", async () => {
  const c = cluster!;
  // One user per master, by where the user's keys hash.
  const users: string[] = [];
  const taken = new Set<number>();
  for (let i = 0; taken.size < c.nodes.length; i++) {
    if (i > 1000) throw new Error('could not find users for every master');
    const node = await c.nodeOf(keys.userInbox(APP_A.id, `user-${i}`));
    if (!taken.has(node)) {
      taken.add(node);
      users.push(`user-${i}`);
    }
  }
  for (const user of users) {
    const userKeys = [keys.userInbox(APP_A.id, user), keys.userInstances(APP_A.id, user), keys.userMeta(APP_A.id, user), keys.userDedupe(APP_A.id, user, 12345)];
    const slots = await Promise.all(userKeys.map((k) => c.admins[0]!.call('CLUSTER', 'KEYSLOT', k)));
    expect(new Set(slots).size).toBe(1);
  }
  const send = async (port: number, user: string, data: unknown) => {
    const res = await fetch(`http://127.0.0.1:${port}/api/apps/${APP_A.id}/users/${user}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${APP_A.secret}` },
      body: JSON.stringify({ data }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { messageId: string }).messageId;
  };
  const connect = async (port: number, user: string) => {
    const token = await sign({ sub: user }, APP_A.secret, 'HS256');
    const client = await WsClient.open(`ws://127.0.0.1:${port}/ws?app=${APP_A.id}&token=${token}`);
    clients.push(client);
    return client;
  };
  const directs = (client: WsClient) => client.frames.filter((f) => f.type === 'direct').map((f) => f.data);
  for (const user of users) {
    // Offline: two messages through cl-1; then the user connects to cl-2 and gets them, then a live one.
    await send(gateways[0]!.port, user, `${user}-0`);
    await send(gateways[0]!.port, user, `${user}-1`);
    const client = await connect(gateways[1]!.port, user);
    expect(client.frames[0]).toMatchObject({ type: 'welcome', inbox: { pending: 2 } });
    await send(gateways[0]!.port, user, `${user}-2`);
    await wait(() => directs(client).length === 3, `three direct messages for ${user}`);
    expect(directs(client)).toEqual([`${user}-0`, `${user}-1`, `${user}-2`]);
  }
}, TEST_TIMEOUT_MS);

test('binary messages on the cluster (issue 14): topics and users on every master, delivered as bytes across instances', async () => {
  const c = cluster!;
  const subscribers = await Promise.all(gateways.map(open));
  for (const s of subscribers) expect((await s.request({ type: 'subscribe', topics })).type).toBe('ack');
  const bytesOf = (i: number) => Uint8Array.from([0xff, 0x00, i, 0x80, 0xc3]);
  const hex = (data: unknown) => Buffer.from(data as Uint8Array).toString('hex');
  const post = async (port: number, path: string, body: Uint8Array<ArrayBuffer>) => {
    const res = await fetch(`http://127.0.0.1:${port}/api/apps/${APP_A.id}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${APP_A.secret}`, 'content-type': 'application/octet-stream' },
      body,
    });
    expect(res.status).toBe(200);
    return res.json() as Promise<{ offset?: string; messageId?: string }>;
  };
  // Through the other instance each time: the envelopes cross between masters' inboxes.
  for (const [i, topic] of topics.entries()) await post(gateways[i % 2]!.port, `/publish?topic=${topic}`, bytesOf(i));
  const binaries = (s: WsClient, topic: string) => s.messages(topic).filter((f) => f.binary === true);
  await wait(() => subscribers.every((s) => topics.every((t) => binaries(s, t).length === 1)), 'one binary message per topic at every subscriber');
  for (const s of subscribers) for (const [i, topic] of topics.entries()) expect(hex(binaries(s, topic)[0]!.data)).toBe(hex(bytesOf(i)));

  // A user per master, online on cl-2, sent bytes through cl-1.
  const users: string[] = [];
  const taken = new Set<number>();
  for (let i = 0; taken.size < c.nodes.length; i++) {
    const node = await c.nodeOf(keys.userInbox(APP_A.id, `bin-user-${i}`));
    if (!taken.has(node)) {
      taken.add(node);
      users.push(`bin-user-${i}`);
    }
  }
  for (const [i, user] of users.entries()) {
    const token = await sign({ sub: user }, APP_A.secret, 'HS256');
    const client = await WsClient.open(`ws://127.0.0.1:${gateways[1]!.port}/ws?app=${APP_A.id}&token=${token}`);
    clients.push(client);
    const { messageId } = await post(gateways[0]!.port, `/users/${user}/messages`, bytesOf(10 + i));
    const direct = await wait(() => client.frames.find((f) => f.type === 'direct'), `the binary direct message for ${user}`);
    expect(direct).toMatchObject({ binary: true, messageId: messageId!, from: null });
    expect(hex(direct.data)).toBe(hex(bytesOf(10 + i)));
  }
}, TEST_TIMEOUT_MS);

test('presence: joins, leaves and members across both instances, for rooms on every master', async () => {
  const c = cluster!;
  // A room per master, by where its keys hash.
  const rooms: string[] = [];
  for (let i = 0; rooms.length < c.nodes.length; i++) {
    const room = `room:${i}`;
    if ((await c.nodeOf(keys.presenceUsers(APP_A.id, room))) === rooms.length) rooms.push(room);
  }
  const as = async (g: GatewayProcess, user: string) => {
    const token = await sign({ sub: user }, APP_A.secret, 'HS256');
    const client = await WsClient.open(`ws://127.0.0.1:${g.port}/ws?app=${APP_A.id}&token=${token}`);
    clients.push(client);
    return client;
  };
  const [one, two] = [gateways[0]!, gateways[1]!];
  const alice = await as(one, 'alice');
  const bob = await as(two, 'bob');
  expect((await alice.request({ type: 'subscribe', topics: rooms })).type).toBe('ack');
  expect((await bob.request({ type: 'subscribe', topics: rooms })).type).toBe('ack');
  for (const room of rooms) {
    await wait(() => alice.frames.some((f) => f.type === 'join' && f.topic === room && f.user === 'bob'), `bob's join in ${room} on the other instance`);
    expect(await bob.request({ type: 'presence', topic: room })).toMatchObject({
      presence: { count: 2, members: [{ user: 'alice', sessions: 1 }, { user: 'bob', sessions: 1 }] },
    });
  }
  bob.close();
  for (const room of rooms) await wait(() => alice.frames.some((f) => f.type === 'leave' && f.topic === room && f.user === 'bob'), `bob's leave in ${room}`);
});

test('an instance killed with SIGKILL is reaped: its inbox, routes and registry entry leave every master', async () => {
  const c = cluster!;
  const dying = (crashed = await spawnGateway(gatewayEnv(CRASHED_ID, c.seedUrl)));
  const client = await open(dying);
  expect((await client.request({ type: 'subscribe', topics })).type).toBe('ack');
  await wait(async () => (await instanceIds(gateways[0]!.port)).includes(CRASHED_ID), 'the new instance to be listed');
  const owned = (await c.keysUnder(prefix)).filter((k) => k.includes(`{i:${CRASHED_ID}}`));
  expect(owned).toContain(keys.inbox(CRASHED_ID));
  expect(owned).toContain(keys.instanceRoutes(CRASHED_ID));

  await dying.stop('SIGKILL');
  await wait(async () => {
    if ((await c.keysUnder(prefix)).some((k) => k.includes(`{i:${CRASHED_ID}}`))) return false;
    for (const topic of topics) {
      const node = await c.nodeOf(keys.routes(APP_A.id, topic));
      if (await c.admins[node]!.sismember(keys.routes(APP_A.id, topic), CRASHED_ID)) return false;
    }
    return (await instanceIds(gateways[0]!.port)).join() === IDS.join();
  }, `${CRASHED_ID} to be reaped`);
  expect(gateways.some((g) => g.output.some((l) => l.includes('"reaped instance"') && l.includes(CRASHED_ID)))).toBe(true);
}, TEST_TIMEOUT_MS);

test('a graceful stop of both instances leaves no instance keys on any master', async () => {
  const c = cluster!;
  // While running: inboxes, route indexes and the registry exist somewhere in the cluster.
  const before = await c.keysUnder(prefix);
  for (const id of IDS) expect(before).toContain(keys.inbox(id));
  expect(before).toContain(keys.alive);

  for (const g of gateways) expect(problems(g)).toEqual([]);
  for (const client of clients) client.close();
  const codes = await Promise.all(gateways.map((g) => g.stop('SIGTERM')));
  expect(codes).toEqual([0, 0]);

  // Only topic history and user inboxes may remain: no inbox, route set, route index,
  // registry, user registration or reap lock.
  const after = await c.keysUnder(prefix);
  expect(after.length).toBeGreaterThan(0);
  expect(after.filter((k) => !/\{t:[^}]*\}:h$/.test(k) && !/\{u:[^}]*\}:(in|meta)$/.test(k))).toEqual([]);
  for (const id of IDS) expect(after.some((k) => k.includes(`{i:${id}}`))).toBe(false);
}, TEST_TIMEOUT_MS);
