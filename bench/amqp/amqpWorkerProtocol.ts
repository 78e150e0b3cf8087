/**
 * The IPC contract between the harness and its AMQP load workers (bench/amqp/amqpWorker.ts),
 * over the channel of bench/core/workerIpc.ts: each worker plays one role per run (update
 * publisher, bare consumer, RPC clients over WebSocket, or bare RPC clients over AMQP), started
 * by a request of its own; the common requests (mark, stats, latency, stop) do the rest. Every
 * request is a valibot schema the worker safeParses; every reply type is keyed by the
 * request's `op`.
 */
import * as v from 'valibot';
import { workerRequestSchema, type CommonReplies, type WorkerStatsBase } from '../core/workerIpc.ts';

const count = v.pipe(v.number(), v.integer(), v.minValue(1));

/** Publishes updates to the updates exchange: persistent, with confirms. */
export const StartUpdatesSchema = v.object({
  op: v.literal('startUpdates'),
  amqpUrl: v.string(),
  exchange: v.string(),
  app: v.string(),
  /** Updates go to these topics round-robin. */
  topics: v.array(v.string()),
  /** Flood: keep `window` unconfirmed; paced: `ratePerSec`, each stamped with its send time. */
  mode: v.picklist(['flood', 'paced']),
  window: count,
  ratePerSec: v.pipe(v.number(), v.minValue(1)),
  payloadBytes: v.pipe(v.number(), v.integer(), v.minValue(0)),
  /** Prefix of each update's `id` (unique per run). */
  idPrefix: v.string(),
  /** Flood mode pauses while this queue holds more than `maxBacklog` ready updates. */
  queue: v.string(),
  maxBacklog: count,
});

/** Consumes a queue and acknowledges each message: the broker's own ceiling. */
export const StartBareConsumerSchema = v.object({
  op: v.literal('startBareConsumer'),
  amqpUrl: v.string(),
  queue: v.string(),
  prefetch: count,
  /** Parse each body and record publish-to-receipt latency of measured ones. */
  measureLatency: v.boolean(),
});

const RpcLoadSchema = {
  clients: count,
  method: v.string(),
  /** Window: each client keeps `window` jobs in flight; paced: `ratePerSec` over all clients. */
  mode: v.picklist(['window', 'paced']),
  window: count,
  ratePerSec: v.pipe(v.number(), v.minValue(1)),
  payloadBytes: v.pipe(v.number(), v.integer(), v.minValue(0)),
};

/** Jobs over WebSocket: `rpc` frames to the gateway, one session per client. */
export const StartRpcClientsSchema = v.object({ op: v.literal('startRpcClients'), wsUrl: v.string(), ...RpcLoadSchema });

/** Jobs straight to the jobs exchange, replies from a results queue: no gateway, bridge or Redis. */
export const StartBareRpcSchema = v.object({
  op: v.literal('startBareRpc'),
  amqpUrl: v.string(),
  /** AMQP_PREFIX of the run: jobs exchange and results queue. */
  prefix: v.string(),
  /** RPC_QUEUE_TYPE of the run: how the results queue is declared and whether jobs persist. */
  rpcQueueType: v.picklist(['classic', 'quorum']),
  prefetch: count,
  ...RpcLoadSchema,
});

/** Closes the worker's connections, before the harness stops it. */
export const CloseSchema = v.object({ op: v.literal('close') });

export const AmqpWorkerRequestSchema = workerRequestSchema([StartUpdatesSchema, StartBareConsumerSchema, StartRpcClientsSchema, StartBareRpcSchema, CloseSchema]);
export type AmqpWorkerRequest = v.InferOutput<typeof AmqpWorkerRequestSchema>;

/** Counters since the worker started; the harness takes differences between snapshots. */
export interface AmqpWorkerStats extends WorkerStatsBase {
  /** Updates or jobs sent, confirmed (or answered with a result), failed. */
  sent: number;
  done: number;
  failed: number;
  /** Sent while marked as measured. */
  measuredSent: number;
  /** Messages consumed and acknowledged (bare consumer). */
  consumed: number;
  /** Confirmed updates per topic, and measured updates sent per topic, in the request's topic order. */
  donePerTopic: number[];
  measuredPerTopic: number[];
}

/** `stop`: what is still unconfirmed or unanswered. */
export interface AmqpReplyMap extends CommonReplies<AmqpWorkerStats, { outstanding: number }> {
  startUpdates: Record<string, never>;
  startBareConsumer: Record<string, never>;
  startRpcClients: Record<string, never>;
  startBareRpc: Record<string, never>;
  close: Record<string, never>;
}
