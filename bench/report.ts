/**
 * The report of the single-instance scenarios for the report core (bench/core/report.ts): a
 * table per scenario with the bare Bun baseline, Switchyard and their ratio, and the targets
 * of the benchmark issue. REPORT_FAMILIES puts every family's report in the order they run.
 */
import { familyReport, kib, latencyRows, machineRows, ms, num, pct, sumRounds, type FamilyReport, type ReportFamily, type Row, type ScenarioReport, type Target } from './core/report.ts';
import { AMQP_REPORT } from './amqp/report.ts';
import { CLUSTER_REPORT } from './cluster/report.ts';
import { SECURITY_REPORT } from './security/report.ts';
import { USERS_REPORT } from './users/report.ts';
import { PRESENCE_REPORT } from './presence/report.ts';
import type { BenchOptions } from './options.ts';
import type { FanoutResult } from './scenarios/fanout.ts';
import type { BinaryFanoutResult } from './scenarios/binaryFanout.ts';
import type { IdleResult } from './scenarios/idle.ts';
import type { LatencyResult } from './scenarios/latency.ts';

/** The issue's targets for one Switchyard instance, relative to the bare Bun baseline. */
export const TARGETS = {
  fanoutMinRatio: 0.8,
  latencyMaxP99ExtraMs: 1,
  idleMaxBytesPerSession: 4 * 1024,
} as const;

/** A figure only some runs have (NaN when absent), shown as '-' where missing. */
const orDash = (digits: number) => (n: number) => (Number.isNaN(n) ? '-' : num(n, digits));

/** The rows of a fan-out table; `extra` goes right after deliveries/s. */
function fanoutRows<R extends FanoutResult>(extra: readonly Row<R>[] = []): Row<R>[] {
  return [
    ['deliveries/s', (r) => r.deliveriesPerSec, (n) => num(n)],
    ...extra,
    ['publishes/s (acked)', (r) => r.publishesPerSec, (n) => num(n)],
    ['lost deliveries', (r) => r.lost, (n) => num(n)],
    ['unacked at stop', (r) => r.unackedPublishes, (n) => num(n)],
    ['unexpected closes', (r) => r.unexpectedCloses, (n) => num(n)],
    ['server CPU (cores)', (r) => r.serverCpuCores, (n) => num(n, 2)],
    ['server CPU/delivery (ns)', (r) => r.serverNsPerDelivery, (n) => num(n)],
    ...machineRows<R>(),
    ['server RSS (MiB)', (r) => r.serverRssMiB, (n) => num(n, 1)],
  ];
}

/** The fan-out target (`name` says which): a share of the baseline's deliveries/s, and nothing lost, closed or failed in any round. */
function fanoutTarget<R extends FanoutResult>(name: string): Target<R> {
  return {
    target: `${name}: >= ${TARGETS.fanoutMinRatio * 100}% of baseline deliveries/s, zero loss`,
    needs: 'both',
    judge: (sy, base, runs) => {
      const ratio = sy.deliveriesPerSec / base.deliveriesPerSec;
      const lost = sumRounds(runs, ['lost']);
      const closed = sumRounds(runs, ['unexpectedCloses']);
      const errors = sumRounds(runs, ['publishErrors']);
      return {
        met: ratio >= TARGETS.fanoutMinRatio && lost + closed + errors === 0,
        detail: `${pct(ratio)} of baseline; over all rounds ${lost} lost, ${closed} closed, ${errors} publish errors`,
      };
    },
  };
}

/** The binary fan-out scenarios (issue 14): one table per payload size, the fan-out target. */
function binaryReport(label: string): ScenarioReport<BinaryFanoutResult, BenchOptions> {
  return {
    title: (r) => `(d) binary fan-out: ${label} messages to ${r?.subscribers ?? '?'} subscribers, ${r ? r.seconds.toFixed(1) : '?'} s`,
    rows: fanoutRows<BinaryFanoutResult>([['payload MiB/s delivered', (r) => r.deliveredMiBPerSec, (n) => num(n)]]),
    targets: [fanoutTarget(`binary fan-out (${label})`)],
  };
}

const SINGLE_REPORT: ReportFamily<{ fanout: FanoutResult; latency: LatencyResult; idle: IdleResult; 'binary-1k': BinaryFanoutResult; 'binary-64k': BinaryFanoutResult }, BenchOptions> = {
  columns: { metricWidth: 26, baselineHeader: 'baseline', baselineName: 'baseline', ratioHeader: 'sy/base' },
  scenarios: {
    fanout: {
      title: (r) => `(a) fan-out: ${r?.subscribers ?? '?'} subscribers, window ${r?.window ?? '?'}, ${r ? r.seconds.toFixed(1) : '?'} s`,
      rows: fanoutRows<FanoutResult>(),
      targets: [fanoutTarget('fan-out')],
    },
    latency: {
      title: (r) => `(b) latency: ${r?.ratePerSec ?? '?'} msg/s to ${r?.subscribers ?? '?'} subscribers, ${r ? r.seconds.toFixed(1) : '?'} s`,
      rows: [...latencyRows<LatencyResult>(), ['server CPU (cores)', (r) => r.serverCpuCores, (n) => num(n, 2)], ...machineRows<LatencyResult>()],
      targets: [
        {
          target: `latency: p99 within ${TARGETS.latencyMaxP99ExtraMs} ms of baseline`,
          needs: 'both',
          judge: (sy, base) => {
            const extra = sy.p99Ms - base.p99Ms;
            return { met: extra <= TARGETS.latencyMaxP99ExtraMs, detail: `p99 ${ms(sy.p99Ms)} vs ${ms(base.p99Ms)} (${extra >= 0 ? '+' : ''}${ms(extra)})` };
          },
        },
      ],
    },
    idle: {
      title: (r) =>
        `(c) idle: ${r?.sessions ?? '?'} subscribed sessions on ${r?.topics ?? '?'} topics` +
        `${(r?.instances ?? 1) > 1 ? `, over ${r!.instances} server processes (RSS and CPU summed)` : ''}` +
        `${r?.redisBytesPerSession === undefined ? '' : ', cluster state in Redis'}`,
      rows: [
        ['RSS per session (bytes)', (r) => r.bytesPerSession, (n) => num(n)],
        ['RSS per session at 2 s', (r) => r.bytesPerSessionAt2s, (n) => num(n)],
        ['RSS settled after (s)', (r) => r.settleSeconds, (n) => num(n, 1)],
        ['RSS before (MiB)', (r) => r.rssBeforeMiB, (n) => num(n, 1)],
        ['RSS settled (MiB)', (r) => r.rssAfterMiB, (n) => num(n, 1)],
        // With --idle-store redis only ('-' otherwise).
        ['Redis bytes per session', (r) => r.redisBytesPerSession ?? Number.NaN, orDash(0)],
        ['Redis keys per session', (r) => r.redisKeysPerSession ?? Number.NaN, orDash(2)],
        ['Redis commands per open', (r) => r.redisCommandsPerSession ?? Number.NaN, orDash(1)],
        ['Redis CPU per open (µs)', (r) => r.redisUsecPerSession ?? Number.NaN, orDash(1)],
        ['time to open all (s)', (r) => r.openSeconds, (n) => num(n, 2)],
        ['sessions opened/s', (r) => r.sessionsPerSec, (n) => num(n)],
        ['server CPU opening (s)', (r) => r.serverCpuSecOpening, (n) => num(n, 2)],
        ['unexpected closes', (r) => r.unexpectedCloses, (n) => num(n)],
        ['other processes (cores)', (r) => r.otherCpuCores, (n) => num(n, 2)],
        ['processes started elsewhere', (r) => r.processesStarted, (n) => num(n)],
      ],
      targets: [
        {
          target: `idle: <= ${TARGETS.idleMaxBytesPerSession / 1024} KiB per session`,
          needs: 'switchyard',
          judge: (sy) => ({ met: sy.bytesPerSession <= TARGETS.idleMaxBytesPerSession, detail: `${kib(sy.bytesPerSession)} per session` }),
        },
      ],
    },
    'binary-1k': binaryReport('1 KiB'),
    'binary-64k': binaryReport('64 KiB'),
  },
};

/** Every family's report, in the order the families run (bench/options.ts FAMILIES). */
export const REPORT_FAMILIES: readonly FamilyReport<BenchOptions>[] = [familyReport(SINGLE_REPORT), familyReport(AMQP_REPORT), familyReport(CLUSTER_REPORT), familyReport(SECURITY_REPORT), familyReport(USERS_REPORT), familyReport(PRESENCE_REPORT)];
