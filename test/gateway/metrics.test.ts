/**
 * GET /metrics on a gateway, on both backends: what clients do shows up in the figures the
 * README documents (sessions by app, subscriptions, topics, frames in and out, messages
 * emitted and delivered, errors by code, close codes, the publish-to-delivery histogram, the
 * probe), and nothing names a topic or a user.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { waitFor } from '../../src/lib/waitFor.ts';
import { BACKENDS } from '../support/backends.ts';
import { APP_A, APP_B, publishHttp, startGateway, type TestGateway } from '../support/gateway.ts';
import { scrape } from '../support/metrics.ts';
import { WsClient } from '../support/wsClient.ts';

for (const backend of BACKENDS) describe(backend, () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway(backend, { PROBE_INTERVAL_MS: '100', PROBE_TIMEOUT_MS: '5000' });
  });
  afterAll(() => gw.stop());

  test('sessions, subscriptions, frames, deliveries, errors, close codes and latency are counted', async () => {
    const subscribers = await Promise.all([1, 2, 3].map(() => WsClient.open(gw.wsUrl(APP_A.id))));
    const other = await WsClient.open(gw.wsUrl(APP_B.id));
    for (const c of subscribers) expect((await c.request({ type: 'subscribe', topics: ['secret-topic-name'] })).type).toBe('ack');
    await publishHttp(gw.http, APP_A, 'secret-topic-name', { n: 1 });
    await publishHttp(gw.http, APP_A, 'secret-topic-name', { n: 2 });
    for (const c of subscribers) await c.waitForMessages('secret-topic-name', 2);
    other.ws.send('not json');
    await other.waitFor((f) => f.type === 'error');

    let m = await scrape(gw.http);
    expect(m.get('switchyard_sessions{app="app-a"}')).toBe(3);
    expect(m.get('switchyard_sessions{app="app-b"}')).toBe(1);
    expect(m.get('switchyard_sessions{app="strict"}')).toBe(0);
    expect(m.get('switchyard_subscriptions')).toBe(3);
    expect(m.get('switchyard_topics')).toBe(1);
    // Three subscribe frames and the bad one; three acks, the error, (and the welcomes go through the socket directly).
    expect(m.get('switchyard_frames_in_total')).toBe(4);
    expect(m.get('switchyard_frames_out_total')).toBeGreaterThanOrEqual(4);
    expect(m.get('switchyard_messages_emitted_total')).toBe(2);
    expect(m.get('switchyard_messages_delivered_total')).toBe(6);
    expect(m.get('switchyard_errors_total{code="invalid_frame"}')).toBe(1);
    expect(m.get('switchyard_publish_to_delivery_seconds_count')).toBe(2);
    expect(m.get(`switchyard_probe_healthy{path="${backend}"}`)).toBe(1);
    expect(m.get('switchyard_ready')).toBe(1);
    expect(m.get('switchyard_inbox_lag_entries')).toBe(0);
    // Topics and users are never labels.
    expect([...m.keys()].some((k) => k.includes('secret-topic-name'))).toBe(false);

    subscribers[0]!.ws.close(1000);
    await waitFor(async () => (await scrape(gw.http)).get('switchyard_session_closes_total{code="1000"}') === 1, { what: 'the close counted' });
    m = await scrape(gw.http);
    expect(m.get('switchyard_sessions{app="app-a"}')).toBe(2);
    for (const c of [...subscribers.slice(1), other]) c.close();
  });
});
