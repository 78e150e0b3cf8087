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
});
