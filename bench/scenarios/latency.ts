/**
 * Scenario (b), latency: a fixed publish rate to N subscribers of one topic; each message
 * carries its send time, and subscribers record publish-to-receipt latency for the messages
 * sent during the measured interval (after a warm-up).
 */
import { machineFigures, type MachineFigures } from '../core/outcome.ts';
import { interval, snapshot } from '../measure.ts';
import { pacedFigures, pacedPhase, withPublishWorkers, type PacedFigures } from '../publishPhases.ts';
import { withServer, type ServerKind } from '../servers.ts';
import { openSubscribers } from '../workerPool.ts';
import type { ScenarioContext } from './context.ts';

const TOPIC = 'bench.latency';
const OPEN_TIMEOUT_MS = 60_000;

export interface LatencyResult extends PacedFigures, MachineFigures {
  serverCpuCores: number;
}

export function runLatency(kind: ServerKind, ctx: ScenarioContext): Promise<LatencyResult> {
  const { options: o } = ctx;
  return withServer(kind, ctx.logPath, (server) =>
    withPublishWorkers(`${kind}-latency`, ctx, async ({ publisher, subscriberWorkers, workers }) => {
      const topics = Array.from({ length: o.latencySubscribers }, () => TOPIC);
      await openSubscribers(subscriberWorkers, server.wsUrl, topics, { concurrency: o.openConcurrency, measureLatency: true }, OPEN_TIMEOUT_MS);
      ctx.progress(`${kind}: ${o.latencySubscribers} subscribers open; publishing ${o.latencyRatePerSec} msg/s`);

      const paced = await pacedPhase(
        { publisher, subscriberWorkers, target: { url: server.wsUrl }, topic: TOPIC, snapshot: () => snapshot(server, workers) },
        o,
      );
      const span = interval(paced.from, paced.to);
      return {
        ...pacedFigures(paced, span, o),
        serverCpuCores: span.serverCpuCores,
        ...machineFigures(span),
      };
    }),
  );
}
