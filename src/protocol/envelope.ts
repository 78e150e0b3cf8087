/**
 * Envelopes: what one instance (or the bridge) appends to another instance's inbox.
 * `data` carries the message payload already encoded as JSON text, so that it is encoded
 * once at publish time and spliced into the client frame without parsing it again.
 */
import * as v from 'valibot';
import { AppIdSchema, TopicSchema } from './names.ts';
import { OffsetSchema } from './offset.ts';

export const TopicMessageEnvelopeSchema = v.object({
  kind: v.literal('message'),
  app: AppIdSchema,
  topic: TopicSchema,
  offset: OffsetSchema,
  /** Offset of the topic's previous message: lets the receiver see a gap and fill it from history. */
  prev: OffsetSchema,
  /** JSON text of the payload. */
  data: v.string(),
  /**
   * When it was published (ms since the epoch, the publisher's clock): the receiver's
   * publish-to-delivery latency metric. Absent from entries written before it existed.
   */
  ts: v.optional(v.number()),
});
export type TopicMessageEnvelope = v.InferOutput<typeof TopicMessageEnvelopeSchema>;

/**
 * A job reply for one session: result, progress or error, for request `requestId`.
 * `reply` is the reply's kind, with the values of a worker's JobReply `kind` (the envelope's
 * own `kind` says what sort of envelope it is). `data` is JSON text (result or progress payload).
 */
export const RpcEnvelopeSchema = v.variant('reply', [
  v.object({ kind: v.literal('rpc'), reply: v.literal('result'), sessionId: v.string(), requestId: v.string(), data: v.string() }),
  v.object({ kind: v.literal('rpc'), reply: v.literal('progress'), sessionId: v.string(), requestId: v.string(), data: v.string() }),
  v.object({
    kind: v.literal('rpc'),
    reply: v.literal('error'),
    sessionId: v.string(),
    requestId: v.string(),
    code: v.string(),
    message: v.string(),
  }),
]);
export type RpcEnvelope = v.InferOutput<typeof RpcEnvelopeSchema>;

export const EnvelopeSchema = v.union([TopicMessageEnvelopeSchema, RpcEnvelopeSchema]);
export type Envelope = v.InferOutput<typeof EnvelopeSchema>;
