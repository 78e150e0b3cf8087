/**
 * The report of the presence scenario for the report core (bench/core/report.ts): per join and
 * per leave, Redis commands, round trips and CPU, this process's CPU, and Redis memory per
 * member; beside the same sessions written one Presence call per session.
 */
import { num, sumRounds, type ReportFamily } from '../core/report.ts';
import type { BenchOptions } from '../options.ts';
import type { PresenceResult } from '../scenarios/presence.ts';

export const PRESENCE_REPORT: ReportFamily<{ presence: PresenceResult }, BenchOptions> = {
  // The baseline's place holds one Presence write per session (no coalescing).
  columns: { metricWidth: 30, baselineHeader: 'per-session', baselineName: 'one write per session', ratioHeader: 'sy/base' },
  scenarios: {
    presence: {
      title: (r) => `(presence) ${r ? num(r.sessions) : '?'} sessions joining, then leaving, ${r?.rooms ?? '?'} rooms over 2 instances, ${r ? num(r.ratePerSec) : '?'}/s`,
      rows: [
        ['join events (of 2 x sessions)', (r) => r.joinEvents, (n) => num(n)],
        ['leave events (of 2 x sessions)', (r) => r.leaveEvents, (n) => num(n)],
        ['Redis commands per join', (r) => r.redisCommandsPerJoin, (n) => num(n, 2)],
        ['Redis commands per leave', (r) => r.redisCommandsPerLeave, (n) => num(n, 2)],
        ['Redis round trips per join', (r) => r.redisReadsPerJoin, (n) => num(n, 2)],
        ['Redis round trips per leave', (r) => r.redisReadsPerLeave, (n) => num(n, 2)],
        ['Redis CPU per join (us)', (r) => r.redisUsPerJoin, (n) => num(n, 1)],
        ['Redis CPU per leave (us)', (r) => r.redisUsPerLeave, (n) => num(n, 1)],
        ['client CPU per join (us)', (r) => r.clientUsPerJoin, (n) => num(n, 1)],
        ['client CPU per leave (us)', (r) => r.clientUsPerLeave, (n) => num(n, 1)],
        ['Redis bytes per member', (r) => r.redisBytesPerMember, (n) => num(n)],
        ['presence keys left', (r) => r.keysLeft, (n) => num(n)],
        ['other processes (cores)', (r) => r.otherCpuCores, (n) => num(n, 2)],
        ['processes started elsewhere', (r) => r.processesStarted, (n) => num(n)],
      ],
      targets: [
        {
          target: 'presence: every join and leave reaches both instances, nothing left in Redis',
          needs: 'switchyard',
          judge: (sy, _base, runs) => {
            const expected = 2 * sy.sessions * (runs.switchyard?.rounds.length ?? 0);
            const events = sumRounds(runs, ['joinEvents']) + sumRounds(runs, ['leaveEvents']);
            const left = sumRounds(runs, ['keysLeft']);
            return { met: events === 2 * expected && left === 0, detail: `${events} of ${2 * expected} events over all rounds; ${left} keys left` };
          },
        },
      ],
    },
  },
};
