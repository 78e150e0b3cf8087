/**
 * Turns scenario results into the printed report: a table per scenario with the baseline,
 * Switchyard and their ratio, the disturbed rounds, and a met / not met line per target of
 * the benchmark issue.
 */
import { disturbance, type Disturbable, type Outcome, type Results } from './outcome.ts';
import type { ServerKind } from './servers.ts';
import { amqpDisturbed, checkAmqpTargets, renderAmqpSections } from './amqp/report.ts';
import { checkClusterTargets, clusterDisturbed, renderClusterSections } from './cluster/report.ts';

export interface TargetCheck {
  target: string;
  /** null when it could not be evaluated (a run failed or the baseline was not run). */
  met: boolean | null;
  detail: string;
}

/** The targets for one Switchyard instance, relative to the bare Bun baseline. */
export const TARGETS = {
  fanoutMinRatio: 0.8,
  latencyMaxP99ExtraMs: 1,
  idleMaxBytesPerSession: 4 * 1024,
} as const;

function both<R>(runs: Partial<Record<ServerKind, Outcome<R>>> | undefined): { base?: R; sy?: R } {
  const pick = (o: Outcome<R> | undefined) => (o?.ok ? o.result : undefined);
  return { base: pick(runs?.baseline), sy: pick(runs?.switchyard) };
}

export function checkTargets(results: Results): TargetCheck[] {
  const checks: TargetCheck[] = [];
  if (results.fanout) {
    const { base, sy } = both(results.fanout);
    const target = `fan-out: >= ${TARGETS.fanoutMinRatio * 100}% of baseline deliveries/s, zero loss`;
    if (!base || !sy) checks.push({ target, met: null, detail: 'needs both runs' });
    else {
      const ratio = sy.deliveriesPerSec / base.deliveriesPerSec;
      // Zero loss in every round, not only in the median one.
      const sum = (field: 'lost' | 'unexpectedCloses' | 'publishErrors') => (results.fanout?.switchyard?.rounds ?? []).reduce((n, r) => n + r[field], 0);
      const [lost, closed, errors] = [sum('lost'), sum('unexpectedCloses'), sum('publishErrors')];
      checks.push({
        target,
        met: ratio >= TARGETS.fanoutMinRatio && lost + closed + errors === 0,
        detail: `${pct(ratio)} of baseline; over all rounds ${lost} lost, ${closed} closed, ${errors} publish errors`,
      });
    }
  }
  if (results.latency) {
    const { base, sy } = both(results.latency);
    const target = `latency: p99 within ${TARGETS.latencyMaxP99ExtraMs} ms of baseline`;
    if (!base || !sy) checks.push({ target, met: null, detail: 'needs both runs' });
    else {
      const extra = sy.p99Ms - base.p99Ms;
      checks.push({ target, met: extra <= TARGETS.latencyMaxP99ExtraMs, detail: `p99 ${ms(sy.p99Ms)} vs ${ms(base.p99Ms)} (${extra >= 0 ? '+' : ''}${ms(extra)})` });
    }
  }
  if (results.idle) {
    const { sy } = both(results.idle);
    const target = `idle: <= ${TARGETS.idleMaxBytesPerSession / 1024} KiB per session`;
    if (!sy) checks.push({ target, met: null, detail: 'needs the switchyard run' });
    else checks.push({ target, met: sy.bytesPerSession <= TARGETS.idleMaxBytesPerSession, detail: `${kib(sy.bytesPerSession)} per session` });
  }
  checks.push(...checkAmqpTargets(results));
  checks.push(...checkClusterTargets(results));
  return checks;
}

const num = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (n: number) => `${n.toFixed(3)} ms`;
const kib = (bytes: number) => `${(bytes / 1024).toFixed(2)} KiB`;
const pct = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;

type Row<R> = [label: string, value: (r: R) => number, format: (n: number) => string];

function table<R>(title: string, runs: Partial<Record<ServerKind, Outcome<R>>> | undefined, rows: Row<R>[]): string {
  const lines = [title, `  ${'metric'.padEnd(26)}${'baseline'.padStart(16)}${'switchyard'.padStart(16)}${'sy/base'.padStart(10)}`];
  for (const kind of ['baseline', 'switchyard'] as const) {
    const run = runs?.[kind];
    if (run && !run.ok) lines.push(`  ${kind} FAILED: ${run.error}`);
  }
  const { base, sy } = both(runs);
  for (const [label, value, format] of rows) {
    const b = base ? value(base) : undefined;
    const s = sy ? value(sy) : undefined;
    const ratio = b !== undefined && s !== undefined && b !== 0 ? (s / b).toFixed(2) : '';
    lines.push(`  ${label.padEnd(26)}${(b === undefined ? '-' : format(b)).padStart(16)}${(s === undefined ? '-' : format(s)).padStart(16)}${ratio.padStart(10)}`);
  }
  return lines.join('\n');
}

function disturbedRuns(results: Results): string[] {
  const out: string[] = [];
  const scan = <R extends Disturbable>(scenario: string, runs: Partial<Record<ServerKind, Outcome<R>>> | undefined) => {
    for (const kind of ['baseline', 'switchyard'] as const) {
      runs?.[kind]?.rounds.forEach((r, i) => {
        const why = disturbance(r);
        if (why) out.push(`${scenario} ${kind} round ${i + 1} (${why})`);
      });
    }
  };
  scan('fanout', results.fanout);
  scan('latency', results.latency);
  scan('idle', results.idle);
  out.push(...amqpDisturbed(results));
  out.push(...clusterDisturbed(results));
  return out;
}

export function renderReport(results: Results, checks: readonly TargetCheck[], rounds: number): string {
  const sections: string[] = rounds > 1 ? [`Each figure is the median of ${rounds} rounds.`] : [];
  if (results.fanout) {
    const first = both(results.fanout).base ?? both(results.fanout).sy;
    sections.push(
      table(`(a) fan-out: ${first?.subscribers ?? '?'} subscribers, window ${first?.window ?? '?'}, ${first ? first.seconds.toFixed(1) : '?'} s`, results.fanout, [
        ['deliveries/s', (r) => r.deliveriesPerSec, (n) => num(n)],
        ['publishes/s (acked)', (r) => r.publishesPerSec, (n) => num(n)],
        ['lost deliveries', (r) => r.lost, (n) => num(n)],
        ['unacked at stop', (r) => r.unackedPublishes, (n) => num(n)],
        ['unexpected closes', (r) => r.unexpectedCloses, (n) => num(n)],
        ['server CPU (cores)', (r) => r.serverCpuCores, (n) => num(n, 2)],
        ['server CPU/delivery (ns)', (r) => r.serverNsPerDelivery, (n) => num(n)],
        ['generator CPU (cores)', (r) => r.generatorCpuCores, (n) => num(n, 2)],
        ['kernel softirq (cores)', (r) => r.interruptCpuCores, (n) => num(n, 2)],
        ['other processes (cores)', (r) => r.otherCpuCores, (n) => num(n, 2)],
        ['processes started elsewhere', (r) => r.processesStarted, (n) => num(n)],
        ['server RSS (MiB)', (r) => r.serverRssMiB, (n) => num(n, 1)],
      ]),
    );
  }
  if (results.latency) {
    const first = both(results.latency).base ?? both(results.latency).sy;
    sections.push(
      table(`(b) latency: ${first?.ratePerSec ?? '?'} msg/s to ${first?.subscribers ?? '?'} subscribers, ${first ? first.seconds.toFixed(1) : '?'} s`, results.latency, [
        ['p50 (ms)', (r) => r.p50Ms, (n) => n.toFixed(3)],
        ['p95 (ms)', (r) => r.p95Ms, (n) => n.toFixed(3)],
        ['p99 (ms)', (r) => r.p99Ms, (n) => n.toFixed(3)],
        ['max (ms)', (r) => r.maxMs, (n) => n.toFixed(3)],
        ['samples', (r) => r.samples, (n) => num(n)],
        ['expected samples', (r) => r.expectedSamples, (n) => num(n)],
        ['server CPU (cores)', (r) => r.serverCpuCores, (n) => num(n, 2)],
        ['generator CPU (cores)', (r) => r.generatorCpuCores, (n) => num(n, 2)],
        ['kernel softirq (cores)', (r) => r.interruptCpuCores, (n) => num(n, 2)],
        ['other processes (cores)', (r) => r.otherCpuCores, (n) => num(n, 2)],
        ['processes started elsewhere', (r) => r.processesStarted, (n) => num(n)],
      ]),
    );
  }
  if (results.idle) {
    const first = both(results.idle).base ?? both(results.idle).sy;
    sections.push(
      table(`(c) idle: ${first?.sessions ?? '?'} subscribed sessions on ${first?.topics ?? '?'} topics`, results.idle, [
        ['RSS per session (bytes)', (r) => r.bytesPerSession, (n) => num(n)],
        ['RSS before (MiB)', (r) => r.rssBeforeMiB, (n) => num(n, 1)],
        ['RSS after (MiB)', (r) => r.rssAfterMiB, (n) => num(n, 1)],
        ['time to open all (s)', (r) => r.openSeconds, (n) => num(n, 2)],
        ['sessions opened/s', (r) => r.sessionsPerSec, (n) => num(n)],
        ['server CPU opening (s)', (r) => r.serverCpuSecOpening, (n) => num(n, 2)],
        ['unexpected closes', (r) => r.unexpectedCloses, (n) => num(n)],
        ['other processes (cores)', (r) => r.otherCpuCores, (n) => num(n, 2)],
        ['processes started elsewhere', (r) => r.processesStarted, (n) => num(n)],
      ]),
    );
  }
  sections.push(...renderAmqpSections(results));
  sections.push(...renderClusterSections(results));
  const disturbed = disturbedRuns(results);
  if (disturbed.length > 0) {
    sections.push(`WARNING: other work on the machine disturbed ${disturbed.join(', ')}. Rerun on a quiet machine.`);
  }
  const verdict = (met: boolean | null) => (met === null ? 'N/A    ' : met ? 'MET    ' : 'NOT MET');
  sections.push(['targets', ...checks.map((c) => `  ${verdict(c.met)}  ${c.target}: ${c.detail}`)].join('\n'));
  return sections.join('\n\n');
}
