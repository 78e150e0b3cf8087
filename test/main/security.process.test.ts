/**
 * The security options through real gateway processes on Redis, configured as a deployment
 * would be (APPS in the environment with a PEM public key, API keys, origins and quotas;
 * OPERATOR_TOKEN): two instances of one cluster. An ES256 session on one instance receives a
 * user-limited topic published through the other; another user cannot subscribe it there;
 * quotas count per instance; a session's token expiry closes it with 4003 in the process.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { CLOCK_SKEW_SEC } from '../../src/gateway/auth.ts';
import { deleteKeysUnder, REDIS_URL, requireRedis, testClient, uniquePrefix } from '../support/redis.ts';
import { spawnGateway, TEST_OPERATOR_TOKEN, type GatewayProcess } from '../support/process.ts';
import { keyPair, nowSec, type KeyPair } from '../support/tokens.ts';
import { WsClient } from '../support/wsClient.ts';

const API_KEY = 'api-key-of-the-process-test-0123';
const prefix = uniquePrefix('security');
let ec: KeyPair;
const gateways: GatewayProcess[] = [];
const clients: WsClient[] = [];

beforeAll(async () => {
  await requireRedis();
  ec = await keyPair('ES256');
  const APPS = JSON.stringify([{ id: 'shop', publicKeys: [ec.pem], apiKeys: [API_KEY], maxConnections: 2, allowedOrigins: ['https://shop.example'] }]);
  for (const id of ['s1', 's2']) gateways.push(await spawnGateway({ REDIS_URL, REDIS_KEY_PREFIX: prefix, INSTANCE_ID: id, APPS }));
});

afterAll(async () => {
  for (const c of clients) c.close();
  for (const g of gateways) await g.stop('SIGKILL');
  const admin = testClient();
  try {
    await deleteKeysUnder(admin, prefix);
  } finally {
    admin.disconnect();
  }
});

const url = (g: GatewayProcess, token: string) => `ws://127.0.0.1:${g.port}/ws?app=shop&token=${encodeURIComponent(token)}`;
async function open(g: GatewayProcess, token: string): Promise<WsClient> {
  const c = await WsClient.open(url(g, token));
  clients.push(c);
  return c;
}

test('an ES256 session receives a user-limited topic published on another instance; another user cannot subscribe it', async () => {
  const [s1, s2] = gateways as [GatewayProcess, GatewayProcess];
  const alice = await open(s2, await ec.sign('alice'));
  expect(alice.frames[0]).toMatchObject({ type: 'welcome', userId: 'alice', instanceId: 's2' });
  expect(await alice.request({ type: 'subscribe', topics: ['dialog#alice,bob'] })).toMatchObject({ type: 'ack' });
  const carol = await open(s2, await ec.sign('carol', { subscribe: ['*'] }));
  expect(await carol.request({ type: 'subscribe', topics: ['dialog#alice,bob'] })).toMatchObject({ type: 'error', code: 'forbidden' });
  const res = await fetch(`http://127.0.0.1:${s1.port}/api/apps/shop/publish`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify({ topic: 'dialog#alice,bob', data: 'hi alice' }),
  });
  expect(res.status).toBe(200);
  expect((await alice.waitForMessages('dialog#alice,bob', 1))[0]).toMatchObject({ data: 'hi alice' });
  await carol.request({ type: 'ping' });
  expect(carol.messages('dialog#alice,bob')).toEqual([]);
  alice.close();
  carol.close();
});

test('maxConnections counts per instance: two on each, the third on one is closed with 4004', async () => {
  const [s1, s2] = gateways as [GatewayProcess, GatewayProcess];
  // The sessions of the first test may still be leaving s2: wait until it has room again.
  for (const g of [s1, s2]) for (let i = 0; i < 2; i++) await openWhenRoom(g, await ec.sign(`u${i}`));
  const third = await WsClient.connect(url(s1, await ec.sign('u3')));
  expect(await third.waitFor(() => true)).toMatchObject({ type: 'error', code: 'limit_exceeded' });
  expect((await third.closed).code).toBe(4004);
  for (const c of clients.splice(0)) c.close();
});

/** Opens a session, retrying while the instance refuses it with 4004 (sessions closed just before are leaving). */
async function openWhenRoom(g: GatewayProcess, token: string): Promise<WsClient> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const c = await WsClient.connect(url(g, token));
    const first = await c.waitFor(() => true);
    if (first.type === 'welcome') {
      clients.push(c);
      return c;
    }
    expect((await c.closed).code).toBe(4004);
  }
  throw new Error(`instance on port ${g.port} stayed full`);
}

test('operator endpoint, origins and token expiry, in the process', async () => {
  const [s1] = gateways as [GatewayProcess, GatewayProcess];
  const instances = (authorization?: string) => fetch(`http://127.0.0.1:${s1.port}/api/instances`, { headers: authorization ? { authorization } : {} });
  expect((await instances()).status).toBe(401);
  for (const key of [API_KEY, TEST_OPERATOR_TOKEN]) {
    const body = (await (await instances(`Bearer ${key}`)).json()) as { instances: { id: string }[] };
    expect(body.instances.map((i) => i.id).sort()).toEqual(['s1', 's2']);
  }
  const evil = new WebSocket(url(s1, await ec.sign('alice')), { headers: { origin: 'https://evil.example' } } as unknown as string[]);
  const outcome = await new Promise((resolve) => {
    evil.addEventListener('open', () => resolve('opened'), { once: true });
    evil.addEventListener('error', () => resolve('refused'), { once: true });
  });
  expect(outcome).toBe('refused');
  const exp = nowSec() - CLOCK_SKEW_SEC + 2;
  const c = await openWhenRoom(s1, await ec.sign('alice', { iat: exp - 60, exp }));
  expect((await c.closed).code).toBe(4003);
});
