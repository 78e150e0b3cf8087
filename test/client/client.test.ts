/**
 * The client SDK against real gateways sharing one cluster backend: it resumes on the other
 * instance when its own drains, without a gap or a duplicate; it gives up on terminal close
 * codes, and retries a connection attempt that failed before reaching the network.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { SwitchyardClient } from '../../src/client/index.ts';
import { MemoryCluster } from '../../src/cluster/memory/memoryBackend.ts';
import type { MessageFrame } from '../../src/protocol/frames.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { APP_A, publishHttp, startGateway, type TestGateway } from '../support/gateway.ts';

const cluster = new MemoryCluster();
let a: TestGateway;
let b: TestGateway;

beforeAll(async () => {
  a = await startGateway({ INSTANCE_ID: 'sdk-a', DRAIN_TIMEOUT_MS: '1000' }, cluster.backend('sdk-a'));
  b = await startGateway({ INSTANCE_ID: 'sdk-b' }, cluster.backend('sdk-b'));
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
