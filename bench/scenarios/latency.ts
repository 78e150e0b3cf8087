/**
 * Scenario (b), latency: a fixed publish rate to N subscribers of one topic; each message
 * carries its send time, and subscribers record publish-to-receipt latency for the messages
 * sent during the measured interval (after a warm-up).
 */
import { interval, snapshot } from '../measure.ts';
import { pacedFigures, pacedPhase, withPublishWorkers, type PacedFigures } from '../publishPhases.ts';
import { withServer, type ServerKind } from '../servers.ts';
import { openSubscribers } from '../workerPool.ts';
import type { ScenarioContext } from './context.ts';

const TOPIC = 'bench.latency';
const OPEN_TIMEOUT_MS = 60_000;

export interface LatencyResult extends PacedFigures {
  serverCpuCores: number;
  generatorCpuCores: number;
  /** CPU used by other processes meanwhile (see core/outcome.ts DISTURBANCE). */
  otherCpuCores: number;
  /** Processes or threads started elsewhere on the machine meanwhile. */
  processesStarted: number;
  /** Kernel interrupt work charged to no process (mostly loopback TCP), in cores. */
  interruptCpuCores: number;
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
        generatorCpuCores: span.generatorCpuCores,
        otherCpuCores: span.otherCpuCores,
        processesStarted: span.processesStarted,
        interruptCpuCores: span.interruptCpuCores,
      };
    }),
  );
}
