/**
 * The one publish path, shared by the gateway's HTTP API, client `publish` frames and the
 * bridge: values are encoded as JSON once, here, and handed to the backend, which appends
 * them to the topic's history and to the inboxes of the instances with subscribers (see
 * ClusterBackend.publish for the order that gap-free recovery relies on).
 */
import type { ClusterBackend, TopicBatch } from './backend.ts';

export class TopicPublisher {
  constructor(private readonly backend: Pick<ClusterBackend, 'publish' | 'store'>) {}

  /**
   * Publishes a value; resolves with its offset. With a `messageId` seen before (a
   * redelivery), nothing is appended and the stored offset is answered.
   */
  async publish(app: string, topic: string, data: unknown, messageId?: string): Promise<string> {
    const [published] = await this.backend.publish([{ app, topic, items: [{ data: JSON.stringify(data), messageId }] }]);
    return published![0]!.offset;
  }

  /**
   * Publishes payloads that are already JSON text: per topic in order, all in one go,
   * without offsets (the bridge needs none). Resolves per batch with null (stored) or the
   * error that batch failed with (see ClusterBackend.store).
   */
  store(batches: readonly TopicBatch[]): Promise<(string | null)[]> {
    return this.backend.store(batches);
  }
}
