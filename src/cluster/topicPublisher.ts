/**
 * The one publish path, shared by the gateway's HTTP API, client `publish` frames and the
 * bridge: append to the topic's history, then look up the routes, then append one envelope
 * to the inbox of each instance that has subscribers.
 *
 * The order matters for gap-free recovery: history is written before routes are read, and
 * a subscribing instance adds its route before it reads history. Whatever a publisher's
 * route lookup misses is therefore already in history when the subscriber reads it (see
 * docs/architecture.md).
 */
import type { ClusterBackend } from './backend.ts';
import type { TopicMessageEnvelope } from '../protocol/envelope.ts';

export class TopicPublisher {
  constructor(private readonly backend: Pick<ClusterBackend, 'appendAndRoute' | 'inbox'>) {}

  /**
   * Publishes a value (encoded as JSON once, here); resolves with its offset. With a
   * `messageId` seen before (a redelivery), nothing is appended: the envelopes go out again
   * with the stored offset, and instances that had them drop the repeat.
   */
  publish(app: string, topic: string, data: unknown, messageId?: string): Promise<string> {
    return this.publishEncoded(app, topic, JSON.stringify(data), messageId);
  }

  /** Publishes a payload that is already JSON text. */
  async publishEncoded(app: string, topic: string, data: string, messageId?: string): Promise<string> {
    const { offset, prev, instances } = await this.backend.appendAndRoute(app, topic, data, messageId);
    if (instances.length > 0) {
      const envelope: TopicMessageEnvelope = { kind: 'message', app, topic, offset, prev, data };
      await this.backend.inbox.send(instances.map((instanceId) => ({ instanceId, envelope })));
    }
    return offset;
  }
}
