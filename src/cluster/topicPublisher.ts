/**
 * Publishes one value, as the gateway's HTTP API and client `publish` frames do: the value
 * is encoded as JSON once, here, and published through the broker (see Broker.publish for
 * the order that gap-free recovery relies on). The bridge, whose updates are JSON text
 * already and come in batches, calls Broker.publish itself.
 */
import type { Broker } from './broker.ts';

export class TopicPublisher {
  constructor(private readonly broker: Pick<Broker, 'publish'>) {}

  /** Publishes a value; resolves with its offset. */
  async publish(app: string, topic: string, data: unknown): Promise<string> {
    const [published] = await this.broker.publish([{ app, topic, items: [{ data: JSON.stringify(data) }] }]);
    return published![0]!.offset;
  }
}
