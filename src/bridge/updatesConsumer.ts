/**
 * Data-center updates from RabbitMQ into the streams. Each update is validated, stored
 * through the same publish path as the HTTP API (history, then the inboxes of the instances
 * with subscribers), and acknowledged only once Redis has accepted the writes: nothing is
 * acknowledged that is not stored. Invalid updates go to the dead-letter queue with a
 * reason. A redelivery (after a crash, or a lost ack) is stored once, by message ID.
 * Prefetch bounds what is in flight: while Redis is unreachable, writes wait and nothing
 * more is taken from the queue.
 */
import * as v from 'valibot';
import type { PublishItem } from '../cluster/backend.ts';
import type { TopicPublisher } from '../cluster/topicPublisher.ts';
import { UpdateSchema, type Update } from '../protocol/update.ts';
import type { AmqpConnection, ConfirmChannel, ConsumeMessage } from '../amqp/connection.ts';
import { AckBatcher } from '../amqp/acks.ts';
import { deadLetter } from '../amqp/deadLetter.ts';
import { declareUpdates, DELIVERY_COUNT_HEADER, type AmqpNames } from '../amqp/topology.ts';
import type { Logger } from '../lib/log.ts';
import type { BridgeMetrics } from './metrics.ts';
import { describeIssue } from '../protocol/issues.ts';
import { parseJson } from '../lib/json.ts';

export interface UpdatesConsumerOptions {
  /** Unacknowledged updates held at once. */
  prefetch: number;
  /** Larger updates are dead-lettered as `too_large`. */
  maxUpdateBytes: number;
  /** After this many failed attempts to store an update, it is dead-lettered. @default 5 */
  maxAttempts?: number;
}

/** How long a stored update's ack may wait for others (a quarter of prefetch sends at once). */
const ACK_DELAY_MS = 5;

type Verdict = { ok: true; update: Update; messageId: string | undefined } | { ok: false; reason: string };

export class UpdatesConsumer {
  private channel: ConfirmChannel | null = null;
  /** Checked updates of this event-loop turn, by app and topic, in delivery order. */
  private readonly batches = new Map<string, TopicBatch>();
  private flushScheduled = false;

  constructor(
    connection: AmqpConnection,
    private readonly names: AmqpNames,
    private readonly publisher: TopicPublisher,
    private readonly apps: ReadonlySet<string>,
    private readonly options: UpdatesConsumerOptions,
    private readonly metrics: BridgeMetrics,
    private readonly log: Logger,
  ) {
    connection.onSetup(async (model) => {
      const ch = await model.createConfirmChannel();
      await declareUpdates(ch, names);
      await ch.prefetch(options.prefetch);
      ch.on('close', () => {
        if (this.channel === ch) this.channel = null;
      });
      this.channel = ch;
      // Nobody waits for these acks: a few milliseconds let one frame carry several at low rates.
      const acks = new AckBatcher(ch, { maxDelayMs: ACK_DELAY_MS, maxWaiting: Math.max(1, Math.floor(options.prefetch / 4)) });
      await ch.consume(names.updatesQueue, (message) => {
        if (!message) return;
        acks.track(message);
        this.handle(ch, acks, message);
      });
    });
  }

  /** True while a channel is consuming (with single active consumer, possibly as standby). */
  isConsuming(): boolean {
    return this.channel !== null;
  }

  private check(message: ConsumeMessage): Verdict {
    if (message.content.length > this.options.maxUpdateBytes) return { ok: false, reason: `too_large: over ${this.options.maxUpdateBytes} bytes` };
    const json = parseJson(message.content.toString('utf8'));
    if (json === undefined) return { ok: false, reason: 'invalid_json' };
    const parsed = v.safeParse(UpdateSchema, json);
    if (!parsed.success) {
      return { ok: false, reason: `invalid_update: ${describeIssue(parsed.issues[0])}` };
    }
    if (!this.apps.has(parsed.output.app)) return { ok: false, reason: `unknown_app: ${parsed.output.app}` };
    const propId = message.properties.messageId;
    return { ok: true, update: parsed.output, messageId: parsed.output.id ?? (typeof propId === 'string' && propId !== '' ? propId : undefined) };
  }

  /**
   * Updates that pass the checks wait for the end of the event-loop turn, then go to Redis
   * as one batch per topic (in delivery order, so per-topic order holds): a delivery burst
   * costs one script call per topic instead of one per update.
   */
  private handle(ch: ConfirmChannel, acks: AckBatcher, message: ConsumeMessage): void {
    const verdict = this.check(message);
    if (!verdict.ok) {
      this.metrics.deadLettered(verdict.reason.split(':')[0]!);
      this.log.warn('update dead-lettered', { reason: verdict.reason, routingKey: message.fields.routingKey });
      void deadLetter(ch, this.names, message, verdict.reason).then(() => acks.settled(message));
      return;
    }
    const { update, messageId } = verdict;
    const key = `${update.app}\u0000${update.topic}`;
    let batch = this.batches.get(key);
    if (batch && batch.ch !== ch) {
      // A new channel after a reconnect: what the old one left is settled on the old one.
      this.flush();
      batch = undefined;
    }
    if (!batch) {
      batch = { ch, acks, app: update.app, topic: update.topic, messages: [], items: [] };
      this.batches.set(key, batch);
    }
    batch.messages.push(message);
    batch.items.push({ data: JSON.stringify(update.data), messageId });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const batches = [...this.batches.values()];
    this.batches.clear();
    for (const batch of batches) void this.store(batch);
  }

  private async store({ ch, acks, app, topic, messages, items }: TopicBatch): Promise<void> {
    try {
      await this.publisher.publishEncoded(app, topic, items);
    } catch (error) {
      for (const message of messages) {
        const attempts = Number(message.properties.headers?.[DELIVERY_COUNT_HEADER] ?? 0) + 1;
        if (message === messages[0]) this.log.error('storing updates failed', { app, topic, updates: messages.length, attempts, error });
        if (attempts >= (this.options.maxAttempts ?? 5)) {
          this.metrics.deadLettered('store_failed');
          await deadLetter(ch, this.names, message, `store_failed: ${error instanceof Error ? error.message : String(error)}`);
        } else {
          settle(() => ch.nack(message, false, true));
        }
        acks.settled(message);
      }
      return;
    }
    for (const message of messages) acks.ack(message);
    this.metrics.stored += messages.length;
  }
}

interface TopicBatch {
  ch: ConfirmChannel;
  acks: AckBatcher;
  app: string;
  topic: string;
  messages: ConsumeMessage[];
  items: PublishItem[];
}

/** Acks and nacks on a channel that closed meanwhile throw; the broker redelivers then. */
function settle(op: () => void): void {
  try {
    op();
  } catch {
    // Redelivered on the next channel; the dedupe by message ID keeps it from being stored twice.
  }
}
