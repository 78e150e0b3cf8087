/**
 * The IPC contract between the harness (bench/run.ts) and its load workers
 * (bench/loadWorker.ts), over the channel of bench/core/workerIpc.ts: the common requests
 * (mark, stats, latency, stop) and a subscriber's and a publisher's own. Every request is a
 * valibot schema the worker safeParses, and every reply type is keyed by the request's `op`.
 */
import * as v from 'valibot';
import { workerRequestSchema, type CommonReplies, type WorkerStatsBase } from './core/workerIpc.ts';

/** What a subscriber's server speaks: Switchyard's frames (also the baseline's) or Socket.IO. */
export const DialectSchema = v.picklist(['switchyard', 'socket.io']);
export type Dialect = v.InferOutput<typeof DialectSchema>;

/** Opens one session per topic and subscribes it; resolves when every ack is in. */
export const OpenSubscribersSchema = v.object({
  op: v.literal('openSubscribers'),
  url: v.string(),
  topics: v.array(v.string()),
  /** Sessions being opened at once by this worker; bounds the connection storm. */
  concurrency: v.pipe(v.number(), v.integer(), v.minValue(1)),
  /** Parse every message and record its latency (otherwise messages are only counted). */
  measureLatency: v.boolean(),
  /** What the server speaks; Switchyard's frames when absent. */
  dialect: v.optional(DialectSchema),
});

/**
 * Where a publisher sends: a ws:// URL opens a WebSocket session and sends publish frames; an
 * http:// URL is a server's HTTP publish API (POST {"topic","data"}, with `authorization` as
 * the Authorization header when given).
 */
const PublishTarget = {
  url: v.string(),
  authorization: v.optional(v.string()),
};

/** Publishes as fast as acks come back, with at most `window` publishes unacknowledged. */
export const StartFloodSchema = v.object({
  op: v.literal('startFlood'),
  ...PublishTarget,
  topic: v.string(),
  window: v.pipe(v.number(), v.integer(), v.minValue(1)),
  payloadBytes: v.pipe(v.number(), v.integer(), v.minValue(0)),
  /** Publish `payloadBytes` random bytes as binary messages (protocol/binary.ts) instead of JSON. */
  binary: v.optional(v.boolean()),
  /**
   * Publish only up to the count the harness grants with `credit` (none before the first):
   * flow control by deliveries, for payloads whose backlog would otherwise fill the servers'
   * send buffers (see scenarios/binaryFanout.ts).
   */
  credited: v.optional(v.boolean()),
});

/** A credited flood publisher may send until it has published `upTo` messages in all. */
export const CreditSchema = v.object({
  op: v.literal('credit'),
  upTo: v.pipe(v.number(), v.integer(), v.minValue(0)),
});

/** Publishes at a fixed rate, each message stamped with its send time. */
export const StartPacedSchema = v.object({
  op: v.literal('startPaced'),
  ...PublishTarget,
  topic: v.string(),
  ratePerSec: v.pipe(v.number(), v.minValue(1)),
  payloadBytes: v.pipe(v.number(), v.integer(), v.minValue(0)),
});

/** `mark` marks the paced publisher's sends; `stop` stops the publisher and waits for its acks. */
export const WorkerRequestSchema = workerRequestSchema([OpenSubscribersSchema, StartFloodSchema, StartPacedSchema, CreditSchema]);
export type WorkerRequest = v.InferOutput<typeof WorkerRequestSchema>;

/** Counters since the worker started; the harness takes differences between snapshots. */
export interface WorkerStats extends WorkerStatsBase {
  /** Message frames received, over all of this worker's subscriber sessions. */
  received: number;
  /** Publishes sent / acknowledged / answered with an error, over this worker's publisher. */
  published: number;
  acked: number;
  publishErrors: number;
  /** Publishes sent while marked as measured, and of those, acknowledged. */
  measuredPublished: number;
  /** Error frames received other than publish errors. */
  errorFrames: number;
}

/** `stop`: the publisher's acknowledged publishes, and those it stopped waiting for. */
export interface ReplyMap extends CommonReplies<WorkerStats, { acked: number; outstanding: number }> {
  openSubscribers: { opened: number; elapsedMs: number };
  startFlood: Record<string, never>;
  startPaced: Record<string, never>;
  credit: Record<string, never>;
}
