/**
 * Scenario (b), latency: a fixed publish rate to N subscribers of one topic; each message
 * carries its send time, and subscribers record publish-to-receipt latency for the messages
 * sent during the measured interval (after a warm-up).
 */
import { latencyFigures, type LatencyFigures } from '../histogram.ts';
import { interval, snapshot, total } from '../measure.ts';
import { pacedPhase } from '../publishPhases.ts';
import { withServer, type ServerKind } from '../servers.ts';
import { split, withWorkers } from '../workerPool.ts';
import type { ScenarioContext } from './context.ts';

const TOPIC = 'bench.latency';
const OPEN_TIMEOUT_MS = 60_000;

export interface LatencyResult extends LatencyFigures {
  subscribers: number;
  ratePerSec: number;
  seconds: number;
  publishErrors: number;
  unexpectedCloses: number;
  serverCpuCores: number;
  generatorCpuCores: number;
  /** CPU used by other processes meanwhile (see outcome.ts DISTURBANCE). */
  otherCpuCores: number;
  /** Processes or threads started elsewhere on the machine meanwhile. */
  processesStarted: number;
  /** Kernel interrupt work charged to no process (mostly loopback TCP), in cores. */
  interruptCpuCores: number;
}

export function runLatency(kind: ServerKind, ctx: ScenarioContext): Promise<LatencyResult> {
  const { options: o } = ctx;
  return withServer(kind, ctx.logPath, (server) =>
    withWorkers(`${kind}-latency`, o.workers + 1, ctx.workerDeadlineMs, async (workers) => {
      const publisher = workers[0]!;
      const subscriberWorkers = workers.slice(1);
      const topics = Array.from({ length: o.latencySubscribers }, () => TOPIC);
      await Promise.all(
        split(topics, subscriberWorkers.length).map((share, i) =>
          subscriberWorkers[i]!.request(
            { op: 'openSubscribers', url: server.wsUrl, topics: share, concurrency: o.openConcurrency, measureLatency: true },
            OPEN_TIMEOUT_MS,
          ),
        ),
      );
      ctx.progress(`${kind}: ${o.latencySubscribers} subscribers open; publishing ${o.latencyRatePerSec} msg/s`);

      const { from, to, end, histogram } = await pacedPhase(
        { publisher, subscriberWorkers, target: { url: server.wsUrl }, topic: TOPIC, snapshot: () => snapshot(server, workers) },
        o,
      );
      const span = interval(from, to);
      return {
        subscribers: o.latencySubscribers,
        ratePerSec: o.latencyRatePerSec,
        seconds: span.seconds,
        ...latencyFigures(histogram, total(end, 'measuredPublished') * o.latencySubscribers),
        publishErrors: total(end, 'publishErrors'),
        unexpectedCloses: total(end, 'unexpectedCloses'),
        serverCpuCores: span.serverCpuCores,
        generatorCpuCores: span.generatorCpuCores,
        otherCpuCores: span.otherCpuCores,
        processesStarted: span.processesStarted,
        interruptCpuCores: span.interruptCpuCores,
      };
    }),
  );
}
