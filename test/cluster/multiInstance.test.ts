/**
 * The cluster as it runs in production: several real gateway processes on one real Redis.
 * Fan-out reaches every subscriber on every instance once and in order; publishes reach
 * only the instances with subscribers; a killed instance's clients resume elsewhere without
 * gap or duplicate while the reaper removes what it left; a graceful stop leaves nothing
 * behind; an instance taken for dead while paused comes back whole; a crashed instance
 * restarted under its ID re-reads its inbox and keeps no stale route.
 *
 * Each test runs its own instances under its own key prefix (inside this file's prefix), and
 * kills them and deletes the keys afterwards, passed or failed. Heartbeats are fast
 * (200 ms, TTL 1500 ms) so that reaping happens within the test.
 */
import { afterAll, afterEach, beforeAll, expect, test } from 'bun:test';
import { PROBE_APP } from '../../src/protocol/names.ts';
import { INBOX_GROUP } from '../../src/cluster/redis/keys.ts';
import { CloseCode, shouldReconnect } from '../../src/protocol/codes.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { deleteTestKeys, PublishLog, ResumingClient, sequenceProblems, TestCluster, type ClusterInstance } from '../support/cluster.ts';
import { requireRedis, uniquePrefix } from '../support/redis.ts';
import { WsClient } from '../support/wsClient.ts';

const PREFIX = uniquePrefix('multi');
const APP = { id: 'shop', secret: 'multi-instance-secret-0123456789', allowAnonymous: true };
const ENV = {
  APPS: JSON.stringify([APP]),
  // The delivery probe's first entry is in the inbox once an instance is ready, the next a
  // minute later: the tests that count inbox entries count only their own.
  PROBE_INTERVAL_MS: '60000',
  PROBE_TIMEOUT_MS: '120000',
  HEARTBEAT_INTERVAL_MS: '200',
  INSTANCE_TTL_MS: '1500',
  // Publishing is fast here; history must still cover what a resuming client missed.
  HISTORY_SIZE: '20000',
  RATE_LIMIT_FRAMES_PER_SEC: '10000',
  RATE_LIMIT_BURST: '10000',
  DRAIN_TIMEOUT_MS: '3000',
};

const clusters: TestCluster[] = [];
const clients: { close(): void }[] = [];

function newCluster(name: string, env: Record<string, string> = {}): TestCluster {
  const cluster = new TestCluster(`${PREFIX}${name}:`, { ...ENV, ...env });
  clusters.push(cluster);
  return cluster;
}

function track<C extends { close(): void }>(client: C): C {
  clients.push(client);
  return client;
}

/** Opens `perInstance` resuming clients on each instance, all subscribed to `topics`. */
async function subscribers(cluster: TestCluster, instances: ClusterInstance[], perInstance: number, topics: string[]): Promise<ResumingClient[]> {
  const candidates = () => cluster.instances().map((i) => i.wsUrl(APP.id));
  const opened: Promise<ResumingClient>[] = [];
  for (const instance of instances) {
    for (let k = 0; k < perInstance; k++) {
      const client = track(new ResumingClient(topics, candidates, k));
      opened.push(client.connect(instance.wsUrl(APP.id)).then(() => client));
    }
  }
  return Promise.all(opened);
}

function describeClients(clients: ResumingClient[], log: PublishLog, topics: string[]): string {
  return clients
    .map((c, i) => {
      const topicState = topics.map((t) => `${t}: ${c.count(t)}/${log.count(t)} last ${c.last(t)}`).join(', ');
      return `client ${i} via ${c.connections.map((x) => `${x.instanceId}(${x.closeCode ?? 'open'})`).join(' -> ')}: ${topicState}`;
    })
    .join('\n');
}

/**
 * Waits until every client has received the newest message of each topic, then checks that
 * each got exactly what was published, once, in offset order. Every client must have
 * subscribed before the first publish in `log`.
 */
async function expectEveryoneReceivedEverything(cluster: TestCluster, clients: ResumingClient[], log: PublishLog, topics: string[]): Promise<void> {
  const newest = new Map(topics.map((t) => [t, log.expected(t).at(-1)?.offset]));
  try {
    await waitFor(() => clients.every((c) => topics.every((t) => c.last(t) === newest.get(t))), {
      timeoutMs: 15_000,
      intervalMs: 20,
      what: 'every subscriber to receive the newest message of each topic',
    });
  } catch (error) {
    throw new Error(`${String(error)}\n${describeClients(clients, log, topics)}\n${cluster.logs()}`);
  }
  const problems: string[] = [];
  for (const [i, c] of clients.entries()) {
    for (const topic of topics) {
      for (const p of sequenceProblems(c.received.get(topic) ?? [], log.expected(topic))) problems.push(`client ${i} (${c.instanceId}) ${topic}: ${p}`);
    }
  }
  expect(problems).toEqual([]);
  expect(clients.flatMap((c) => c.failures)).toEqual([]);
}

/** Ends the publishing of a test with one more message per topic, through `via`. */
async function fence(log: PublishLog, via: ClusterInstance, topics: string[]): Promise<void> {
  for (const topic of topics) await log.publish(via.http, APP, topic, { label: 'fence' });
}

beforeAll(() => requireRedis());

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(clusters.splice(0).map((c) => c.dispose()));
});

afterAll(() => deleteTestKeys(PREFIX));

test('fan-out reaches every subscriber on every instance exactly once, in per-topic order', async () => {
  const cluster = newCluster('fanout');
  const instances = await cluster.startAll(['a', 'b', 'c']);
  const [a] = instances as [ClusterInstance, ...ClusterInstance[]];
  const topics = ['orders', 'prices'];
  const clients = await subscribers(cluster, instances, 10, topics);
  for (const topic of topics) expect(await cluster.routes(APP.id, topic)).toEqual(['a', 'b', 'c']);

  const log = new PublishLog();
  // Through one instance's HTTP API, several publishes in flight per topic.
  await Promise.all(topics.map((topic) => log.publishMany(a.http, APP, topic, 150, { label: `a-${topic}`, concurrency: 8 })));
  // Through every instance at once: the publishers race for the same topics.
  await Promise.all(
    instances.flatMap((via) => topics.map((topic) => log.publishMany(via.http, APP, topic, 60, { label: `${via.id}-${topic}`, concurrency: 4 }))),
  );
  await fence(log, a, topics);

  expect(topics.map((t) => log.count(t))).toEqual([331, 331]);
  await expectEveryoneReceivedEverything(cluster, clients, log, topics);
  expect(clients.every((c) => c.connections.length === 1)).toBe(true);
}, 30_000);

test('a publish reaches only the instances with subscribers of its topic; routes follow subscribers', async () => {
  const cluster = newCluster('routing');
  const [a, b, c] = (await cluster.startAll(['a', 'b', 'c'])) as [ClusterInstance, ClusterInstance, ClusterInstance];
  const added = async () => ({ a: await cluster.inboxEntriesAdded('a'), b: await cluster.inboxEntriesAdded('b'), c: await cluster.inboxEntriesAdded('c') });
  const log = new PublishLog();

  // Two subscribers of `solo` on a only.
  const [onA1, onA2] = (await subscribers(cluster, [a], 2, ['solo'])) as [ResumingClient, ResumingClient];
  expect(await cluster.routes(APP.id, 'solo')).toEqual(['a']);
  expect(await cluster.routeIndex('a')).toEqual([`${APP.id}:solo`]);
  expect(await cluster.routeIndex('b')).toEqual([]);
  expect(await cluster.routeIndex('c')).toEqual([]);

  // Published through b: one envelope per message to a's inbox (not one per subscriber), none elsewhere.
  let before = await added();
  await log.publishMany(b.http, APP, 'solo', 50, { label: 'b', concurrency: 5 });
  await waitFor(() => onA1.count('solo') === 50 && onA2.count('solo') === 50, { what: '50 messages on both subscribers' });
  expect(await added()).toEqual({ a: before.a! + 50, b: before.b, c: before.c });

  // A subscriber on c joins the route; b still gets nothing.
  const onC = (await subscribers(cluster, [c], 1, ['solo']))[0]!;
  expect(await cluster.routes(APP.id, 'solo')).toEqual(['a', 'c']);
  before = await added();
  await log.publishMany(b.http, APP, 'solo', 10, { label: 'b2', concurrency: 2 });
  await waitFor(() => onC.count('solo') === 10 && onA1.count('solo') === 60, { what: 'the next 10 messages on a and c' });
  expect(await added()).toEqual({ a: before.a! + 10, b: before.b, c: before.c! + 10 });
  expect(onC.received.get('solo')).toEqual(log.expected('solo').slice(50));

  // The route stays while a has a subscriber, and goes with the last one (unsubscribe, then a closed connection).
  await onA1.unsubscribe(['solo']);
  expect(await cluster.routes(APP.id, 'solo')).toEqual(['a', 'c']);
  // Route removal is asynchronous (the reply does not wait for it): wait for both records.
  onA2.close();
  await waitFor(async () => (await cluster.routes(APP.id, 'solo')).join() === 'c' && (await cluster.routeIndex('a')).length === 0, {
    what: 'a to leave the route of solo',
  });
  await onC.unsubscribe(['solo']);
  await waitFor(
    async () => (await cluster.redis.exists(cluster.keys.routes(APP.id, 'solo'))) === 0 && (await cluster.routeIndex('c')).length === 0,
    { what: 'the route set of solo to disappear' },
  );

  // Nobody subscribes any more: the publish is stored in history and sent to no inbox.
  before = await added();
  await log.publishMany(b.http, APP, 'solo', 5, { label: 'nobody', concurrency: 1 });
  expect(await added()).toEqual(before);
  expect(await cluster.redis.xlen(cluster.keys.history(APP.id, 'solo'))).toBe(65);
}, 30_000);

test('kill -9 of an instance: its clients resume elsewhere without gap or duplicate, and the reaper removes it', async () => {
  const cluster = newCluster('kill');
  const [k1, k2, k3] = (await cluster.startAll(['k1', 'k2', 'k3'])) as [ClusterInstance, ClusterInstance, ClusterInstance];
  const topics = ['x', 'y'];
  const clients = await subscribers(cluster, [k1, k2, k3], 8, topics);
  const onK3 = clients.filter((c) => c.instanceId === 'k3');
  expect(onK3).toHaveLength(8);
  expect(await cluster.routeIndex('k3')).toEqual([`${APP.id}:x`, `${APP.id}:y`]);

  // Both survivors publish on both topics (racing publishers), from before the kill until
  // after the reaper is done, so that publishes also meet the dead inbox and its removal.
  const log = new PublishLog();
  let publishing = true;
  const publisher = async (via: ClusterInstance, topic: string): Promise<void> => {
    for (let n = 0; publishing && n < 5_000; n++) await log.publish(via.http, APP, topic, { label: via.id, n });
  };
  const publishers = [k1, k2].flatMap((via) => topics.map((topic) => publisher(via, topic)));
  try {
    await waitFor(() => onK3.every((c) => c.count('x') >= 50 && c.count('y') >= 50), { timeoutMs: 10_000, what: 'k3 clients to receive traffic' });
    expect(await cluster.stop('k3', 'SIGKILL')).not.toBe(0);
    const counts = onK3.map((c) => c.count('x') + c.count('y'));
    await waitFor(() => onK3.every((c, i) => c.settled && c.count('x') + c.count('y') >= counts[i]! + 100), {
      timeoutMs: 10_000,
      what: 'k3 clients to reconnect elsewhere and receive more',
    });
    // The reaper of a survivor removes k3: registry entry, inbox, route index, route memberships.
    await waitFor(async () => (await cluster.traces('k3')).length === 0 && !(await cluster.listedInstances('k1')).includes('k3'), {
      timeoutMs: 10_000,
      intervalMs: 50,
      what: 'the reaper to remove k3',
    }).catch(async (error) => {
      throw new Error(`${String(error)}; left: ${JSON.stringify(await cluster.traces('k3'))}\n${cluster.logs()}`);
    });
  } finally {
    publishing = false;
    await Promise.all(publishers);
  }
  await fence(log, k1, topics);

  // Nothing of k3 came back (an envelope still in flight to it must not recreate its inbox).
  expect(await cluster.traces('k3')).toEqual([]);
  expect(await cluster.listedInstances('k1')).toEqual(['k1', 'k2']);
  expect(await cluster.listedInstances('k2')).toEqual(['k1', 'k2']);
  for (const topic of topics) expect(await cluster.routes(APP.id, topic)).toEqual(['k1', 'k2']);

  for (const c of onK3) {
    expect(c.connections).toHaveLength(2);
    expect(shouldReconnect(c.connections[0]!.closeCode!)).toBe(true);
    expect(['k1', 'k2']).toContain(c.connections[1]!.instanceId);
    expect(c.connections[1]!.recovered).toEqual({ x: true, y: true });
  }
  // Publishing went on while they were away: what they missed came back from history.
  expect(onK3.some((c) => c.connections[1]!.replayed > 0)).toBe(true);
  // The survivors' clients never noticed.
  expect(clients.filter((c) => c.connections.length === 1)).toHaveLength(16);
  await expectEveryoneReceivedEverything(cluster, clients, log, topics);
}, 40_000);

test('a graceful stop leaves nothing of the instance in Redis; with every instance stopped only history remains', async () => {
  const cluster = newCluster('drain');
  const [g1, g2] = (await cluster.startAll(['g1', 'g2'])) as [ClusterInstance, ClusterInstance];
  const topics = ['p', 'q'];
  const clients = await subscribers(cluster, [g1, g2], 4, topics);
  // A topic only g1 holds: its route set must lose g1 too.
  const onlyG1 = track(await WsClient.open(g1.wsUrl(APP.id)));
  await onlyG1.request({ type: 'subscribe', topics: ['g1-only'] });
  expect(await cluster.routes(APP.id, 'g1-only')).toEqual(['g1']);

  // Publishing goes on through g2 while g1 drains and retires.
  const log = new PublishLog();
  let publishing = true;
  const publisher = async (topic: string): Promise<void> => {
    for (let n = 0; publishing && n < 5_000; n++) await log.publish(g2.http, APP, topic, { label: 'g2', n });
  };
  const publishers = topics.map(publisher);
  try {
    await waitFor(() => clients.every((c) => topics.every((t) => c.count(t) >= 40)), { what: 'traffic on every client' });
    expect(await cluster.stop('g1', 'SIGTERM')).toBe(0);
    expect((await onlyG1.closed).code).toBe(CloseCode.Draining);
    // The process exits only after retiring: nothing of g1 may be left at this point.
    expect(await cluster.traces('g1')).toEqual([]);
    expect(await cluster.listedInstances('g2')).toEqual(['g2']);
    const counts = clients.map((c) => c.count('p') + c.count('q'));
    await waitFor(() => clients.every((c, i) => c.settled && c.count('p') + c.count('q') >= counts[i]! + 50), {
      timeoutMs: 10_000,
      what: "g1's clients to resume on g2 and receive more",
    });
  } finally {
    publishing = false;
    await Promise.all(publishers);
  }
  await fence(log, g2, topics);
  // Envelopes still in flight to g1 when it retired did not recreate anything.
  expect(await cluster.traces('g1')).toEqual([]);

  // g1's clients were told to reconnect (4000) and resumed on g2.
  await expectEveryoneReceivedEverything(cluster, clients, log, topics);
  for (const c of clients.filter((c) => c.connections.length > 1)) {
    expect(c.connections.map((x) => [x.instanceId, x.closeCode])).toEqual([['g1', CloseCode.Draining], ['g2', null]]);
  }
  expect(clients.filter((c) => c.connections.length > 1)).toHaveLength(4);

  for (const c of clients) c.close();
  expect(await cluster.stop('g2', 'SIGTERM')).toBe(0);
  // History only: `g1-only` never had a message, and keeps the empty stream its subscribe
  // created to vouch for the position it handed out (it expires like any history). So do
  // the instances' delivery-probe topics (docs/operations.md).
  const probeHistory = ['g1', 'g2'].map((id) => cluster.keys.history(PROBE_APP, `i.${id}`));
  expect(await cluster.keysUnder()).toEqual([...[...topics, 'g1-only'].map((t) => cluster.keys.history(APP.id, t)), ...probeHistory].sort());
  expect(await cluster.redis.xlen(cluster.keys.history(APP.id, 'g1-only'))).toBe(0);
}, 30_000);

test('an instance reaped while paused comes back whole: registry, routes and inbox restored, the gap filled from history', async () => {
  const cluster = newCluster('pause');
  const [p1, p2] = (await cluster.startAll(['p1', 'p2'])) as [ClusterInstance, ClusterInstance];
  // No reconnect target: the client must be served by p1 throughout.
  const client = track(new ResumingClient(['w'], () => []));
  await client.connect(p1.wsUrl(APP.id));
  const log = new PublishLog();
  await log.publishMany(p2.http, APP, 'w', 10, { label: 'before', concurrency: 1 });
  await waitFor(() => client.count('w') === 10, { what: 'the first 10 messages' });

  // SIGSTOP: p1 misses its heartbeats and p2's reaper takes it for dead.
  p1.process.proc.kill('SIGSTOP');
  try {
    await waitFor(async () => (await cluster.traces('p1')).length === 0, { timeoutMs: 10_000, intervalMs: 50, what: 'the reaper to remove p1' });
    // Published while p1 is paused and unrouted: nothing goes to p1.
    await log.publishMany(p2.http, APP, 'w', 10, { label: 'paused', concurrency: 1 });
  } finally {
    p1.process.proc.kill('SIGCONT');
  }
  await waitFor(
    async () =>
      (await cluster.inRegistry('p1')) &&
      (await cluster.routes(APP.id, 'w')).includes('p1') &&
      (await cluster.redis.exists(cluster.keys.inbox('p1'))) === 1,
    { timeoutMs: 10_000, intervalMs: 20, what: 'p1 to re-register, restore its route and recreate its inbox' },
  );
  await log.publishMany(p2.http, APP, 'w', 10, { label: 'after', concurrency: 1 });
  await fence(log, p2, ['w']);
  await expectEveryoneReceivedEverything(cluster, [client], log, ['w']);
  expect(client.connections).toHaveLength(1);
  expect(await cluster.routeIndex('p1')).toEqual([`${APP.id}:w`]);
}, 30_000);

test('an instance restarted under the same INSTANCE_ID after a crash re-reads its pending inbox entries', async () => {
  // Nobody reaps r1 while it is down: the restart finds its inbox as the crash left it.
  const cluster = newCluster('restart', { INSTANCE_TTL_MS: '60000' });
  const [r1, r2] = (await cluster.startAll(['r1', 'r2'])) as [ClusterInstance, ClusterInstance];
  const r1Urls = () => cluster.instances().filter((i) => i.id === 'r1').map((i) => i.wsUrl(APP.id));
  const client = track(new ResumingClient(['z'], r1Urls));
  await client.connect(r1.wsUrl(APP.id));
  const log = new PublishLog();
  await log.publishMany(r2.http, APP, 'z', 10, { label: 'before', concurrency: 2 });
  await waitFor(() => client.count('z') === 10, { what: 'the first 10 messages' });

  expect(await cluster.stop('r1', 'SIGKILL')).not.toBe(0);
  const addedAtCrash = (await cluster.inboxEntriesAdded('r1'))!;
  // The kill may land between r1's last delivery and its ack (the ack travels with the next
  // read): those entries are pending already.
  const { pending: pendingAtCrash } = await cluster.inboxBacklog('r1');
  await log.publishMany(r2.http, APP, 'z', 10, { label: 'while-down', concurrency: 2 });
  expect(await cluster.inboxEntriesAdded('r1')).toBe(addedAtCrash + 10);
  // As if r1 had read a batch and crashed before acknowledging it.
  await cluster.redis.call('XREADGROUP', 'GROUP', INBOX_GROUP, 'r1', 'COUNT', 4, 'STREAMS', cluster.keys.inbox('r1'), '>');
  expect(await cluster.inboxBacklog('r1')).toEqual({ pending: pendingAtCrash + 4, caughtUp: false });

  await cluster.start('r1');
  await waitFor(async () => {
    const backlog = await cluster.inboxBacklog('r1');
    return backlog.pending === 0 && backlog.caughtUp;
  }, { what: 'r1 to read and acknowledge its pending and unread entries' });

  // The client waited for r1 to come back and resumed from its last offset.
  await fence(log, r2, ['z']);
  await expectEveryoneReceivedEverything(cluster, [client], log, ['z']);
  expect(client.connections.map((c) => c.instanceId)).toEqual(['r1', 'r1']);
  expect(client.connections[1]!.recovered).toEqual({ z: true });
}, 30_000);

test('an instance restarted under the same INSTANCE_ID after a crash does not keep routes it no longer has subscribers for', async () => {
  const cluster = newCluster('stale', { INSTANCE_TTL_MS: '60000' });
  const [r1, r2] = (await cluster.startAll(['r1', 'r2'])) as [ClusterInstance, ClusterInstance];
  const client = track(await WsClient.open(r1.wsUrl(APP.id)));
  await client.request({ type: 'subscribe', topics: ['gone'] });
  expect(await cluster.routes(APP.id, 'gone')).toEqual(['r1']);

  expect(await cluster.stop('r1', 'SIGKILL')).not.toBe(0);
  await cluster.start('r1');
  // The new r1 has no subscriber of `gone`: the old incarnation's route must go (at start or
  // soon after), or every publish on `gone` lands in r1's inbox for as long as it runs.
  const state = async () => ({ routes: await cluster.routes(APP.id, 'gone'), routeIndex: await cluster.routeIndex('r1') });
  await waitFor(async () => (await state()).routes.length === 0, { what: "the route of r1's previous incarnation to go" }).catch(async (error) => {
    throw new Error(`${String(error)}: ${JSON.stringify(await state())}`);
  });
  expect(await state()).toEqual({ routes: [], routeIndex: [] });
  // Entries of r1's own (its delivery probe) may still come: only `gone` must not.
  const inbox = cluster.keys.inbox('r1');
  const newest = (await cluster.redis.xrevrange(inbox, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
  const log = new PublishLog();
  await log.publishMany(r2.http, APP, 'gone', 3, { label: 'after-restart', concurrency: 1 });
  const after = await cluster.redis.xrange(inbox, `(${newest}`, '+');
  expect(after.filter(([, fields]) => fields.join(' ').includes('"topic":"gone"'))).toEqual([]);
}, 30_000);
