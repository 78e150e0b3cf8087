/**
 * Publishes one value, as the gateway's HTTP API and client `publish` frames do: the value
 * is encoded as JSON once, here (bytes, for a binary message, go as they are), and published through the broker (see Broker.publish for
 * the order that gap-free recovery relies on). The bridge, whose updates are JSON text
 * already and come in batches, calls Broker.publish itself.
 */
import type { Payload } from '../protocol/envelope.ts';
import type { Broker } from './broker.ts';

export class TopicPublisher {
  constructor(private readonly broker: Pick<Broker, 'publish'>) {}

  /** Publishes a value; resolves with its offset. */
  publish(app: string, topic: string, data: unknown): Promise<string> {
    return this.publishPayload(app, topic, JSON.stringify(data));
  }

  /** Publishes data encoded already: JSON text, or bytes (a binary message); resolves with its offset. */
  async publishPayload(app: string, topic: string, data: Payload): Promise<string> {
    const [published] = await this.broker.publish([{ app, topic, items: [{ data }] }]);
    return published![0]!.offset;
  }
}
