/**
 * Wire protocol v1: every JSON text frame a client and the gateway exchange. The field names
 * and types here are the public contract documented in docs/protocol.md.
 */
import * as v from 'valibot';
import type { ErrorCode } from './codes.ts';
import { MethodSchema } from './job.ts';
import { MAX_PRESENCE_USERS, MessageIdSchema, RequestIdSchema, TopicSchema, UserIdSchema } from './names.ts';
import { OffsetSchema } from './offset.ts';
import { describeIssue } from './issues.ts';

/**
 * An object keyed by topic (`since`, `recovered`, `offsets`), read into a Map. Not v.record,
 * which drops the keys `__proto__`, `constructor` and `prototype` (valid topics all) and
 * builds a plain object, where a lookup of `toString` finds Object.prototype's. Topics never
 * become keys of a plain object: encoders write them with Object.fromEntries.
 */
function topicMapSchema<T>(value: v.GenericSchema<unknown, T>) {
  return v.pipe(
    v.custom<object>((input) => typeof input === 'object' && input !== null && !Array.isArray(input), 'an object keyed by topic'),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const out = new Map<string, T>();
      // Own keys only; JSON.parse makes `"__proto__"` an own key like any other.
      for (const [key, item] of Object.entries(dataset.value)) {
        const topic = v.safeParse(TopicSchema, key);
        if (!topic.success) {
          addIssue({ message: `${JSON.stringify(key.slice(0, 64))}: ${topic.issues[0].message}` });
          return NEVER;
        }
        const parsed = v.safeParse(value, item);
        if (!parsed.success) {
          addIssue({ message: `${key}: ${describeIssue(parsed.issues[0])}` });
          return NEVER;
        }
        out.set(key, parsed.output);
      }
      return out;
    }),
  );
}

// ---- client -> server -------------------------------------------------------------------

const TopicListSchema = v.pipe(v.array(TopicSchema), v.minLength(1, 'topics: at least one'));

export const SubscribeFrameSchema = v.object({
  type: v.literal('subscribe'),
  id: RequestIdSchema,
  topics: TopicListSchema,
  /**
   * Per topic, the position to resume from: the last offset the client has seen, or the
   * position an earlier subscribe ack gave; replay everything after it.
   */
  since: v.optional(topicMapSchema(OffsetSchema)),
});
export type SubscribeFrame = v.InferOutput<typeof SubscribeFrameSchema>;

export const UnsubscribeFrameSchema = v.object({
  type: v.literal('unsubscribe'),
  id: RequestIdSchema,
  topics: TopicListSchema,
});
export type UnsubscribeFrame = v.InferOutput<typeof UnsubscribeFrameSchema>;

export const PublishFrameSchema = v.object({
  type: v.literal('publish'),
  id: RequestIdSchema,
  topic: TopicSchema,
  data: v.unknown(),
});
export type PublishFrame = v.InferOutput<typeof PublishFrameSchema>;

export const PingFrameSchema = v.object({
  type: v.literal('ping'),
  id: RequestIdSchema,
});
export type PingFrame = v.InferOutput<typeof PingFrameSchema>;

export const RpcFrameSchema = v.object({
  type: v.literal('rpc'),
  id: RequestIdSchema,
  method: MethodSchema,
  params: v.optional(v.unknown()),
  /** How long the client waits for the result. @default 30000 */
  timeoutMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
});
export type RpcFrame = v.InferOutput<typeof RpcFrameSchema>;

// ---- security (docs/security.md) ----
/** Compact JWTs are short; this bounds what a refresh makes the server parse. */
const MAX_TOKEN_CHARS = 8192;

/** A fresh client token for the session: same `sub`; its permissions and expiry replace the old. */
export const RefreshFrameSchema = v.object({
  type: v.literal('refresh'),
  id: RequestIdSchema,
  token: v.pipe(v.string(), v.minLength(1, 'token: a JWT'), v.maxLength(MAX_TOKEN_CHARS, `token: at most ${MAX_TOKEN_CHARS} characters`)),
});
export type RefreshFrame = v.InferOutput<typeof RefreshFrameSchema>;
// ---- client -> server: users (direct messages, user presence) ----------------------------

/** A direct message to every session of user `to` (and to its user inbox until confirmed). */
export const SendFrameSchema = v.object({
  type: v.literal('send'),
  id: RequestIdSchema,
  to: UserIdSchema,
  data: v.nonOptional(v.unknown(), 'data: required'),
});
export type SendFrame = v.InferOutput<typeof SendFrameSchema>;

/** Confirms every direct message of the session's user up to and including `upTo`, for all its devices. */
export const ReceivedFrameSchema = v.object({
  type: v.literal('received'),
  id: RequestIdSchema,
  upTo: MessageIdSchema,
});
export type ReceivedFrame = v.InferOutput<typeof ReceivedFrameSchema>;

/** User status: which of `users` have a session in the cluster. */
export const UserPresenceFrameSchema = v.object({
  type: v.literal('presence'),
  id: RequestIdSchema,
  users: v.pipe(
    v.array(UserIdSchema),
    v.minLength(1, 'users: at least one'),
    v.maxLength(MAX_PRESENCE_USERS, `users: at most ${MAX_PRESENCE_USERS} per request`),
  ),
});
export type UserPresenceFrame = v.InferOutput<typeof UserPresenceFrameSchema>;

// Topic presence (docs/users.md, "Presence"): who is subscribed to a presence topic.
export const TopicPresenceFrameSchema = v.object({
  type: v.literal('presence'),
  id: RequestIdSchema,
  topic: TopicSchema,
});
export type TopicPresenceFrame = v.InferOutput<typeof TopicPresenceFrameSchema>;

/**
 * `presence` asks one of two things: who is on a topic (`topic`, docs/users.md "Presence") or
 * which users are online (`users`, user status). parseClientFrame picks the form by the field
 * the frame has, so that an error names that form's problem.
 */
export const PresenceFrameSchema = v.union([TopicPresenceFrameSchema, UserPresenceFrameSchema]);
export type PresenceFrame = v.InferOutput<typeof PresenceFrameSchema>;

export const ClientFrameSchema = v.variant('type', [
  SubscribeFrameSchema,
  UnsubscribeFrameSchema,
  PublishFrameSchema,
  PingFrameSchema,
  RpcFrameSchema,
  RefreshFrameSchema,
  SendFrameSchema,
  ReceivedFrameSchema,
  // The two forms of `presence` (see PresenceFrameSchema): a variant tries each option whose type matches.
  TopicPresenceFrameSchema,
  UserPresenceFrameSchema,
]);
export type ClientFrame = v.InferOutput<typeof ClientFrameSchema>;

const CLIENT_FRAME_SCHEMAS = {
  subscribe: SubscribeFrameSchema,
  unsubscribe: UnsubscribeFrameSchema,
  publish: PublishFrameSchema,
  ping: PingFrameSchema,
  rpc: RpcFrameSchema,
  refresh: RefreshFrameSchema,
  send: SendFrameSchema,
  received: ReceivedFrameSchema,
  presence: PresenceFrameSchema,
} as const;

export type ClientFrameResult = { ok: true; frame: ClientFrame } | { ok: false; issue: string };

/**
 * Validates a parsed client frame: the same verdict as ClientFrameSchema, but the schema is
 * picked by `type` first instead of being tried in turn (this runs for every frame).
 */
export function parseClientFrame(json: unknown): ClientFrameResult {
  const type = typeof json === 'object' && json !== null ? (json as { type?: unknown }).type : undefined;
  let schema: v.GenericSchema<unknown, ClientFrame> | null =
    typeof type === 'string' && Object.hasOwn(CLIENT_FRAME_SCHEMAS, type) ? CLIENT_FRAME_SCHEMAS[type as keyof typeof CLIENT_FRAME_SCHEMAS] : null;
  if (type === 'presence') {
    const has = (key: string) => Object.hasOwn(json as object, key);
    if (!has('topic') && !has('users')) return { ok: false, issue: 'presence: topic (who is on a topic) or users (user status) required' };
    schema = has('topic') ? TopicPresenceFrameSchema : UserPresenceFrameSchema;
  }
  if (!schema) {
    const what = typeof json !== 'object' || json === null ? 'a JSON object' : `type: one of ${Object.keys(CLIENT_FRAME_SCHEMAS).join(', ')}`;
    return { ok: false, issue: `expected ${what}` };
  }
  const parsed = v.safeParse(schema, json);
  if (parsed.success) return { ok: true, frame: parsed.output };
  return { ok: false, issue: describeIssue(parsed.issues[0]) };
}

// ---- server -> client -------------------------------------------------------------------

export const WelcomeFrameSchema = v.object({
  type: v.literal('welcome'),
  sessionId: v.string(),
  instanceId: v.string(),
  userId: v.nullable(v.string()),
  /** Pass as `resume` when reconnecting to get the results of jobs started before. */
  resumeToken: v.optional(v.string()),
  /** Present when the connection asked to resume: whether it did. */
  resumed: v.optional(v.boolean()),
  /**
   * Sessions of a user in an app that allows direct messages: the user inbox. `pending`
   * unconfirmed messages follow the welcome, in order, before any live one; `lost` is true
   * when messages were dropped unconfirmed (USER_INBOX_MAX_LENGTH, USER_INBOX_TTL_MS).
   */
  inbox: v.optional(v.object({ pending: v.number(), lost: v.optional(v.literal(true)) })),
});
export type WelcomeFrame = v.InferOutput<typeof WelcomeFrameSchema>;

// ---- topic presence (docs/users.md, "Presence") ------------------------------------------

export const PresenceMemberSchema = v.object({
  user: v.string(),
  /** The user's sessions subscribed to the topic, over every instance. */
  sessions: v.pipe(v.number(), v.integer(), v.minValue(1)),
});
export type PresenceMember = v.InferOutput<typeof PresenceMemberSchema>;

export const TopicPresenceSchema = v.object({
  /** Users present (exact). */
  count: v.pipe(v.number(), v.integer(), v.minValue(0)),
  /** Up to PRESENCE_MAX_MEMBERS of them (all when `count` is not above it), sorted by user ID. */
  members: v.array(PresenceMemberSchema),
});
export type TopicPresence = v.InferOutput<typeof TopicPresenceSchema>;

export const AckFrameSchema = v.object({
  type: v.literal('ack'),
  id: v.string(),
  /**
   * Subscribe: per topic of the request, its position: every message after this offset
   * reaches the session, and `since` accepts it later (also for a topic with no message yet).
   */
  offsets: v.optional(topicMapSchema(OffsetSchema)),
  /** Subscribe with `since`: per topic it names, whether every missed message was replayed. */
  recovered: v.optional(topicMapSchema(v.boolean())),
  /** Publish: the offset the message got in its topic. */
  offset: v.optional(v.string()),
  /** Send: the ID the direct message got in the recipient's user inbox. */
  messageId: v.optional(v.string()),
  /** User presence: per user asked about, whether it has a session in the cluster. */
  online: v.optional(
    v.pipe(
      v.custom<object>((input) => typeof input === 'object' && input !== null && !Array.isArray(input), 'an object keyed by user'),
      v.transform((input) => new Map(Object.entries(input as Record<string, unknown>).filter((e): e is [string, boolean] => typeof e[1] === 'boolean'))),
    ),
  ),
  /** Presence of a topic: the exact number of users, and up to PRESENCE_MAX_MEMBERS of them. */
  presence: v.optional(TopicPresenceSchema),
});
export type AckFrame = v.InferOutput<typeof AckFrameSchema>;

export const MessageFrameSchema = v.object({
  type: v.literal('message'),
  topic: v.string(),
  offset: v.string(),
  data: v.unknown(),
});
export type MessageFrame = v.InferOutput<typeof MessageFrameSchema>;

export const ErrorFrameSchema = v.object({
  type: v.literal('error'),
  id: v.nullable(v.string()),
  code: v.string(),
  message: v.string(),
});
export type ErrorFrame = v.InferOutput<typeof ErrorFrameSchema> & { code: ErrorCode | (string & {}) };

export const PongFrameSchema = v.object({
  type: v.literal('pong'),
  id: v.string(),
});
export type PongFrame = v.InferOutput<typeof PongFrameSchema>;

export const ResultFrameSchema = v.object({
  type: v.literal('result'),
  id: v.string(),
  result: v.unknown(),
});
export type ResultFrame = v.InferOutput<typeof ResultFrameSchema>;

export const ProgressFrameSchema = v.object({
  type: v.literal('progress'),
  id: v.string(),
  data: v.unknown(),
});
export type ProgressFrame = v.InferOutput<typeof ProgressFrameSchema>;

/**
 * A fresh resume token, sent while the session has jobs running: each token expires
 * RESUME_WINDOW_MS after it was issued, so a client keeps the latest.
 */
export const ResumeTokenFrameSchema = v.object({
  type: v.literal('resumeToken'),
  resumeToken: v.string(),
});
export type ResumeTokenFrame = v.InferOutput<typeof ResumeTokenFrameSchema>;

// ---- security (docs/security.md) ----
/**
 * Topics the session no longer holds without having asked: a refresh whose token does not
 * allow them any more (`reason: "forbidden"`). Nothing of them arrives after this frame.
 */
export const UnsubscribedFrameSchema = v.object({
  type: v.literal('unsubscribed'),
  topics: v.array(v.string()),
  reason: v.string(),
});
export type UnsubscribedFrame = v.InferOutput<typeof UnsubscribedFrameSchema>;
/** A direct message, on every session of its recipient. `from` is null for the server API and the bridge. */
export const DirectFrameSchema = v.object({
  type: v.literal('direct'),
  messageId: v.string(),
  from: v.nullable(v.string()),
  data: v.unknown(),
});
export type DirectFrame = v.InferOutput<typeof DirectFrameSchema>;

/** A user's first session subscribed to a presence topic. */
export const JoinFrameSchema = v.object({
  type: v.literal('join'),
  topic: v.string(),
  user: v.string(),
});
export type JoinFrame = v.InferOutput<typeof JoinFrameSchema>;

/** A user's last session left a presence topic (unsubscribe, disconnect, or its instance died). */
export const LeaveFrameSchema = v.object({
  type: v.literal('leave'),
  topic: v.string(),
  user: v.string(),
});
export type LeaveFrame = v.InferOutput<typeof LeaveFrameSchema>;

export const ServerFrameSchema = v.variant('type', [
  DirectFrameSchema,
  WelcomeFrameSchema,
  AckFrameSchema,
  MessageFrameSchema,
  ErrorFrameSchema,
  PongFrameSchema,
  ResultFrameSchema,
  ProgressFrameSchema,
  ResumeTokenFrameSchema,
  UnsubscribedFrameSchema,
  JoinFrameSchema,
  LeaveFrameSchema,
]);
export type ServerFrame = v.InferOutput<typeof ServerFrameSchema>;

/** Parses and validates one server frame; null when it is not one. For clients. */
export function decodeServerFrame(text: string): ServerFrame | null {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = v.safeParse(ServerFrameSchema, json);
  return parsed.success ? parsed.output : null;
}
