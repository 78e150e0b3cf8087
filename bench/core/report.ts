/**
 * The report core of `bun run bench`. A family of scenarios declares its report as data (a
 * ReportFamily): what stands in the baseline's place (bare Bun, the Socket.IO cluster, bare
 * amqplib), and per scenario the table's title and rows and its targets with their verdicts.
 * One renderer turns every family's results into the printed report: a table per scenario
 * with the baseline's place, Switchyard and their ratio, the rounds other work disturbed, and
 * a met / not met line per target. Also the formats of figures and the rows every family
 * prints.
 */
import type { LatencyFigures } from '../histogram.ts';
import { disturbance, type Disturbable, type MachineFigures, type Runs } from './outcome.ts';

export interface TargetCheck {
  target: string;
  /** null when it could not be evaluated (a run failed or the baseline was not run). */
  met: boolean | null;
  detail: string;
}

/** The results of the runs that succeeded: the baseline's place, and Switchyard. */
function both<R>(runs: Runs<R> | undefined): { base?: R; sy?: R } {
  const pick = (o: Runs<R>[keyof Runs<R>]) => (o?.ok ? o.result : undefined);
  return { base: pick(runs?.baseline), sy: pick(runs?.switchyard) };
}

/** A sum over every Switchyard round (zero loss must hold in each, not only in the median). */
export function sumRounds<R>(runs: Runs<R>, fields: readonly (keyof R)[]): number {
  return (runs.switchyard?.rounds ?? []).reduce((n, r) => n + fields.reduce((m, f) => m + (r[f] as number), 0), 0);
}

export const num = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
export const ms = (n: number) => `${n.toFixed(3)} ms`;
export const kib = (bytes: number) => `${(bytes / 1024).toFixed(2)} KiB`;
export const pct = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;
export const cores = (n: number) => num(n, 2);
/** A latency in the tables' own column: milliseconds to the microsecond, no unit. */
export const msFigure = (n: number) => n.toFixed(3);

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

export type Row<R> = readonly [label: string, value: (r: R) => number, format: (n: number) => string];

/** The rows of a latency histogram's figures. */
export function latencyRows<R extends LatencyFigures>(): Row<R>[] {
  return [
    ['p50 (ms)', (r) => r.p50Ms, msFigure],
    ['p95 (ms)', (r) => r.p95Ms, msFigure],
    ['p99 (ms)', (r) => r.p99Ms, msFigure],
    ['max (ms)', (r) => r.maxMs, msFigure],
    ['samples', (r) => r.samples, (n) => num(n)],
    ['expected samples', (r) => r.expectedSamples, (n) => num(n)],
  ];
}

/** Where the rest of the machine's CPU went (the load generator, the kernel, other processes), and whether it was quiet. */
export function machineRows<R extends MachineFigures>(): Row<R>[] {
  return [
    ['generator CPU (cores)', (r) => r.generatorCpuCores, cores],
    ['kernel softirq (cores)', (r) => r.interruptCpuCores, cores],
    ['other processes (cores)', (r) => r.otherCpuCores, cores],
    ['processes started elsewhere', (r) => r.processesStarted, (n) => num(n)],
  ];
}

/** A target's verdict from the figures. */
export interface Verdict {
  met: boolean;
  detail: string;
}

/**
 * A target of a scenario and how its verdict follows from the runs: from Switchyard's alone,
 * or only with the baseline's place too. Without the runs it needs, the verdict is N/A.
 * `runs` gives every round, for what must hold in each (zero loss).
 */
export type Target<R> =
  | { readonly target: string; readonly needs: 'both'; judge(sy: R, base: R, runs: Runs<R>): Verdict }
  | { readonly target: string; readonly needs: 'switchyard'; judge(sy: R, base: R | undefined, runs: Runs<R>): Verdict };

export interface ScenarioReport<R, O> {
  /** The table's title, from the sizes of a run that succeeded (Switchyard's, if it did); `first` is undefined when none did. */
  title(first: R | undefined, o: O): string;
  readonly rows: readonly Row<R>[];
  readonly targets: readonly Target<R>[];
}

/** A family's report: `M` maps each of its scenarios to its result type, in report order. */
export interface ReportFamily<M extends { [K in keyof M]: Disturbable }, O> {
  readonly columns: Columns;
  readonly scenarios: { readonly [K in keyof M]: ScenarioReport<M[K], O> };
}

/** Every scenario's outcome per server, by scenario name (the results file's `results`). */
export type Results = Partial<Record<string, Runs<unknown>>>;

/** A family's report, whatever its result types: what the renderer asks of it. */
export interface FamilyReport<O> {
  checks(results: Results): TargetCheck[];
  sections(results: Results, o: O): string[];
  disturbed(results: Results): string[];
}

function table<R>(title: string, runs: Runs<R>, rows: readonly Row<R>[], columns: Columns): string {
  const width = columns.metricWidth;
  const lines = [title, `  ${'metric'.padEnd(width)}${columns.baselineHeader.padStart(16)}${'switchyard'.padStart(16)}${columns.ratioHeader.padStart(10)}`];
  for (const [kind, name] of [['baseline', columns.baselineName], ['switchyard', 'switchyard']] as const) {
    const run = runs[kind];
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

function check<R>({ target, needs, judge }: Target<R>, runs: Runs<R>): TargetCheck {
  const { base, sy } = both(runs);
  if (needs === 'both') {
    if (!base || !sy) return { target, met: null, detail: 'needs both runs' };
    return { target, ...judge(sy, base, runs) };
  }
  if (!sy) return { target, met: null, detail: 'needs the switchyard run' };
  return { target, ...(judge as (sy: R, base: R | undefined, runs: Runs<R>) => Verdict)(sy, base, runs) };
}

/** `<scenario> <run> round <n> (<why>)` for every round of `runs` that other work disturbed. */
function disturbedRounds<R extends Disturbable>(scenario: string, runs: Runs<R>, columns: Columns): string[] {
  const out: string[] = [];
  for (const [kind, name] of [['baseline', columns.baselineName], ['switchyard', 'switchyard']] as const) {
    runs[kind]?.rounds.forEach((r, i) => {
      const why = disturbance(r);
      if (why) out.push(`${scenario} ${name} round ${i + 1} (${why})`);
    });
  }
  return out;
}

/** The renderer's view of `family`: each of its scenarios that has results, in its order. */
export function familyReport<M extends { [K in keyof M]: Disturbable }, O>(family: ReportFamily<M, O>): FamilyReport<O> {
  // The results of a scenario of this family hold its result type; the results file is keyed by name.
  const each = <T>(results: Results, fn: <K extends keyof M & string>(name: K, runs: Runs<M[K]>, report: ScenarioReport<M[K], O>) => T[]): T[] =>
    (Object.keys(family.scenarios) as (keyof M & string)[]).flatMap((name) => {
      const runs = results[name] as Runs<M[typeof name]> | undefined;
      return runs ? fn(name, runs, family.scenarios[name]) : [];
    });
  return {
    checks: (results) => each(results, (_name, runs, report) => report.targets.map((target) => check(target, runs))),
    sections: (results, o) =>
      each(results, (_name, runs, report) => {
        const { base, sy } = both(runs);
        return [table(report.title(sy ?? base, o), runs, report.rows, family.columns)];
      }),
    disturbed: (results) => each(results, (name, runs) => disturbedRounds(name, runs, family.columns)),
  };
}

/** Every family's target checks, in the families' order. */
export function checkTargets<O>(families: readonly FamilyReport<O>[], results: Results): TargetCheck[] {
  return families.flatMap((f) => f.checks(results));
}

/** The printed report: the tables, a warning naming the disturbed rounds, then the verdicts of `checks`. */
export function renderReport<O extends { rounds: number }>(families: readonly FamilyReport<O>[], results: Results, checks: readonly TargetCheck[], o: O): string {
  const sections: string[] = o.rounds > 1 ? [`Each figure is the median of ${o.rounds} rounds.`] : [];
  sections.push(...families.flatMap((f) => f.sections(results, o)));
  const disturbed = families.flatMap((f) => f.disturbed(results));
  if (disturbed.length > 0) {
    sections.push(`WARNING: other work on the machine disturbed ${disturbed.join(', ')}. Rerun on a quiet machine.`);
  }
  const verdict = (met: boolean | null) => (met === null ? 'N/A    ' : met ? 'MET    ' : 'NOT MET');
  sections.push(['targets', ...checks.map((c) => `  ${verdict(c.met)}  ${c.target}: ${c.detail}`)].join('\n'));
  return sections.join('\n\n');
}
