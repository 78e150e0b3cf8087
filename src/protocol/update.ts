/**
 * Data-center updates: what producers publish to RabbitMQ for the bridge to deliver.
 * Documented in docs/bridge.md.
 */
import * as v from 'valibot';
import { AppIdSchema, TopicSchema } from './names.ts';

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
