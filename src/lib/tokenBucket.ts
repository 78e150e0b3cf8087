/**
 * Token bucket rate limiter: `ratePerSec` tokens refill continuously up to `burst`.
 * Refill is computed lazily on take(), so an idle bucket costs nothing.
 */
export class TokenBucket {
  private tokens: number;
  private lastMs: number;

  constructor(private readonly ratePerSec: number, private readonly burst: number, nowMs = performance.now()) {
    this.tokens = burst;
    this.lastMs = nowMs;
  }

  /** Takes one token; false when the bucket is empty. */
  take(nowMs = performance.now()): boolean {
    const refill = ((nowMs - this.lastMs) * this.ratePerSec) / 1000;
    this.tokens = Math.min(this.burst, this.tokens + refill);
    this.lastMs = nowMs;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
