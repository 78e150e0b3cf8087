/**
 * RabbitMQ scenario (c), jobs over WebSocket (RPC). Several client sessions send `rpc`
 * frames; each job goes gateway -> jobs exchange -> a trivial worker (the worker SDK, in its
 * own process) -> results queue -> bridge -> Redis inbox -> gateway -> client. Two phases,
 * each with fresh client sessions, a warm-up and a measured interval:
 *
 * 1. round trip: a fixed rate of jobs over all clients; p50/p95/p99/max of the round trip;
 * 2. throughput: each client keeps a fixed number of jobs in flight; jobs/s sustained, and
 *    the round trip under that load.
 *
 * The baseline sends the same jobs straight to the jobs exchange and reads the replies from
 * the results queue (bench/amqp/bareRpc.ts): the broker and the worker SDK alone.
 */
import { sleep } from '../clock.ts';
import type { Histogram } from '../histogram.ts';
import { collectLatency, type IpcRequestFor } from '../core/workerIpc.ts';
import { markedInterval } from '../measure.ts';
import type { BenchOptions } from '../options.ts';
import type { ServerKind } from '../servers.ts';
import type { AmqpLoadWorker } from '../amqp/amqpWorkerPool.ts';
import type { AmqpWorkerRequest } from '../amqp/amqpWorkerProtocol.ts';
import { ECHO_METHOD } from '../amqp/jobWorker.ts';
import { withAmqpRound, type AmqpRound } from '../amqp/round.ts';
import { RpcSockets } from '../amqp/rpcSockets.ts';
import { AMQP_URL } from '../amqp/services.ts';
import { cpuFigures, interval, snapshot, type CpuFigures, type StackInterval } from '../amqp/stackMeasure.ts';
import type { ScenarioContext } from './context.ts';

const CONSUMER_TIMEOUT_MS = 15_000;
const READY_PROBE_TIMEOUT_MS = 15_000;

export interface RpcResult extends CpuFigures {
  clients: number;
  window: number;
  ratePerSec: number;
  seconds: number;
  /** Phase 1, fixed rate: round trip of each job measured. */
  rttP50Ms: number;
  rttP95Ms: number;
  rttP99Ms: number;
  rttMaxMs: number;
  rttSamples: number;
  rttExpectedSamples: number;
  /** Phase 2, bounded in flight: results per second, and the round trip under that load. */
  jobsPerSec: number;
  loadedP50Ms: number;
  loadedP99Ms: number;
  /** Server CPU of phase 1, summed over gateway, bridge, worker, RabbitMQ and Redis. */
  pacedServerCpuCores: number;
  /** Jobs answered with an error, and jobs unanswered when the clients stopped (both phases). */
  failedJobs: number;
  unansweredAtStop: number;
  unexpectedCloses: number;
}

/** Waits until a job gets its result through the whole path: the gateway's job channel and the bridge's consumer are set up. */
async function probeRpcPath(wsUrl: string): Promise<void> {
  const deadline = Date.now() + READY_PROBE_TIMEOUT_MS;
  const probe = await RpcSockets.open(wsUrl, 1, ECHO_METHOD);
  try {
    for (let attempt = 0; ; attempt++) {
      const ok = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 2000);
        probe.onReply = (_client, _id, result) => {
          clearTimeout(timer);
          resolve(result);
        };
        probe.send(0, `probe-${attempt}`, 'null');
      });
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`no job result through ${wsUrl} within ${READY_PROBE_TIMEOUT_MS} ms`);
      await sleep(100);
    }
  } finally {
    await probe.close();
  }
}

type Load = Pick<IpcRequestFor<AmqpWorkerRequest, 'startRpcClients'>, 'mode' | 'window' | 'ratePerSec'>;

/** Where the clients send their jobs: the Switchyard path, or straight to the broker. */
interface RpcPath {
  start(clients: AmqpLoadWorker, load: Load): Promise<void>;
  /** The bridge's metrics port, on the Switchyard path. */
  bridgePort?: number;
}

async function openRpcPath(kind: ServerKind, round: AmqpRound, o: BenchOptions): Promise<RpcPath> {
  const common = { clients: o.rpcClients, method: ECHO_METHOD, payloadBytes: o.payloadBytes };
  if (kind === 'baseline') {
    await round.admin.declareJobs(round.names, ECHO_METHOD);
    return {
      start: async (clients, load) => {
        await clients.request({ op: 'startBareRpc', amqpUrl: AMQP_URL, prefix: round.ns.amqpPrefix, rpcQueueType: round.ns.rpcQueueType, prefetch: o.amqpPrefetch, ...common, ...load }, 15_000);
      },
    };
  }
  const bridge = await round.startBridge(o.amqpPrefetch);
  const gateway = await round.startGateway();
  const wsUrl = `ws://127.0.0.1:${gateway.port}/ws?app=demo`;
  await round.admin.waitForConsumer(round.names.resultsQueue, CONSUMER_TIMEOUT_MS);
  await probeRpcPath(wsUrl);
  return {
    bridgePort: bridge.port,
    start: async (clients, load) => {
      await clients.request({ op: 'startRpcClients', wsUrl, ...common, ...load }, 15_000);
    },
  };
}

interface Phase {
  span: StackInterval;
  histogram: Histogram;
  measuredSent: number;
  failed: number;
  outstanding: number;
  unexpectedCloses: number;
}

export function runRpc(kind: ServerKind, ctx: ScenarioContext): Promise<RpcResult> {
  const o = ctx.options;
  return withAmqpRound(`rpc-${kind}`, ctx, [ECHO_METHOD], async (round) => {
    await round.startJobWorker(o.rpcConcurrency);
    const path = await openRpcPath(kind, round, o);
    await round.admin.waitForConsumer(round.names.jobQueue(ECHO_METHOD), CONSUMER_TIMEOUT_MS);

    const phase = async (name: string, load: Load): Promise<Phase> => {
      const clients = round.amqpWorker(`clients-${name}`);
      await path.start(clients, load);
      await sleep((load.mode === 'paced' ? o.latencyWarmupSec : o.warmupSec) * 1000);
      const probes = round.probes(path.bridgePort);
      const { from, to } = await markedInterval(clients, o.seconds, () => snapshot(probes));
      const { outstanding } = await clients.request({ op: 'stop', waitMs: 10_000 }, 15_000);
      const stats = await clients.request({ op: 'stats' }, 10_000);
      const histogram = await collectLatency([clients]);
      await round.retire(clients);
      return { span: interval(from, to), histogram, measuredSent: stats.measuredSent, failed: stats.failed, outstanding, unexpectedCloses: stats.unexpectedCloses };
    };

    ctx.progress(`${kind}: round trip at ${o.rpcRatePerSec} jobs/s over ${o.rpcClients} sessions`);
    const paced = await phase('paced', { mode: 'paced', window: 1, ratePerSec: o.rpcRatePerSec });
    ctx.progress(`${kind}: throughput, ${o.rpcClients} sessions x ${o.rpcWindow} jobs in flight`);
    const loaded = await phase('window', { mode: 'window', window: o.rpcWindow, ratePerSec: 1 });
    const jobsPerSec = loaded.span.amqpRate('done');
    ctx.progress(`${kind}: p50 ${paced.histogram.percentileMs(0.5).toFixed(3)} ms at ${o.rpcRatePerSec}/s; ${Math.round(jobsPerSec).toLocaleString('en-US')} jobs/s`);
    const cpu = cpuFigures(loaded.span);
    const pacedCores = paced.span.serverCores;
    return {
      clients: o.rpcClients,
      window: o.rpcWindow,
      ratePerSec: o.rpcRatePerSec,
      seconds: loaded.span.seconds,
      rttP50Ms: paced.histogram.percentileMs(0.5),
      rttP95Ms: paced.histogram.percentileMs(0.95),
      rttP99Ms: paced.histogram.percentileMs(0.99),
      rttMaxMs: paced.histogram.maxMs(),
      rttSamples: paced.histogram.count,
      rttExpectedSamples: paced.measuredSent,
      jobsPerSec,
      loadedP50Ms: loaded.histogram.percentileMs(0.5),
      loadedP99Ms: loaded.histogram.percentileMs(0.99),
      pacedServerCpuCores: pacedCores.gateway + pacedCores.bridge + pacedCores.worker + pacedCores.rabbitmq + pacedCores.redis,
      failedJobs: paced.failed + loaded.failed,
      unansweredAtStop: paced.outstanding + loaded.outstanding,
      unexpectedCloses: paced.unexpectedCloses + loaded.unexpectedCloses,
      ...cpu,
      // A round is disturbed if either phase was.
      otherCpuCores: Math.max(paced.span.otherCpuCores, loaded.span.otherCpuCores),
      processesStarted: Math.max(paced.span.processesStarted, loaded.span.processesStarted),
    };
  });
}
