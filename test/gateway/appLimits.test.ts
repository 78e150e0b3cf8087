/**
 * Per-app limits of one instance and what anyone can reach: `maxConnections` (close 4004),
 * `maxPublishPerSec` over the server API (429) and client frames (`rate_limited`) sharing one
 * budget, `allowedOrigins` (403 before the WebSocket opens; no Origin header is allowed), and
 * GET /api/instances behind an API key or the OPERATOR_TOKEN. Real sockets, both backends.
 */
import { beforeAll, describe, expect, test } from 'bun:test';
import { waitFor } from '../../src/lib/waitFor.ts';
import { BACKENDS } from '../support/backends.ts';
import { useGateway, type TestGateway } from '../support/gateway.ts';
import { WsClient } from '../support/wsClient.ts';

const CAPPED = { id: 'capped', secret: 'secret-of-capped-0123456789', allowAnonymous: true, allowClientPublish: true, maxConnections: 2 };
const SLOW = { id: 'slow', secret: 'secret-of-slow-0123456789', allowAnonymous: true, allowClientPublish: true, maxPublishPerSec: 1 };
const FREE = { id: 'free', secret: 'secret-of-free-0123456789', allowAnonymous: true, allowClientPublish: true };
const BROWSER = { id: 'browser', secret: 'secret-of-browser-0123456789', allowAnonymous: true, allowedOrigins: ['https://good.example', 'http://localhost:3000'] };
const OPERATOR_TOKEN = 'operator-token-of-app-limits';

for (const backend of BACKENDS) describe(backend, () => {
  const fixture = useGateway(backend, { APPS: JSON.stringify([CAPPED, SLOW, FREE, BROWSER]), OPERATOR_TOKEN });
  let gw: TestGateway;
  beforeAll(() => {
    gw = fixture.gw;
  });
  const publish = (app: { id: string; secret: string }, topic: string) =>
    fetch(`${gw.http}/api/apps/${app.id}/publish`, { method: 'POST', headers: { authorization: `Bearer ${app.secret}` }, body: JSON.stringify({ topic, data: 1 }) });

  test('maxConnections: the session past it gets limit_exceeded and close 4004; a freed place is taken again', async () => {
    const first = await fixture.open(gw.wsUrl(CAPPED.id));
    await fixture.open(gw.wsUrl(CAPPED.id));
    const third = await WsClient.connect(gw.wsUrl(CAPPED.id));
    expect(await third.waitFor(() => true)).toMatchObject({ type: 'error', id: null, code: 'limit_exceeded' });
    expect((await third.closed).code).toBe(4004);
    // Other apps are not counted against it.
    await fixture.open(gw.wsUrl(FREE.id));
    first.close();
    await waitFor(() => gw.gateway.sessions.countOf(CAPPED.id) === 1, { what: 'the closed session to be counted out' });
    expect((await fixture.open(gw.wsUrl(CAPPED.id))).frames[0]).toMatchObject({ type: 'welcome' });
  });

  test('maxPublishPerSec: the server API answers 429 and client frames rate_limited, from one budget per app', async () => {
    const statuses = await Promise.all(Array.from({ length: 6 }, () => publish(SLOW, 'ticks')));
    expect(statuses.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(1);
    const refused = statuses.find((r) => r.status === 429);
    expect(refused).toBeDefined();
    expect(await refused!.json()).toEqual({ error: { code: 'rate_limited', message: 'app slow is over its 1 publishes/s on this instance; not published' } });
    const c = await fixture.open(gw.wsUrl(SLOW.id));
    const replies = [];
    for (let i = 0; i < 4; i++) replies.push(await c.request({ type: 'publish', topic: 'ticks', data: i }));
    expect(replies.some((r) => r.type === 'error' && r.code === 'rate_limited')).toBe(true);
    // Another app's budget is its own.
    for (let i = 0; i < 6; i++) expect((await publish(FREE, 'ticks')).status).toBe(200);
  });

  test('allowedOrigins: an upgrade from another origin is refused with 403 before the WebSocket opens', async () => {
    const upgrade = (origin?: string) =>
      fetch(gw.wsUrl(BROWSER.id).replace('ws://', 'http://'), {
        headers: { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13', ...(origin ? { origin } : {}) },
      });
    const refused = await upgrade('https://evil.example');
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({ error: { code: 'forbidden', message: 'origin "https://evil.example" may not open sessions of app browser' } });
    expect((await upgrade('null')).status).toBe(403);
    expect((await upgrade('https://good.example')).status).toBe(101);
    const good = await fixture.open(gw.wsUrl(BROWSER.id));
    expect(good.frames[0]).toMatchObject({ type: 'welcome' });
    // Bun's WebSocket client sends no Origin unless told: non-browser clients are allowed.
    const named = new WebSocket(gw.wsUrl(BROWSER.id), { headers: { origin: 'http://localhost:3000' } } as unknown as string[]);
    await new Promise((resolve, reject) => {
      named.addEventListener('message', resolve, { once: true });
      named.addEventListener('close', reject, { once: true });
    });
    named.close();
    // An app without allowedOrigins takes any origin.
    const other = await fetch(gw.wsUrl(FREE.id).replace('ws://', 'http://'), {
      headers: { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13', origin: 'https://evil.example' },
    });
    expect(other.status).toBe(101);
  });

  test('GET /api/instances needs an API key or the OPERATOR_TOKEN', async () => {
    const list = (authorization?: string) => fetch(`${gw.http}/api/instances`, { headers: authorization ? { authorization } : {} });
    const anonymous = await list();
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toEqual({ error: { code: 'unauthorized', message: 'Authorization: Bearer <an app API key or OPERATOR_TOKEN> required' } });
    expect((await list('Bearer not-a-key-0123456789')).status).toBe(401);
    for (const key of [FREE.secret, OPERATOR_TOKEN]) {
      const res = await list(`Bearer ${key}`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { instances: { id: string }[] }).instances.map((i) => i.id)).toEqual([gw.config.instanceId]);
    }
  });
});
