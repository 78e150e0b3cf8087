/**
 * Entry point of `bun run bench`: runs each scenario against the bare Bun baseline and
 * against Switchyard (each on a fresh server process), prints both with their ratios and the
 * targets met or not, writes bench/results/<timestamp>.json, and ends with the same results
 * as one JSON line. Every child is stopped on every exit path; a watchdog bounds the run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { installCleanup } from './children.ts';
import { waitForQuietMachine } from './measure.ts';
import { machineInfo, openFileLimit, sourceFingerprint } from './procStats.ts';
import { familyOf, parseOptions, USAGE, UsageError, type BenchOptions, type ScenarioName } from './options.ts';
import { disturbance, median, type Disturbable, type Runs } from './core/outcome.ts';
import { checkTargets, renderReport, type Results } from './core/report.ts';
import { REPORT_FAMILIES } from './report.ts';
import { runFanout } from './scenarios/fanout.ts';
import { binaryFanout } from './scenarios/binaryFanout.ts';
import { runIdle } from './scenarios/idle.ts';
import { runLatency } from './scenarios/latency.ts';
import { runBridgeThroughput } from './scenarios/bridgeThroughput.ts';
import { runBridgeLatency } from './scenarios/bridgeLatency.ts';
import { runRpc } from './scenarios/rpc.ts';
import { runClusterFanout } from './scenarios/clusterFanout.ts';
import { runClusterLatency } from './scenarios/clusterLatency.ts';
import { runAuthConnect } from './scenarios/authConnect.ts';
import { runAuthSubscribe } from './scenarios/authSubscribe.ts';
import { runDirectLatency } from './scenarios/directLatency.ts';
import { runOfflineDrain } from './scenarios/offlineDrain.ts';
import { runPresence } from './scenarios/presence.ts';
import type { ScenarioContext } from './scenarios/context.ts';
import type { ServerKind } from './servers.ts';

/**
 * Before each run, wait up to QUIET_MAX_WAIT_MS for other processes to use at most this much
 * CPU (an idle machine here shows ~0.05 core). Not in --quick mode, which must stay short.
 */
const QUIET_MAX_BUSY_CORES = 0.15;
const QUIET_MAX_WAIT_MS = 30_000;
/** A round that other processes disturbed anyway is run again, up to this many times in all. */
const MAX_ATTEMPTS = 3;
const RESULTS_DIR = new URL('./results/', import.meta.url).pathname;
const REPO_ROOT = new URL('..', import.meta.url).pathname;

function readOptions(): BenchOptions {
  try {
    const options = parseOptions(Bun.argv.slice(2));
    if (options) return options;
    console.log(USAGE);
    process.exit(0);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`bench: ${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
}

/** The server holds every session's socket in one process; each worker holds its share. */
function checkOpenFiles(options: BenchOptions): void {
  const needed = Math.max(...options.scenarios.map((s) => familyOf(s).sessions(s, options))) + 1024;
  const limit = openFileLimit();
  if (limit >= needed) return;
  console.error(
    `bench: ulimit -n is ${limit}, but the server process needs about ${needed} open files for ` +
      `${needed - 1024} sockets. Raise it first (e.g. \`ulimit -n 65536\`, which needs a hard limit ` +
      `at least that high: see \`ulimit -Hn\`), or pass smaller --sessions / --subscribers.`,
  );
  process.exit(1);
}

/** Generous upper bound of one scenario on one server, every attempt included; only the watchdog uses it. */
function budgetSec(scenario: ScenarioName, o: BenchOptions): number {
  const quietWaitSec = QUIET_MAX_WAIT_MS / 1000 + 1;
  return MAX_ATTEMPTS * (quietWaitSec + familyOf(scenario).roundBudgetSec(scenario, o));
}

type Runner<R> = (kind: ServerKind, ctx: ScenarioContext) => Promise<R>;
type Figures<R> = { [K in keyof R]: number } & Disturbable;

/**
 * One round of one scenario on one server. Waits for a quiet machine first; a result that
 * other processes disturbed all the same (on a shared machine) is measured again.
 */
async function runRound<R extends Figures<R>>(run: Runner<R>, kind: ServerKind, ctx: ScenarioContext): Promise<R> {
  const attempts = ctx.options.quick ? 1 : MAX_ATTEMPTS;
  for (let attempt = 1; ; attempt++) {
    if (!ctx.options.quick) {
      const busyCores = await waitForQuietMachine(QUIET_MAX_BUSY_CORES, QUIET_MAX_WAIT_MS);
      if (busyCores > QUIET_MAX_BUSY_CORES) ctx.progress(`other processes still use ${busyCores.toFixed(2)} cores; running anyway`);
    }
    const result = await run(kind, ctx);
    const why = disturbance(result);
    if (why === null || attempt >= attempts) return result;
    ctx.progress(`${kind}: disturbed (${why}); measuring again`);
  }
}

/**
 * Runs one scenario against each server, round after round, alternating between the servers
 * so that a slow spell of the machine does not fall on one of them only. A failure ends that
 * server's rounds and is recorded; the run goes on.
 */
async function runEach<R extends Figures<R>>(scenario: ScenarioName, run: Runner<R>, options: BenchOptions, logDir: string, workerDeadlineMs: number): Promise<Runs<R>> {
  const done = new Map<ServerKind, R[]>(options.servers.map((kind) => [kind, []]));
  const errors = new Map<ServerKind, string>();
  for (let round = 1; round <= options.rounds; round++) {
    for (const kind of options.servers) {
      if (errors.has(kind)) continue;
      const tag = options.rounds > 1 ? ` round ${round}/${options.rounds}` : '';
      const progress = (line: string) => console.log(`  [${scenario}${tag}] ${line}`);
      const logPath = `${logDir}/${scenario}-${kind}-${round}.log`;
      try {
        done.get(kind)!.push(await runRound(run, kind, { options, logPath, workerDeadlineMs, progress }));
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        progress(`${kind}: FAILED: ${message}`);
        errors.set(kind, message);
      }
    }
  }
  const runs: Runs<R> = {};
  for (const [kind, rounds] of done) {
    const error = errors.get(kind);
    runs[kind] = error === undefined ? { ok: true, result: median(rounds), rounds } : { ok: false, error, rounds };
  }
  return runs;
}

/** runEach() of one scenario, whatever its result type. */
type ScenarioRun = (scenario: ScenarioName, options: BenchOptions, logDir: string, workerDeadlineMs: number) => Promise<Runs<unknown>>;

function scenarioRun<R extends Figures<R>>(run: Runner<R>): ScenarioRun {
  return (scenario, options, logDir, workerDeadlineMs) => runEach(scenario, run, options, logDir, workerDeadlineMs);
}

/** What runs each scenario. */
const RUNNERS: Record<ScenarioName, ScenarioRun> = {
  fanout: scenarioRun(runFanout),
  latency: scenarioRun(runLatency),
  idle: scenarioRun(runIdle),
  bridge: scenarioRun(runBridgeThroughput),
  'bridge-latency': scenarioRun(runBridgeLatency),
  rpc: scenarioRun(runRpc),
  'cluster-fanout': scenarioRun(runClusterFanout),
  'cluster-latency': scenarioRun(runClusterLatency),
  'auth-connect': scenarioRun(runAuthConnect),
  'auth-subscribe': scenarioRun(runAuthSubscribe),
  'direct-latency': scenarioRun(runDirectLatency),
  'offline-drain': scenarioRun(runOfflineDrain),
  presence: scenarioRun(runPresence),
  'binary-1k': scenarioRun(binaryFanout(1024)),
  'binary-64k': scenarioRun(binaryFanout(64 * 1024)),
};

async function main(): Promise<void> {
  const options = readOptions();
  checkOpenFiles(options);
  const runsPerScenario = options.servers.length * options.rounds;
  const budgetMs = 1000 * (30 + options.scenarios.reduce((sum, s) => sum + runsPerScenario * budgetSec(s, options), 0));
  installCleanup(budgetMs);

  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const logDir = `${RESULTS_DIR}${stamp}-logs`;
  mkdirSync(logDir, { recursive: true });
  const machine = machineInfo();
  const source = sourceFingerprint(REPO_ROOT);
  console.log(`switchyard bench: ${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, bun ${machine.bun}`);
  console.log(`source: commit ${source.commit ?? '(none)'}, src/ digest ${source.srcDigest}`);
  console.log(`scenarios ${options.scenarios.join(', ')} against ${options.servers.join(', ')}${options.quick ? ' (quick)' : ''}; server logs in ${logDir}`);
  console.log(`stops by itself after ${Math.ceil(budgetMs / 60_000)} min at most`);

  const results: Results = {};
  const deadline = startedAt.getTime() + budgetMs;
  for (const scenario of options.scenarios) results[scenario] = await RUNNERS[scenario](scenario, options, logDir, deadline);

  const targets = checkTargets(REPORT_FAMILIES, results);
  console.log(`\n${renderReport(REPORT_FAMILIES, results, targets, options)}\n`);
  const record = { startedAt: startedAt.toISOString(), argv: Bun.argv.slice(2), machine, source, options, results, targets };
  const file = `${RESULTS_DIR}${stamp}.json`;
  writeFileSync(file, JSON.stringify(record, null, 2) + '\n');
  console.log(`results written to ${file}`);
  console.log(JSON.stringify(record));
  const outcomes = Object.values(results).flatMap((runs) => Object.values(runs ?? {}));
  process.exit(outcomes.some((o) => !o.ok) ? 1 : 0);
}

await main();
