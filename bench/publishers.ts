/**
 * The two publishers of the load generator. FloodPublisher keeps a fixed window of
 * unacknowledged publishes, which measures the sustained rate without letting queues grow
 * without bound. PacedPublisher sends at a fixed rate and stamps each message with its send
 * time, for publish-to-receipt latency.
 */
import { padding, stampedData } from './payload.ts';
import { Outstanding, pace } from './sendLoop.ts';

/**
 * Where publishes go: a WebSocket session (BenchSocket, acknowledged by an ack frame) or a
 * server's HTTP publish API (HttpPublishChannel, acknowledged by a 2xx). `data` is JSON text,
 * or the bytes of a binary message.
 */
export interface PublishChannel {
  publish(topic: string, data: string | Uint8Array): Promise<unknown>;
  close(): void;
}

/** Counts publishes and their outcome, and lets stop() wait for the outstanding ones. */
abstract class Publisher {
  published = 0;
  acked = 0;
  errors = 0;
  measuredPublished = 0;
  protected stopped = false;
  private readonly outstanding = new Outstanding();

  constructor(protected readonly channel: PublishChannel, protected readonly topic: string) {}

  /** Sends one publish; `onSettled` runs after its ack or error has been counted. */
  protected send(data: string | Uint8Array, measured: boolean): void {
    this.outstanding.add();
    this.published += 1;
    if (measured) this.measuredPublished += 1;
    this.channel.publish(this.topic, data).then(
      () => this.settle(true),
      () => this.settle(false),
    );
  }

  protected get inFlight(): number {
    return this.outstanding.count;
  }

  protected onSettled(): void {}

  private settle(ok: boolean): void {
    if (ok) this.acked += 1;
    else this.errors += 1;
    this.outstanding.settle();
    this.onSettled();
  }

  /** Stops sending; resolves with the number of publishes still unacknowledged after the wait. */
  async stop(ackTimeoutMs: number): Promise<number> {
    this.stopped = true;
    this.halt();
    return this.outstanding.drain(ackTimeoutMs);
  }

  protected halt(): void {}
}

export class FloodPublisher extends Publisher {
  private readonly pad: string;
  /** The bytes of every binary publish (the servers copy them into their frames). */
  private readonly bytes: Uint8Array | null;
  /** With credit: publish until `published` reaches it (grant()); Infinity without. */
  private upTo: number;

  constructor(channel: PublishChannel, topic: string, private readonly window: number, payloadBytes: number, options: { binary?: boolean; credited?: boolean } = {}) {
    super(channel, topic);
    this.pad = padding(payloadBytes);
    this.bytes = options.binary ? crypto.getRandomValues(new Uint8Array(payloadBytes)) : null;
    this.upTo = options.credited ? 0 : Infinity;
  }

  start(): void {
    this.pump();
  }

  /** Credit: the publisher may have published `upTo` messages in all (never less than before). */
  grant(upTo: number): void {
    this.upTo = Math.max(this.upTo, upTo);
    this.pump();
  }

  protected override onSettled(): void {
    this.pump();
  }

  private pump(): void {
    while (!this.stopped && this.inFlight < this.window && this.published < this.upTo) {
      this.send(this.bytes ?? `{"n":${this.published},"pad":"${this.pad}"}`, false);
    }
  }
}

export class PacedPublisher extends Publisher {
  /** Publishes sent from now on carry `"m":1`; subscribers record latency only for those. */
  measured = false;
  private readonly pad: string;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(channel: PublishChannel, topic: string, private readonly ratePerSec: number, payloadBytes: number) {
    super(channel, topic);
    this.pad = padding(payloadBytes);
  }

  start(): void {
    this.timer = pace(this.ratePerSec, (due) => {
      while (!this.stopped && this.published < due) this.send(stampedData(this.measured, this.pad), this.measured);
    });
  }

  protected override halt(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
