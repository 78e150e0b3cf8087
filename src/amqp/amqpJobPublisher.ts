/**
 * Publishes jobs to the jobs exchange on a confirm channel, `mandatory`: a job whose method
 * has no queue bound comes back (basic.return, which the broker sends before the confirm),
 * so the gateway answers `no_such_method` instead of letting the client wait. Jobs carry
 * a per-message TTL up to their deadline: the broker drops what nobody waits for any more.
 * They are persistent only on quorum RPC queues (see topology.ts).
 */
import type { Job } from '../protocol/job.ts';
import type { JobPublisher, PublishOutcome } from '../rpc/jobs.ts';
import type { AmqpConnection, ConfirmChannel } from './connection.ts';
import { declareJobs, type AmqpNames } from './topology.ts';

export class AmqpJobPublisher implements JobPublisher {
  private channel: ConfirmChannel | null = null;
  private readonly returned = new Set<string>();

  constructor(connection: AmqpConnection, private readonly names: AmqpNames) {
    connection.onSetup(async (model) => {
      const ch = await model.createConfirmChannel();
      await declareJobs(ch, names);
      ch.on('return', (message) => {
        const id = message.properties.messageId;
        if (typeof id === 'string') this.returned.add(id);
      });
      ch.on('close', () => {
        if (this.channel === ch) this.channel = null;
      });
      this.channel = ch;
    });
  }

  isReady(): boolean {
    return this.channel !== null;
  }

  publish(job: Job): Promise<PublishOutcome> {
    const ch = this.channel;
    if (!ch) return Promise.reject(new Error('job channel not connected'));
    const ttl = Math.max(1, job.deadlineMs - Date.now());
    return new Promise((resolve, reject) => {
      ch.publish(
        this.names.jobsExchange,
        job.method,
        Buffer.from(JSON.stringify(job)),
        {
          mandatory: true,
          persistent: this.names.rpcQueueType === 'quorum',
          messageId: job.jobId,
          correlationId: job.jobId,
          replyTo: this.names.resultsQueue,
          contentType: 'application/json',
          expiration: String(ttl),
        },
        (error) => {
          if (error) return reject(error instanceof Error ? error : new Error(String(error)));
          resolve(this.returned.delete(job.jobId) ? 'no_such_method' : 'accepted');
        },
      );
    });
  }
}
