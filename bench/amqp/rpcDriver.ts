/**
 * Drives jobs through an RpcTransport (WebSocket sessions to the gateway, or bare AMQP) and
 * measures their round trips. Window mode: each client keeps `window` jobs in flight and sends
 * the next one when a reply comes (sustained jobs/s with bounded in flight). Paced mode: a
 * fixed rate over all clients, round-robin. A round trip is timed in this process, from just
 * before the send to the reply's arrival, so no clock crosses a process boundary.
 */
import { nowMs } from '../clock.ts';
import { Histogram } from '../histogram.ts';
import { padding } from '../payload.ts';
import { CountingSender, pace } from '../sendLoop.ts';

export interface RpcTransport {
  readonly clients: number;
  /** Sends one job for `client`; `params` is JSON text. */
  send(client: number, requestId: string, params: string): void;
  /** Set by the driver: called once per job with its outcome (a result, or an error). */
  onReply: (client: number, requestId: string, ok: boolean) => void;
  /** Sessions or connections closed by the other side. */
  readonly unexpectedCloses: number;
  close(): Promise<void>;
}

export interface RpcLoad {
  mode: 'window' | 'paced';
  window: number;
  ratePerSec: number;
  payloadBytes: number;
}

interface InFlight {
  sentAtMs: number;
  measured: boolean;
}

/** The round trips of measured jobs go to `latency`. */
export class RpcDriver extends CountingSender {
  latency = new Histogram();
  private readonly inFlight: Map<string, InFlight>[];
  private readonly nextId: number[];
  private nextClient = 0;
  private readonly pad: string;

  constructor(private readonly transport: RpcTransport, private readonly load: RpcLoad) {
    super();
    this.inFlight = Array.from({ length: transport.clients }, () => new Map());
    this.nextId = Array.from({ length: transport.clients }, () => 0);
    // About payloadBytes of params, like the updates of the bridge scenarios; `t` lets a
    // diagnostic (stageProbe.ts) time each stage of the job's way.
    this.pad = padding(load.payloadBytes);
    transport.onReply = (client, requestId, ok) => this.settle(client, requestId, ok);
  }

  start(): void {
    if (this.load.mode === 'window') {
      for (let client = 0; client < this.transport.clients; client++) for (let i = 0; i < this.load.window; i++) this.send(client);
      return;
    }
    this.timer = pace(this.load.ratePerSec, (due) => {
      while (!this.stopped && this.sent < due) {
        this.send(this.nextClient);
        this.nextClient = (this.nextClient + 1) % this.transport.clients;
      }
    });
  }

  private send(client: number): void {
    const requestId = (this.nextId[client]!++).toString(36);
    const measured = this.countSend();
    const sentAtMs = nowMs();
    this.inFlight[client]!.set(requestId, { sentAtMs, measured });
    this.transport.send(client, requestId, `{"t":${sentAtMs},"pad":"${this.pad}"}`);
  }

  private settle(client: number, requestId: string, ok: boolean): void {
    const job = this.inFlight[client]?.get(requestId);
    if (!job) return;
    const receivedAt = nowMs();
    this.inFlight[client]!.delete(requestId);
    if (ok && job.measured) this.latency.record(receivedAt - job.sentAtMs);
    this.countSettled(ok);
    if (!this.stopped && this.load.mode === 'window') this.send(client);
  }
}
