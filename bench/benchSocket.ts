/**
 * One load-generator session: a Bun WebSocket that speaks the minimal frames both servers
 * share (welcome, subscribe/ack, publish/ack, message). Message frames take a fast path that
 * does not parse them, because at a million deliveries per second the generator's own JSON
 * work would become the bottleneck; every other frame is parsed and schema-checked.
 */
import * as v from 'valibot';
import { ServerFrameSchema } from '../src/protocol/frames.ts';

/** Both servers start message frames with exactly these bytes (see src/gateway/frames.ts). */
export const MESSAGE_PREFIX = '{"type":"message"';

interface Pending {
  resolve: (offset: string | undefined) => void;
  reject: (error: Error) => void;
}

export class BenchSocket {
  /** Called for every message frame, with its raw text. */
  onMessage: (raw: string) => void = () => {};
  /** Called when the server closes the session or the connection breaks. */
  onUnexpectedClose: (code: number) => void = () => {};
  /** Called for error frames that answer no pending request. */
  onErrorFrame: (code: string) => void = () => {};

  private readonly pending = new Map<string, Pending>();
  private nextId = 0;
  private closing = false;

  private constructor(private readonly ws: WebSocket) {}

  /** Connects and resolves once the server's welcome frame has arrived. */
  static connect(url: string, timeoutMs: number): Promise<BenchSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const socket = new BenchSocket(ws);
      const timer = setTimeout(() => {
        ws.close();
        reject(new Error(`no welcome from ${url} within ${timeoutMs} ms`));
      }, timeoutMs);
      ws.onmessage = (event) => {
        clearTimeout(timer);
        const frame = parseControl(event.data);
        if (frame?.type !== 'welcome') {
          ws.close();
          reject(new Error(`expected a welcome frame, got ${String(event.data).slice(0, 200)}`));
          return;
        }
        ws.onmessage = (e) => socket.receive(e.data);
        resolve(socket);
      };
      // Stays installed after the welcome; from then on the reject() below is a no-op,
      // since the promise has settled.
      ws.onclose = (event) => {
        clearTimeout(timer);
        socket.failPending(new Error(`closed with ${event.code}`));
        if (!socket.closing) socket.onUnexpectedClose(event.code);
        reject(new Error(`connection to ${url} closed with ${event.code} before welcome`));
      };
    });
  }

  subscribe(topics: string[]): Promise<string | undefined> {
    return this.request((id) => JSON.stringify({ type: 'subscribe', id, topics }));
  }

  /** `data` is JSON text already, so a publisher can build its payload without re-encoding. */
  publish(topic: string, data: string): Promise<string | undefined> {
    return this.request((id) => `{"type":"publish","id":"${id}","topic":${JSON.stringify(topic)},"data":${data}}`);
  }

  close(): void {
    this.closing = true;
    this.ws.close(1000);
  }

  private request(encode: (id: string) => string): Promise<string | undefined> {
    const id = (this.nextId++).toString(36);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(encode(id));
    });
  }

  private receive(data: unknown): void {
    if (typeof data === 'string' && data.startsWith(MESSAGE_PREFIX)) {
      this.onMessage(data);
      return;
    }
    const frame = parseControl(data);
    if (frame?.type === 'ack') {
      this.settle(frame.id)?.resolve(frame.offset);
    } else if (frame?.type === 'error') {
      const pending = frame.id === null ? undefined : this.settle(frame.id);
      if (pending) pending.reject(new Error(`${frame.code}: ${frame.message}`));
      else this.onErrorFrame(frame.code);
    }
  }

  private settle(id: string): Pending | undefined {
    const pending = this.pending.get(id);
    this.pending.delete(id);
    return pending;
  }

  private failPending(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}

function parseControl(data: unknown): v.InferOutput<typeof ServerFrameSchema> | undefined {
  if (typeof data !== 'string') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return undefined;
  }
  const parsed = v.safeParse(ServerFrameSchema, json);
  return parsed.success ? parsed.output : undefined;
}
