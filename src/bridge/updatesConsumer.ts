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
import type { TopicPublisher } from '../cluster/topicPublisher.ts';
import { UpdateSchema, type Update } from '../protocol/update.ts';
import type { AmqpConnection, ConfirmChannel, ConsumeMessage } from '../amqp/connection.ts';
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

type Verdict = { ok: true; update: Update; messageId: string | undefined } | { ok: false; reason: string };

export class UpdatesConsumer {
  private channel: ConfirmChannel | null = null;

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
      await ch.consume(names.updatesQueue, (message) => {
        if (message) void this.handle(ch, message);
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

  private async handle(ch: ConfirmChannel, message: ConsumeMessage): Promise<void> {
    const verdict = this.check(message);
    if (!verdict.ok) {
      this.metrics.deadLettered(verdict.reason.split(':')[0]!);
      this.log.warn('update dead-lettered', { reason: verdict.reason, routingKey: message.fields.routingKey });
      await deadLetter(ch, this.names, message, verdict.reason);
      return;
    }
    const { update, messageId } = verdict;
    try {
      await this.publisher.publish(update.app, update.topic, update.data, messageId);
    } catch (error) {
      const attempts = Number(message.properties.headers?.[DELIVERY_COUNT_HEADER] ?? 0) + 1;
      this.log.error('storing an update failed', { app: update.app, topic: update.topic, attempts, error });
      if (attempts >= (this.options.maxAttempts ?? 5)) {
        this.metrics.deadLettered('store_failed');
        await deadLetter(ch, this.names, message, `store_failed: ${error instanceof Error ? error.message : String(error)}`);
      } else {
        settle(() => ch.nack(message, false, true));
      }
      return;
    }
    settle(() => ch.ack(message));
    this.metrics.stored += 1;
  }
}

/** Acks and nacks on a channel that closed meanwhile throw; the broker redelivers then. */
function settle(op: () => void): void {
  try {
    op();
  } catch {
    // Redelivered on the next channel; the dedupe by message ID keeps it from being stored twice.
  }
}
