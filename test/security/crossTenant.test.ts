/**
 * Cross-tenant suite: every operation attempted with app A's credentials against app B fails
 * with `unauthorized` (or, where the names are simply A's own, acts inside A only), and B's
 * subscribers receive nothing. Real processes on real Redis and RabbitMQ: two gateway
 * instances, a bridge and a worker; B's subscribers sit on both instances, so that a leak
 * through the cluster (routes, inboxes, history, job replies) would reach one of them.
 *
 * Each entry of ATTEMPTS is one operation; after each, `expectNothingCrossed()` checks the
 * victims: a sync point (a ping round trip on every victim), then a sentinel published
 * legitimately to B that every victim must receive, after which each victim must hold exactly
 * the sentinels (nothing of A, no stray error, result or progress) and the attacker's own
 * sessions nothing of B. New operations (the users issue's `send`, `received`, `presence`
 * frames and their server API routes, token refresh) are one entry each: `sameNamesInOwnApp`
 * for a frame that names B's users or topics from an A session, `refusedConnection` for a
 * frame pipelined on a connection opened with A's credentials for B.
 */
import { afterAll, afterEach, beforeAll, expect, test } from 'bun:test';
import { sign } from 'hono/jwt';
import { createWorker, type Worker } from '../../src/rpc/worker.ts';
import { CloseCode, ErrorCode } from '../../src/protocol/codes.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { AMQP_URL, requireRabbit, TestBroker, uniqueAmqpPrefix } from '../support/amqp.ts';
import { spawnBridge, type BridgeProcess } from '../support/bridgeProcess.ts';
import { TestCluster, type ClusterInstance } from '../support/cluster.ts';
import { publishHttp } from '../support/gateway.ts';
import { REDIS_URL, requireRedis, uniquePrefix } from '../support/redis.ts';
import { WsClient } from '../support/wsClient.ts';

const APP_A = { id: 'tenant-a', secret: 'tenant-a-secret-0123456789', allowClientPublish: true, allowDirect: true, presenceTopics: ['room:'] };
const APP_B = { id: 'tenant-b', secret: 'tenant-b-secret-0123456789', allowClientPublish: true, allowDirect: true, presenceTopics: ['room:'] };
type App = typeof APP_A;
/** B's topics, held by its subscribers; A's attempts use the same names. */
const VICTIM_TOPICS = ['shared', 'b-only', '__proto__', 'room:1'];
const METHODS = ['whoami', 'hold'];
/** Request ids of the jobs B's subscribers start themselves: the only results they may get. */
const VICTIM_JOBS = ['warm-up', 'same-id'];

const redisPrefix = uniquePrefix('tenant');
const amqpPrefix = uniqueAmqpPrefix('tenant');
const ENV = { APPS: JSON.stringify([APP_A, APP_B]), AMQP_URL, AMQP_PREFIX: amqpPrefix };

let cluster: TestCluster;
let bridge: BridgeProcess;
let worker: Worker;
let i1!: ClusterInstance;
let i2!: ClusterInstance;
/** Jobs the worker ran: which app and user each came from. */
const jobsRun: { app: string; user: string | null; method: string }[] = [];
let releaseHolds: () => void = () => {};
/** B's subscribers, one per instance, and the sentinels published to B so far. */
let victims: WsClient[] = [];
let sentinels = 0;
/** Per victim, how many of its frames earlier checks covered: each check judges only what came since. */
const checkedFrames: number[] = [];
/** B's history before any attempt: offsets that must never reach an A session. */
const offsetsOfB: string[] = [];
/** Sessions opened by an attempt, closed after it; `observers` must not receive anything of B. */
const opened: WsClient[] = [];
let observers: WsClient[] = [];

async function token(app: App, sub: string, extra: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return sign({ sub, iat: now, exp: now + 600, ...extra }, app.secret, 'HS256');
}

function url(instance: ClusterInstance, app: string, query: Record<string, string> = {}): string {
  const params = new URLSearchParams(query).toString();
  return `${instance.wsUrl(app)}${params ? `&${params}` : ''}`;
}

async function open(target: string): Promise<WsClient> {
  const c = await WsClient.open(target);
  opened.push(c);
  return c;
}

async function openAsA(instance: ClusterInstance, sub = 'mallory', query: Record<string, string> = {}): Promise<WsClient> {
  const c = await open(url(instance, APP_A.id, { token: await token(APP_A, sub), ...query }));
  observers.push(c);
  return c;
}

beforeAll(async () => {
  await requireRedis();
  await requireRabbit();
  let hold = Promise.withResolvers<void>();
  releaseHolds = () => {
    hold.resolve();
    hold = Promise.withResolvers<void>();
  };
  worker = await createWorker({
    url: AMQP_URL,
    prefix: amqpPrefix,
    methods: {
      whoami: (params, ctx) => {
        jobsRun.push({ app: ctx.app, user: ctx.userId, method: 'whoami' });
        return { app: ctx.app, user: ctx.userId, params };
      },
      hold: async (_params, ctx) => {
        jobsRun.push({ app: ctx.app, user: ctx.userId, method: 'hold' });
        await hold.promise;
        return { app: ctx.app, user: ctx.userId };
      },
    },
  });
  bridge = await spawnBridge({ REDIS_URL, REDIS_KEY_PREFIX: redisPrefix, ...ENV });
  cluster = new TestCluster(redisPrefix, ENV);
  const started = await cluster.startAll(['tenant-i1', 'tenant-i2']);
  i1 = started[0]!;
  i2 = started[1]!;
  for (const topic of VICTIM_TOPICS) offsetsOfB.push(await publishHttp(i1!.http, APP_B, topic, { history: `b:${topic}` }));
  for (const instance of [i1!, i2!]) {
    const victim = await WsClient.open(url(instance, APP_B.id, { token: await token(APP_B, 'bob') }));
    expect(await victim.request({ type: 'subscribe', topics: VICTIM_TOPICS })).toMatchObject({ type: 'ack' });
    victims.push(victim);
  }
  // The first victim's subscribe made bob join room:1 (a presence topic): that event is B's own
  // and may arrive after the ack; only what comes after it is checked.
  await victims[0]!.waitFor((f) => f.type === 'join' && f.user === 'bob');
  for (const victim of victims) {
    await victim.request({ type: 'ping' });
    checkedFrames.push(victim.frames.length);
  }
  // Every job path works before the attempts: a B job comes back to B.
  victims[0]!.send({ type: 'rpc', id: 'warm-up', method: 'whoami', params: 'warm-up' });
  expect(await victims[0]!.reply('warm-up', 15_000)).toMatchObject({ type: 'result', result: { app: APP_B.id, user: 'bob' } });
}, 60_000);

afterEach(() => {
  for (const c of opened.splice(0)) c.close();
  observers = [];
});

afterAll(async () => {
  releaseHolds();
  for (const v of victims) v.close();
  await worker?.stop();
  await bridge?.stop('SIGKILL');
  await cluster?.dispose();
  const broker = await TestBroker.open(amqpPrefix);
  await broker.cleanup(METHODS);
});

/**
 * The check after every attempt: since the previous check, each of B's subscribers got exactly
 * the new sentinel B published (on each instance, after a ping round trip and after the
 * sentinel arrived) and no stray error, result or progress; the attacker's sessions got nothing
 * of B; and no job ran for B that B did not start.
 */
async function expectNothingCrossed(): Promise<void> {
  for (const v of victims) await v.request({ type: 'ping' });
  const n = ++sentinels;
  // Published through the other instance each time, so that the sentinel crosses the cluster.
  await publishHttp((n % 2 === 0 ? i1 : i2).http, APP_B, 'shared', { sentinel: n });
  for (const v of victims) await v.waitFor((f) => f.type === 'message' && (f.data as { sentinel?: number } | null)?.sentinel === n);
  // Every window is taken before any assertion, so that one leak fails one test, not the next ones.
  const windows = victims.map((v, i) => v.frames.slice(checkedFrames[i] ?? 0));
  victims.forEach((v, i) => (checkedFrames[i] = v.frames.length));
  for (const [i, since] of windows.entries()) {
    const got = since.filter((f) => f.type === 'message').map((f) => ({ topic: f.topic, data: f.data }));
    expect(got, `victim on instance ${i + 1}`).toEqual([{ topic: 'shared', data: { sentinel: n } }]);
    // Direct messages and presence events: B's users get none from A (B sends none here).
    const stray = since.filter((f) => ['error', 'progress', 'result', 'direct', 'join', 'leave'].includes(String(f.type)) && !VICTIM_JOBS.includes(String(f.id)));
    expect(stray, `victim on instance ${i + 1}`).toEqual([]);
  }
  for (const o of observers) {
    if (o.ws.readyState !== WebSocket.OPEN) continue;
    await o.request({ type: 'ping' });
    const ofB = o.frames.filter((f) => f.type === 'message' && (offsetsOfB.includes(String(f.offset)) || (f.data as { sentinel?: number } | null)?.sentinel !== undefined));
    expect(ofB, 'an A session received messages of B').toEqual([]);
  }
  expect(jobsRun.filter((j) => j.app === APP_B.id && j.user !== 'bob')).toEqual([]);
}

/**
 * A connection to B opened with A's credentials (`query`), with `frames` pipelined right
 * behind the upgrade: refused with one `error` frame (`unauthorized`, id null) and close
 * 4500, and none of the frames acted on (no ack, no job).
 */
async function refusedConnection(instance: ClusterInstance, query: Record<string, string>, frames: Record<string, unknown>[]): Promise<void> {
  const jobsBefore = jobsRun.length;
  const c = await WsClient.connect(url(instance, APP_B.id, query));
  opened.push(c);
  for (const frame of frames) {
    if (c.ws.readyState === WebSocket.OPEN) c.send(frame);
  }
  const closed = await c.closed;
  expect(closed.code).toBe(CloseCode.Unauthorized);
  expect(c.frames).toEqual([expect.objectContaining({ type: 'error', id: null, code: ErrorCode.Unauthorized })]);
  expect(jobsRun.length).toBe(jobsBefore);
}

/** Frames an attacker pipelines on a refused connection: one of each operation on B's names. */
const PIPELINED: Record<string, unknown>[] = [
  { type: 'subscribe', id: 's', topics: VICTIM_TOPICS },
  { type: 'subscribe', id: 'since', topics: ['b-only'], since: { 'b-only': '0-0' } },
  { type: 'publish', id: 'p', topic: 'shared', data: 'from A' },
  { type: 'rpc', id: 'j', method: 'whoami', params: 'from A' },
  { type: 'unsubscribe', id: 'u', topics: VICTIM_TOPICS },
  { type: 'ping', id: 'ping' },
];

/**
 * A frame that names B's topics or users, sent from an A session on each instance: it acts
 * on A's own namespace (`check` judges the reply), so B sees nothing.
 */
async function sameNamesInOwnApp(frame: Record<string, unknown>, check: (reply: Record<string, unknown>) => void): Promise<void> {
  for (const instance of [i1, i2]) {
    const a = await openAsA(instance);
    check(await a.request(frame));
  }
}

interface Attempt {
  name: string;
  run(): Promise<void>;
}

const ATTEMPTS: Attempt[] = [
  {
    name: "WebSocket: A's token on B's URL, with subscribe, since, publish, rpc frames pipelined (both instances)",
    run: async () => {
      for (const instance of [i1, i2]) await refusedConnection(instance, { token: await token(APP_A, 'bob') }, PIPELINED);
    },
  },
  {
    name: "WebSocket: a token signed with A's secret claiming app B (`app`, `aud`, `iss` claims)",
    run: async () => {
      const forged = await token(APP_A, 'bob', { app: APP_B.id, aud: APP_B.id, iss: APP_B.id });
      await refusedConnection(i1, { token: forged }, PIPELINED);
    },
  },
  {
    name: "WebSocket: A's secret itself, or no token, as credentials for B",
    run: async () => {
      await refusedConnection(i2, { token: APP_A.secret }, PIPELINED);
      await refusedConnection(i2, {}, PIPELINED);
    },
  },
  {
    name: 'WebSocket: app named twice in the URL: the session, if admitted, is an A session',
    run: async () => {
      const target = `${i1.wsUrl(APP_A.id)}&app=${APP_B.id}&token=${await token(APP_A, 'mallory')}`;
      const c = await WsClient.connect(target);
      opened.push(c);
      observers.push(c);
      const first = await c.waitFor(() => true);
      if (first.type !== 'welcome') {
        expect(first).toMatchObject({ type: 'error', code: ErrorCode.Unauthorized });
        return;
      }
      expect(await c.request({ type: 'subscribe', topics: VICTIM_TOPICS })).toMatchObject({ type: 'ack' });
      expect(await c.request({ type: 'publish', topic: 'shared', data: 'from A' })).toMatchObject({ type: 'ack' });
    },
  },
  {
    name: "subscribe: an A session subscribing to B's topic names gets A's topics (nothing of B's history or live messages)",
    run: () =>
      sameNamesInOwnApp({ type: 'subscribe', topics: VICTIM_TOPICS }, (reply) => {
        expect(reply.type).toBe('ack');
        for (const offset of Object.values(reply.offsets as Record<string, string>)) expect(offsetsOfB).not.toContain(offset);
      }),
  },
  {
    name: "publish: an A session publishing to B's topic names publishes into A only",
    run: () => sameNamesInOwnApp({ type: 'publish', topic: 'shared', data: 'from A' }, (reply) => expect(reply).toMatchObject({ type: 'ack' })),
  },
  {
    name: "since: an A session asking for B's history by B's own offsets replays nothing of B",
    run: async () => {
      const since = Object.fromEntries(VICTIM_TOPICS.map((t) => [t, '0-0']));
      await sameNamesInOwnApp({ type: 'subscribe', topics: VICTIM_TOPICS, since }, (reply) => expect(reply.type).toBe('ack'));
      // B's offsets, one below each: a B session would get every message from there.
      const justBefore = (offset: string) => {
        const [ms, seq] = offset.split('-').map(Number) as [number, number];
        return seq > 0 ? `${ms}-${seq - 1}` : `${ms - 1}-0`;
      };
      const sinceB = Object.fromEntries(VICTIM_TOPICS.map((t, k) => [t, justBefore(offsetsOfB[k]!)]));
      await sameNamesInOwnApp({ type: 'subscribe', topics: VICTIM_TOPICS, since: sinceB }, (reply) => expect(reply.type).toBe('ack'));
      for (const o of observers) expect(o.frames.filter((f) => f.type === 'message' && offsetsOfB.includes(String(f.offset)))).toEqual([]);
    },
  },
  {
    name: 'rpc: a job started by an A session runs as A, and its result goes to that session only (same request id in B)',
    run: async () => {
      const a = await openAsA(i1, 'bob');
      // The victim's job and the attacker's job share a request id, on different instances.
      const victim = victims[1]!;
      victim.send({ type: 'rpc', id: 'same-id', method: 'whoami', params: 'from B' });
      a.send({ type: 'rpc', id: 'same-id', method: 'whoami', params: 'from A' });
      expect(await a.reply('same-id', 15_000)).toMatchObject({ type: 'result', result: { app: APP_A.id, user: 'bob', params: 'from A' } });
      expect(await victim.reply('same-id', 15_000)).toMatchObject({ type: 'result', result: { app: APP_B.id, user: 'bob', params: 'from B' } });
      await a.request({ type: 'ping' });
      await victim.request({ type: 'ping' });
      expect(a.frames.filter((f) => f.type === 'result')).toHaveLength(1);
      expect(victim.frames.filter((f) => f.type === 'result' && f.id === 'same-id')).toHaveLength(1);
    },
  },
  {
    name: "resume: A's resume token presented to B (same user name, B's valid token) resumes nothing; A's result stays A's",
    run: async () => {
      const a = await openAsA(i1, 'bob');
      const resumeToken = String(a.frames.find((f) => f.type === 'welcome')!.resumeToken);
      const sessionOfA = String(a.frames.find((f) => f.type === 'welcome')!.sessionId);
      a.send({ type: 'rpc', id: 'held', method: 'hold' });
      await waitFor(() => jobsRun.some((j) => j.app === APP_A.id && j.method === 'hold'), { what: 'the held job to start' });
      a.close();
      await a.closed;
      const b = await open(url(i2, APP_B.id, { token: await token(APP_B, 'bob'), resume: resumeToken }));
      const welcome = b.frames.find((f) => f.type === 'welcome')!;
      expect(welcome.resumed).toBe(false);
      expect(welcome.sessionId).not.toBe(sessionOfA);
      releaseHolds();
      // A, resuming with its own token, gets the result: after that, B cannot get it any more.
      const back = await openAsA(i2, 'bob', { resume: resumeToken });
      expect(back.frames.find((f) => f.type === 'welcome')).toMatchObject({ resumed: true, sessionId: sessionOfA });
      expect(await back.reply('held', 10_000)).toMatchObject({ type: 'result', result: { app: APP_A.id, user: 'bob' } });
      await b.request({ type: 'ping' });
      expect(b.frames.filter((f) => f.type === 'result' || f.type === 'progress' || f.type === 'error')).toEqual([]);
    },
  },
  {
    name: "server API: A's Bearer on B's publish route is refused with 401 unauthorized (both instances)",
    run: async () => {
      for (const instance of [i1, i2]) {
        for (const authorization of [`Bearer ${APP_A.secret}`, `Bearer ${await token(APP_A, 'mallory')}`, `bearer ${APP_B.secret.toUpperCase()}`, `Bearer ${APP_B.secret}x`, `Bearer ${APP_B.secret.slice(0, -1)}`, 'Bearer ', APP_B.secret]) {
          const res = await fetch(`${instance.http}/api/apps/${APP_B.id}/publish`, {
            method: 'POST',
            headers: { authorization, 'content-type': 'application/json' },
            body: JSON.stringify({ topic: 'shared', data: 'from A' }),
          });
          expect(res.status, authorization).toBe(401);
          expect(await res.json()).toMatchObject({ error: { code: ErrorCode.Unauthorized } });
        }
      }
    },
  },
  {
    name: "direct messages: A's send to `bob` reaches A's bob only, never B's; A's Bearer on B's user routes is refused with 401",
    run: async () => {
      const bobOfA = await openAsA(i2, 'bob');
      const mallory = await openAsA(i1, 'mallory');
      const ack = await mallory.request({ type: 'send', to: 'bob', data: 'from A' });
      expect(ack).toMatchObject({ type: 'ack', messageId: expect.any(String) });
      await bobOfA.waitFor((f) => f.type === 'direct' && f.data === 'from A', 10_000);
      // A's server API into A: also A's bob only.
      const intoA = await fetch(`${i1.http}/api/apps/${APP_A.id}/users/bob/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${APP_A.secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ data: 'from A api' }),
      });
      expect(intoA.status).toBe(200);
      await bobOfA.waitFor((f) => f.type === 'direct' && f.data === 'from A api', 10_000);
      for (const instance of [i1, i2]) {
        const refused = [
          await fetch(`${instance.http}/api/apps/${APP_B.id}/users/bob/messages`, {
            method: 'POST',
            headers: { authorization: `Bearer ${APP_A.secret}`, 'content-type': 'application/json' },
            body: JSON.stringify({ data: 'from A' }),
          }),
          await fetch(`${instance.http}/api/apps/${APP_B.id}/users/bob/presence`, { headers: { authorization: `Bearer ${APP_A.secret}` } }),
          await fetch(`${instance.http}/api/apps/${APP_B.id}/topics/room:1/presence`, { headers: { authorization: `Bearer ${APP_A.secret}` } }),
        ];
        for (const res of refused) {
          expect(res.status).toBe(401);
          expect(await res.json()).toMatchObject({ error: { code: ErrorCode.Unauthorized } });
        }
      }
    },
  },
  {
    name: "presence: an A session on `room:1` sees A's members only, and A's user status of `bob` sees no session of B's bob",
    run: async () => {
      for (const instance of [i1, i2]) {
        const mallory = await openAsA(instance, 'mallory');
        expect(await mallory.request({ type: 'subscribe', topics: ['room:1'] })).toMatchObject({ type: 'ack' });
        const presence = await mallory.request({ type: 'presence', topic: 'room:1' });
        // Only A's mallory (one session per instance so far), never B's bob.
        expect(presence).toMatchObject({ type: 'ack', presence: { count: 1, members: [{ user: 'mallory' }] } });
        // B's bob has two sessions in B; A has none for bob.
        expect(await mallory.request({ type: 'presence', users: ['bob'] })).toMatchObject({ type: 'ack', online: { bob: false } });
      }
    },
  },
  {
    name: "server API: the app is the one in the URL, never one named in the body or smuggled in the path",
    run: async () => {
      const post = (path: string, body: unknown) =>
        fetch(`${i1.http}${path}`, { method: 'POST', headers: { authorization: `Bearer ${APP_A.secret}` }, body: JSON.stringify(body) });
      // Accepted, but into A: the extra field does not choose the app.
      const intoA = await post(`/api/apps/${APP_A.id}/publish`, { app: APP_B.id, topic: 'shared', data: 'from A' });
      expect(intoA.status).toBe(200);
      for (const path of [`/api/apps/${APP_A.id}%2F..%2F${APP_B.id}/publish`, `/api/apps/${APP_B.id}%00/publish`, `/api/apps/${APP_B.id.toUpperCase()}/publish`, `/api/apps/${APP_A.id}/../${APP_B.id}/publish`]) {
        const res = await post(path, { topic: 'shared', data: 'from A' });
        expect([401, 404], path).toContain(res.status);
        expect(((await res.json()) as { error: { code: string } }).error.code, path).toBeOneOf([ErrorCode.Unauthorized, ErrorCode.UnknownApp, ErrorCode.NotFound]);
      }
    },
  },
];

for (const attempt of ATTEMPTS) {
  test(attempt.name, async () => {
    await attempt.run();
    await expectNothingCrossed();
  }, 30_000);
}
