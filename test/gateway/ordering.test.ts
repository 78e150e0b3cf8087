/**
 * Per-topic order and exactly-once delivery when the inbox does not arrive in offset order:
 * two publishers racing, an envelope delivered twice (redelivery after a crash), an inbox
 * lagging behind history while a session recovers. Envelopes are written straight into the
 * instance's inbox, as other instances would.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { appendToHistoryOnly, BACKENDS } from '../support/backends.ts';

type Appended = { offset: string; prev: string };
import { APP_A, startGateway, type TestGateway } from '../support/gateway.ts';
import { WsClient } from '../support/wsClient.ts';

for (const backend of BACKENDS) describe(backend, () => {
  const INSTANCE = 'ordering-1';
  let gw: TestGateway;
  const clients: WsClient[] = [];

  beforeAll(async () => {
    gw = await startGateway(backend, { INSTANCE_ID: INSTANCE });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await gw.stop();
  });

  async function subscriber(topic: string, since?: string): Promise<WsClient> {
    const c = await WsClient.open(gw.wsUrl(APP_A.id));
    clients.push(c);
    await c.request(since ? { type: 'subscribe', topics: [topic], since: { [topic]: since } } : { type: 'subscribe', topics: [topic] });
    return c;
  }

  /** Appends to history only: the inbox envelope is sent later, by hand. */
  async function appendOnly(topic: string, value: number): Promise<Appended & { value: number }> {
    return { ...(await appendToHistoryOnly(gw.backend, APP_A.id, topic, JSON.stringify(value))), value };
  }

  function envelope(topic: string, m: Appended & { value: number }) {
    return { instanceId: INSTANCE, envelope: { kind: 'message' as const, app: APP_A.id, topic, offset: m.offset, prev: m.prev, data: JSON.stringify(m.value) } };
  }

  // The send another instance makes: an envelope addressed to this instance's inbox.
  const inbox = () => gw.backend.inbox;

  test('envelopes that arrive out of order go out in offset order, once', async () => {
    const c = await subscriber('race');
    const m = [await appendOnly('race', 1), await appendOnly('race', 2), await appendOnly('race', 3)];
    await inbox().send([envelope('race', m[1]!), envelope('race', m[0]!), envelope('race', m[2]!)]);
    const got = await c.waitForMessages('race', 3);
    await c.request({ type: 'ping' });
    expect(c.messages('race').map((x) => x.data)).toEqual([1, 2, 3]);
    expect(got.map((x) => x.offset)).toEqual(m.map((x) => x.offset));
  });

  test('an envelope delivered twice reaches the client once', async () => {
    const c = await subscriber('dup');
    const m1 = await appendOnly('dup', 1);
    const m2 = await appendOnly('dup', 2);
    await inbox().send([envelope('dup', m1), envelope('dup', m1), envelope('dup', m2), envelope('dup', m2)]);
    await c.waitForMessages('dup', 2);
    await c.request({ type: 'ping' });
    expect(c.messages('dup').map((x) => x.data)).toEqual([1, 2]);
  });

  test('a session whose replay is ahead of the inbox gets each message once, then follows live', async () => {
    const plain = await subscriber('lag');
    const first = await appendOnly('lag', 1);
    await inbox().send([envelope('lag', first)]);
    await plain.waitForMessages('lag', 1);
    // Messages 2-4 are in history, but their envelopes are still on the way.
    const late = [await appendOnly('lag', 2), await appendOnly('lag', 3), await appendOnly('lag', 4)];
    const recovering = await subscriber('lag', first.offset);
    expect(recovering.messages('lag').map((x) => x.data)).toEqual([2, 3, 4]);
    await inbox().send(late.map((m) => envelope('lag', m)));
    const m5 = await appendOnly('lag', 5);
    await inbox().send([envelope('lag', m5)]);
    await plain.waitForMessages('lag', 5);
    await recovering.waitForMessages('lag', 4);
    await recovering.request({ type: 'ping' });
    expect(plain.messages('lag').map((x) => x.data)).toEqual([1, 2, 3, 4, 5]);
    expect(recovering.messages('lag').map((x) => x.data)).toEqual([2, 3, 4, 5]);
    // Once caught up, it is on the native topic: later messages arrive once.
    const m6 = await appendOnly('lag', 6);
    await inbox().send([envelope('lag', m6)]);
    await recovering.waitForMessages('lag', 5);
    await recovering.request({ type: 'ping' });
    expect(recovering.messages('lag').map((x) => x.data)).toEqual([2, 3, 4, 5, 6]);
  });

  test('messages published between reading the head and adding the route are filled from history', async () => {
    // Published while nobody here subscribed: the first envelope after joining names a
    // predecessor the hub has not seen, and the hub fills from its join point.
    const c = await subscriber('join');
    const m1 = await appendOnly('join', 1);
    const m2 = await appendOnly('join', 2);
    await inbox().send([envelope('join', m2)]);
    await c.waitForMessages('join', 2);
    expect(c.messages('join').map((x) => x.data)).toEqual([1, 2]);
    expect(m1.prev).not.toBe(m2.prev);
  });
});
