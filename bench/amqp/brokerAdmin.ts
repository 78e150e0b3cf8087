/**
 * The harness's own view of the broker: declares the topology a baseline round consumes from
 * (the very declarations of src/amqp/topology.ts, so the bare consumer reads the same kind of
 * queue as the bridge), reads queue depths and consumer counts, and waits for a consumer to
 * attach. One connection per round.
 */
import * as amqp from 'amqplib';
import { declareJobQueue, declareJobs, declareUpdates, type AmqpNames } from '../../src/amqp/topology.ts';
import { sleep } from '../clock.ts';
import { AMQP_URL } from './services.ts';

export interface QueueInfo {
  /** Ready messages (the backlog). */
  messages: number;
  consumers: number;
}

export class BrokerAdmin {
  private constructor(private readonly connection: amqp.ChannelModel, private ch: amqp.Channel) {}

  static async open(): Promise<BrokerAdmin> {
    const connection = await amqp.connect(AMQP_URL);
    return new BrokerAdmin(connection, await connection.createChannel());
  }

  /** The updates exchange and quorum queue (single active consumer, dead-lettering), as the bridge declares them. */
  declareUpdates(names: AmqpNames): Promise<void> {
    return declareUpdates(this.ch, names);
  }

  /** The jobs exchange, the results queue and a method's job queue, as the gateway, bridge and worker declare them. */
  async declareJobs(names: AmqpNames, method: string): Promise<void> {
    await declareJobs(this.ch, names);
    await declareJobQueue(this.ch, names, method);
  }

  /** A missing queue closes the channel (404); a fresh one is opened for the next call. */
  async queueInfo(queue: string): Promise<QueueInfo> {
    try {
      const ok = await this.ch.checkQueue(queue);
      return { messages: ok.messageCount, consumers: ok.consumerCount };
    } catch (error) {
      this.ch = await this.connection.createChannel();
      throw error;
    }
  }

  async waitForConsumer(queue: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = await this.queueInfo(queue).catch(() => null);
      if (info && info.consumers > 0) return;
      if (Date.now() > deadline) throw new Error(`no consumer on ${queue} after ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  async close(): Promise<void> {
    await this.connection.close().catch(() => {});
  }
}
