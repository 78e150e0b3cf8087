/**
 * Cluster scenario (a), fan-out throughput across two instances: N subscribers of one topic,
 * half on each instance; one publisher keeps a window of publishes in flight through
 * instance A's HTTP publish API, so that every message crosses Redis to reach instance B
 * (and, for Switchyard, A's own subscribers take the same inbox path). Reports deliveries/s,
 * loss after draining, the instances' CPU per delivery (Redis's apart), Redis commands and
 * round trips per publish, and the instances' RSS per idle connection.
 */
import { sleep } from '../clock.ts';
import { clusterInterval, clusterMachineFigures, clusterSnapshot, describeCommands, type ClusterMachineFigures } from '../cluster/clusterMeasure.ts';
import { withCluster } from '../cluster/clusters.ts';
import { CLUSTER_OF_SERVER } from '../cluster/options.ts';
import { openClusterSubscribers } from '../cluster/clusterSubscribers.ts';
import { steadyRss, total } from '../measure.ts';
import { floodFigures, floodPhase, withPublishWorkers, type FloodFigures } from '../publishPhases.ts';
import type { ServerKind } from '../servers.ts';
import type { ScenarioContext } from './context.ts';

const TOPIC = 'bench.cluster.fanout';
/** Time for the instances to settle after the connection storm before RSS is read. */
const SETTLE_MS = 1000;

export interface ClusterFanoutResult extends FloodFigures, ClusterMachineFigures {
  /** Both instances together. */
  serverCpuCores: number;
  /** Instance A, where the publishes enter, and instance B. */
  instanceACpuCores: number;
  instanceBCpuCores: number;
  /** Both instances' CPU time per delivery in the measured interval. */
  serverNsPerDelivery: number;
  redisCpuCores: number;
  redisNsPerDelivery: number;
  /** Both instances at the end. */
  serverRssMiB: number;
  /** (RSS of both instances after opening the subscribers - before) / subscribers. */
  bytesPerIdleConnection: number;
  openSeconds: number;
}

/** `server`: baseline runs the Socket.IO cluster, switchyard the Switchyard one. */
export function runClusterFanout(server: ServerKind, ctx: ScenarioContext): Promise<ClusterFanoutResult> {
  const { options: o } = ctx;
  const kind = CLUSTER_OF_SERVER[server];
  return withCluster(kind, o.socketioRuntime, ctx.logPath, (cluster) =>
    withPublishWorkers(`${kind}-fanout`, ctx, async ({ publisher, subscriberWorkers, workers }) => {
      const instancePids = cluster.instances.map((i) => i.pid);
      const rssBefore = await steadyRss(instancePids);
      const openMs = await openClusterSubscribers(cluster, subscriberWorkers, { topic: TOPIC, count: o.fanoutSubscribers, concurrency: o.openConcurrency, measureLatency: false });
      await sleep(SETTLE_MS);
      const rssAfter = await steadyRss(instancePids);
      ctx.progress(`${cluster.label}: ${o.fanoutSubscribers} subscribers open on ${cluster.instances.length} instances in ${(openMs / 1000).toFixed(2)} s; publishing through instance A`);

      const flooded = await floodPhase(
        { publisher, subscriberWorkers, target: { url: cluster.publishUrl, authorization: cluster.publishAuthorization }, topic: TOPIC, snapshot: () => clusterSnapshot(cluster, workers) },
        o,
      );
      const { from, to, end } = flooded;
      const span = clusterInterval(from, to);
      const figures = floodFigures(flooded, span, o);
      const deliveriesPerSec = figures.deliveriesPerSec;
      const publishes = total(to, 'acked') - total(from, 'acked');
      ctx.progress(`${kind}: Redis commands per publish (script-internal ones included): ${describeCommands(span, publishes)}`);
      return {
        ...figures,
        serverCpuCores: span.serverCpuCores,
        instanceACpuCores: span.instanceCpuCores[0]!,
        instanceBCpuCores: span.instanceCpuCores[1]!,
        serverNsPerDelivery: (span.serverCpuCores * 1e9) / deliveriesPerSec,
        redisCpuCores: span.redisCpuCores,
        redisNsPerDelivery: (span.redisCpuCores * 1e9) / deliveriesPerSec,
        ...clusterMachineFigures(span, publishes),
        serverRssMiB: end.serverRssBytes / 2 ** 20,
        bytesPerIdleConnection: (rssAfter - rssBefore) / o.fanoutSubscribers,
        openSeconds: openMs / 1000,
      };
    }),
  );
}
