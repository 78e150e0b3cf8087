/**
 * The report of the security scenarios for the report core (bench/core/report.ts): per
 * scenario, today's path in the baseline's column (HS256 tokens; no permission claims), the
 * new one in Switchyard's (ES256 tokens; 20 subscribe patterns), and their ratio: the cost.
 */
import { machineRows, num, sumRounds, type ReportFamily } from '../core/report.ts';
import type { BenchOptions } from '../options.ts';
import type { AuthConnectResult } from '../scenarios/authConnect.ts';
import type { AuthSubscribeResult } from '../scenarios/authSubscribe.ts';

export const SECURITY_REPORT: ReportFamily<{ 'auth-connect': AuthConnectResult; 'auth-subscribe': AuthSubscribeResult }, BenchOptions> = {
  columns: { metricWidth: 30, baselineHeader: 'today', baselineName: 'today', ratioHeader: 'new/today' },
  scenarios: {
    'auth-connect': {
      title: (r) => `(security a) connections with a token: ${r?.connections ?? '?'} sessions; today = HS256, switchyard = ES256`,
      rows: [
        ['sessions opened/s', (r) => r.connectionsPerSec, (n) => num(n)],
        ['server CPU/session (us)', (r) => r.serverUsPerConnection, (n) => num(n, 1)],
        ['time to open all (s)', (r) => r.openSeconds, (n) => num(n, 2)],
        ['server CPU (cores)', (r) => r.serverCpuCores, (n) => num(n, 2)],
        ['unexpected closes', (r) => r.unexpectedCloses, (n) => num(n)],
        ['error frames', (r) => r.errorFrames, (n) => num(n)],
        ...machineRows<AuthConnectResult>(),
      ],
      targets: [
        {
          target: 'auth-connect: every session with an ES256 token opened',
          needs: 'switchyard',
          judge: (sy, _base, runs) => {
            const failures = sumRounds(runs, ['unexpectedCloses', 'errorFrames']);
            return { met: failures === 0, detail: `${num(sy.connectionsPerSec)} sessions/s; over all rounds ${failures} closed or refused` };
          },
        },
      ],
    },
    'auth-subscribe': {
      title: (r) =>
        `(security b) subscribe requests: ${r?.sessions ?? '?'} sessions x ${r?.window ?? '?'} in flight, ${r ? r.seconds.toFixed(1) : '?'} s; today = no permission claims, switchyard = 20 subscribe patterns`,
      rows: [
        ['subscribes/s', (r) => r.subscribesPerSec, (n) => num(n)],
        ['server CPU/subscribe (us)', (r) => r.serverUsPerSubscribe, (n) => num(n, 2)],
        ['server CPU (cores)', (r) => r.serverCpuCores, (n) => num(n, 2)],
        ['errors', (r) => r.errors, (n) => num(n)],
        ...machineRows<AuthSubscribeResult>(),
      ],
      targets: [
        {
          target: 'auth-subscribe: every subscribe under 20 patterns acknowledged',
          needs: 'switchyard',
          judge: (sy, _base, runs) => {
            const errors = sumRounds(runs, ['errors']);
            return { met: errors === 0, detail: `${num(sy.subscribesPerSec)} subscribes/s; over all rounds ${errors} errors` };
          },
        },
      ],
    },
  },
};
