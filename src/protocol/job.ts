/**
 * Jobs over WebSocket (RPC): the job a gateway publishes for workers, and the replies
 * workers send back. The wire format for workers in any language; see docs/rpc.md.
 */
import * as v from 'valibot';
import { AppIdSchema, RequestIdSchema } from './names.ts';

/** Method names double as AMQP routing keys and queue name parts. */
export const MethodSchema = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]{1,100}$/, 'method: 1-100 of A-Z a-z 0-9 _ . -'));

/** Where a reply must go: echoed verbatim by workers. */
export const ReplyToSchema = v.object({
  sessionId: v.pipe(v.string(), v.minLength(1), v.maxLength(200)),
  requestId: RequestIdSchema,
  /** The instance that accepted the job (a hint; the session may have moved since). */
  instanceId: v.string(),
});
export type ReplyTo = v.InferOutput<typeof ReplyToSchema>;

export const JobSchema = v.object({
  v: v.literal(1),
  jobId: v.string(),
  method: MethodSchema,
  params: v.unknown(),
  app: AppIdSchema,
  userId: v.nullable(v.string()),
  /** Epoch milliseconds after which nobody waits for the result. */
  deadlineMs: v.number(),
  replyTo: ReplyToSchema,
});
export type Job = v.InferOutput<typeof JobSchema>;

export const JobReplySchema = v.variant('kind', [
  v.object({ v: v.literal(1), kind: v.literal('result'), jobId: v.string(), replyTo: ReplyToSchema, result: v.unknown() }),
  v.object({ v: v.literal(1), kind: v.literal('progress'), jobId: v.string(), replyTo: ReplyToSchema, data: v.unknown() }),
  v.object({
    v: v.literal(1),
    kind: v.literal('error'),
    jobId: v.string(),
    replyTo: ReplyToSchema,
    error: v.object({ message: v.pipe(v.string(), v.maxLength(2000)) }),
  }),
]);
export type JobReply = v.InferOutput<typeof JobReplySchema>;
