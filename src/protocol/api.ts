/** Bodies of the HTTP server API (`POST /api/apps/:app/publish`). */
import * as v from 'valibot';
import { TopicSchema } from './names.ts';

export const PublishRequestSchema = v.object({
  topic: TopicSchema,
  data: v.unknown(),
});
export type PublishRequest = v.InferOutput<typeof PublishRequestSchema>;

export interface PublishResponse {
  offset: string;
}
