/**
 * The presence family (issue 15: "10,000 sessions joining and leaving 100 rooms") for the
 * options core (bench/core/options.ts): its scenario, sizes and flags, and its time budget.
 * It needs Redis (127.0.0.1:6379, started where installed), so it runs only when named.
 */
import type { OptionGroup, ScenarioFamily } from '../core/options.ts';
import type { BenchOptions } from '../options.ts';

export const PRESENCE_SCENARIOS = ['presence'] as const;
export type PresenceScenarioName = (typeof PRESENCE_SCENARIOS)[number];

export interface PresenceOptions {
  /** Sessions that join (then leave), each with a user of its own, spread round-robin over the rooms and two instances. */
  readonly presenceSessions: number;
  readonly presenceRooms: number;
  /** Joins (then leaves) per second: sessions arrive spread over time, as they do. */
  readonly presenceRatePerSec: number;
}

const FULL: PresenceOptions = { presenceSessions: 10_000, presenceRooms: 100, presenceRatePerSec: 5000 };

export const PRESENCE_OPTIONS: OptionGroup<PresenceOptions> = {
  full: FULL,
  quick: { presenceSessions: 1000, presenceRooms: 20 },
  sizeFlags: { 'presence-sessions': 'presenceSessions', 'presence-rooms': 'presenceRooms', 'presence-rate': 'presenceRatePerSec' },
  fractional: ['presenceRatePerSec'],
  usage: `
  Presence scenario (needs Redis on 127.0.0.1:6379; started if installed): presence. Sessions
  join presence rooms at a fixed rate through two instances' presence trackers, then leave;
  Redis commands, Redis CPU and client CPU per join and per leave, Redis memory per member.
  The baseline's place holds the same with one Presence write per session (no coalescing).
  --presence-sessions N  sessions joining and leaving (default ${FULL.presenceSessions})
  --presence-rooms N     rooms they spread over (default ${FULL.presenceRooms})
  --presence-rate N      joins (and leaves) per second (default ${FULL.presenceRatePerSec})`,
};

export const PRESENCE_FAMILY: ScenarioFamily<PresenceScenarioName, BenchOptions> = {
  scenarios: PRESENCE_SCENARIOS,
  byDefault: false,
  // No sockets: the sessions are the trackers' counts.
  sessions: () => 0,
  roundBudgetSec: (_scenario, o) => 60 + (2 * o.presenceSessions) / o.presenceRatePerSec,
};
