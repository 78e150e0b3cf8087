/**
 * A client that stops reading: the gateway closes it with 4001 (reconnect and resume) once
 * its send buffer passes SEND_BUFFER_LIMIT_BYTES, and other sessions carry on. Also when it
 * stalls in the middle of a replay, which waits for it: the live messages held for it then
 * count towards the limit.
 * The client is a raw TCP socket speaking just enough RFC 6455 to subscribe and then stall.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { connect, type Socket } from 'node:net';
import { waitFor } from '../../src/lib/waitFor.ts';
import { BACKENDS } from '../support/backends.ts';
import { APP_A, publishHttp, startGateway, type TestGateway } from '../support/gateway.ts';
import { WsClient } from '../support/wsClient.ts';

for (const backend of BACKENDS) describe(backend, () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway(backend, { SEND_BUFFER_LIMIT_BYTES: String(512 * 1024) });
  });
  afterAll(() => gw.stop());

  function maskedTextFrame(text: string): Buffer {
    const payload = Buffer.from(text);
    if (payload.length > 125) throw new Error(`short frames only: ${payload.length} bytes`);
    const mask = Buffer.from([7, 1, 2, 9]);
    return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!))]);
  }

  /**
   * Opens a raw WebSocket, subscribes to `topic` (from `since`, if given), waits for the ack (or
   * with `since`, for the replay to begin), then stops reading.
   */
  async function stalledSubscriber(port: number, topic: string, since?: string): Promise<{ sock: Socket; received: Buffer[]; closed: Promise<void> }> {
    const sock = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    sock.on('data', (d: Buffer) => received.push(d));
    sock.write(
      `GET /ws?app=${APP_A.id} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await waitFor(() => Buffer.concat(received).includes('welcome'), { what: 'welcome' });
    const frame = since ? { type: 'subscribe', id: 's', topics: [topic], since: { [topic]: since } } : { type: 'subscribe', id: 's', topics: [topic] };
    sock.write(maskedTextFrame(JSON.stringify(frame)));
    await waitFor(() => Buffer.concat(received).includes(since ? '"message"' : '"ack"'), { what: since ? 'the replay' : 'ack' });
    sock.pause();
    return { sock, received, closed };
  }

  test('a client that stops reading is closed with 4001; others keep receiving', async () => {
    const healthy = await WsClient.open(gw.wsUrl(APP_A.id));
    await healthy.request({ type: 'subscribe', topics: ['flood'] });
    const stalled = await stalledSubscriber(gw.gateway.port, 'flood');
    // About 1 MB/s: the buffer grows past the limit well within one sweep, as with a client
    // that reads too slowly rather than one flooded past the runtime's hard cut.
    const big = 'x'.repeat(20_000);
    let sent = 0;
    await waitFor(
      async () => {
        if (sent >= 1000) throw new Error('stalled client was never disconnected');
        await publishHttp(gw.http, APP_A, 'flood', big);
        sent += 1;
        return gw.gateway.sessions.size === 1;
      },
      { timeoutMs: 25_000, intervalMs: 20, what: 'slow consumer disconnected' },
    );
    // Read what the server sent: it must end with a close frame carrying 4001.
    stalled.sock.resume();
    await stalled.closed;
    const all = Buffer.concat(stalled.received);
    const close = all.lastIndexOf(Buffer.from([0x88]));
    expect(close).toBeGreaterThan(0);
    expect(all.readUInt16BE(close + 2)).toBe(4001);
    await healthy.waitForMessages('flood', sent, 10_000);
    healthy.close();
  }, 30_000);

  test('a client that stalls in the middle of a replay is closed with 4001 once the live messages held for it pass the limit', async () => {
    // 20 MB of history: more than the socket and the kernel buffer, so the replay must wait.
    const pad = 'y'.repeat(20_000);
    const since = await gw.gateway.publisher.publish(APP_A.id, 'replayed', 'start');
    for (let i = 0; i < 1000; i++) await gw.gateway.publisher.publish(APP_A.id, 'replayed', pad);
    const stalled = await stalledSubscriber(gw.gateway.port, 'replayed', since);
    const session = [...gw.gateway.sessions].at(-1)!;
    // Paced: what sits in the socket stays far below the limit however long the client stalls.
    expect(session.bufferedBytes).toBeLessThan(512 * 1024);
    let live = 0;
    await waitFor(
      async () => {
        if (live >= 200) throw new Error('stalled replay was never disconnected');
        await publishHttp(gw.http, APP_A, 'replayed', pad);
        live += 1;
        return !gw.gateway.sessions.has(session);
      },
      { timeoutMs: 25_000, intervalMs: 20, what: 'stalled replay disconnected' },
    );
    // The held live messages tripped the limit, not the replay: the socket's own share stays
    // below twice the point at which a paused replay goes on (64 KiB, Session.writable).
    expect(live).toBeGreaterThan((512 - 128) / 20);
    stalled.sock.resume();
    await stalled.closed;
    const all = Buffer.concat(stalled.received);
    const close = all.lastIndexOf(Buffer.from([0x88]));
    expect(close).toBeGreaterThan(0);
    expect(all.readUInt16BE(close + 2)).toBe(4001);
  }, 30_000);
});
