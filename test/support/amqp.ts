/**
 * Real RabbitMQ for tests. Every test file names its exchanges and queues under its own
 * prefix, so runs never collide, and deletes them afterwards. No test silently passes
 * without RabbitMQ: requireRabbit() fails with instructions (`bun run test` starts it).
 */
import * as amqp from 'amqplib';
import { amqpNames, deleteTopology, REASON_HEADER, type AmqpNames } from '../../src/amqp/topology.ts';

export const AMQP_URL = process.env.AMQP_TEST_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** A prefix unique to this run and purpose, e.g. `t.bridge.k3j2x`. */
export function uniqueAmqpPrefix(purpose: string): string {
  return `t.${purpose}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

export async function requireRabbit(url = AMQP_URL): Promise<void> {
  try {
    const c = await amqp.connect(url);
    await c.close();
  } catch (error) {
    throw new Error(`RabbitMQ is required at ${url} (run the suite with \`bun run test\`, which starts it; install with \`sudo apt-get install -y rabbitmq-server\`): ${String(error)}`);
  }
}

/** A producer/inspector connection for tests: publish updates, read the dead-letter queue, clean up. */
export class TestBroker {
  readonly names: AmqpNames;
  private constructor(private readonly conn: amqp.ChannelModel, private readonly ch: amqp.ConfirmChannel, prefix: string) {
    this.names = amqpNames(prefix);
  }

  static async open(prefix: string, url = AMQP_URL): Promise<TestBroker> {
    const conn = await amqp.connect(url);
    const ch = await conn.createConfirmChannel();
    return new TestBroker(conn, ch, prefix);
  }

  /** Publishes raw bytes to the updates exchange and waits for the broker's confirm. */
  publishRaw(body: string | Buffer, options: amqp.Options.Publish = {}, routingKey = 'test'): Promise<void> {
    return new Promise((resolve, reject) =>
      this.ch.publish(this.names.updatesExchange, routingKey, typeof body === 'string' ? Buffer.from(body) : body, { persistent: true, ...options }, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  }

  publishUpdate(update: { app: string; topic: string; data: unknown; id?: string }, options: amqp.Options.Publish = {}): Promise<void> {
    return this.publishRaw(JSON.stringify(update), options, `${update.app}.${update.topic}`);
  }

  /** Every message in the dead-letter queue now, with its reason header. */
  async drainDead(): Promise<{ body: string; reason: string }[]> {
    const out: { body: string; reason: string }[] = [];
    for (;;) {
      const m = await this.ch.get(this.names.deadQueue, { noAck: true });
      if (!m) return out;
      out.push({ body: m.content.toString(), reason: String(m.properties.headers?.[REASON_HEADER] ?? '') });
    }
  }

  async queueDepth(queue: string): Promise<number> {
    return (await this.ch.checkQueue(queue)).messageCount;
  }

  /** Deletes everything under the prefix (job queues of the given methods too). */
  async cleanup(methods: string[] = []): Promise<void> {
    await deleteTopology(this.ch, this.names, methods).catch(() => {});
    await this.conn.close().catch(() => {});
  }
}
