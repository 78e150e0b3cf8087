/**
 * The report of the users family for the report core (bench/core/report.ts): direct messages
 * beside Switchyard's own topic path (in the baseline's column), and the targets of issue 15.
 */
import { latencyRows, machineRows, ms, num, sumRounds, type ReportFamily } from '../core/report.ts';
import type { BenchOptions } from '../options.ts';
import type { DirectLatencyResult } from '../scenarios/directLatency.ts';
import type { OfflineDrainResult } from '../scenarios/offlineDrain.ts';

export const USERS_TARGETS = {
  /** Direct message p99 at most this much above the topic path's, in the same run. */
  directMaxP99ExtraMs: 1,
  /** A user with 1,000 pending messages has them all within this. */
  drainMaxMs: 200,
} as const;

export const USERS_REPORT: ReportFamily<{ 'direct-latency': DirectLatencyResult; 'offline-drain': OfflineDrainResult }, BenchOptions> = {
  columns: { metricWidth: 28, baselineHeader: 'topic path', baselineName: 'topic path', ratioHeader: 'dm/topic' },
  scenarios: {
    'direct-latency': {
      title: (r) => `(users a) direct message latency, A -> B: ${r?.ratePerSec ?? '?'} msg/s over ${r?.pairs ?? '?'} pairs, ${r ? r.seconds.toFixed(1) : '?'} s`,
      rows: [
        ...latencyRows<DirectLatencyResult>(),
        ['lost', (r) => r.lost, (n) => num(n)],
        ['server CPU (cores, both)', (r) => r.serverCpuCores, (n) => num(n, 2)],
        ['Redis CPU (cores)', (r) => r.redisCpuCores, (n) => num(n, 2)],
        ['Redis commands/message', (r) => r.redisCommandsPerMessage, (n) => num(n, 1)],
        ...machineRows<DirectLatencyResult>(),
      ],
      targets: [
        {
          target: `direct messages: p99 within ${USERS_TARGETS.directMaxP99ExtraMs} ms of the topic path's, none lost`,
          needs: 'both',
          judge: (sy, topic, runs) => {
            const extra = sy.p99Ms - topic.p99Ms;
            const lost = sumRounds(runs, ['lost']);
            return { met: extra <= USERS_TARGETS.directMaxP99ExtraMs && lost === 0, detail: `p99 ${ms(sy.p99Ms)} vs ${ms(topic.p99Ms)} (${extra >= 0 ? '+' : ''}${ms(extra)}); ${lost} lost over all rounds` };
          },
        },
      ],
    },
    'offline-drain': {
      title: (r) => `(users b) offline drain: a user with ${r?.messages ?? '?'} pending messages connects (topic path: a replay of as many)`,
      rows: [
        ['drain (ms)', (r) => r.drainMs, (n) => num(n, 1)],
        ['messages/s', (r) => r.messagesPerSec, (n) => num(n)],
        ['Redis commands/message', (r) => r.redisCommandsPerMessage, (n) => num(n, 2)],
        ['Redis us/message', (r) => r.redisUsPerMessage, (n) => num(n, 2)],
        ['server CPU (cores, both)', (r) => r.serverCpuCores, (n) => num(n, 2)],
        ...machineRows<OfflineDrainResult>(),
      ],
      targets: [
        {
          target: `offline drain: ${USERS_TARGETS.drainMaxMs} ms at most for 1,000 pending messages`,
          needs: 'switchyard',
          judge: (sy) => ({
            met: sy.messages >= 1000 && sy.drainMs <= USERS_TARGETS.drainMaxMs,
            detail: `${num(sy.messages)} messages in ${num(sy.drainMs, 1)} ms${sy.messages < 1000 ? ' (fewer than 1,000: not judged)' : ''}`,
          }),
        },
      ],
    },
  },
};
