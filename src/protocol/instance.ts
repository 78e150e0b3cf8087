/** The registry entry one instance writes and every other instance reads. */
import * as v from 'valibot';

export const InstanceInfoSchema = v.object({
  id: v.string(),
  region: v.string(),
  /** host:port where the instance accepts connections. */
  address: v.string(),
  sessions: v.pipe(v.number(), v.integer(), v.minValue(0)),
  startedAtMs: v.number(),
  heartbeatAtMs: v.number(),
  /** Figures for the dashboard, refreshed at each heartbeat (absent from older instances). */
  stats: v.optional(
    v.object({
      topics: v.number(),
      deliveredPerSec: v.number(),
      inboxLag: v.number(),
      /** Round trip of the last probe that came back; null before the first. */
      probeRoundTripMs: v.nullable(v.number()),
      /** What /readyz says. */
      ready: v.boolean(),
      draining: v.boolean(),
    }),
  ),
});
