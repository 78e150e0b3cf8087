/**
 * Binary fan-out throughput (issue 14): the fan-out scenario with binary messages of 1 KiB or
 * 64 KiB (random bytes, published in binary publish frames and delivered in binary message
 * frames, docs/protocol.md "Binary frames"), N subscribers on one topic, against the bare Bun
 * baseline publishing the same bytes. The publisher runs under credit: at most
 * BACKLOG_BYTES_PER_SUBSCRIBER of messages ahead of what the subscribers received (see
 * FloodPayload.creditAhead), the same for both servers. Loss is counted as in fan-out.
 */
import { machineFigures, type MachineFigures } from '../core/outcome.ts';
import { interval, snapshot } from '../measure.ts';
import { floodFigures, floodPhase, withPublishWorkers, type FloodFigures } from '../publishPhases.ts';
import { withServer, type ServerKind } from '../servers.ts';
import { openSubscribers } from '../workerPool.ts';
import type { ScenarioContext } from './context.ts';

const TOPIC = 'bench.binary';
const OPEN_TIMEOUT_MS = 60_000;
/**
 * Undelivered bytes allowed per subscriber on average: a quarter of both servers' send
 * buffer limit (4 MiB, closeOnBackpressureLimit), so that a subscriber somewhat behind the
 * average is not closed.
 */
const BACKLOG_BYTES_PER_SUBSCRIBER = 1024 * 1024;

export interface BinaryFanoutResult extends FloodFigures, MachineFigures {
  payloadBytes: number;
  /** Payload bytes delivered per second, over all subscribers (MiB/s). */
  deliveredMiBPerSec: number;
  serverCpuCores: number;
  serverNsPerDelivery: number;
  serverRssMiB: number;
  openSeconds: number;
}

/** The scenario for one payload size. */
export function binaryFanout(payloadBytes: number): (kind: ServerKind, ctx: ScenarioContext) => Promise<BinaryFanoutResult> {
  return (kind, ctx) => {
    const { options: o } = ctx;
    return withServer(kind, ctx.logPath, (server) =>
      withPublishWorkers(`${kind}-binary`, ctx, async ({ publisher, subscriberWorkers, workers }) => {
        const topics = Array.from({ length: o.fanoutSubscribers }, () => TOPIC);
        const openMs = await openSubscribers(subscriberWorkers, server.wsUrl, topics, { concurrency: o.openConcurrency, measureLatency: false }, OPEN_TIMEOUT_MS);
        ctx.progress(`${kind}: ${o.fanoutSubscribers} subscribers open in ${(openMs / 1000).toFixed(2)} s; publishing ${payloadBytes} bytes`);

        const creditAhead = Math.max(1, Math.floor(BACKLOG_BYTES_PER_SUBSCRIBER / payloadBytes));
        const flooded = await floodPhase(
          { publisher, subscriberWorkers, target: { url: server.wsUrl }, topic: TOPIC, snapshot: () => snapshot(server, workers) },
          o,
          { bytes: payloadBytes, binary: true, creditAhead },
        );
        const span = interval(flooded.from, flooded.to);
        const figures = floodFigures(flooded, span, o);
        return {
          ...figures,
          payloadBytes,
          deliveredMiBPerSec: (figures.deliveriesPerSec * payloadBytes) / 2 ** 20,
          serverCpuCores: span.serverCpuCores,
          serverNsPerDelivery: (span.serverCpuCores * 1e9) / figures.deliveriesPerSec,
          ...machineFigures(span),
          serverRssMiB: flooded.end.serverRssBytes / 2 ** 20,
          openSeconds: openMs / 1000,
        };
      }),
    );
  };
}
