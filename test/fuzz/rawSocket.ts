/**
 * A WebSocket client on a raw TCP socket, speaking just enough RFC 6455 to send what a
 * WebSocket library refuses to: text frames whose bytes are not UTF-8, any payload size, any
 * query string in the upgrade request. It reads the server's frames (unfragmented, any length),
 * answers pings, and records the close code (1006 when the TCP connection ends without one).
 */
import { connect, type Socket as NetSocket } from 'node:net';

export const Opcode = { Text: 0x1, Binary: 0x2, Close: 0x8, Ping: 0x9, Pong: 0xa } as const;

export interface ServerFrame {
  opcode: number;
  payload: Buffer;
}

/** What the server answered to the upgrade request when it did not switch protocols. */
export class UpgradeRefused extends Error {
  constructor(readonly status: number, readonly body: string) {
    super(`upgrade refused with HTTP ${status}: ${body.slice(0, 200)}`);
  }
}

export class RawWebSocket {
  /** Text frames from the server, decoded, in arrival order. */
  readonly texts: string[] = [];
  /** Close code from the server's close frame; 1006 when the socket ended without one; null while open. */
  closeCode: number | null = null;
  closeReason = '';
  /** Resolves when the TCP connection has ended. */
  readonly ended: Promise<void>;
  private buffer: Buffer = Buffer.alloc(0);
  private listeners = new Set<() => void>();

  private constructor(private readonly sock: NetSocket) {
    this.ended = new Promise((resolve) =>
      sock.on('close', () => {
        if (this.closeCode === null) this.closeCode = 1006;
        this.notify();
        resolve();
      }),
    );
    sock.on('error', () => {});
  }

  /**
   * Connects and sends the upgrade request for `pathAndQuery` (sent as is, unencoded).
   * Resolves once the server switched protocols; rejects with UpgradeRefused otherwise.
   */
  static open(port: number, pathAndQuery: string): Promise<RawWebSocket> {
    return new Promise((resolve, reject) => {
      const sock = connect(port, '127.0.0.1');
      // One frame per case, answered before the next: without this, Nagle's algorithm holds small writes back.
      sock.setNoDelay(true);
      const ws = new RawWebSocket(sock);
      let head = Buffer.alloc(0);
      let upgraded = false;
      const status = () => Number(/^HTTP\/1\.1 (\d{3})/.exec(head.toString('latin1'))?.[1] ?? 0);
      const body = () => {
        const end = head.indexOf('\r\n\r\n');
        return end < 0 ? '' : head.subarray(end + 4).toString('utf8');
      };
      const onData = (chunk: Buffer) => {
        if (upgraded) return ws.onData(chunk);
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (status() !== 101) {
          // Read the (short) body, then give up on this socket.
          setTimeout(() => sock.destroy(), 20);
          return;
        }
        upgraded = true;
        resolve(ws);
        ws.onData(head.subarray(end + 4));
      };
      sock.on('data', onData);
      sock.on('close', () => {
        if (!upgraded) reject(new UpgradeRefused(status(), body()));
      });
      sock.write(
        `GET ${pathAndQuery} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
    });
  }

  get isOpen(): boolean {
    return this.closeCode === null;
  }

  /** Sends one masked, unfragmented frame (as RFC 6455 requires of clients). */
  send(opcode: number, payload: Uint8Array | string): void {
    const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
    const length = body.length;
    const header = length < 126 ? Buffer.alloc(2) : length < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
    header[0] = 0x80 | opcode;
    if (length < 126) header[1] = 0x80 | length;
    else if (length < 65536) {
      header[1] = 0x80 | 126;
      header.writeUInt16BE(length, 2);
    } else {
      header[1] = 0x80 | 127;
      header.writeBigUInt64BE(BigInt(length), 2);
    }
    const mask = Buffer.from([0x5a, 0x13, 0xc7, 0x2e]);
    for (let i = 0; i < length; i++) body[i]! ^= mask[i & 3]!;
    if (!this.sock.destroyed) this.sock.write(Buffer.concat([header, mask, body]));
  }

  /** Resolves when `check` holds (checked after every frame and at the end), or rejects after `timeoutMs`. */
  until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const listener = () => {
        if (!check()) return;
        this.listeners.delete(listener);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.listeners.add(listener);
    });
  }

  destroy(): void {
    this.sock.destroy();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const frame = this.takeFrame();
      if (!frame) break;
      if (frame.opcode === Opcode.Text) this.texts.push(frame.payload.toString('utf8'));
      else if (frame.opcode === Opcode.Ping) this.send(Opcode.Pong, frame.payload);
      else if (frame.opcode === Opcode.Close) {
        this.closeCode = frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
        this.closeReason = frame.payload.subarray(2).toString('utf8');
        this.send(Opcode.Close, frame.payload.subarray(0, 2));
        this.sock.end();
      }
    }
    this.notify();
  }

  private takeFrame(): ServerFrame | null {
    const b = this.buffer;
    if (b.length < 2) return null;
    let length = b[1]! & 0x7f;
    let at = 2;
    if (length === 126) {
      if (b.length < 4) return null;
      length = b.readUInt16BE(2);
      at = 4;
    } else if (length === 127) {
      if (b.length < 10) return null;
      length = Number(b.readBigUInt64BE(2));
      at = 10;
    }
    if (b.length < at + length) return null;
    const frame = { opcode: b[0]! & 0x0f, payload: b.subarray(at, at + length) };
    this.buffer = b.subarray(at + length);
    return frame;
  }
}
