/** The seam between the gateway and whatever carries jobs to workers (RabbitMQ in production). */
import type { Job } from '../protocol/job.ts';

export type PublishOutcome = 'accepted' | 'no_such_method';

export interface JobPublisher {
  /** Resolves once the broker has taken the job, or knows that no worker serves its method. */
  publish(job: Job): Promise<PublishOutcome>;
  isReady(): boolean;
}
