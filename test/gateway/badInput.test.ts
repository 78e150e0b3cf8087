/**
 * Every kind of bad input gets its documented error frame or close code, and neither the
 * instance nor any other session is disturbed.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test';
import { sign } from 'hono/jwt';
import { BACKENDS } from '../support/backends.ts';
import { APP_A, APP_STRICT, publishHttp, startGateway, type TestGateway } from '../support/gateway.ts';
import { WsClient } from '../support/wsClient.ts';

for (const backend of BACKENDS) describe(backend, () => {
  let gw: TestGateway;
  let bystander: WsClient;
  let published = 0;
  const clients: WsClient[] = [];
  async function open(url = gw.wsUrl(APP_A.id)): Promise<WsClient> {
    const c = await WsClient.open(url);
    clients.push(c);
    return c;
  }

  beforeAll(async () => {
    gw = await startGateway(backend, { MAX_FRAME_BYTES: '4096', MAX_SUBSCRIPTIONS_PER_SESSION: '5', RATE_LIMIT_FRAMES_PER_SEC: '20', RATE_LIMIT_BURST: '20' });
    bystander = await open();
    await bystander.request({ type: 'subscribe', topics: ['bystander'] });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await gw.stop();
  });
  // After every bad input, another session still gets its messages and the instance is healthy.
  afterEach(async () => {
    await publishHttp(gw.http, APP_A, 'bystander', ++published);
    await bystander.waitForMessages('bystander', published);
    expect((await fetch(`${gw.http}/healthz`)).status).toBe(200);
  });

  async function expectError(frame: string | Uint8Array<ArrayBuffer>, code: string, id: string | null = null): Promise<WsClient> {
    const c = await open();
    c.sendRaw(frame);
    const error = await c.waitFor((f) => f.type === 'error');
    expect(error).toMatchObject({ type: 'error', code, id });
    expect(typeof error.message).toBe('string');
    // The session survives a bad frame.
    expect(await c.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    return c;
  }

  describe('bad frames', () => {
    test('invalid JSON', () => expectError('{"type":', 'invalid_frame'));
    test('JSON that is not an object', () => expectError('[1,2,3]', 'invalid_frame'));
    test('unknown type', () => expectError('{"type":"teleport","id":"7"}', 'invalid_frame', '7'));
    test('wrong field types', () => expectError('{"type":"subscribe","id":"8","topics":"news"}', 'invalid_frame', '8'));
    test('non-string id', () => expectError('{"type":"ping","id":42}', 'invalid_frame'));
    test('binary frame where text is expected', () => expectError(new Uint8Array([1, 2, 3]), 'invalid_frame'));
    test('empty topic name', () => expectError('{"type":"subscribe","id":"9","topics":[""]}', 'invalid_frame', '9'));
    test('absurd topic name', () => expectError(JSON.stringify({ type: 'subscribe', id: '10', topics: ['x'.repeat(5000).slice(0, 3000)] }), 'invalid_frame', '10'));
    test('topic with spaces and control characters', () => expectError(JSON.stringify({ type: 'subscribe', id: '11', topics: ['a b\n'] }), 'invalid_frame', '11'));
    test('bad since offset', () => expectError(JSON.stringify({ type: 'subscribe', id: '12', topics: ['a'], since: { a: 'latest' } }), 'invalid_frame', '12'));
    test('oversized frame under the hard limit', () =>
      expectError(JSON.stringify({ type: 'publish', id: '13', topic: 'big', data: 'x'.repeat(5000) }), 'too_large', '13'));

    test('frame over the hard limit closes the connection with 1009', async () => {
      const c = await open();
      c.sendRaw(JSON.stringify({ type: 'publish', id: '14', topic: 'big', data: 'x'.repeat(200_000) }));
      expect((await c.closed).code).toBe(1009);
    });

    test('too many topics for the subscription limit', async () => {
      const c = await open();
      const reply = await c.request({ type: 'subscribe', topics: ['t1', 't2', 't3', 't4', 't5', 't6'] });
      expect(reply).toMatchObject({ type: 'error', code: 'limit_exceeded' });
      expect(await c.request({ type: 'subscribe', topics: ['t1', 't2', 't3', 't4', 't5'] })).toMatchObject({ type: 'ack' });
      expect(await c.request({ type: 'subscribe', topics: ['t6'] })).toMatchObject({ type: 'error', code: 'limit_exceeded' });
    });

    test('frames faster than the rate limit are dropped with rate_limited', async () => {
      const c = await open();
      for (let i = 0; i < 40; i++) c.send({ type: 'ping', id: `f${i}` });
      const limited = await c.waitFor((f) => f.type === 'error' && f.code === 'rate_limited');
      expect(limited.id).toMatch(/^f\d+$/);
      const pongs = c.frames.filter((f) => f.type === 'pong').length;
      expect(pongs).toBeLessThanOrEqual(21);
      expect(pongs).toBeGreaterThanOrEqual(19);
    });
  });

  describe('bad connections', () => {
    async function expectRefused(url: string, code: string, closeCode: number): Promise<void> {
      const c = await WsClient.connect(url);
      const closed = await c.closed;
      expect(c.frames).toEqual([expect.objectContaining({ type: 'error', code, id: null })]);
      expect(closed.code).toBe(closeCode);
    }
    const secret = APP_STRICT.secret;

    test('unknown app', () => expectRefused(gw.wsUrl('no-such-app'), 'unknown_app', 4501));
    test('missing app', () => expectRefused(gw.wsUrl('').replace('?app=', ''), 'unknown_app', 4501));
    test('missing token where anonymous is not allowed', () => expectRefused(gw.wsUrl(APP_STRICT.id), 'unauthorized', 4500));
    test('malformed token', () => expectRefused(gw.wsUrl(APP_STRICT.id, 'not.a.jwt'), 'unauthorized', 4500));
    test('token with a bad signature', async () => {
      const token = await sign({ sub: 'u' }, 'some-other-secret-000000', 'HS256');
      await expectRefused(gw.wsUrl(APP_STRICT.id, token), 'unauthorized', 4500);
    });
    test('expired token', async () => {
      const token = await sign({ sub: 'u', exp: Math.floor(Date.now() / 1000) - 10 }, secret, 'HS256');
      await expectRefused(gw.wsUrl(APP_STRICT.id, token), 'unauthorized', 4500);
    });
    test('token without sub where anonymous is not allowed', async () => {
      const token = await sign({ exp: Math.floor(Date.now() / 1000) + 60 }, secret, 'HS256');
      await expectRefused(gw.wsUrl(APP_STRICT.id, token), 'unauthorized', 4500);
    });
    test('token signed with another algorithm', async () => {
      const token = await sign({ sub: 'u' }, secret, 'HS512');
      await expectRefused(gw.wsUrl(APP_STRICT.id, token), 'unauthorized', 4500);
    });
    test('plain HTTP request to /ws gets 426 with a JSON body', async () => {
      const res = await fetch(`${gw.http}/ws?app=${APP_A.id}`);
      expect(res.status).toBe(426);
      expect(await res.json()).toMatchObject({ error: { code: 'invalid_request' } });
    });
  });
});
