/**
 * Envelopes: what one instance (or the bridge) appends to another instance's inbox.
 * `data` carries the message payload already encoded as JSON text, so that it is encoded
 * once at publish time and spliced into the client frame without parsing it again.
 */
import * as v from 'valibot';
import { AppIdSchema, MessageIdSchema, TopicSchema, UserIdSchema } from './names.ts';
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

/**
 * A direct message for every session of `user` on the receiving instance (precise delivery:
 * written only to the inboxes of instances that hold a session of the user). `prev` is the
 * ID of the user's message before this one: a receiver whose last delivered ID is below it
 * reads the messages in between from the user inbox first, so that sessions get a user's
 * messages in ID order even when two senders' inbox writes cross (Redis Cluster).
 */
export const DirectEnvelopeSchema = v.object({
  kind: v.literal('direct'),
  app: AppIdSchema,
  user: UserIdSchema,
  messageId: MessageIdSchema,
  prev: MessageIdSchema,
  /** The sending user; null for the server API and the bridge. */
  from: v.nullable(UserIdSchema),
  /** JSON text of the payload. */
  data: v.string(),
});
export type DirectEnvelope = v.InferOutput<typeof DirectEnvelopeSchema>;

// ---- presence (topic presence: docs/users.md, "Presence") ---------------------------------

/**
 * Users whose first session joined a topic's presence (`joined`) or whose last one left it
 * (`left`), sent to every instance routed for the topic. Written by the presence script (or
 * MemoryPresence) in the same step that changed the counts; the receiving hub turns each user
 * into a `join` or `leave` frame for the topic's local subscribers.
 */
export const PresenceEnvelopeSchema = v.object({
  kind: v.literal('presence'),
  app: AppIdSchema,
  topic: TopicSchema,
  joined: v.optional(v.array(v.string()), []),
  left: v.optional(v.array(v.string()), []),
});
export type PresenceEnvelope = v.InferOutput<typeof PresenceEnvelopeSchema>;

export const EnvelopeSchema = v.union([TopicMessageEnvelopeSchema, RpcEnvelopeSchema, DirectEnvelopeSchema, PresenceEnvelopeSchema]);
export type Envelope = v.InferOutput<typeof EnvelopeSchema>;
