/** Apps are separated by app ID: same topic names, no crossing, per-app permissions. */
import { beforeAll, describe, expect, test } from 'bun:test';
import { sign } from 'hono/jwt';
import { BACKENDS } from '../support/backends.ts';
import { APP_A, APP_B, APP_STRICT, publishHttp, useGateway, type TestGateway } from '../support/gateway.ts';
import { WsClient } from '../support/wsClient.ts';

for (const backend of BACKENDS) describe(backend, () => {
  const fixture = useGateway(backend);
  const open = (url: string) => fixture.open(url);
  let gw: TestGateway;
  beforeAll(() => {
    gw = fixture.gw;
  });

  test('the same topic name in two apps are two topics', async () => {
    const a = await open(gw.wsUrl(APP_A.id));
    const b = await open(gw.wsUrl(APP_B.id));
    await a.request({ type: 'subscribe', topics: ['shared'] });
    await b.request({ type: 'subscribe', topics: ['shared'] });
    await publishHttp(gw.http, APP_A, 'shared', 'for-a');
    await a.request({ type: 'publish', topic: 'shared', data: 'also-for-a' });
    await publishHttp(gw.http, APP_B, 'shared', 'for-b');
    expect((await a.waitForMessages('shared', 2)).map((m) => m.data)).toEqual(['for-a', 'also-for-a']);
    expect((await b.waitForMessages('shared', 1)).map((m) => m.data)).toEqual(['for-b']);
    await a.request({ type: 'ping' });
    await b.request({ type: 'ping' });
    expect(a.messages('shared').length).toBe(2);
    expect(b.messages('shared').length).toBe(1);
  });

  test("one app's history is not readable from another", async () => {
    await publishHttp(gw.http, APP_A, 'secret-history', 'a-only');
    const b = await open(gw.wsUrl(APP_B.id));
    const ack = await b.request({ type: 'subscribe', topics: ['secret-history'], since: { 'secret-history': '0-0' } });
    expect(ack.recovered).toEqual({ 'secret-history': false });
    expect(b.messages('secret-history')).toEqual([]);
  });

  test("an app's secret cannot publish into another app", async () => {
    const res = await fetch(`${gw.http}/api/apps/${APP_B.id}/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${APP_A.secret}` },
      body: JSON.stringify({ topic: 't', data: 1 }),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: 'unauthorized' } });
  });

  test("a token signed with another app's secret is refused", async () => {
    const token = await sign({ sub: 'mallory' }, APP_A.secret, 'HS256');
    const c = await WsClient.connect(gw.wsUrl(APP_STRICT.id, token));
    const closed = await c.closed;
    expect(c.frames[0]).toMatchObject({ type: 'error', code: 'unauthorized' });
    expect(closed.code).toBe(4500);
  });

  test('client publish is forbidden unless the app allows it', async () => {
    const token = await sign({ sub: 'bob' }, APP_STRICT.secret, 'HS256');
    const c = await open(gw.wsUrl(APP_STRICT.id, token));
    const reply = await c.request({ type: 'publish', topic: 't', data: 1 });
    expect(reply).toMatchObject({ type: 'error', code: 'forbidden' });
    // The session stays usable.
    expect(await c.request({ type: 'subscribe', topics: ['t'] })).toMatchObject({ type: 'ack' });
  });
});
