/**
 * The Redis publish path on a standalone server, where one script appends a batch to
 * history and to the routed inboxes: the envelopes it writes must be exactly what the
 * reader expects (the script builds their JSON), in order, each linked to its predecessor,
 * and a repeated message ID must neither append nor send again. What every Broker does is in
 * the Broker contract (broker.test.ts); this file keeps what is the script's own.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import type { Published } from '../../src/cluster/broker.ts';
import { RedisBackend } from '../../src/cluster/redis/redisBackend.ts';
import type { Envelope, TopicMessageEnvelope } from '../../src/protocol/envelope.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { deleteKeysUnder, REDIS_URL, requireRedis, testClient, uniquePrefix } from '../support/redis.ts';

const prefix = uniquePrefix('publish');
const admin = testClient();
const backends: RedisBackend[] = [];

function backend(instanceId: string, dedupeWindowMs?: number): RedisBackend {
  const b = new RedisBackend(
    {
      url: REDIS_URL,
      cluster: false,
      keyPrefix: prefix,
      instanceId,
      historySize: 50,
      historyMaxAgeMs: 60_000,
      dedupeWindowMs,
      instanceTtlMs: 10_000,
      reapIntervalMs: 0,
      resumeWindowMs: 60_000,
      inbox: { batchSize: 100, blockTimeInMs: 200, maxLength: 10_000 },
    },
    silentLogger,
  );
  backends.push(b);
  return b;
}

/**
 * A publishing backend and a subscribing one (inbox started, routes added for `topics`):
 * returns the publisher and what reaches the subscriber's inbox.
 */
async function pair(name: string, topics: [app: string, topic: string][]): Promise<{ publisher: RedisBackend; got: TopicMessageEnvelope[] }> {
  const publisher = backend(name);
  const sub = backend(`${name}-sub`);
  for (const x of [publisher, sub]) await x.start();
  const got: TopicMessageEnvelope[] = [];
  await sub.inbox.start((batch) => void got.push(...(batch as TopicMessageEnvelope[])));
  for (const [app, topic] of topics) await sub.broker.addRoute(app, topic, `${name}-sub`);
  return { publisher, got };
}

beforeAll(requireRedis);
afterAll(async () => {
  for (const b of backends) {
    await b.inbox.stop();
    await b.close();
  }
  await deleteKeysUnder(admin, prefix);
  admin.disconnect();
});

const TRICKY = [
  '"quotes" and \\\\ backslashes',
  'a/b </script>',
  'é ü 漢字 😀',
  'controls \u0001\u001f and \n newlines \t tabs',
  '',
];

test('one script call: history and every routed inbox get the batch, in order, as the reader decodes it', async () => {
  const publisher = backend('pub');
  const a = backend('sub-a');
  const b = backend('sub-b');
  for (const x of [publisher, a, b]) await x.start();
  const got = new Map<string, Envelope[]>([['sub-a', []], ['sub-b', []]]);
  await a.inbox.start((batch) => void got.get('sub-a')!.push(...batch));
  await b.inbox.start((batch) => void got.get('sub-b')!.push(...batch));
  await a.broker.addRoute('app1', 'room', 'sub-a');
  await b.broker.addRoute('app1', 'room', 'sub-b');

  const items = TRICKY.map((text, i) => ({ data: JSON.stringify({ text, i }), messageId: `m-${i}` }));
  const [published] = (await publisher.broker.publish([{ app: 'app1', topic: 'room', items }])) as [Published[]];
  expect(published.map((p) => p.duplicate)).toEqual(TRICKY.map(() => false));

  await waitFor(() => got.get('sub-a')!.length === items.length && got.get('sub-b')!.length === items.length, { what: 'both inboxes' });
  for (const envelopes of got.values()) {
    const messages = envelopes as TopicMessageEnvelope[];
    expect(messages.map((e) => e.kind)).toEqual(items.map(() => 'message'));
    expect(messages.map((e) => [e.app, e.topic])).toEqual(items.map(() => ['app1', 'room']));
    expect(messages.map((e) => e.data)).toEqual(items.map((i) => i.data));
    expect(messages.map((e) => e.offset)).toEqual(published.map((p) => p.offset));
    for (let i = 1; i < messages.length; i++) expect(messages[i]!.prev).toBe(messages[i - 1]!.offset);
    expect(messages[0]!.prev).toBe('0-0');
  }
  const history = await publisher.broker.readSince('app1', 'room', '0-0', 10_000);
  expect(history.entries.map((e) => e.data)).toEqual(items.map((i) => i.data));

  // A redelivered batch (same IDs) plus one new message: only the new one is appended and sent.
  const [again] = (await publisher.broker.publish([
    { app: 'app1', topic: 'room', items: [...items.slice(1, 3), { data: '"new"', messageId: 'm-new' }, { data: '"no id"' }] },
  ])) as [Published[]];
  expect(again.map((p) => p.duplicate)).toEqual([false, false, false, false].map((_, i) => i < 2));
  expect(again.slice(0, 2).map((p) => p.offset)).toEqual(published.slice(1, 3).map((p) => p.offset));
  await waitFor(() => got.get('sub-a')!.length === items.length + 2, { what: 'the two new messages' });
  const tail = got.get('sub-a')!.slice(items.length) as TopicMessageEnvelope[];
  expect(tail.map((e) => e.data)).toEqual(['"new"', '"no id"']);
  expect(tail[0]!.prev).toBe(published[published.length - 1]!.offset);
});

test('a batch larger than one inbox entry holds arrives whole and in order, and is recognised whole when it comes again', async () => {
  const { publisher, got } = await pair('big', [['app1', 'big']]);
  const items = Array.from({ length: 2_345 }, (_, i) => ({ data: String(i), messageId: `big-${i}` }));
  const [published] = (await publisher.broker.publish([{ app: 'app1', topic: 'big', items }])) as [Published[]];
  await waitFor(() => got.length === items.length, { what: 'every message' });
  expect(got.map((e) => e.data)).toEqual(items.map((i) => i.data));
  expect(got.map((e) => e.offset)).toEqual(published.map((p) => p.offset));
  for (let i = 1; i < got.length; i++) expect(got[i]!.prev).toBe(got[i - 1]!.offset);
  // 1,000 messages per entry at most.
  expect(await admin.xlen(publisher.keys.inbox('big-sub'))).toBeLessThanOrEqual(3);

  // Redelivered whole (more IDs than one lookup takes): nothing is appended or sent again.
  const [again] = (await publisher.broker.publish([{ app: 'app1', topic: 'big', items }])) as [Published[]];
  expect(again.every((p) => p.duplicate)).toBe(true);
  expect(again.map((p) => p.offset)).toEqual(published.map((p) => p.offset));
  expect((await publisher.broker.readSince('app1', 'big', published.at(-1)!.offset, 10_000)).entries).toEqual([]);
});

test('dedupe windows: an ID is remembered into the next window and forgotten after two; the window before the previous one is freed', async () => {
  const WINDOW_MS = 400;
  const publisher = backend('windows', WINDOW_MS);
  await publisher.start();
  const store = async (messageId: string) =>
    ((await publisher.broker.publish([{ app: 'app1', topic: 'windows', items: [{ data: '1', messageId }] }])) as [Published[]])[0][0]!;
  /** Sleeps until `ms` after the start of window `w` (the clock divided by the window length). */
  const untilWindow = (w: number) => Bun.sleep(Math.max(0, w * WINDOW_MS + 50 - Date.now()));

  // Start early in a window, so that the first two steps fall in it.
  const start = Math.floor(Date.now() / WINDOW_MS) + 1;
  await untilWindow(start);
  const first = await store('w');
  expect(first.duplicate).toBe(false);
  expect((await store('w')).duplicate).toBe(true);
  expect(await admin.hexists(publisher.keys.dedupe('app1', 'windows', start), 'w')).toBe(1);

  await untilWindow(start + 1);
  const next = await store('w');
  expect(next).toEqual({ ...first, duplicate: true });

  // Two windows on, `w` was recorded in neither of the two looked at: stored anew, and the
  // first window's hash is gone.
  await untilWindow(start + 2);
  const later = await store('w');
  expect(later.duplicate).toBe(false);
  expect(later.offset).not.toBe(first.offset);
  expect(await admin.exists(publisher.keys.dedupe('app1', 'windows', start))).toBe(0);
  // Each window's hash expires on its own two windows after its last write.
  const ttl = await admin.pttl(publisher.keys.dedupe('app1', 'windows', start + 2));
  expect(ttl).toBeGreaterThan(WINDOW_MS);
  expect(ttl).toBeLessThanOrEqual(2 * WINDOW_MS);
});
