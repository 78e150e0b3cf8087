/**
 * A data-center producer, as docs/bridge.md tells producers to publish: updates to the
 * updates exchange, persistent, with an ID, on a confirm channel. Paced mode sends at a fixed
 * rate. Flood mode measures a sustained rate with bounded in flight: at most `window` updates
 * unconfirmed, and it pauses while the queue holds more than `maxBacklog` ready updates.
 * Without the second bound a producer faster than the consumer grows the queue without end,
 * and the broker's work on that growing queue takes CPU from the consumer being measured.
 * Every update carries its send time (bench/clock.ts) and whether it is measured, in the
 * fields the subscribers' latency probe reads (`data.t`, `data.m`; see bench/payload.ts).
 */
import type { Channel, ConfirmChannel } from 'amqplib';
import { padding, stampedData } from '../payload.ts';
import { CountingSender, pace } from '../sendLoop.ts';

export interface UpdatePublisherSpec {
  exchange: string;
  app: string;
  topics: readonly string[];
  mode: 'flood' | 'paced';
  window: number;
  ratePerSec: number;
  payloadBytes: number;
  idPrefix: string;
  /** The queue the updates land in, and its ready updates at most (flood mode). */
  queue: string;
  maxBacklog: number;
}

/** How often flood mode reads the queue's backlog. */
const BACKLOG_POLL_MS = 5;

/** Measured updates carry `"m":1`; `timer` is the paced mode's interval, or flood mode's next backlog check. */
export class UpdatePublisher extends CountingSender {
  readonly donePerTopic: number[];
  readonly measuredPerTopic: number[];
  /** Flood mode: the queue holds more than maxBacklog ready updates. */
  private backlogFull = false;
  private readonly pad: string;
  /** The fixed part of each body around the topic, encoded once. */
  private readonly heads: string[];

  /** `probe` reads the queue's depth (flood mode); a plain channel, since a failed check closes it. */
  constructor(private readonly ch: ConfirmChannel, private readonly probe: Channel, private readonly spec: UpdatePublisherSpec) {
    super();
    this.donePerTopic = spec.topics.map(() => 0);
    this.measuredPerTopic = spec.topics.map(() => 0);
    this.pad = padding(spec.payloadBytes);
    this.heads = spec.topics.map((topic) => `{"app":${JSON.stringify(spec.app)},"topic":${JSON.stringify(topic)}`);
  }

  start(): void {
    if (this.spec.mode === 'flood') {
      this.pollBacklog();
      return this.pump();
    }
    this.timer = pace(this.spec.ratePerSec, (due) => {
      while (!this.stopped && this.sent < due) this.send();
    });
  }

  private pump(): void {
    while (!this.stopped && !this.backlogFull && this.outstanding.count < this.spec.window) this.send();
  }

  /** One depth check at a time, BACKLOG_POLL_MS apart, until stopped. */
  private pollBacklog(): void {
    if (this.stopped) return;
    this.probe.checkQueue(this.spec.queue).then(
      (ok) => {
        this.backlogFull = ok.messageCount > this.spec.maxBacklog;
        this.pump();
        this.timer = setTimeout(() => this.pollBacklog(), BACKLOG_POLL_MS);
      },
      () => {
        // The channel is gone (the connection closed): the publishes fail and are counted.
      },
    );
  }

  private send(): void {
    const n = this.sent;
    const t = n % this.spec.topics.length;
    const id = `${this.spec.idPrefix}-${n}`;
    const measured = this.countSend();
    if (measured) this.measuredPerTopic[t]! += 1;
    const body = `${this.heads[t]},"id":"${id}","data":${stampedData(measured, this.pad)}}`;
    this.ch.publish(
      this.spec.exchange,
      `${this.spec.app}.${this.spec.topics[t]}`,
      Buffer.from(body),
      { persistent: true, messageId: id, contentType: 'application/json' },
      (error) => this.settle(t, error === null || error === undefined),
    );
  }

  private settle(topic: number, ok: boolean): void {
    if (ok) this.donePerTopic[topic]! += 1;
    this.countSettled(ok);
    if (this.spec.mode === 'flood') this.pump();
  }
}
