/**
 * The security family (issue 11) for the options core (bench/core/options.ts): what token
 * verification and topic permissions cost. Each scenario runs against Switchyard only; the
 * baseline's place holds today's path (HS256 tokens, tokens without permission claims) and
 * the switchyard place the new one (ES256 tokens, 20 subscribe patterns), so the ratio column
 * is the cost of the new path.
 */
import type { OptionGroup, ScenarioFamily } from '../core/options.ts';
import type { BenchOptions } from '../options.ts';

export const SECURITY_SCENARIOS = ['auth-connect', 'auth-subscribe'] as const;
export type SecurityScenarioName = (typeof SECURITY_SCENARIOS)[number];

export interface SecurityOptions {
  /** Sessions opened (each with a token, each subscribing one topic) in the connect scenario. */
  readonly authConnections: number;
  /** Sessions sending subscribe/unsubscribe pairs in the subscribe scenario. */
  readonly subscribeSessions: number;
  /** Requests each of them keeps in flight. */
  readonly subscribeWindow: number;
}

const FULL: SecurityOptions = { authConnections: 5000, subscribeSessions: 20, subscribeWindow: 8 };
const QUICK: Partial<SecurityOptions> = { authConnections: 500, subscribeSessions: 4 };

export const SECURITY_OPTIONS: OptionGroup<SecurityOptions> = {
  full: FULL,
  quick: QUICK,
  sizeFlags: { 'auth-connections': 'authConnections', 'subscribe-sessions': 'subscribeSessions', 'subscribe-window': 'subscribeWindow' },
  usage: `
  Security scenarios (issue 11): auth-connect, auth-subscribe, or \`security\` for both. Both
  run Switchyard only: the "baseline" column is today's path (HS256 tokens; tokens without
  permission claims), the "switchyard" column the new one (ES256 tokens; 20 subscribe patterns).
  --auth-connections N   sessions opened with a token in auth-connect (default ${FULL.authConnections})
  --subscribe-sessions N sessions sending subscribe requests in auth-subscribe (default ${FULL.subscribeSessions})
  --subscribe-window N   requests each keeps in flight (default ${FULL.subscribeWindow})`,
};

export const SECURITY_FAMILY: ScenarioFamily<SecurityScenarioName, BenchOptions> = {
  scenarios: SECURITY_SCENARIOS,
  byDefault: true,
  aliases: { security: SECURITY_SCENARIOS },
  sessions: (scenario, o) => (scenario === 'auth-connect' ? o.authConnections : o.subscribeSessions),
  roundBudgetSec: (scenario, o) => (scenario === 'auth-connect' ? 60 + o.authConnections / 50 : 60 + o.warmupSec + o.seconds),
};
