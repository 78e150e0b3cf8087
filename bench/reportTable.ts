/**
 * What the reports of the three families of scenarios share (bench/report.ts for one
 * instance, bench/cluster/report.ts, bench/amqp/report.ts): a target's verdict, the formats of
 * figures, the table of a scenario with the baseline's place, Switchyard and their ratio, the
 * rows every family prints, and the list of rounds other work disturbed. Each family names
 * what stands in the baseline's place (bare Bun, the Socket.IO cluster, bare amqplib).
 */
import { disturbance, type Disturbable, type Outcome } from './outcome.ts';
import type { LatencyFigures } from './histogram.ts';
import type { ServerKind } from './servers.ts';

export interface TargetCheck {
  target: string;
  /** null when it could not be evaluated (a run failed or the baseline was not run). */
  met: boolean | null;
  detail: string;
}

/** One scenario's outcome per server, as in Results. */
export type Runs<R> = Partial<Record<ServerKind, Outcome<R>>> | undefined;

/** The results of the runs that succeeded: the baseline's place, and Switchyard. */
export function both<R>(runs: Runs<R>): { base?: R; sy?: R } {
  const pick = (o: Outcome<R> | undefined) => (o?.ok ? o.result : undefined);
  return { base: pick(runs?.baseline), sy: pick(runs?.switchyard) };
}

/** A sum over every Switchyard round (zero loss must hold in each, not only in the median). */
export function sumRounds<R>(runs: Runs<R>, fields: readonly (keyof R)[]): number {
  return (runs?.switchyard?.rounds ?? []).reduce((n, r) => n + fields.reduce((m, f) => m + (r[f] as number), 0), 0);
}

export const num = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
export const ms = (n: number) => `${n.toFixed(3)} ms`;
export const kib = (bytes: number) => `${(bytes / 1024).toFixed(2)} KiB`;
export const pct = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;
export const cores = (n: number) => num(n, 2);

/** How a family's tables name what runs in the baseline's place. */
export interface Columns {
  /** Width of the metric column. */
  metricWidth: number;
  /** The baseline column's header. */
  baselineHeader: string;
  /** The baseline run's name in failure lines and in the list of disturbed rounds. */
  baselineName: string;
  /** The ratio column's header. */
  ratioHeader: string;
}

export type Row<R> = [label: string, value: (r: R) => number, format: (n: number) => string];

export function table<R>(title: string, runs: Runs<R>, rows: Row<R>[], columns: Columns): string {
  const width = columns.metricWidth;
  const lines = [title, `  ${'metric'.padEnd(width)}${columns.baselineHeader.padStart(16)}${'switchyard'.padStart(16)}${columns.ratioHeader.padStart(10)}`];
  for (const [kind, name] of [['baseline', columns.baselineName], ['switchyard', 'switchyard']] as const) {
    const run = runs?.[kind];
    if (run && !run.ok) lines.push(`  ${name} FAILED: ${run.error}`);
  }
  const { base, sy } = both(runs);
  for (const [label, value, format] of rows) {
    const b = base ? value(base) : undefined;
    const s = sy ? value(sy) : undefined;
    const ratio = b !== undefined && s !== undefined && b !== 0 ? (s / b).toFixed(2) : '';
    lines.push(`  ${label.padEnd(width)}${(b === undefined ? '-' : format(b)).padStart(16)}${(s === undefined ? '-' : format(s)).padStart(16)}${ratio.padStart(10)}`);
  }
  return lines.join('\n');
}

/** The rows of a latency histogram's figures. */
export function latencyRows<R extends LatencyFigures>(): Row<R>[] {
  return [
    ['p50 (ms)', (r) => r.p50Ms, (n) => n.toFixed(3)],
    ['p95 (ms)', (r) => r.p95Ms, (n) => n.toFixed(3)],
    ['p99 (ms)', (r) => r.p99Ms, (n) => n.toFixed(3)],
    ['max (ms)', (r) => r.maxMs, (n) => n.toFixed(3)],
    ['samples', (r) => r.samples, (n) => num(n)],
    ['expected samples', (r) => r.expectedSamples, (n) => num(n)],
  ];
}

type MachineFigures = Record<'generatorCpuCores' | 'interruptCpuCores' | 'otherCpuCores' | 'processesStarted', number>;

/** Where the rest of the machine's CPU went (the load generator, the kernel, other processes), and whether it was quiet. */
export function machineRows<R extends MachineFigures>(): Row<R>[] {
  return [
    ['generator CPU (cores)', (r) => r.generatorCpuCores, cores],
    ['kernel softirq (cores)', (r) => r.interruptCpuCores, cores],
    ['other processes (cores)', (r) => r.otherCpuCores, cores],
    ['processes started elsewhere', (r) => r.processesStarted, (n) => num(n)],
  ];
}

/** `<scenario> <run> round <n> (<why>)` for every round of `runs` that other work disturbed. */
export function disturbedRounds<R extends Disturbable>(scenario: string, runs: Runs<R>, columns: Columns): string[] {
  const out: string[] = [];
  for (const [kind, name] of [['baseline', columns.baselineName], ['switchyard', 'switchyard']] as const) {
    runs?.[kind]?.rounds.forEach((r, i) => {
      const why = disturbance(r);
      if (why) out.push(`${scenario} ${name} round ${i + 1} (${why})`);
    });
  }
  return out;
}
