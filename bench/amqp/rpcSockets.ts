/**
 * The RpcTransport of the Switchyard path: one WebSocket session per client, sending `rpc`
 * frames to the gateway and reading `result` / `error` frames (docs/rpc.md). Every reply is
 * parsed: at the rates of an RPC benchmark that costs the generator little.
 */
import { ErrorFrameSchema, ResultFrameSchema, WelcomeFrameSchema } from '../../src/protocol/frames.ts';
import * as v from 'valibot';
import type { RpcTransport } from './rpcDriver.ts';
import { openSession, type Opening } from '../webSocketSession.ts';

const CONNECT_TIMEOUT_MS = 15_000;
const ReplySchema = v.variant('type', [ResultFrameSchema, ErrorFrameSchema]);

export class RpcSockets implements RpcTransport {
  onReply: (client: number, requestId: string, ok: boolean) => void = () => {};
  unexpectedCloses = 0;
  /** Error frames that answer no job (e.g. a frame the gateway rejected without an id). */
  strayErrors = 0;
  private closing = false;

  private constructor(private readonly sockets: WebSocket[], private readonly method: string) {}

  get clients(): number {
    return this.sockets.length;
  }

  static async open(url: string, clients: number, method: string): Promise<RpcSockets> {
    const sockets: WebSocket[] = [];
    const transport = new RpcSockets(sockets, method);
    try {
      for (let client = 0; client < clients; client++) sockets.push(await transport.connect(url, client));
    } catch (error) {
      await transport.close();
      throw error;
    }
    return transport;
  }

  send(client: number, requestId: string, params: string): void {
    this.sockets[client]!.send(`{"type":"rpc","id":"${requestId}","method":"${this.method}","params":${params}}`);
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const ws of this.sockets) ws.close(1000);
  }

  /** One client's session: its opening is the gateway's welcome frame. */
  private async connect(url: string, client: number): Promise<WebSocket> {
    const session = await openSession(url, CONNECT_TIMEOUT_MS, (ws) => ({
      ws,
      opening: (data: unknown): Opening => (v.is(WelcomeFrameSchema, safeJson(data)) ? 'established' : { refused: `expected a welcome frame, got ${String(data).slice(0, 200)}` }),
      receive: (data: unknown) => this.receive(client, data),
      closed: () => {
        if (!this.closing) this.unexpectedCloses += 1;
      },
    }));
    return session.ws;
  }

  private receive(client: number, data: unknown): void {
    const parsed = v.safeParse(ReplySchema, safeJson(data));
    if (!parsed.success) return;
    const frame = parsed.output;
    if (frame.type === 'result') this.onReply(client, frame.id, true);
    else if (frame.id !== null) this.onReply(client, frame.id, false);
    else this.strayErrors += 1;
  }
}

function safeJson(data: unknown): unknown {
  if (typeof data !== 'string') return undefined;
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}
