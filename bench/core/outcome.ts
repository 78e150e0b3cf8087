/**
 * What a scenario run yields, in every family: per server, the figures of every round and
 * their median, or the error that ended its rounds; and when a round counts as disturbed by
 * other work on the machine.
 */
import type { ServerKind } from '../servers.ts';

/**
 * Per scenario, per server: the median of its rounds, or the error that ended one (with the
 * rounds completed before it).
 */
export type Outcome<R> = { ok: true; result: R; rounds: R[] } | { ok: false; error: string; rounds: R[] };

/** Field by field median of the rounds (every result field is a number). */
export function median<R extends { [K in keyof R]: number }>(rounds: readonly R[]): R {
  const first = rounds[0];
  if (!first) throw new Error('median of no rounds');
  const out = { ...first };
  for (const key of Object.keys(first) as (keyof R)[]) {
    const sorted = rounds.map((r) => r[key]).sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    (out[key] as number) = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  }
  return out;
}

/** One scenario's outcome per server; the baseline's place holds what the family compares with. */
export type Runs<R> = Partial<Record<ServerKind, Outcome<R>>>;

/**
 * When a round counts as disturbed by other work on the machine: more CPU taken by other
 * processes than an idle machine shows (~0.05 core), or processes being started (a test
 * suite, a compiler), whose bursts an average over the interval hides.
 */
export const DISTURBANCE = { maxOtherCores: 0.2, maxProcessesStarted: 10 } as const;

export interface Disturbable {
  otherCpuCores: number;
  processesStarted: number;
  /** Scenarios on a shared Redis: other programs' clients busy with it meanwhile. */
  foreignRedisClients?: number;
}

/** Where the rest of the machine's CPU went in a measured interval, and whether it was quiet: what every scenario reports. */
export interface MachineFigures extends Disturbable {
  /** Every load worker together, in cores. */
  generatorCpuCores: number;
  /** CPU used by other processes meanwhile (see DISTURBANCE). */
  otherCpuCores: number;
  /** Processes or threads started elsewhere on the machine meanwhile. */
  processesStarted: number;
  /** Kernel interrupt work charged to no process (mostly loopback TCP), in cores. */
  interruptCpuCores: number;
}

/** The MachineFigures of a measured interval, on their own (results are flat records of numbers). */
export function machineFigures(span: MachineFigures): MachineFigures {
  return { generatorCpuCores: span.generatorCpuCores, otherCpuCores: span.otherCpuCores, processesStarted: span.processesStarted, interruptCpuCores: span.interruptCpuCores };
}

/** Why a round's figures cannot be trusted, or null when the machine was quiet. */
export function disturbance(r: Disturbable): string | null {
  if (r.otherCpuCores > DISTURBANCE.maxOtherCores) return `other processes took ${r.otherCpuCores.toFixed(2)} cores`;
  if (r.processesStarted > DISTURBANCE.maxProcessesStarted) return `${r.processesStarted} processes started elsewhere`;
  if ((r.foreignRedisClients ?? 0) > 0) return `${r.foreignRedisClients} other clients were busy with Redis`;
  return null;
}

