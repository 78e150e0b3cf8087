/** Instance registry: the live instances of the cluster, kept alive by heartbeats. */
import type * as v from 'valibot';
import type { InstanceInfoSchema } from '../protocol/instance.ts';

export type InstanceInfo = v.InferOutput<typeof InstanceInfoSchema>;

export interface InstanceRegistry {
  /**
   * Records (or refreshes) this instance's entry. Resolves false when the instance was not
   * registered before: first start, or its entry was lost (store restart, reaped as dead).
   */
  heartbeat(info: InstanceInfo): Promise<boolean>;
  /** Instances whose last heartbeat is within the liveness window. */
  live(): Promise<InstanceInfo[]>;
  remove(instanceId: string): Promise<void>;
}
