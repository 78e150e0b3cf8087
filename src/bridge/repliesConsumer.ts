/**
 * Job replies (results, progress, errors) from workers into the inbox of the instance that
 * accepted the job: one Redis write. That instance delivers, parks the reply for a session
 * that is away, or forwards it to the instance the session resumed on. When that instance
 * is gone (its inbox no longer exists: retired, or dead and being reaped), SessionDelivery
 * asks the session directory: the reply is parked for a session whose owner died before it
 * resumed, or sent to the instance it resumed on. Replies of one request are processed one at a time, in delivery
 * order, so a job's progress never overtakes its result; replies of different requests
 * proceed in parallel. A malformed reply is dead-lettered with a reason.
 */
import * as v from 'valibot';
import type { SessionDelivery } from '../cluster/sessionDelivery.ts';
import { ErrorCode } from '../protocol/codes.ts';
import type { RpcEnvelope } from '../protocol/envelope.ts';
import { JobReplySchema, type JobReply } from '../protocol/job.ts';
import type { AmqpConnection, ConfirmChannel, ConsumeMessage } from '../amqp/connection.ts';
import { AckBatcher, unhurriedAcks } from '../amqp/acks.ts';
import { deadLetter } from '../amqp/deadLetter.ts';
import { declareJobs, type AmqpNames } from '../amqp/topology.ts';
import type { Logger } from '../lib/log.ts';
import { SerialQueue } from '../lib/serialQueue.ts';
import type { BridgeMetrics } from '../metrics/metrics.ts';
import { describeIssue } from '../protocol/issues.ts';
import { parseJson } from '../lib/json.ts';

export class RepliesConsumer {
  private channel: ConfirmChannel | null = null;
  /** One queue per request (session + request ID): its replies go out in the order they came in. */
  private readonly perRequest = new SerialQueue();

  constructor(
    connection: AmqpConnection,
    private readonly names: AmqpNames,
    private readonly delivery: SessionDelivery,
    private readonly maxReplyBytes: number,
    prefetch: number,
    private readonly metrics: BridgeMetrics,
    private readonly log: Logger,
  ) {
    connection.onSetup(async (model) => {
      const ch = await model.createConfirmChannel();
      await declareJobs(ch, names);
      await ch.prefetch(prefetch);
      ch.on('close', () => {
        if (this.channel === ch) this.channel = null;
      });
      this.channel = ch;
      const acks = new AckBatcher(ch, unhurriedAcks(prefetch));
      await ch.consume(names.resultsQueue, (message) => {
        if (!message) return;
        acks.track(message);
        const reply = this.parse(message);
        const key = typeof reply === 'string' ? '(malformed)' : `${reply.replyTo.sessionId}/${reply.replyTo.requestId}`;
        // A failed step must not stall the queue: log it and go on with the next reply.
        this.perRequest.run(key, () => this.handle(ch, acks, message, reply)).catch((error) => this.log.error('job reply handling failed', { error }));
      });
    });
  }

  isConsuming(): boolean {
    return this.channel !== null;
  }

  private async handle(ch: ConfirmChannel, acks: AckBatcher, message: ConsumeMessage, reply: JobReply | string): Promise<void> {
    if (typeof reply === 'string') {
      this.metrics.bridgeDeadLettered.inc({ reason: reply.split(':')[0]! });
      this.log.warn('job reply dead-lettered', { reason: reply });
      await deadLetter(ch, this.names, message, reply);
      acks.settled(message);
      return;
    }
    try {
      const outcome = await this.delivery.send(toEnvelope(reply), reply.replyTo.instanceId);
      if (outcome === 'orphaned') this.metrics.bridgeRepliesOrphaned.inc();
      else this.metrics.bridgeRepliesRouted.inc();
      acks.ack(message);
    } catch (error) {
      this.log.error('routing a job reply failed; requeued', { error });
      settle(() => ch.nack(message, false, true));
      acks.settled(message);
    }
  }

  private parse(message: ConsumeMessage): JobReply | string {
    if (message.content.length > this.maxReplyBytes) return `too_large: over ${this.maxReplyBytes} bytes`;
    const json = parseJson(message.content.toString('utf8'));
    if (json === undefined) return 'invalid_json';
    const parsed = v.safeParse(JobReplySchema, json);
    if (!parsed.success) {
      return `invalid_reply: ${describeIssue(parsed.issues[0])}`;
    }
    return parsed.output;
  }
}

function toEnvelope(reply: JobReply): RpcEnvelope {
  const { sessionId, requestId } = reply.replyTo;
  switch (reply.kind) {
    case 'result':
      return { kind: 'rpc', reply: 'result', sessionId, requestId, data: JSON.stringify(reply.result ?? null) };
    case 'progress':
      return { kind: 'rpc', reply: 'progress', sessionId, requestId, data: JSON.stringify(reply.data ?? null) };
    case 'error':
      return { kind: 'rpc', reply: 'error', sessionId, requestId, code: ErrorCode.JobFailed, message: reply.error.message };
  }
}

function settle(op: () => void): void {
  try {
    op();
  } catch {
    // The channel closed meanwhile: the broker redelivers; the session drops a settled repeat.
  }
}
