/**
 * Data-center updates from RabbitMQ into the streams. Each update is validated, stored
 * through the same publish path as the HTTP API (history, then the inboxes of the instances
 * with subscribers), and acknowledged only once Redis has accepted the writes: nothing is
 * acknowledged that is not stored. Invalid updates go to the dead-letter queue with a
 * reason. A redelivery (after a crash, or a lost ack) is stored once, by message ID. An
 * update addressed to a user (`user` instead of `topic`) is stored in that user's inbox and
 * delivered like a server API direct message, and acknowledged once stored, the same way.
 * Prefetch bounds what is in flight: while Redis is unreachable, writes wait and nothing
 * more is taken from the queue.
 */
import { channel } from 'node:diagnostics_channel';
import * as v from 'valibot';
import type { BatchOutcome, Broker, PublishItem, TopicBatch } from '../cluster/broker.ts';
import { DirectUpdateSchema, UpdateSchema, type DirectUpdate, type Update } from '../protocol/update.ts';
import type { UserInbox } from '../cluster/userInbox.ts';
import type { AmqpConnection, ConfirmChannel, ConsumeMessage } from '../amqp/connection.ts';
import { AckBatcher, unhurriedAcks } from '../amqp/acks.ts';
import { deadLetter } from '../amqp/deadLetter.ts';
import { declareUpdates, DELIVERY_COUNT_HEADER, type AmqpNames } from '../amqp/topology.ts';
import type { Logger } from '../lib/log.ts';
import type { BridgeMetrics } from '../metrics/metrics.ts';
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

/**
 * Diagnostics channel: each update's message as RabbitMQ hands it to the bridge, before any
 * check. Nothing in Switchyard subscribes (bench/amqp/stageProbe.ts does, to time the broker's
 * hop); with no subscriber it costs one property read per update.
 */
export const updateReceivedChannel = channel('switchyard:bridge:update-received');

type Verdict =
  | { ok: true; update: Update; messageId: string | undefined }
  | { ok: true; direct: DirectUpdate; messageId: string | undefined }
  | { ok: false; reason: string };

export class UpdatesConsumer {
  private channel: ConfirmChannel | null = null;
  private pending: PendingUpdates | null = null;
  private sendScheduled = false;
  private storesInFlight = 0;

  constructor(
    connection: AmqpConnection,
    private readonly names: AmqpNames,
    private readonly broker: Pick<Broker, 'publish'>,
    /** Where updates addressed to a user go. */
    private readonly userInbox: Pick<UserInbox, 'send'>,
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
      const acks = new AckBatcher(ch, unhurriedAcks(options.prefetch));
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
    const propId = message.properties.messageId;
    const fallbackId = typeof propId === 'string' && propId !== '' ? propId : undefined;
    if (typeof json === 'object' && json !== null && 'user' in json) {
      const direct = v.safeParse(DirectUpdateSchema, json);
      if (!direct.success) return { ok: false, reason: `invalid_update: ${describeIssue(direct.issues[0])}` };
      if (!this.apps.has(direct.output.app)) return { ok: false, reason: `unknown_app: ${direct.output.app}` };
      return { ok: true, direct: direct.output, messageId: direct.output.id ?? fallbackId };
    }
    const parsed = v.safeParse(UpdateSchema, json);
    if (!parsed.success) {
      return { ok: false, reason: `invalid_update: ${describeIssue(parsed.issues[0])}` };
    }
    if (!this.apps.has(parsed.output.app)) return { ok: false, reason: `unknown_app: ${parsed.output.app}` };
    return { ok: true, update: parsed.output, messageId: parsed.output.id ?? fallbackId };
  }

  /**
   * Updates that pass the checks gather, per topic in delivery order (so per-topic order
   * holds), and go to Redis together (see schedule): a delivery burst costs one script call,
   * not one per update.
   */
  private handle(ch: ConfirmChannel, acks: AckBatcher, message: ConsumeMessage): void {
    if (updateReceivedChannel.hasSubscribers) updateReceivedChannel.publish(message);
    const verdict = this.check(message);
    if (!verdict.ok) {
      this.metrics.bridgeDeadLettered.inc({ reason: verdict.reason.split(':')[0]! });
      this.log.warn('update dead-lettered', { reason: verdict.reason, routingKey: message.fields.routingKey });
      void deadLetter(ch, this.names, message, verdict.reason).then(() => acks.settled(message));
      return;
    }
    if ('direct' in verdict) {
      void this.storeDirect(ch, acks, message, verdict.direct, verdict.messageId);
      return;
    }
    const { update, messageId } = verdict;
    // A new channel after a reconnect: what the old one left is stored and settled on the old one.
    if (this.pending && this.pending.ch !== ch) this.send();
    const pending = (this.pending ??= { ch, acks, topics: new Map(), size: 0 });
    const key = `${update.app}\u0000${update.topic}`;
    let batch = pending.topics.get(key);
    if (!batch) pending.topics.set(key, (batch = { app: update.app, topic: update.topic, items: [], messages: [] }));
    batch.messages.push(message);
    batch.items.push({ data: JSON.stringify(update.data), messageId });
    pending.size += 1;
    this.schedule();
  }

  /**
   * Sends what is pending at the end of this event-loop turn, unless MAX_STORES_IN_FLIGHT
   * stores are still running: then when one returns. Under load, updates gather while Redis
   * works, so batches grow with the load; at a low rate each goes at once.
   */
  private schedule(): void {
    if (this.sendScheduled || this.storesInFlight >= MAX_STORES_IN_FLIGHT) return;
    this.sendScheduled = true;
    setImmediate(() => {
      this.sendScheduled = false;
      if (this.storesInFlight < MAX_STORES_IN_FLIGHT) this.send();
    });
  }

  private send(): void {
    const pending = this.pending;
    if (!pending) return;
    this.pending = null;
    this.storesInFlight += 1;
    void this.store(pending).finally(() => {
      this.storesInFlight -= 1;
      if (this.pending) this.schedule();
    });
  }

  /**
   * One publish call for every topic of the batch (one script call on standalone Redis).
   * Topics fail alone: the updates of a topic that could not be stored are retried, then
   * dead-lettered, while the others are acknowledged.
   */
  private async store({ ch, acks, topics, size }: PendingUpdates): Promise<void> {
    const batches = [...topics.values()];
    let outcomes: BatchOutcome[];
    let callFailed = false;
    try {
      outcomes = await this.broker.publish(batches, { answer: false });
    } catch (error) {
      this.log.error('storing updates failed', { topics: batches.length, updates: size, error });
      callFailed = true;
      outcomes = batches.map(() => (error instanceof Error ? error.message : String(error)));
    }
    for (let i = 0; i < batches.length; i++) {
      const { app, topic, messages } = batches[i]!;
      const failure = outcomes[i];
      if (failure === null || failure === undefined) {
        for (const message of messages) acks.ack(message);
        this.metrics.bridgeStored.inc(messages.length);
        continue;
      }
      if (!callFailed) this.log.error('storing a topic failed', { app, topic, updates: messages.length, error: failure });
      for (const message of messages) {
        const attempts = Number(message.properties.headers?.[DELIVERY_COUNT_HEADER] ?? 0) + 1;
        if (attempts >= (this.options.maxAttempts ?? 5)) {
          this.metrics.bridgeDeadLettered.inc({ reason: 'store_failed' });
          await deadLetter(ch, this.names, message, `store_failed: ${failure}`);
        } else {
          settle(() => ch.nack(message, false, true));
        }
        acks.settled(message);
      }
    }
  }

  /**
   * An update addressed to a user: stored in the user's inbox (and routed to the user's
   * instances) on its own, then acknowledged. One send per update: per user, the sends leave
   * in delivery order on one connection, so a user's messages keep the queue's order. A
   * redelivery with the same ID is stored once (the idempotency key).
   */
  private async storeDirect(ch: ConfirmChannel, acks: AckBatcher, message: ConsumeMessage, update: DirectUpdate, messageId: string | undefined): Promise<void> {
    try {
      await this.userInbox.send(update.app, update.user, { from: null, data: JSON.stringify(update.data), ...(messageId !== undefined ? { key: messageId } : {}) });
      acks.ack(message);
      this.metrics.bridgeStored.inc();
    } catch (error) {
      this.log.error('storing a direct update failed', { app: update.app, error });
      const attempts = Number(message.properties.headers?.[DELIVERY_COUNT_HEADER] ?? 0) + 1;
      if (attempts >= (this.options.maxAttempts ?? 5)) {
        this.metrics.bridgeDeadLettered.inc({ reason: 'store_failed' });
        await deadLetter(ch, this.names, message, `store_failed: ${error instanceof Error ? error.message : String(error)}`);
      } else {
        settle(() => ch.nack(message, false, true));
      }
      acks.settled(message);
    }
  }
}

/**
 * Stores running at once. Two keep Redis busy while the next batch gathers, without making
 * an update at a low rate wait for another's round trip.
 */
const MAX_STORES_IN_FLIGHT = 2;

/** Checked updates not yet sent to Redis: per topic in delivery order, all from one channel. */
interface PendingUpdates {
  ch: ConfirmChannel;
  acks: AckBatcher;
  topics: Map<string, TopicBatch & { messages: ConsumeMessage[]; items: PublishItem[] }>;
  size: number;
}

/** Acks and nacks on a channel that closed meanwhile throw; the broker redelivers then. */
function settle(op: () => void): void {
  try {
    op();
  } catch {
    // Redelivered on the next channel; the dedupe by message ID keeps it from being stored twice.
  }
}
