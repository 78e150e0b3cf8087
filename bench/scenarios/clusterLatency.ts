/**
 * Cluster scenario (b), latency across two instances: a fixed publish rate through instance
 * A's HTTP publish API to N subscribers of one topic, half on each instance. Each message
 * carries its send time (taken before the HTTP request), and subscribers record
 * publish-to-receipt latency for the messages sent during the measured interval.
 */
import { clusterInterval, clusterMachineFigures, clusterSnapshot, describeCommands, type ClusterMachineFigures } from '../cluster/clusterMeasure.ts';
import { withCluster } from '../cluster/clusters.ts';
import { CLUSTER_OF_SERVER } from '../cluster/options.ts';
import { openClusterSubscribers } from '../cluster/clusterSubscribers.ts';
import { total } from '../measure.ts';
import { pacedFigures, pacedPhase, withPublishWorkers, type PacedFigures } from '../publishPhases.ts';
import type { ServerKind } from '../servers.ts';
import type { ScenarioContext } from './context.ts';

const TOPIC = 'bench.cluster.latency';

export interface ClusterLatencyResult extends PacedFigures, ClusterMachineFigures {
  /** Both instances together. */
  serverCpuCores: number;
  /** Both instances' CPU time per publish (with its deliveries). */
  serverUsPerPublish: number;
  redisCpuCores: number;
}

/** `server`: baseline runs the Socket.IO cluster, switchyard the Switchyard one. */
export function runClusterLatency(server: ServerKind, ctx: ScenarioContext): Promise<ClusterLatencyResult> {
  const { options: o } = ctx;
  const kind = CLUSTER_OF_SERVER[server];
  return withCluster(kind, o.socketioRuntime, ctx.logPath, (cluster) =>
    withPublishWorkers(`${kind}-latency`, ctx, async ({ publisher, subscriberWorkers, workers }) => {
      await openClusterSubscribers(cluster, subscriberWorkers, { topic: TOPIC, count: o.latencySubscribers, concurrency: o.openConcurrency, measureLatency: true });
      ctx.progress(`${cluster.label}: ${o.latencySubscribers} subscribers open on ${cluster.instances.length} instances; publishing ${o.latencyRatePerSec} msg/s through instance A`);

      const paced = await pacedPhase(
        { publisher, subscriberWorkers, target: { url: cluster.publishUrl, authorization: cluster.publishAuthorization }, topic: TOPIC, snapshot: () => clusterSnapshot(cluster, workers) },
        o,
      );
      const span = clusterInterval(paced.from, paced.to);
      const publishes = total(paced.to, 'acked') - total(paced.from, 'acked');
      ctx.progress(`${kind}: Redis commands per publish (script-internal ones included): ${describeCommands(span, publishes)}`);
      return {
        ...pacedFigures(paced, span, o),
        serverCpuCores: span.serverCpuCores,
        serverUsPerPublish: (span.serverCpuCores * 1e6) / span.rate('acked'),
        redisCpuCores: span.redisCpuCores,
        ...clusterMachineFigures(span, publishes),
      };
    }),
  );
}
