/**
 * The protocol fuzz suite (test/fuzz/runner.ts says what is sent and what is judged). In
 * `bun run test` it runs a fixed seed and 2,000 cases; `bun run fuzz` runs 10,000 cases on a
 * fresh seed. Both take FUZZ_SEED, FUZZ_CASES, FUZZ_FROM and FUZZ_CONNECTIONS from the
 * environment, and print the seed, so that any run can be repeated (docs/security.md, Testing).
 */
import { expect, test } from 'bun:test';
import { describeReport, runFuzz } from './runner.ts';

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer: ${raw}`);
  return value;
}

/** The seed of the smaller run in `bun run test`: the same cases every time. */
const DEFAULT_SEED = 20261201;
const seed = envInt('FUZZ_SEED', DEFAULT_SEED);
const cases = envInt('FUZZ_CASES', 2000);

test(
  `fuzzed frames never crash the gateway, each gets a documented answer, the canary misses nothing (seed ${seed}, ${cases} cases)`,
  async () => {
    const report = await runFuzz({
      seed,
      cases,
      from: envInt('FUZZ_FROM', 0),
      connections: envInt('FUZZ_CONNECTIONS', 4),
      rssGrowthLimitMb: envInt('FUZZ_RSS_GROWTH_MB', 128),
    });
    const summary = describeReport(report);
    console.log(summary);
    expect(report.runProblems, summary).toEqual([]);
    expect(report.failures, summary).toEqual([]);
    expect(report.canaryMessages).toBeGreaterThan(0);
  },
  // 2,000 cases take well under a minute; a long run scales with FUZZ_CASES.
  Math.max(120_000, cases * 60),
);
