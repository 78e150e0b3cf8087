/**
 * Close codes the runtime sends on its own, seen from a raw TCP socket speaking just enough
 * RFC 6455 (a WebSocket client library would refuse to send what is tested here): a text
 * frame that is not valid UTF-8 closes the connection with 1007, as docs/protocol.md says.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { connect } from 'node:net';
import { CloseCode, shouldReconnect } from '../../src/protocol/codes.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { BACKENDS } from '../support/backends.ts';
import { APP_A, startGateway, type TestGateway } from '../support/gateway.ts';

for (const backend of BACKENDS) describe(backend, () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway(backend);
  });
  afterAll(() => gw.stop());

  /** A client frame: FIN set, masked as RFC 6455 requires of clients; short payloads only. */
  function maskedFrame(opcode: number, payload: Uint8Array): Buffer {
    if (payload.length > 125) throw new Error('short frames only');
    const mask = [7, 1, 2, 9];
    return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length]), Buffer.from(mask), Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!))]);
  }

  /** The server's frames after the handshake response (unmasked, short or 16-bit lengths). */
  function serverFrames(bytes: Buffer): { opcode: number; payload: Buffer }[] {
    let at = bytes.indexOf('\r\n\r\n') + 4;
    const frames: { opcode: number; payload: Buffer }[] = [];
    while (at + 2 <= bytes.length) {
      let length = bytes[at + 1]! & 0x7f;
      let header = 2;
      if (length === 126) {
        length = bytes.readUInt16BE(at + 2);
        header = 4;
      }
      if (at + header + length > bytes.length) break;
      frames.push({ opcode: bytes[at]! & 0x0f, payload: bytes.subarray(at + header, at + header + length) });
      at += header + length;
    }
    return frames;
  }

  test('a text frame with invalid UTF-8 is closed by the runtime with 1007', async () => {
    const sock = connect(gw.gateway.port, '127.0.0.1');
    const received: Buffer[] = [];
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    sock.on('data', (d: Buffer) => received.push(d));
    try {
      sock.write(
        `GET /ws?app=${APP_A.id} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      await waitFor(() => Buffer.concat(received).includes('welcome'), { what: 'welcome' });
      // `{"type":"ping","id":"` then 0xff 0xfe (never valid in UTF-8), then `"}`.
      const text = Buffer.concat([Buffer.from('{"type":"ping","id":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
      sock.write(maskedFrame(0x1, text));
      await waitFor(() => serverFrames(Buffer.concat(received)).some((f) => f.opcode === 0x8), { what: 'a close frame' });
      const close = serverFrames(Buffer.concat(received)).find((f) => f.opcode === 0x8)!;
      expect(close.payload.readUInt16BE(0)).toBe(CloseCode.InvalidPayload);
      // Like 1009: resending the same frame would fail the same way.
      expect(shouldReconnect(CloseCode.InvalidPayload)).toBe(false);
      // Nothing answered the frame itself: no pong, no error frame.
      const texts = serverFrames(Buffer.concat(received)).filter((f) => f.opcode === 0x1).map((f) => JSON.parse(f.payload.toString()).type);
      expect(texts).toEqual(['welcome']);
      await closed;
    } finally {
      sock.destroy();
    }
  });
});
