/**
 * Publishes updates to the updates exchange on a confirm channel, as a data-center producer
 * would: the gateway's delivery probe uses it to send a probe through RabbitMQ and the bridge
 * (docs/operations.md). Resolves once the broker confirmed the update.
 */
import type { Update } from '../protocol/update.ts';
import type { AmqpConnection, ConfirmChannel } from './connection.ts';
import type { AmqpNames } from './topology.ts';

export class AmqpUpdatePublisher {
  private channel: ConfirmChannel | null = null;

  constructor(connection: AmqpConnection, private readonly names: AmqpNames) {
    connection.onSetup(async (model) => {
      const ch = await model.createConfirmChannel();
      // The exchange only, as a producer declares it (docs/bridge.md): the bridge declares its
      // queue. Without a bridge ever run, nothing is bound and the probes are dropped, instead
      // of piling up in a queue nobody reads.
      await ch.assertExchange(names.updatesExchange, 'topic', { durable: true });
      ch.on('close', () => {
        if (this.channel === ch) this.channel = null;
      });
      this.channel = ch;
    });
  }

  /** `expiresInMs`: the broker drops the update if no consumer took it by then (a probe nobody waits for any more). */
  publish(update: Update, expiresInMs?: number): Promise<void> {
    const ch = this.channel;
    if (!ch) return Promise.reject(new Error('updates channel not connected'));
    return new Promise((resolve, reject) => {
      ch.publish(this.names.updatesExchange, `${update.app}.${update.topic}`, Buffer.from(JSON.stringify(update)), { contentType: 'application/json', ...(expiresInMs ? { expiration: String(expiresInMs) } : {}) }, (error) =>
        error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(),
      );
    });
  }
}
