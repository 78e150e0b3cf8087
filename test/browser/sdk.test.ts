/**
 * The SDK in a real browser: a page bundled with Bun.build from `switchyard/client` runs in
 * headless Chromium against two real gateway processes on Redis, with RabbitMQ, a bridge
 * process and a worker for jobs. It subscribes and receives text and binary messages; an RPC
 * call returns its result with progress; the gateway the page is connected to is killed
 * (SIGKILL, by PID) while messages are published, and the page reconnects to the other
 * instance and hands the app every message once, in order.
 *
 * The binary test needs the gateway's side of binary frames (the octet-stream server API and
 * the 0x11 publish frame, docs/protocol.md "Binary frames"); the SDK's side is tested on its
 * own in test/client/api.test.ts.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import type { Page } from 'playwright-core';
import { createWorker, type Worker } from '../../src/rpc/worker.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { AMQP_URL, requireRabbit, TestBroker, uniqueAmqpPrefix } from '../support/amqp.ts';
import { spawnBridge, type BridgeProcess } from '../support/bridgeProcess.ts';
import { buildPackage, bundle, launchChromium, serveBundle, type Browser, type StaticSite } from '../support/browser.ts';
import { PublishLog, sequenceProblems, TestCluster, type ClusterInstance } from '../support/cluster.ts';
import { APP_A } from '../support/gateway.ts';
import { REDIS_URL, requireRedis, uniquePrefix } from '../support/redis.ts';
import type { Harness, Received } from './page.ts';

const prefix = uniquePrefix('browser-sdk');
const amqpPrefix = uniqueAmqpPrefix('browser-sdk');
const METHOD = 'browser.resize';
const APPS = JSON.stringify([APP_A]);
const env = { APPS, AMQP_URL, AMQP_PREFIX: amqpPrefix, DRAIN_TIMEOUT_MS: '500', RATE_LIMIT_FRAMES_PER_SEC: '10000', RATE_LIMIT_BURST: '10000' };
const cluster = new TestCluster(prefix, env);
let browser: Browser | null = null;
let site: StaticSite | null = null;
let bridge: BridgeProcess | null = null;
let worker: Worker | null = null;
let page: Page;
let one: ClusterInstance;
let two: ClusterInstance;

/** Runs `fn` on the page's harness. */
function onPage<A, R>(fn: (harness: Harness, arg: A) => R | Promise<R>, arg: A): Promise<R> {
  return page.evaluate(([source, a]) => new Function('h', 'a', `return (${source})(h, a)`)((window as unknown as { harness: Harness }).harness, a), [fn.toString(), arg] as const) as Promise<R>;
}

const received = (topic: string): Promise<Received[]> => onPage((h, t) => h.received.filter((r) => r.topic === t), topic);

beforeAll(async () => {
  await Promise.all([requireRedis(), requireRabbit()]);
  await buildPackage();
  site = serveBundle(await bundle(new URL('./page.ts', import.meta.url).pathname), 'switchyard sdk test');
  [one, two] = (await cluster.startAll(['br-1', 'br-2'])) as [ClusterInstance, ClusterInstance];
  bridge = await spawnBridge({ REDIS_URL, REDIS_KEY_PREFIX: prefix, AMQP_URL, AMQP_PREFIX: amqpPrefix, APPS });
  worker = await createWorker({
    url: AMQP_URL,
    prefix: amqpPrefix,
    methods: {
      [METHOD]: async (params, ctx) => {
        await ctx.progress({ percent: 50 });
        const { width } = params as { width: number };
        return { width: width / 2, by: ctx.method };
      },
    },
  });
  browser = await launchChromium();
  page = await browser.context.newPage();
  await page.goto(site.url);
  await page.waitForFunction(() => document.title === 'harness ready');
  const instance = await onPage((h, urls) => h.start(urls, 'app-a'), [one.wsUrl(APP_A.id).split('?')[0]!, two.wsUrl(APP_A.id).split('?')[0]!]);
  expect(instance).toBe('br-1');
}, 60_000);

afterAll(async () => {
  await browser?.close();
  site?.stop();
  await worker?.stop();
  await bridge?.stop();
  await cluster.dispose();
  const broker = await TestBroker.open(amqpPrefix);
  await broker.cleanup([METHOD]);
});

test('subscribe and receive text messages: the app gets the JSON values, in offset order', async () => {
  const log = new PublishLog();
  await onPage((h, t) => h.subscribe(t), 'text');
  for (let i = 0; i < 5; i++) await log.publish(two.http, APP_A, 'text', { n: i, s: `é ${i}` });
  await waitFor(async () => (await received('text')).length === 5, { what: 'five text messages in the page' });
  const got = await received('text');
  expect(got.every((r) => !r.binary)).toBe(true);
  expect(sequenceProblems(got, log.expected('text'))).toEqual([]);
});

test('an RPC call from the page returns its result, with progress', async () => {
  const { result, progress } = await onPage((h, m) => h.rpc(m, { width: 640 }), METHOD);
  expect(result).toEqual({ width: 320, by: METHOD });
  expect(progress).toEqual([{ percent: 50 }]);
});

test('binary messages reach the app as Uint8Array, in one offset order with text (needs the gateway side of binary frames)', async () => {
  await onPage((h, t) => h.subscribe(t), 'bytes');
  const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff]);
  const res = await fetch(`${two.http}/api/apps/${APP_A.id}/publish?topic=bytes`, {
    method: 'POST',
    headers: { authorization: `Bearer ${APP_A.secret}`, 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  expect(res.status).toBe(200);
  const first = ((await res.json()) as { offset: string }).offset;
  const log = new PublishLog();
  const text = await log.publish(two.http, APP_A, 'bytes', 'between');
  const fromPage = await onPage((h, t) => h.publishBytes(t, [1, 2, 3]), 'bytes');
  await waitFor(async () => (await received('bytes')).length === 3, { what: 'three messages on the binary topic' });
  expect(await received('bytes')).toEqual([
    { topic: 'bytes', offset: first, binary: true, data: [...bytes] },
    { topic: 'bytes', offset: text, binary: false, data: 'between' },
    { topic: 'bytes', offset: fromPage, binary: true, data: [1, 2, 3] },
  ]);
});

test('the page survives a SIGKILL of its gateway: it reconnects to the other instance and hands the app every message once, in order', async () => {
  const log = new PublishLog();
  await onPage((h, t) => h.subscribe(t), 'feed');
  let publishing = true;
  const publisher = (async () => {
    for (let n = 0; publishing; n++) await log.publish(two.http, APP_A, 'feed', { n });
  })();
  try {
    await waitFor(async () => (await received('feed')).length >= 20, { timeoutMs: 10_000, what: 'messages before the kill' });
    await cluster.stop('br-1', 'SIGKILL');
    await waitFor(async () => (await onPage((h) => h.client!.instanceId, null)) === 'br-2', { timeoutMs: 15_000, what: 'the page on br-2' });
    const atMove = log.count('feed');
    await waitFor(() => log.count('feed') >= atMove + 20, { what: 'messages published after the move' });
  } finally {
    publishing = false;
    await publisher;
  }
  await waitFor(async () => (await received('feed')).length >= log.count('feed'), { timeoutMs: 15_000, what: 'every message in the page' });
  expect(sequenceProblems(await received('feed'), log.expected('feed'))).toEqual([]);
  const states = await onPage((h) => h.states, null);
  expect(states[0]).toBe('open@br-1');
  expect(states).toContain('reconnecting');
  expect(states.at(-1)).toBe('open@br-2');
  expect(await onPage((h) => h.gaps, null)).toEqual([]);
}, 60_000);
