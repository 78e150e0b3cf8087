/**
 * Latency histogram with one bucket per microsecond. Sparse (a Map), so a worker can ship
 * hundreds of thousands of samples to the harness as a few thousand pairs, and percentiles
 * stay exact to the microsecond after merging.
 */
export class Histogram {
  private readonly counts = new Map<number, number>();
  private total = 0;

  record(ms: number): void {
    const us = Math.max(0, Math.round(ms * 1000));
    this.counts.set(us, (this.counts.get(us) ?? 0) + 1);
    this.total += 1;
  }

  add(buckets: readonly (readonly [number, number])[]): void {
    for (const [us, n] of buckets) {
      this.counts.set(us, (this.counts.get(us) ?? 0) + n);
      this.total += n;
    }
  }

  get count(): number {
    return this.total;
  }

  buckets(): [number, number][] {
    return [...this.counts.entries()];
  }

  /** The smallest latency (ms) that at least `p` (0..1) of the samples do not exceed. */
  percentileMs(p: number): number {
    if (this.total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(p * this.total));
    let seen = 0;
    for (const [us, n] of [...this.counts.entries()].sort((a, b) => a[0] - b[0])) {
      seen += n;
      if (seen >= rank) return us / 1000;
    }
    return Number.NaN;
  }

  maxMs(): number {
    if (this.total === 0) return Number.NaN;
    let maxUs = 0;
    for (const us of this.counts.keys()) if (us > maxUs) maxUs = us;
    return maxUs / 1000;
  }
}

/** What every latency scenario reports of the histogram of its measured interval. */
export interface LatencyFigures {
  /** Latency samples recorded, and how many the measured messages should have produced. */
  samples: number;
  expectedSamples: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function latencyFigures(histogram: Histogram, expectedSamples: number): LatencyFigures {
  return {
    samples: histogram.count,
    expectedSamples,
    p50Ms: histogram.percentileMs(0.5),
    p95Ms: histogram.percentileMs(0.95),
    p99Ms: histogram.percentileMs(0.99),
    maxMs: histogram.maxMs(),
  };
}
