/**
 * The report of the RabbitMQ scenarios for the report core (bench/core/report.ts): a table
 * per scenario with the bare amqplib baseline, the Switchyard path and their ratio, and the
 * targets of the RabbitMQ issue.
 */
import { cores, latencyRows, machineRows, ms, msFigure, num, pct, sumRounds, type ReportFamily, type Row } from '../core/report.ts';
import type { BenchOptions } from '../options.ts';
import type { BridgeLatencyResult } from '../scenarios/bridgeLatency.ts';
import type { BridgeThroughputResult } from '../scenarios/bridgeThroughput.ts';
import type { RpcResult } from '../scenarios/rpc.ts';
import type { CpuFigures } from './stackMeasure.ts';

/** The targets ("RabbitMQ bridge and RPC", item 13). */
export const AMQP_TARGETS = {
  /** Bridge path consumed updates/s over the bare consumer's, on the same broker. */
  bridgeMinRatio: 0.7,
  bridgeLatencyMaxP99Ms: 5,
  rpcMaxP50Ms: 3,
  rpcMinJobsPerSec: 5000,
} as const;

function cpuRows<R extends CpuFigures>(): Row<R>[] {
  return [
    ['gateway CPU (cores)', (r) => r.gatewayCpuCores, cores],
    ['bridge CPU (cores)', (r) => r.bridgeCpuCores, cores],
    ['worker CPU (cores)', (r) => r.workerCpuCores, cores],
    ['RabbitMQ beam.smp CPU (cores)', (r) => r.rabbitmqCpuCores, cores],
    ['redis-server CPU (cores)', (r) => r.redisCpuCores, cores],
    ...machineRows<R>(),
  ];
}

export const AMQP_REPORT: ReportFamily<{ bridge: BridgeThroughputResult; 'bridge-latency': BridgeLatencyResult; rpc: RpcResult }, BenchOptions> = {
  // In the RabbitMQ scenarios the baseline's place holds bare amqplib on the same broker.
  columns: { metricWidth: 30, baselineHeader: 'bare amqplib', baselineName: 'baseline', ratioHeader: 'sy/bare' },
  scenarios: {
    bridge: {
      title: (r) =>
        r
          ? `bridge: updates AMQP -> ${r.subscribers} WebSocket subscribers on ${r.topics} topics; at most ${r.window} unconfirmed and ${r.maxBacklog} queued, prefetch ${r.prefetch}, ${r.seconds.toFixed(1)} s`
          : 'bridge',
      rows: [
        ['updates/s consumed', (r) => r.consumedPerSec, (n) => num(n)],
        ['updates/s confirmed', (r) => r.confirmedPerSec, (n) => num(n)],
        ['deliveries/s at clients', (r) => r.deliveriesPerSec, (n) => num(n)],
        ['queue backlog growth/s', (r) => r.backlogPerSec, (n) => num(n)],
        ['lost (updates + deliveries)', (r) => r.lost, (n) => num(n)],
        ['dead-lettered', (r) => r.deadLettered, (n) => num(n)],
        ['unconfirmed at stop', (r) => r.unconfirmedAtStop, (n) => num(n)],
        ['unexpected closes', (r) => r.unexpectedCloses, (n) => num(n)],
        ...cpuRows<BridgeThroughputResult>(),
      ],
      targets: [
        {
          target: `bridge: >= ${pct(AMQP_TARGETS.bridgeMinRatio)} of the bare consumer's updates/s, zero loss`,
          needs: 'both',
          judge: (sy, bare, runs) => {
            const ratio = sy.consumedPerSec / bare.consumedPerSec;
            const lost = sumRounds(runs, ['lost', 'deadLettered']);
            const failures = sumRounds(runs, ['publishFailures', 'unexpectedCloses']);
            return {
              met: ratio >= AMQP_TARGETS.bridgeMinRatio && lost + failures === 0,
              detail: `${num(sy.consumedPerSec)} vs ${num(bare.consumedPerSec)} updates/s = ${pct(ratio)}; over all rounds ${lost} lost or dead-lettered, ${failures} publish failures or closes`,
            };
          },
        },
      ],
    },
    'bridge-latency': {
      title: (r) => `bridge-latency: ${r?.ratePerSec ?? '?'} updates/s, AMQP publish to receipt, ${r ? r.seconds.toFixed(1) : '?'} s`,
      rows: [...latencyRows<BridgeLatencyResult>(), ...cpuRows<BridgeLatencyResult>()],
      targets: [
        {
          target: `bridge latency: p99 < ${AMQP_TARGETS.bridgeLatencyMaxP99Ms} ms, AMQP publish to client receipt`,
          needs: 'switchyard',
          judge: (sy) => {
            const missing = Math.max(0, sy.expectedSamples - sy.samples);
            return {
              met: sy.p99Ms < AMQP_TARGETS.bridgeLatencyMaxP99Ms && missing === 0,
              detail: `p50 ${ms(sy.p50Ms)}, p95 ${ms(sy.p95Ms)}, p99 ${ms(sy.p99Ms)}, max ${ms(sy.maxMs)}; ${missing} samples missing`,
            };
          },
        },
      ],
    },
    rpc: {
      // The queue type is a setting of the run, not a measured figure, so it is not in the results.
      title: (r, o) =>
        r
          ? `rpc (${o.rpcQueueType} queues): ${r.clients} sessions; round trip at ${num(r.ratePerSec)} jobs/s, then throughput with ${r.window} in flight each (CPU rows: throughput phase)`
          : 'rpc',
      rows: [
        ['round trip p50 (ms)', (r) => r.rttP50Ms, msFigure],
        ['round trip p95 (ms)', (r) => r.rttP95Ms, msFigure],
        ['round trip p99 (ms)', (r) => r.rttP99Ms, msFigure],
        ['round trip max (ms)', (r) => r.rttMaxMs, msFigure],
        ['samples / expected', (r) => r.rttSamples / r.rttExpectedSamples, msFigure],
        ['server CPU at that rate (cores)', (r) => r.pacedServerCpuCores, cores],
        ['jobs/s, bounded in flight', (r) => r.jobsPerSec, (n) => num(n)],
        ['under load p50 (ms)', (r) => r.loadedP50Ms, msFigure],
        ['under load p99 (ms)', (r) => r.loadedP99Ms, msFigure],
        ['failed jobs', (r) => r.failedJobs, (n) => num(n)],
        ['unanswered at stop', (r) => r.unansweredAtStop, (n) => num(n)],
        ['unexpected closes', (r) => r.unexpectedCloses, (n) => num(n)],
        ...cpuRows<RpcResult>(),
      ],
      targets: [
        {
          target: `rpc: round trip p50 < ${AMQP_TARGETS.rpcMaxP50Ms} ms`,
          needs: 'switchyard',
          judge: (sy) => ({ met: sy.rttP50Ms < AMQP_TARGETS.rpcMaxP50Ms, detail: `p50 ${ms(sy.rttP50Ms)}, p99 ${ms(sy.rttP99Ms)} at ${num(sy.ratePerSec)} jobs/s` }),
        },
        {
          target: `rpc: >= ${num(AMQP_TARGETS.rpcMinJobsPerSec)} jobs/s with bounded in flight, every job answered`,
          needs: 'switchyard',
          judge: (sy, _bare, runs) => {
            const failures = sumRounds(runs, ['failedJobs', 'unansweredAtStop', 'unexpectedCloses']);
            return {
              met: sy.jobsPerSec >= AMQP_TARGETS.rpcMinJobsPerSec && failures === 0,
              detail: `${num(sy.jobsPerSec)} jobs/s with ${sy.clients} x ${sy.window} in flight (p50 ${ms(sy.loadedP50Ms)}, p99 ${ms(sy.loadedP99Ms)}); over all rounds ${failures} failed, unanswered or closed`,
            };
          },
        },
      ],
    },
  },
};
