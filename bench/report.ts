/**
 * Turns scenario results into the printed report: a table per scenario with the baseline,
 * Switchyard and their ratio, the disturbed rounds, and a met / not met line per target of
 * the benchmark issue.
 */
import type { Results } from './outcome.ts';
import { both, disturbedRounds, kib, latencyRows, machineRows, ms, num, pct, sumRounds, table, type Columns, type TargetCheck } from './reportTable.ts';
import { amqpDisturbed, checkAmqpTargets, renderAmqpSections } from './amqp/report.ts';
import type { RpcQueueType } from './amqp/options.ts';
import { checkClusterTargets, clusterDisturbed, renderClusterSections } from './cluster/report.ts';

/** The targets for one Switchyard instance, relative to the bare Bun baseline. */
export const TARGETS = {
  fanoutMinRatio: 0.8,
  latencyMaxP99ExtraMs: 1,
  idleMaxBytesPerSession: 4 * 1024,
} as const;

const COLUMNS: Columns = { metricWidth: 26, baselineHeader: 'baseline', baselineName: 'baseline', ratioHeader: 'sy/base' };

export function checkTargets(results: Results): TargetCheck[] {
  const checks: TargetCheck[] = [];
  if (results.fanout) {
    const { base, sy } = both(results.fanout);
    const target = `fan-out: >= ${TARGETS.fanoutMinRatio * 100}% of baseline deliveries/s, zero loss`;
    if (!base || !sy) checks.push({ target, met: null, detail: 'needs both runs' });
    else {
      const ratio = sy.deliveriesPerSec / base.deliveriesPerSec;
      const lost = sumRounds(results.fanout, ['lost']);
      const closed = sumRounds(results.fanout, ['unexpectedCloses']);
      const errors = sumRounds(results.fanout, ['publishErrors']);
      checks.push({
        target,
        met: ratio >= TARGETS.fanoutMinRatio && lost + closed + errors === 0,
        detail: `${pct(ratio)} of baseline; over all rounds ${lost} lost, ${closed} closed, ${errors} publish errors`,
      });
    }
  }
  if (results.latency) {
    const { base, sy } = both(results.latency);
    const target = `latency: p99 within ${TARGETS.latencyMaxP99ExtraMs} ms of baseline`;
    if (!base || !sy) checks.push({ target, met: null, detail: 'needs both runs' });
    else {
      const extra = sy.p99Ms - base.p99Ms;
      checks.push({ target, met: extra <= TARGETS.latencyMaxP99ExtraMs, detail: `p99 ${ms(sy.p99Ms)} vs ${ms(base.p99Ms)} (${extra >= 0 ? '+' : ''}${ms(extra)})` });
    }
  }
  if (results.idle) {
    const { sy } = both(results.idle);
    const target = `idle: <= ${TARGETS.idleMaxBytesPerSession / 1024} KiB per session`;
    if (!sy) checks.push({ target, met: null, detail: 'needs the switchyard run' });
    else checks.push({ target, met: sy.bytesPerSession <= TARGETS.idleMaxBytesPerSession, detail: `${kib(sy.bytesPerSession)} per session` });
  }
  checks.push(...checkAmqpTargets(results));
  checks.push(...checkClusterTargets(results));
  return checks;
}

function disturbedRuns(results: Results): string[] {
  return [
    ...disturbedRounds('fanout', results.fanout, COLUMNS),
    ...disturbedRounds('latency', results.latency, COLUMNS),
    ...disturbedRounds('idle', results.idle, COLUMNS),
    ...amqpDisturbed(results),
    ...clusterDisturbed(results),
  ];
}

export function renderReport(results: Results, checks: readonly TargetCheck[], rounds: number, rpcQueueType: RpcQueueType): string {
  const sections: string[] = rounds > 1 ? [`Each figure is the median of ${rounds} rounds.`] : [];
  if (results.fanout) {
    const first = both(results.fanout).base ?? both(results.fanout).sy;
    sections.push(
      table(`(a) fan-out: ${first?.subscribers ?? '?'} subscribers, window ${first?.window ?? '?'}, ${first ? first.seconds.toFixed(1) : '?'} s`, results.fanout, [
        ['deliveries/s', (r) => r.deliveriesPerSec, (n) => num(n)],
        ['publishes/s (acked)', (r) => r.publishesPerSec, (n) => num(n)],
        ['lost deliveries', (r) => r.lost, (n) => num(n)],
        ['unacked at stop', (r) => r.unackedPublishes, (n) => num(n)],
        ['unexpected closes', (r) => r.unexpectedCloses, (n) => num(n)],
        ['server CPU (cores)', (r) => r.serverCpuCores, (n) => num(n, 2)],
        ['server CPU/delivery (ns)', (r) => r.serverNsPerDelivery, (n) => num(n)],
        ...machineRows(),
        ['server RSS (MiB)', (r) => r.serverRssMiB, (n) => num(n, 1)],
      ], COLUMNS),
    );
  }
  if (results.latency) {
    const first = both(results.latency).base ?? both(results.latency).sy;
    sections.push(
      table(`(b) latency: ${first?.ratePerSec ?? '?'} msg/s to ${first?.subscribers ?? '?'} subscribers, ${first ? first.seconds.toFixed(1) : '?'} s`, results.latency, [
        ...latencyRows(),
        ['server CPU (cores)', (r) => r.serverCpuCores, (n) => num(n, 2)],
        ...machineRows(),
      ], COLUMNS),
    );
  }
  if (results.idle) {
    const first = both(results.idle).base ?? both(results.idle).sy;
    sections.push(
      table(`(c) idle: ${first?.sessions ?? '?'} subscribed sessions on ${first?.topics ?? '?'} topics`, results.idle, [
        ['RSS per session (bytes)', (r) => r.bytesPerSession, (n) => num(n)],
        ['RSS before (MiB)', (r) => r.rssBeforeMiB, (n) => num(n, 1)],
        ['RSS after (MiB)', (r) => r.rssAfterMiB, (n) => num(n, 1)],
        ['time to open all (s)', (r) => r.openSeconds, (n) => num(n, 2)],
        ['sessions opened/s', (r) => r.sessionsPerSec, (n) => num(n)],
        ['server CPU opening (s)', (r) => r.serverCpuSecOpening, (n) => num(n, 2)],
        ['unexpected closes', (r) => r.unexpectedCloses, (n) => num(n)],
        ['other processes (cores)', (r) => r.otherCpuCores, (n) => num(n, 2)],
        ['processes started elsewhere', (r) => r.processesStarted, (n) => num(n)],
      ], COLUMNS),
    );
  }
  sections.push(...renderAmqpSections(results, rpcQueueType));
  sections.push(...renderClusterSections(results));
  const disturbed = disturbedRuns(results);
  if (disturbed.length > 0) {
    sections.push(`WARNING: other work on the machine disturbed ${disturbed.join(', ')}. Rerun on a quiet machine.`);
  }
  const verdict = (met: boolean | null) => (met === null ? 'N/A    ' : met ? 'MET    ' : 'NOT MET');
  sections.push(['targets', ...checks.map((c) => `  ${verdict(c.met)}  ${c.target}: ${c.detail}`)].join('\n'));
  return sections.join('\n\n');
}
