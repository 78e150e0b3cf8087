/**
 * The two ends of the bridge scenarios. The consuming side, for either server kind:
 *
 * - switchyard: the bridge process and a gateway process (Redis backend), with WebSocket
 *   subscribers (bench/loadWorker.ts) spread round-robin over the topics: updates travel
 *   AMQP -> bridge -> Redis (history + inbox) -> gateway -> clients;
 * - baseline: a bare amqplib consumer on the same kind of queue, declared by the same code
 *   (src/amqp/topology.ts declareUpdates), with the same prefetch.
 *
 * And the producing side, the same for both: an update publisher in a worker of its own.
 */
import type { ServerKind } from '../servers.ts';
import type { BenchOptions } from '../options.ts';
import type { LoadWorker } from '../workerPool.ts';
import type { AmqpLoadWorker } from './amqpWorkerPool.ts';
import type { IpcRequestFor } from '../core/workerIpc.ts';
import type { AmqpWorkerRequest } from './amqpWorkerProtocol.ts';
import type { AmqpRound } from './round.ts';
import { AMQP_URL } from './services.ts';
import { bridgeCounters } from './stackMeasure.ts';

const OPEN_TIMEOUT_MS = 60_000;
const STATS_TIMEOUT_MS = 10_000;
const CONSUMER_TIMEOUT_MS = 15_000;

export interface UpdatePath {
  topics: string[];
  /** WebSocket subscribers of each topic (none on the baseline). */
  subscribersPerTopic: number[];
  subscriberWorkers: LoadWorker[];
  /** The bridge's metrics port, on the Switchyard path. */
  bridgePort?: number;
  /** The bare consumer, on the baseline. */
  bareConsumer: AmqpLoadWorker | null;
  /** Updates taken off the queue for good so far: stored by the bridge, or acknowledged by the bare consumer. */
  consumed(): Promise<number>;
  /** Message frames the subscribers have received so far. */
  delivered(): Promise<number>;
}

function benchTopics(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `bench.amqp.${i}`);
}

export async function openUpdatePath(kind: ServerKind, round: AmqpRound, o: BenchOptions, measureLatency: boolean): Promise<UpdatePath> {
  const topics = benchTopics(o.bridgeTopics);
  if (kind === 'baseline') {
    await round.admin.declareUpdates(round.names);
    const bare = round.amqpWorker('bare-consumer');
    await bare.request({ op: 'startBareConsumer', amqpUrl: AMQP_URL, queue: round.names.updatesQueue, prefetch: o.amqpPrefetch, measureLatency }, CONSUMER_TIMEOUT_MS);
    await round.admin.waitForConsumer(round.names.updatesQueue, CONSUMER_TIMEOUT_MS);
    return {
      topics,
      subscribersPerTopic: topics.map(() => 0),
      subscriberWorkers: [],
      bareConsumer: bare,
      consumed: async () => (await bare.request({ op: 'stats' }, STATS_TIMEOUT_MS)).consumed,
      delivered: async () => 0,
    };
  }
  const bridge = await round.startBridge(o.amqpPrefetch);
  const gateway = await round.startGateway();
  // The bridge is ready once connected; it consumes once its setup hook has run.
  await round.admin.waitForConsumer(round.names.updatesQueue, CONSUMER_TIMEOUT_MS);
  const [subscribers] = round.subscribers(1) as [LoadWorker];
  const sessions = Array.from({ length: o.bridgeSubscribers }, (_, i) => topics[i % topics.length]!);
  await subscribers.request(
    { op: 'openSubscribers', url: `ws://127.0.0.1:${gateway.port}/ws?app=demo`, topics: sessions, concurrency: o.openConcurrency, measureLatency },
    OPEN_TIMEOUT_MS,
  );
  return {
    topics,
    subscribersPerTopic: topics.map((t) => sessions.filter((s) => s === t).length),
    subscriberWorkers: [subscribers],
    bridgePort: bridge.port,
    bareConsumer: null,
    consumed: async () => (await bridgeCounters(bridge.port)).stored,
    delivered: async () => (await subscribers.request({ op: 'stats' }, STATS_TIMEOUT_MS)).received,
  };
}

/** Deliveries the subscribers should see for `perTopic` updates published to each topic. */
export function expectedDeliveries(path: UpdatePath, perTopic: readonly number[]): number {
  return perTopic.reduce((sum, n, t) => sum + n * (path.subscribersPerTopic[t] ?? 0), 0);
}

/** How the publisher sends: flood (`window` unconfirmed and `maxBacklog` queued at most) or paced (`ratePerSec`). */
export type UpdateLoad = Pick<IpcRequestFor<AmqpWorkerRequest, 'startUpdates'>, 'mode' | 'window' | 'ratePerSec' | 'maxBacklog'>;

/** Starts the round's update publisher: updates of the `demo` app to the path's topics, round-robin. */
export async function startUpdatePublisher(round: AmqpRound, path: UpdatePath, load: UpdateLoad, payloadBytes: number): Promise<AmqpLoadWorker> {
  const publisher = round.amqpWorker('publisher');
  await publisher.request(
    {
      op: 'startUpdates',
      amqpUrl: AMQP_URL,
      exchange: round.names.updatesExchange,
      app: 'demo',
      topics: path.topics,
      ...load,
      payloadBytes,
      idPrefix: round.ns.amqpPrefix,
      queue: round.names.updatesQueue,
    },
    10_000,
  );
  return publisher;
}
