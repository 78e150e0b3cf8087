/**
 * Data-center updates: what producers publish to RabbitMQ for the bridge to deliver.
 * Documented in docs/bridge.md.
 */
import * as v from 'valibot';
import { AppIdSchema, IdempotencyKeySchema, TopicSchema, UserIdSchema } from './names.ts';

export const UpdateSchema = v.object({
  app: AppIdSchema,
  topic: TopicSchema,
  data: v.unknown(),
  /**
   * Producer's ID of this update: a redelivery with the same ID is stored once. The AMQP
   * `messageId` property is used when absent.
   */
  id: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(128))),
});
export type Update = v.InferOutput<typeof UpdateSchema>;

/**
 * A data-center update addressed to a user instead of a topic: stored in the user's inbox
 * and delivered like a server API direct message (`from` null). Told apart from a topic
 * update by its `user` field.
 */
export const DirectUpdateSchema = v.object({
  app: AppIdSchema,
  user: UserIdSchema,
  data: v.nonOptional(v.unknown(), 'data: required'),
  /** Idempotency key, as for topic updates (the AMQP `messageId` property when absent). */
  id: v.optional(IdempotencyKeySchema),
});
export type DirectUpdate = v.InferOutput<typeof DirectUpdateSchema>;

// ---- binary updates (docs/bridge.md) ---------------------------------------------------------

/**
 * The AMQP content type of a binary update: its body is the message's data as it is (no
 * JSON), delivered to clients in a binary frame. App, topic and user travel in headers.
 */
export const BINARY_UPDATE_TYPE = 'application/octet-stream';

/**
 * The headers of a binary update: `app`, and either `topic` (a topic message) or `user` (a
 * direct message). The ID for dedupe is the AMQP `messageId` property.
 */
export const BinaryUpdateHeaders = {
  app: 'x-switchyard-app',
  topic: 'x-switchyard-topic',
  user: 'x-switchyard-user',
} as const;
