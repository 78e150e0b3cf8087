/** Bodies of the HTTP server API (`POST /api/apps/:app/publish`, the users endpoints). */
import * as v from 'valibot';
import { IdempotencyKeySchema, TopicSchema } from './names.ts';

export const PublishRequestSchema = v.object({
  topic: TopicSchema,
  data: v.unknown(),
});
export type PublishRequest = v.InferOutput<typeof PublishRequestSchema>;

export interface PublishResponse {
  offset: string;
}

/** `POST /api/apps/:app/users/:user/messages`: a direct message from the server (`from` null). */
export const DirectMessageRequestSchema = v.object({
  data: v.nonOptional(v.unknown(), 'data: required'),
  /** Idempotency key: the same `id` within the dedupe window stores the message once. */
  id: v.optional(IdempotencyKeySchema),
});
export type DirectMessageRequest = v.InferOutput<typeof DirectMessageRequestSchema>;

export interface DirectMessageResponse {
  messageId: string;
}

/** `GET /api/apps/:app/users/:user/presence`. */
export interface UserPresenceResponse {
  online: boolean;
  /** Sessions of the user in the cluster. */
  sessions: number;
}
