/**
 * One load-generator session: a Bun WebSocket that speaks the minimal frames both servers
 * share (welcome, subscribe/ack, publish/ack, message; binary publish and message frames).
 * Message frames take a fast path that does not parse them, because at a million deliveries
 * per second the generator's own JSON work would become the bottleneck; every other frame is
 * parsed and schema-checked.
 */
import * as v from 'valibot';
import { BinaryKind, encodeBinaryPublish } from '../src/protocol/binary.ts';
import { ServerFrameSchema } from '../src/protocol/frames.ts';
import { openSession, RequestSession, type Opening } from './webSocketSession.ts';

/** Both servers start message frames with exactly these bytes (see src/gateway/frames.ts). */
export const MESSAGE_PREFIX = '{"type":"message"';

export class BenchSocket extends RequestSession<string | undefined> {
  private constructor(ws: WebSocket) {
    // Short request IDs: the publisher sends one per publish.
    super(ws, 36);
  }

  /** Connects and resolves once the server's welcome frame has arrived. */
  static connect(url: string, timeoutMs: number): Promise<BenchSocket> {
    return openSession(url, timeoutMs, (ws) => new BenchSocket(ws));
  }

  /** Its opening is the server's welcome frame. */
  opening(data: unknown): Opening {
    return parseControl(data)?.type === 'welcome' ? 'established' : { refused: `expected a welcome frame, got ${String(data).slice(0, 200)}` };
  }

  subscribe(topics: string[]): Promise<string | undefined> {
    return this.request((id) => JSON.stringify({ type: 'subscribe', id, topics }));
  }

  unsubscribe(topics: string[]): Promise<string | undefined> {
    return this.request((id) => JSON.stringify({ type: 'unsubscribe', id, topics }));
  }

  /**
   * `data` is JSON text already, so a publisher can build its payload without re-encoding;
   * bytes go in a binary publish frame (0x11).
   */
  publish(topic: string, data: string | Uint8Array): Promise<string | undefined> {
    if (typeof data !== 'string') return this.request((id) => encodeBinaryPublish(id, topic, data));
    return this.request((id) => `{"type":"publish","id":"${id}","topic":${JSON.stringify(topic)},"data":${data}}`);
  }

  receive(data: unknown): void {
    if (typeof data === 'string' && data.startsWith(MESSAGE_PREFIX)) {
      this.onMessage(data);
      return;
    }
    // A binary message frame (0x01): counted, not decoded (Bun hands over a Buffer by default).
    if (data instanceof Uint8Array || data instanceof ArrayBuffer) {
      const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
      if (bytes[0] === BinaryKind.Message) this.onMessage('');
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
