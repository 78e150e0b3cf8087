/**
 * The broker's own ceiling: a bare amqplib consume-and-ack loop, with the bridge's channel
 * setup (a confirm channel, the same prefetch, manual acks one by one) and none of its work
 * (no parse, no Redis). In latency mode it parses each body for the send time the publisher
 * stamped, and records publish-to-receipt latency of the measured updates.
 */
import type { ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { nowMs } from '../clock.ts';
import { Histogram } from '../histogram.ts';
import { measuredSendTime } from '../payload.ts';

export class BareConsumer {
  consumed = 0;
  latency = new Histogram();

  private constructor(private readonly ch: ConfirmChannel, private readonly measureLatency: boolean) {}

  static async start(connection: ChannelModel, queue: string, prefetch: number, measureLatency: boolean): Promise<BareConsumer> {
    const ch = await connection.createConfirmChannel();
    await ch.prefetch(prefetch);
    const consumer = new BareConsumer(ch, measureLatency);
    await ch.consume(queue, (message) => {
      if (message) consumer.handle(message);
    });
    return consumer;
  }

  private handle(message: ConsumeMessage): void {
    if (this.measureLatency) {
      const receivedAt = nowMs();
      const sentAt = measuredSendTime(message.content.toString('utf8'));
      if (sentAt !== undefined) this.latency.record(receivedAt - sentAt);
    }
    this.consumed += 1;
    this.ch.ack(message);
  }
}
