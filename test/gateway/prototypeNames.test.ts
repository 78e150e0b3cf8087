/**
 * Names that Object.prototype already has (`constructor`, `toString`, `__proto__`, …) are
 * valid topics, request IDs, RPC methods and app IDs. Each goes through every frame, the HTTP
 * publish endpoint and the WebSocket `?app=` parameter, and gets the answer any other name
 * would: the right acks, the right replay, never `internal`.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { BACKENDS } from '../support/backends.ts';
import { APP_A, publishHttp, startGateway, type TestGateway } from '../support/gateway.ts';
import { WsClient } from '../support/wsClient.ts';

const NAMES = [...new Set([...Object.getOwnPropertyNames(Object.prototype), '__proto__'])];
/** Apps whose IDs are prototype names: they must work like any app, and the others stay unknown. */
const PROTO_APPS = ['__proto__', 'constructor'].map((id) => ({ id, secret: `secret-of-${id}-0123456789`, allowAnonymous: true, allowClientPublish: true }));
const APPS = JSON.stringify([APP_A, ...PROTO_APPS]);

/** The entries of a frame's object field, own keys only (JSON.parse makes `__proto__` an own key). */
function entries(value: unknown): [string, unknown][] {
  return Object.entries(value as object);
}

for (const backend of BACKENDS) {
  describe(backend, () => {
    let gw: TestGateway;
    const clients: WsClient[] = [];
    async function open(): Promise<WsClient> {
      const c = await WsClient.open(gw.wsUrl(APP_A.id));
      clients.push(c);
      return c;
    }
    beforeAll(async () => {
      gw = await startGateway(backend, { APPS, INSTANCE_ID: `proto-${backend}`, RATE_LIMIT_FRAMES_PER_SEC: '10000', RATE_LIMIT_BURST: '10000' });
    });
    afterAll(async () => {
      for (const c of clients) c.close();
      await gw.stop();
    });

    for (const name of NAMES) {
      test(`topic ${name}: subscribe, publish (frame and HTTP), replay from since, unsubscribe`, async () => {
        const live = await open();
        const ack = await live.request({ type: 'subscribe', topics: [name] });
        expect(ack.type).toBe('ack');
        expect(entries(ack.offsets)).toEqual([[name, expect.stringMatching(/^\d+-\d+$/)]]);
        expect(ack.recovered).toBeUndefined();
        // Nothing is replayed without since.
        expect(live.messages(name)).toEqual([]);

        const first = await live.request({ type: 'publish', topic: name, data: { n: 1 } });
        // (Not toMatchObject with a matcher: Bun 1.4 writes the matcher into the object it checks.)
        expect(first.type).toBe('ack');
        expect(first.offset).toMatch(/^\d+-\d+$/);
        const second = await publishHttp(gw.http, APP_A, name, { n: 2 });
        await live.waitForMessages(name, 2);
        expect(live.messages(name).map((m) => [m.offset, m.data])).toEqual([
          [first.offset, { n: 1 }],
          [second, { n: 2 }],
        ]);

        // since names this topic: exactly what came after the offset.
        const resumed = await open();
        const recovery = await resumed.request({ type: 'subscribe', topics: [name], since: { [name]: first.offset } });
        expect(entries(recovery.recovered)).toEqual([[name, true]]);
        expect(entries(recovery.offsets)).toEqual([[name, second]]);
        expect(resumed.messages(name).map((m) => m.offset)).toEqual([second]);

        // since names only another topic: this one is subscribed live, with nothing replayed.
        const other = await open();
        const partial = await other.request({ type: 'subscribe', topics: [name, 'plain'], since: { plain: '0-0' } });
        expect(entries(partial.recovered)).toEqual([['plain', false]]);
        expect(entries(partial.offsets).map(([k]) => k).sort()).toEqual([name, 'plain'].sort());
        expect(other.messages(name)).toEqual([]);

        // Subscribing again to a held topic is a no-op that still reports the position.
        const again = await resumed.request({ type: 'subscribe', topics: [name], since: { [name]: first.offset } });
        expect(entries(again.recovered)).toEqual([[name, true]]);
        expect(entries(again.offsets)).toEqual([[name, second]]);

        expect(await resumed.request({ type: 'unsubscribe', topics: [name] })).toMatchObject({ type: 'ack' });
        const third = await publishHttp(gw.http, APP_A, name, { n: 3 });
        await live.waitForMessages(name, 3);
        await other.waitForMessages(name, 1);
        expect(other.messages(name).map((m) => m.offset)).toEqual([third]);
        await resumed.request({ type: 'ping' });
        expect(resumed.messages(name).map((m) => m.offset)).toEqual([second]);
        for (const c of [live, resumed, other]) expect(c.frames.filter((f) => f.type === 'error')).toEqual([]);
      });

      test(`request ID and method ${name}: every request answers under that ID`, async () => {
        /** Sends one frame with id `name` on a fresh session and resolves with its reply. */
        const ask = async (frame: Record<string, unknown>) => {
          const c = await open();
          c.send({ ...frame, id: name });
          return c.reply(name);
        };
        expect(await ask({ type: 'ping' })).toEqual({ type: 'pong', id: name });
        // No RabbitMQ here: jobs are unavailable, whatever the method is called.
        expect(await ask({ type: 'rpc', method: name, params: null })).toMatchObject({ type: 'error', code: 'unavailable' });
        expect(await ask({ type: 'subscribe', topics: [`sub-${name}`] })).toMatchObject({ type: 'ack', id: name });
        expect(await ask({ type: 'unsubscribe', topics: [`sub-${name}`] })).toEqual({ type: 'ack', id: name });
        expect(await ask({ type: 'publish', topic: `sub-${name}`, data: name })).toMatchObject({ type: 'ack', id: name, offset: expect.stringMatching(/^\d+-\d+$/) });
      });

      test(`app ${name} in the HTTP publish URL and the WebSocket ?app= parameter`, async () => {
        const app = PROTO_APPS.find((a) => a.id === name);
        const res = await fetch(`${gw.http}/api/apps/${encodeURIComponent(name)}/publish`, {
          method: 'POST',
          headers: { authorization: `Bearer ${app?.secret ?? APP_A.secret}`, 'content-type': 'application/json' },
          body: JSON.stringify({ topic: 'news', data: name }),
        });
        const ws = await WsClient.connect(gw.wsUrl(name));
        clients.push(ws);
        if (app) {
          expect(res.status).toBe(200);
          expect(await res.json()).toEqual({ offset: expect.stringMatching(/^\d+-\d+$/) });
          const welcome = await ws.waitFor((f) => f.type === 'welcome');
          expect(welcome.sessionId).toEqual(expect.any(String));
          // The app is its own tenant: it sees its own topics, and not APP_A's.
          const ack = await ws.request({ type: 'subscribe', topics: ['news'], since: { news: '0-0' } });
          expect(entries(ack.recovered)).toEqual([['news', false]]);
          expect(ws.messages('news').map((m) => m.data)).toEqual([name]);
          return;
        }
        expect(res.status).toBe(404);
        expect(await res.json()).toMatchObject({ error: { code: 'unknown_app' } });
        expect((await ws.closed).code).toBe(4501);
        expect(ws.frames).toEqual([expect.objectContaining({ type: 'error', code: 'unknown_app' })]);
      });
    }
  });
}
