/**
 * The users family (direct messages on a two-instance Switchyard cluster + Redis) for the
 * options core (bench/core/options.ts): its scenarios, sizes and time budget. The baseline's
 * place holds Switchyard's own topic path, measured the same way in the same run: the
 * direct message path is judged against it (docs/users.md).
 */
import type { OptionGroup, ScenarioFamily } from '../core/options.ts';
import type { BenchOptions } from '../options.ts';

export const USERS_SCENARIOS = ['direct-latency', 'offline-drain'] as const;
export type UsersScenarioName = (typeof USERS_SCENARIOS)[number];

export interface UsersOptions {
  /** Sender/receiver user pairs of direct-latency (a sender on instance A, its receiver on B). */
  readonly directPairs: number;
  /** Messages per second over all pairs. */
  readonly directRatePerSec: number;
  /** Pending messages of the user who connects in offline-drain. */
  readonly drainMessages: number;
}

const FULL: UsersOptions = { directPairs: 1000, directRatePerSec: 1000, drainMessages: 1000 };
const QUICK: Partial<UsersOptions> = { directPairs: 50, directRatePerSec: 200 };

export const USERS_OPTIONS: OptionGroup<UsersOptions> = {
  full: FULL,
  quick: QUICK,
  sizeFlags: { 'direct-pairs': 'directPairs', 'direct-rate': 'directRatePerSec', 'drain-messages': 'drainMessages' },
  fractional: ['directRatePerSec'],
  usage: `
  Users scenarios (need Redis on 127.0.0.1:6379; started if installed): direct-latency,
  offline-drain, or \`users\` for both. Two Switchyard instances; the "baseline" column is
  Switchyard's topic path measured the same way (client publish frames to one topic per pair;
  a topic replay of the same number of messages).
  --direct-pairs N       sender/receiver pairs (default ${FULL.directPairs})
  --direct-rate N        direct messages per second over all pairs (default ${FULL.directRatePerSec})
  --drain-messages N     pending messages of the connecting user (default ${FULL.drainMessages})`,
};

/** Needs Redis, so runs only when named; `--scenario users` names both. */
export const USERS_FAMILY: ScenarioFamily<UsersScenarioName, BenchOptions> = {
  scenarios: USERS_SCENARIOS,
  byDefault: false,
  aliases: { users: USERS_SCENARIOS },
  sessions: (scenario, o) => (scenario === 'direct-latency' ? 2 * o.directPairs : 2),
  roundBudgetSec: (scenario, o) => (scenario === 'direct-latency' ? 120 + o.latencyWarmupSec + o.seconds + o.directPairs / 20 : 120 + o.drainMessages / 100),
};
