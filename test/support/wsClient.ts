/**
 * A WebSocket test client: records every frame, lets a test wait for the frame it expects
 * (by predicate, with a deadline) and for the close event. No sleeps. A binary frame is
 * recorded decoded (protocol/binary.ts): `{type: 'message' | 'direct', …, data: Uint8Array,
 * binary: true}`, or `{type: 'undecodable', issue}` when it does not decode.
 */
import { decodeServerBinary } from '../../src/protocol/binary.ts';
import type { ServerFrame } from '../../src/protocol/frames.ts';

type Frame = ServerFrame & Record<string, unknown>;

interface Waiter {
  match: (f: Frame) => boolean;
  resolve: (f: Frame) => void;
}

export class WsClient {
  readonly frames: Frame[] = [];
  /** Index of the first frame not yet consumed by next(). */
  private cursor = 0;
  private readonly waiters = new Set<Waiter>();
  readonly closed: Promise<{ code: number; reason: string }>;
  private seq = 0;

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => ws.addEventListener('close', (e) => resolve({ code: e.code, reason: e.reason })));
    ws.binaryType = 'arraybuffer';
    ws.addEventListener('message', (e) => {
      const frame = typeof e.data === 'string' ? (JSON.parse(e.data) as Frame) : binaryFrame(e.data as ArrayBuffer);
      this.frames.push(frame);
      for (const w of this.waiters) {
        if (w.match(frame)) {
          this.waiters.delete(w);
          w.resolve(frame);
        }
      }
    });
  }

  /** Opens a connection; resolves once the socket is open (the welcome may follow). */
  static async connect(url: string): Promise<WsClient> {
    const ws = new WebSocket(url);
    const client = new WsClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener('open', () => resolve(), { once: true });
      ws.addEventListener('error', () => reject(new Error(`cannot connect to ${url}`)), { once: true });
    });
    return client;
  }

  /** Connects and waits for the welcome frame. */
  static async open(url: string): Promise<WsClient> {
    const client = await WsClient.connect(url);
    await client.waitFor((f) => f.type === 'welcome');
    return client;
  }

  nextId(): string {
    return `r${++this.seq}`;
  }

  sendRaw(data: string | ArrayBuffer | Uint8Array<ArrayBuffer>): void {
    this.ws.send(data);
  }

  send(frame: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** Resolves with the first frame (already received or future) matching `match`. */
  waitFor(match: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const seen = this.frames.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { match, resolve };
      this.waiters.add(waiter);
      setTimeout(() => {
        if (this.waiters.delete(waiter)) reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames.slice(-5))}`));
      }, timeoutMs);
    });
  }

  /** The reply (ack, error or pong) to request `id`. */
  reply(id: string, timeoutMs = 5000): Promise<Frame> {
    return this.waitFor((f) => 'id' in f && f.id === id && f.type !== 'welcome', timeoutMs);
  }

  /** Sends a request frame with a fresh id and resolves with its reply. */
  async request(frame: Record<string, unknown>): Promise<Frame> {
    const id = this.nextId();
    this.send({ ...frame, id });
    return this.reply(id);
  }

  /** Messages received on `topic`, in arrival order. */
  messages(topic: string): Frame[] {
    return this.frames.filter((f) => f.type === 'message' && f.topic === topic);
  }

  /** Waits until `count` messages have arrived on `topic`. */
  async waitForMessages(topic: string, count: number, timeoutMs = 5000): Promise<Frame[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages(topic).length < count) {
      if (Date.now() > deadline) throw new Error(`got ${this.messages(topic).length}/${count} messages on ${topic}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return this.messages(topic);
  }

  close(): void {
    this.ws.close();
  }
}

function binaryFrame(bytes: ArrayBuffer): Frame {
  const decoded = decodeServerBinary(bytes);
  return (decoded.ok ? { ...decoded.frame, binary: true } : { type: 'undecodable', issue: decoded.issue }) as unknown as Frame;
}
