/**
 * The client SDK against real gateways sharing one cluster backend: it resumes on the other
 * instance when its own drains, without a gap or a duplicate, also on a topic that had no
 * message yet; after a store lost its data it reports the gap and follows the new offsets;
 * it gives up on terminal close codes, and retries a connection attempt that failed before
 * reaching the network.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { SwitchyardClient } from '../../src/client/index.ts';
import type { ClusterBackend } from '../../src/cluster/backend.ts';
import { MemoryCluster } from '../../src/cluster/memory/memoryBackend.ts';
import { MemoryBroker } from '../../src/cluster/memory/memoryBroker.ts';
import { TopicPublisher } from '../../src/cluster/topicPublisher.ts';
import type { MessageFrame } from '../../src/protocol/frames.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { compareOffsets } from '../../src/protocol/offset.ts';
import { APP_A, publishHttp, startGateway, type TestGateway } from '../support/gateway.ts';
import { freePort } from '../support/process.ts';

const cluster = new MemoryCluster();
let a: TestGateway;
let b: TestGateway;

beforeAll(async () => {
  a = await startGateway(cluster.backend('sdk-a'), { INSTANCE_ID: 'sdk-a', DRAIN_TIMEOUT_MS: '1000' });
  b = await startGateway(cluster.backend('sdk-b'), { INSTANCE_ID: 'sdk-b' });
});
afterAll(async () => {
  await b.stop();
});

test('resumes on another instance after a drain, with no gap and no duplicate', async () => {
  const client = new SwitchyardClient({
    urls: [a.wsUrl(APP_A.id).split('?')[0]!, b.wsUrl(APP_A.id).split('?')[0]!],
    app: APP_A.id,
    minReconnectDelayMs: 10,
  });
  const got: MessageFrame[] = [];
  const states: string[] = [];
  client.on('message', (m) => got.push(m));
  client.on('state', (s, d) => states.push(`${s}${d.instanceId ? `@${d.instanceId}` : ''}`));
  await client.subscribe('feed');
  expect(client.instanceId).toBe('sdk-a');

  const published: string[] = [];
  let stop = false;
  const publisher = (async () => {
    for (let i = 0; !stop; i++) published.push(await publishHttp(b.http, APP_A, 'feed', i));
  })();
  await waitFor(() => got.length >= 20, { what: 'messages before the drain' });
  await a.stop(); // sessions get 4000: reconnect elsewhere
  await waitFor(() => client.instanceId === 'sdk-b' && client.state === 'open', { what: 'resumed on sdk-b' });
  const atResume = got.length;
  await waitFor(() => got.length >= atResume + 20, { what: 'messages after the drain' });
  stop = true;
  await publisher;
  await waitFor(() => got.length === published.length, { what: 'every message' });

  expect(got.map((m) => m.offset)).toEqual(published);
  expect(got.map((m) => m.data)).toEqual(published.map((_, i) => i));
  expect(states).toContain('reconnecting');
  expect(states.at(-1)).toBe('open@sdk-b');
  client.close();
});

test('a terminal close code (unknown app) ends the client with an error, without retrying', async () => {
  const client = new SwitchyardClient({ urls: [b.wsUrl('x').split('?')[0]!], app: 'no-such-app', minReconnectDelayMs: 10 });
  const errors: string[] = [];
  client.on('error', (e) => errors.push(e.code));
  await waitFor(() => client.state === 'closed', { what: 'closed for good' });
  expect(errors).toContain('unknown_app');
  expect(errors).toContain('4501');
});

test('publish and request errors surface as RequestError with the protocol code', async () => {
  const client = new SwitchyardClient({ urls: [b.wsUrl(APP_A.id).split('?')[0]!], app: APP_A.id });
  await client.ready();
  const offset = await client.publish('sdk-pub', { hello: 1 });
  expect(offset).toMatch(/^\d+-\d+$/);
  const error = await client.subscribe('bad topic').catch((e: unknown) => e);
  expect(error).toMatchObject({ code: 'invalid_frame' });
  client.close();
});

test('a topic with no message yet resumes from the ack position: what was published while every gateway was down arrives, with no gap', async () => {
  const quietCluster = new MemoryCluster();
  const first = await startGateway(quietCluster.backend('sdk-q1'), { INSTANCE_ID: 'sdk-q1', DRAIN_TIMEOUT_MS: '1000' });
  const laterPort = freePort();
  const client = new SwitchyardClient({
    urls: [first.wsUrl(APP_A.id).split('?')[0]!, `ws://127.0.0.1:${laterPort}/ws`],
    app: APP_A.id,
    minReconnectDelayMs: 10,
    maxReconnectDelayMs: 100,
  });
  const got: MessageFrame[] = [];
  const gaps: string[] = [];
  client.on('message', (m) => got.push(m));
  client.on('gap', (t) => gaps.push(t));
  await client.subscribe('quiet');
  const position = client.offset('quiet');
  expect(position).toMatch(/^\d+-\d+$/);

  await first.stop();
  await waitFor(() => client.state === 'reconnecting', { what: 'the client to notice' });
  // No gateway runs now: publish the way the bridge does, straight into the cluster store.
  const offset = await new TopicPublisher(quietCluster.backend('publisher').broker).publish(APP_A.id, 'quiet', 'while away');
  const later = await startGateway(quietCluster.backend('sdk-q2'), { INSTANCE_ID: 'sdk-q2', PORT: String(laterPort) });
  try {
    await waitFor(() => got.length === 1, { timeoutMs: 10_000, what: 'the message published while away' });
    await waitFor(() => client.state === 'open', { what: 'open again' });
    expect(got.map((m) => [m.offset, m.data])).toEqual([[offset, 'while away']]);
    expect(gaps).toEqual([]);
    expect(client.offset('quiet')).toBe(offset);
  } finally {
    client.close();
    await later.stop();
  }
});

test('a token provider that fails is retried with backoff instead of leaving the client connecting', async () => {
  let calls = 0;
  const client = new SwitchyardClient({
    urls: [b.wsUrl(APP_A.id).split('?')[0]!],
    app: APP_A.id,
    minReconnectDelayMs: 10,
    token: async () => {
      calls += 1;
      if (calls <= 2) throw new Error('token service down');
      return '';
    },
  });
  await client.ready();
  expect(client.state).toBe('open');
  expect(calls).toBe(3);
  client.close();
});

test('a WebSocket constructor that throws is retried on the next URL', async () => {
  const attempts: string[] = [];
  const Flaky = class extends WebSocket {
    constructor(url: string | URL) {
      attempts.push(String(url));
      if (attempts.length === 1) throw new SyntaxError('refused by the runtime');
      super(url);
    }
  };
  const client = new SwitchyardClient({
    urls: ['ws://127.0.0.1:1/ws', b.wsUrl(APP_A.id).split('?')[0]!],
    app: APP_A.id,
    minReconnectDelayMs: 10,
    WebSocket: Flaky as typeof WebSocket,
  });
  await client.ready();
  expect(client.instanceId).toBe('sdk-b');
  expect(attempts.length).toBe(2);
  client.close();
});

test('after the store lost its data, the client takes the new position: a gap event, then live messages below its old offset', async () => {
  const before = new MemoryCluster();
  const first = await startGateway(before.backend('sdk-l1'), { INSTANCE_ID: 'sdk-l1', DRAIN_TIMEOUT_MS: '1000' });
  // The new store's offsets are an hour behind the old ones (a Redis that lost its data and
  // whose clock is behind): the client's offset is above anything it holds.
  const after = new MemoryCluster();
  const behind = new MemoryBroker(after, { historySize: 1000, historyMaxAgeMs: 86_400_000, dedupeWindowMs: 600_000, now: () => Date.now() - 3_600_000 });
  const laterBackend: ClusterBackend = Object.assign(Object.create(after.backend('sdk-l2')) as ClusterBackend, { broker: behind });
  const laterPort = freePort();
  const client = new SwitchyardClient({
    urls: [first.wsUrl(APP_A.id).split('?')[0]!, `ws://127.0.0.1:${laterPort}/ws`],
    app: APP_A.id,
    minReconnectDelayMs: 10,
    maxReconnectDelayMs: 100,
  });
  const got: MessageFrame[] = [];
  const gaps: string[] = [];
  client.on('message', (m) => got.push(m));
  client.on('gap', (t) => gaps.push(t));
  await client.subscribe('lost');
  const old = await publishHttp(first.http, APP_A, 'lost', 'old');
  await waitFor(() => got.length === 1, { what: 'the first message' });
  await first.stop();
  const later = await startGateway(laterBackend, { INSTANCE_ID: 'sdk-l2', PORT: String(laterPort) });
  try {
    await waitFor(() => gaps.length === 1 && client.state === 'open', { timeoutMs: 10_000, what: 'the gap event after the resume' });
    expect(gaps).toEqual(['lost']);
    expect(compareOffsets(client.offset('lost')!, old)).toBeLessThan(0);
    const live = await publishHttp(later.http, APP_A, 'lost', 'new');
    expect(compareOffsets(live, old)).toBeLessThan(0);
    await waitFor(() => got.length === 2, { what: 'the live message after the loss' });
    expect(got.map((m) => [m.offset, m.data])).toEqual([
      [old, 'old'],
      [live, 'new'],
    ]);
  } finally {
    client.close();
    await later.stop();
  }
});

test('a topic the server refused is not kept: the next reconnect resubscribes the others and opens', async () => {
  const client = new SwitchyardClient({ urls: [b.wsUrl(APP_A.id).split('?')[0]!], app: APP_A.id, minReconnectDelayMs: 10 });
  const got: MessageFrame[] = [];
  client.on('message', (m) => got.push(m));
  await client.subscribe('kept');
  expect(await client.subscribe('bad topic').catch((e: unknown) => e)).toMatchObject({ code: 'invalid_frame' });
  const session = [...b.gateway.sessions].find((s) => s.id === client.sessionId)!;
  session.disconnect(4000, 'reconnect, please');
  await waitFor(() => client.state === 'open' && client.sessionId !== session.id, { what: 'open again on a new session' });
  const offset = await publishHttp(b.http, APP_A, 'kept', 'after');
  await waitFor(() => got.length === 1, { what: 'the message after the reconnect' });
  expect(got.map((m) => m.offset)).toEqual([offset]);
  expect(client.offset('bad topic')).toBeNull();
  client.close();
});
