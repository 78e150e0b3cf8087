/** In-memory InstanceRegistry: live = heartbeat within the cluster's instance TTL. */
import type { InstanceInfo, InstanceRegistry } from '../registry.ts';
import type { MemoryCluster } from './memoryBackend.ts';

export class MemoryRegistry implements InstanceRegistry {
  constructor(private readonly cluster: MemoryCluster) {}

  async heartbeat(info: InstanceInfo): Promise<boolean> {
    const known = this.cluster.instances.has(info.id);
    this.cluster.instances.set(info.id, { ...info });
    return known;
  }

  async live(): Promise<InstanceInfo[]> {
    const cutoff = Date.now() - this.cluster.instanceTtlMs;
    return [...this.cluster.instances.values()].filter((i) => i.heartbeatAtMs >= cutoff);
  }

  async remove(instanceId: string): Promise<void> {
    this.cluster.instances.delete(instanceId);
  }
}
