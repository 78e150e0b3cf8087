/** HTTP routes, in process with app.request(): no socket needed. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Hono } from 'hono';
import { createApp } from '../../src/gateway/app.ts';
import { BACKENDS } from '../support/backends.ts';
import { APP_A, APP_B, startGateway, type TestGateway } from '../support/gateway.ts';

for (const backend of BACKENDS) describe(backend, () => {
  let gw: TestGateway;
  let app: Hono;
  beforeAll(async () => {
    gw = await startGateway(backend, { MAX_FRAME_BYTES: '1024' });
    app = createApp(gw.gateway);
  });
  afterAll(() => gw.stop());

  function publish(appId: string, body: string, auth: string | null = `Bearer ${APP_A.secret}`): Promise<Response> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (auth) headers.authorization = auth;
    return Promise.resolve(app.request(`/api/apps/${appId}/publish`, { method: 'POST', headers, body }));
  }

  describe('health', () => {
    test('healthz and readyz answer while running', async () => {
      expect(await (await app.request('/healthz')).json()).toEqual({ status: 'ok', instanceId: gw.config.instanceId });
      const ready = await app.request('/readyz');
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ ready: true });
    });

    test('the demo page is served at /, on the SDK bundled at /demo/sdk.js; no demo tokens outside demo mode', async () => {
      const res = await app.request('/');
      expect(res.headers.get('content-type')).toContain('text/html');
      expect(await res.text()).toContain("import { SwitchyardClient } from '/demo/sdk.js';");
      const sdk = await app.request('/demo/sdk.js');
      expect(sdk.headers.get('content-type')).toContain('text/javascript');
      expect(await sdk.text()).toMatch(/export\s*\{[^}]*as SwitchyardClient/);
      const token = await app.request('/demo/token?user=alice');
      expect(token.status).toBe(404);
    });

    test('unknown routes get a JSON 404', async () => {
      const res = await app.request('/nope');
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: { code: 'not_found', message: 'no such route' } });
    });
  });

  describe('POST /api/apps/:app/publish', () => {
    test('publishes and returns the offset', async () => {
      const res = await publish(APP_A.id, JSON.stringify({ topic: 'news', data: { a: 1 } }));
      expect(res.status).toBe(200);
      expect((await res.json()).offset).toMatch(/^\d+-\d+$/);
    });

    test.each([
      ['unknown app', 'nope', '{"topic":"t","data":1}', `Bearer ${APP_A.secret}`, 404, 'unknown_app'],
      ['missing bearer', APP_A.id, '{"topic":"t","data":1}', null, 401, 'unauthorized'],
      ['wrong secret', APP_A.id, '{"topic":"t","data":1}', 'Bearer wrong', 401, 'unauthorized'],
      ["other app's secret", APP_A.id, '{"topic":"t","data":1}', `Bearer ${APP_B.secret}`, 401, 'unauthorized'],
      ['invalid JSON', APP_A.id, '{"topic":', `Bearer ${APP_A.secret}`, 400, 'invalid_request'],
      ['missing data', APP_A.id, '{"topic":"t"}', `Bearer ${APP_A.secret}`, 400, 'invalid_request'],
      ['bad topic', APP_A.id, '{"topic":"a b","data":1}', `Bearer ${APP_A.secret}`, 400, 'invalid_request'],
      ['body too large', APP_A.id, JSON.stringify({ topic: 't', data: 'x'.repeat(2000) }), `Bearer ${APP_A.secret}`, 413, 'too_large'],
    ])('%s -> %d %s', async (_name, appId, body, auth, status, code) => {
      const res = await publish(appId, body, auth);
      expect(res.status).toBe(status);
      const json = await res.json();
      expect(json.error.code).toBe(code);
      expect(typeof json.error.message).toBe('string');
    });
  });
});
