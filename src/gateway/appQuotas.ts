/**
 * Per-app quotas of one instance, on top of the per-session limits: publishes per second
 * (`maxPublishPerSec`, server API and client `publish` frames together, a token bucket per
 * app holding one second's worth) and sessions held (`maxConnections`, counted by the
 * SessionIndex, which knows when a session really opened and closed).
 *
 * Sessions per user across the cluster (`maxSessionsPerUser`) is a quota of the cluster, not
 * of one instance: it comes with the users issue (presence knows a user's sessions) and is
 * checked beside hasRoomFor() in Gateway.
 */
import type { AppConfig } from '../config.ts';

interface Bucket {
  tokens: number;
  atMs: number;
}

export class AppQuotas {
  private readonly buckets = new Map<string, Bucket>();

  /**
   * Takes one publish of `app`'s budget; false when the app is over `maxPublishPerSec` on
   * this instance (the publish is refused, not queued). Refilled lazily, like the sessions'
   * frame buckets.
   */
  tryPublish(app: AppConfig, nowMs = performance.now()): boolean {
    const perSec = app.maxPublishPerSec;
    if (perSec === undefined) return true;
    let bucket = this.buckets.get(app.id);
    if (!bucket) this.buckets.set(app.id, (bucket = { tokens: perSec, atMs: nowMs }));
    bucket.tokens = Math.min(perSec, bucket.tokens + ((nowMs - bucket.atMs) * perSec) / 1000);
    bucket.atMs = nowMs;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
