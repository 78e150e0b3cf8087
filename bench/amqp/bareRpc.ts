/**
 * The RpcTransport of the RPC baseline: the broker and the worker SDK alone. Jobs go straight
 * to the jobs exchange as the gateway publishes them (src/amqp/amqpJobPublisher.ts: the same
 * JSON, properties, `mandatory`, persistent only on quorum RPC queues, on a confirm channel), and replies are consumed
 * from the results queue as the bridge does (same prefetch, one ack per reply). No gateway,
 * no Redis, no bridge: what Switchyard adds to a job's round trip is the difference.
 */
import * as amqp from 'amqplib';
import type { Job } from '../../src/protocol/job.ts';
import { amqpNames, declareJobs, type AmqpNames, type RpcQueueType } from '../../src/amqp/topology.ts';
import type { RpcTransport } from './rpcDriver.ts';

/** The job's client, as sessionId `bare-<n>`: the reply names it, so no lookup table is needed. */
const SESSION_PREFIX = 'bare-';
const JOB_TIMEOUT_MS = 30_000;

export class BareRpc implements RpcTransport {
  onReply: (client: number, requestId: string, ok: boolean) => void = () => {};
  unexpectedCloses = 0;
  private closing = false;

  private constructor(
    private readonly connection: amqp.ChannelModel,
    private readonly publishCh: amqp.ConfirmChannel,
    private readonly names: AmqpNames,
    readonly clients: number,
    private readonly method: string,
  ) {
    connection.on('close', () => {
      if (!this.closing) this.unexpectedCloses += 1;
    });
    // A returned job (no queue bound for its method) fails, as `no_such_method` does through the gateway.
    publishCh.on('return', (message: amqp.Message) => this.receive(message.content, true));
  }

  static async open(url: string, prefix: string, rpcQueueType: RpcQueueType, prefetch: number, clients: number, method: string): Promise<BareRpc> {
    const connection = await amqp.connect(url);
    const names = amqpNames(prefix, rpcQueueType);
    const publishCh = await connection.createConfirmChannel();
    await declareJobs(publishCh, names);
    const transport = new BareRpc(connection, publishCh, names, clients, method);
    const consumeCh = await connection.createConfirmChannel();
    await consumeCh.prefetch(prefetch);
    await consumeCh.consume(names.resultsQueue, (message) => {
      if (!message) return;
      transport.receive(message.content);
      consumeCh.ack(message);
    });
    return transport;
  }

  send(client: number, requestId: string, params: string): void {
    const jobId = crypto.randomUUID();
    const deadlineMs = Date.now() + JOB_TIMEOUT_MS;
    const job: Job = {
      v: 1,
      jobId,
      method: this.method,
      params: JSON.parse(params) as unknown,
      app: 'demo',
      userId: null,
      deadlineMs,
      replyTo: { sessionId: `${SESSION_PREFIX}${client}`, requestId, instanceId: 'bare' },
    };
    this.publishCh.publish(
      this.names.jobsExchange,
      this.method,
      Buffer.from(JSON.stringify(job)),
      {
        mandatory: true,
        persistent: this.names.rpcQueueType === 'quorum',
        messageId: jobId,
        correlationId: jobId,
        replyTo: this.names.resultsQueue,
        contentType: 'application/json',
        expiration: String(JOB_TIMEOUT_MS),
      },
      (error) => {
        if (error) this.onReply(client, requestId, false);
      },
    );
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.connection.close().catch(() => {});
  }

  /** A reply from the results queue, or (`returned`) a job the broker could not route: both carry `replyTo`. */
  private receive(content: Buffer, returned = false): void {
    const body = JSON.parse(content.toString('utf8')) as { kind?: unknown; replyTo?: { sessionId?: unknown; requestId?: unknown } };
    const sessionId = body.replyTo?.sessionId;
    const requestId = body.replyTo?.requestId;
    if (typeof sessionId !== 'string' || typeof requestId !== 'string' || !sessionId.startsWith(SESSION_PREFIX)) return;
    // Progress is not final; the trivial worker sends none.
    if (body.kind === 'progress') return;
    this.onReply(Number(sessionId.slice(SESSION_PREFIX.length)), requestId, !returned && body.kind === 'result');
  }
}
