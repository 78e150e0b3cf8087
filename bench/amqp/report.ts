/**
 * The report of the RabbitMQ scenarios: a table per scenario with the bare amqplib baseline,
 * the Switchyard path and their ratio, the rounds other work disturbed, and a met / not met
 * line per target of the RabbitMQ issue. bench/report.ts adds these to its own.
 */
import type { RpcQueueType } from './options.ts';
import type { Results } from '../outcome.ts';
import { both, cores, disturbedRounds, latencyRows, machineRows, ms, num, pct, sumRounds, table, type Columns, type Row, type TargetCheck } from '../reportTable.ts';
import type { CpuFigures } from './stackMeasure.ts';

/** The targets ("RabbitMQ bridge and RPC", item 13). */
export const AMQP_TARGETS = {
  /** Bridge path consumed updates/s over the bare consumer's, on the same broker. */
  bridgeMinRatio: 0.7,
  bridgeLatencyMaxP99Ms: 5,
  rpcMaxP50Ms: 3,
  rpcMinJobsPerSec: 5000,
} as const;

/** In the RabbitMQ scenarios the baseline's place holds bare amqplib on the same broker. */
const COLUMNS: Columns = { metricWidth: 30, baselineHeader: 'bare amqplib', baselineName: 'baseline', ratioHeader: 'sy/bare' };

export function checkAmqpTargets(results: Results): TargetCheck[] {
  const checks: TargetCheck[] = [];
  if (results.bridge) {
    const { base: bare, sy } = both(results.bridge);
    const target = `bridge: >= ${pct(AMQP_TARGETS.bridgeMinRatio)} of the bare consumer's updates/s, zero loss`;
    if (!bare || !sy) checks.push({ target, met: null, detail: 'needs both runs' });
    else {
      const ratio = sy.consumedPerSec / bare.consumedPerSec;
      const lost = sumRounds(results.bridge, ['lost', 'deadLettered']);
      const failures = sumRounds(results.bridge, ['publishFailures', 'unexpectedCloses']);
      checks.push({
        target,
        met: ratio >= AMQP_TARGETS.bridgeMinRatio && lost + failures === 0,
        detail: `${num(sy.consumedPerSec)} vs ${num(bare.consumedPerSec)} updates/s = ${pct(ratio)}; over all rounds ${lost} lost or dead-lettered, ${failures} publish failures or closes`,
      });
    }
  }
  const latency = results['bridge-latency'];
  if (latency) {
    const { sy } = both(latency);
    const target = `bridge latency: p99 < ${AMQP_TARGETS.bridgeLatencyMaxP99Ms} ms, AMQP publish to client receipt`;
    if (!sy) checks.push({ target, met: null, detail: 'needs the switchyard run' });
    else {
      const missing = Math.max(0, sy.expectedSamples - sy.samples);
      checks.push({
        target,
        met: sy.p99Ms < AMQP_TARGETS.bridgeLatencyMaxP99Ms && missing === 0,
        detail: `p50 ${ms(sy.p50Ms)}, p95 ${ms(sy.p95Ms)}, p99 ${ms(sy.p99Ms)}, max ${ms(sy.maxMs)}; ${missing} samples missing`,
      });
    }
  }
  if (results.rpc) {
    const { sy } = both(results.rpc);
    const failures = sumRounds(results.rpc, ['failedJobs', 'unansweredAtStop', 'unexpectedCloses']);
    const p50Target = `rpc: round trip p50 < ${AMQP_TARGETS.rpcMaxP50Ms} ms`;
    const rateTarget = `rpc: >= ${num(AMQP_TARGETS.rpcMinJobsPerSec)} jobs/s with bounded in flight, every job answered`;
    if (!sy) {
      checks.push({ target: p50Target, met: null, detail: 'needs the switchyard run' }, { target: rateTarget, met: null, detail: 'needs the switchyard run' });
    } else {
      checks.push({ target: p50Target, met: sy.rttP50Ms < AMQP_TARGETS.rpcMaxP50Ms, detail: `p50 ${ms(sy.rttP50Ms)}, p99 ${ms(sy.rttP99Ms)} at ${num(sy.ratePerSec)} jobs/s` });
      checks.push({
        target: rateTarget,
        met: sy.jobsPerSec >= AMQP_TARGETS.rpcMinJobsPerSec && failures === 0,
        detail: `${num(sy.jobsPerSec)} jobs/s with ${sy.clients} x ${sy.window} in flight (p50 ${ms(sy.loadedP50Ms)}, p99 ${ms(sy.loadedP99Ms)}); over all rounds ${failures} failed, unanswered or closed`,
      });
    }
  }
  return checks;
}

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

/** `rpcQueueType`: RPC_QUEUE_TYPE of the run (not a measured figure, so not in the results). */
export function renderAmqpSections(results: Results, rpcQueueType: RpcQueueType): string[] {
  const sections: string[] = [];
  if (results.bridge) {
    const first = both(results.bridge).sy ?? both(results.bridge).base;
    const title = first
      ? `bridge: updates AMQP -> ${first.subscribers} WebSocket subscribers on ${first.topics} topics; at most ${first.window} unconfirmed and ${first.maxBacklog} queued, prefetch ${first.prefetch}, ${first.seconds.toFixed(1)} s`
      : 'bridge';
    sections.push(
      table(title, results.bridge, [
        ['updates/s consumed', (r) => r.consumedPerSec, (n) => num(n)],
        ['updates/s confirmed', (r) => r.confirmedPerSec, (n) => num(n)],
        ['deliveries/s at clients', (r) => r.deliveriesPerSec, (n) => num(n)],
        ['queue backlog growth/s', (r) => r.backlogPerSec, (n) => num(n)],
        ['lost (updates + deliveries)', (r) => r.lost, (n) => num(n)],
        ['dead-lettered', (r) => r.deadLettered, (n) => num(n)],
        ['unconfirmed at stop', (r) => r.unconfirmedAtStop, (n) => num(n)],
        ['unexpected closes', (r) => r.unexpectedCloses, (n) => num(n)],
        ...cpuRows(),
      ], COLUMNS),
    );
  }
  const latency = results['bridge-latency'];
  if (latency) {
    const first = both(latency).sy ?? both(latency).base;
    sections.push(
      table(`bridge-latency: ${first?.ratePerSec ?? '?'} updates/s, AMQP publish to receipt, ${first ? first.seconds.toFixed(1) : '?'} s`, latency, [
        ...latencyRows(),
        ...cpuRows(),
      ], COLUMNS),
    );
  }
  if (results.rpc) {
    const first = both(results.rpc).sy ?? both(results.rpc).base;
    const title = first
      ? `rpc (${rpcQueueType} queues): ${first.clients} sessions; round trip at ${num(first.ratePerSec)} jobs/s, then throughput with ${first.window} in flight each (CPU rows: throughput phase)`
      : 'rpc';
    sections.push(
      table(title, results.rpc, [
        ['round trip p50 (ms)', (r) => r.rttP50Ms, (n) => n.toFixed(3)],
        ['round trip p95 (ms)', (r) => r.rttP95Ms, (n) => n.toFixed(3)],
        ['round trip p99 (ms)', (r) => r.rttP99Ms, (n) => n.toFixed(3)],
        ['round trip max (ms)', (r) => r.rttMaxMs, (n) => n.toFixed(3)],
        ['samples / expected', (r) => r.rttSamples / r.rttExpectedSamples, (n) => n.toFixed(3)],
        ['server CPU at that rate (cores)', (r) => r.pacedServerCpuCores, cores],
        ['jobs/s, bounded in flight', (r) => r.jobsPerSec, (n) => num(n)],
        ['under load p50 (ms)', (r) => r.loadedP50Ms, (n) => n.toFixed(3)],
        ['under load p99 (ms)', (r) => r.loadedP99Ms, (n) => n.toFixed(3)],
        ['failed jobs', (r) => r.failedJobs, (n) => num(n)],
        ['unanswered at stop', (r) => r.unansweredAtStop, (n) => num(n)],
        ['unexpected closes', (r) => r.unexpectedCloses, (n) => num(n)],
        ...cpuRows(),
      ], COLUMNS),
    );
  }
  return sections;
}

/** Rounds of the RabbitMQ scenarios that other work on the machine disturbed. */
export function amqpDisturbed(results: Results): string[] {
  return [
    ...disturbedRounds('bridge', results.bridge, COLUMNS),
    ...disturbedRounds('bridge-latency', results['bridge-latency'], COLUMNS),
    ...disturbedRounds('rpc', results.rpc, COLUMNS),
  ];
}
