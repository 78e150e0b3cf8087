/** Instance registry: the live instances of the cluster, kept alive by heartbeats. */
export interface InstanceInfo {
  id: string;
  region: string;
  /** host:port where the instance accepts connections. */
  address: string;
  sessions: number;
  startedAtMs: number;
  heartbeatAtMs: number;
}

export interface InstanceRegistry {
  /** Records (or refreshes) this instance's entry. */
  heartbeat(info: InstanceInfo): Promise<void>;
  /** Instances whose last heartbeat is within the liveness window. */
  live(): Promise<InstanceInfo[]>;
  remove(instanceId: string): Promise<void>;
}
