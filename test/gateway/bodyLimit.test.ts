/**
 * HTTP bodies are read with a limit: past MAX_FRAME_BYTES the answer is 413 `too_large` at
 * once, whatever content-length says (absent, or lower than the body), and the rest of the
 * body is not read. In process with app.request() and a counting stream, then over a raw
 * socket with a chunked upload that never ends.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Hono } from 'hono';
import { createApp } from '../../src/gateway/app.ts';
import { BACKENDS } from '../support/backends.ts';
import { APP_A, startGateway, type TestGateway } from '../support/gateway.ts';

const LIMIT = 1024;
for (const backend of BACKENDS) describe(backend, () => {
  let gw: TestGateway;
  let app: Hono;
  beforeAll(async () => {
    gw = await startGateway(backend, { MAX_FRAME_BYTES: String(LIMIT) });
    app = createApp(gw.gateway);
  });
  afterAll(() => gw.stop());

  /** A body of `chunks` chunks of 512 bytes, made on demand; `pulled` counts what was read. */
  function countingBody(chunks: number): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
    let pulled = 0;
    const chunk = new TextEncoder().encode(`{"topic":"t","data":"${'x'.repeat(490)}`.padEnd(512, 'x'));
    const stream = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          pulled += 1;
          if (pulled > chunks) controller.close();
          else controller.enqueue(chunk);
        },
      },
      { highWaterMark: 0 },
    );
    return { stream, pulled: () => pulled };
  }

  async function publish(body: ReadableStream<Uint8Array>, headers: Record<string, string> = {}): Promise<Response> {
    const request = new Request(`http://localhost/api/apps/${APP_A.id}/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${APP_A.secret}`, ...headers },
      body,
      duplex: 'half',
    } as RequestInit);
    return app.request(request);
  }

  test('a chunked body (no content-length) over the limit: 413 after reading just past the limit', async () => {
    const { stream, pulled } = countingBody(1000);
    const res = await publish(stream);
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: { code: 'too_large', message: `body exceeds ${LIMIT} bytes` } });
    // 3 chunks of 512 bytes pass 1024; the other 997 are never read.
    expect(pulled()).toBeLessThanOrEqual(4);
  });

  test('a content-length lower than the body does not let it through', async () => {
    const { stream, pulled } = countingBody(1000);
    const res = await publish(stream, { 'content-length': '40' });
    expect(res.status).toBe(413);
    expect(pulled()).toBeLessThanOrEqual(4);
  });

  test('a declared content-length over the limit is refused before any read', async () => {
    const { stream, pulled } = countingBody(1000);
    const res = await publish(stream, { 'content-length': String(LIMIT + 1) });
    expect(res.status).toBe(413);
    expect(pulled()).toBe(0);
  });

  test('a body within the limit, streamed in chunks, is published', async () => {
    const text = JSON.stringify({ topic: 'chunked', data: 'y'.repeat(600) });
    const bytes = new TextEncoder().encode(text);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.slice(0, 300));
        controller.enqueue(bytes.slice(300));
        controller.close();
      },
    });
    const res = await publish(stream);
    expect(res.status).toBe(200);
    expect((await res.json()).offset).toMatch(/^\d+-\d+$/);
  });

  test('invalid UTF-8 in a body is a 400, not a crash', async () => {
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]));
        controller.close();
      },
    });
    const res = await publish(stream);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_request', message: 'body is not UTF-8' } });
  });

  test('over a socket: a chunked upload that never ends gets its 413 as soon as it passes the limit', async () => {
    let received = '';
    let gotResponse: () => void;
    const responded = new Promise<void>((resolve) => (gotResponse = resolve));
    const socket = await Bun.connect({
      hostname: '127.0.0.1',
      port: gw.gateway.port,
      socket: {
        data(_s, data) {
          received += data.toString();
          if (received.includes('\r\n\r\n')) gotResponse();
        },
      },
    });
    try {
      socket.write(
        `POST /api/apps/${APP_A.id}/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${APP_A.secret}\r\n` +
          'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
      );
      const chunk = 'x'.repeat(800);
      // Twice 800 bytes pass 1024; no terminating chunk ever follows.
      for (let i = 0; i < 2; i++) socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
      await responded;
      expect(received).toStartWith('HTTP/1.1 413');
      expect(received).toContain('too_large');
    } finally {
      socket.end();
    }
  });
});
