/**
 * Scenario (a), fan-out throughput: N subscribers on one topic, one publisher keeping a
 * window of publishes in flight. The measured interval follows a warm-up; loss is counted
 * after it, once the subscribers have drained: every acknowledged publish must reach every
 * subscriber.
 */
import { machineFigures, type MachineFigures } from '../core/outcome.ts';
import { interval, snapshot } from '../measure.ts';
import { floodFigures, floodPhase, withPublishWorkers, type FloodFigures } from '../publishPhases.ts';
import { withServer, type ServerKind } from '../servers.ts';
import { openSubscribers } from '../workerPool.ts';
import type { ScenarioContext } from './context.ts';

const TOPIC = 'bench.fanout';
const OPEN_TIMEOUT_MS = 60_000;

export interface FanoutResult extends FloodFigures, MachineFigures {
  serverCpuCores: number;
  /**
   * Server CPU time per delivery in the measured interval. When the generator, not the
   * server, limits deliveries/s (likely on few cores), this is the fairer comparison.
   */
  serverNsPerDelivery: number;
  serverRssMiB: number;
  openSeconds: number;
}

export function runFanout(kind: ServerKind, ctx: ScenarioContext): Promise<FanoutResult> {
  const { options: o } = ctx;
  return withServer(kind, ctx.logPath, (server) =>
    withPublishWorkers(`${kind}-fanout`, ctx, async ({ publisher, subscriberWorkers, workers }) => {
      const topics = Array.from({ length: o.fanoutSubscribers }, () => TOPIC);
      const openMs = await openSubscribers(subscriberWorkers, server.wsUrl, topics, { concurrency: o.openConcurrency, measureLatency: false }, OPEN_TIMEOUT_MS);
      const openSeconds = openMs / 1000;
      ctx.progress(`${kind}: ${o.fanoutSubscribers} subscribers open in ${openSeconds.toFixed(2)} s; publishing`);

      const flooded = await floodPhase(
        { publisher, subscriberWorkers, target: { url: server.wsUrl }, topic: TOPIC, snapshot: () => snapshot(server, workers) },
        o,
      );
      const span = interval(flooded.from, flooded.to);
      const figures = floodFigures(flooded, span, o);
      return {
        ...figures,
        serverCpuCores: span.serverCpuCores,
        serverNsPerDelivery: (span.serverCpuCores * 1e9) / figures.deliveriesPerSec,
        ...machineFigures(span),
        serverRssMiB: flooded.end.serverRssBytes / 2 ** 20,
        openSeconds,
      };
    }),
  );
}
