/**
 * `bun run cluster [--instances N]`: one gateway instance per core on one machine, like the
 * old design's master, without its dispatching: every instance listens on the same PORT
 * (REUSE_PORT, SO_REUSEPORT) and the kernel spreads the connections.
 *
 * - Instance IDs: `<INSTANCE_ID>-<n>` (n from 1), the base being INSTANCE_ID, FLY_MACHINE_ID
 *   or a random one, as for a single instance. A restarted instance keeps its ID, so it
 *   re-reads what its predecessor left pending in its inbox.
 * - Needs REDIS_URL for more than one instance (instances share topics only through Redis);
 *   without it, it runs one in-memory instance and `--instances` above 1 is an error.
 * - An instance that exits unasked is restarted after a backoff (200 ms doubling to 10 s;
 *   reset once it ran 30 s). Five exits within 60 s is a crash loop: the supervisor prints
 *   one line on stderr, stops the other instances and exits 1.
 * - SIGTERM or SIGINT is forwarded to every instance, each of which drains (DRAIN_WINDOW_MS,
 *   DRAIN_TIMEOUT_MS); the supervisor exits 0 once they all exited. A second signal is
 *   forwarded too (an instance exits at once on its second).
 *
 * The instances write their logs to the supervisor's stdout and stderr; the supervisor's own
 * lines are JSON like theirs (`service: "supervisor"`). The instances run in their own
 * process groups: a supervisor killed with SIGKILL leaves them running (stop them by PID;
 * the log line `instance started` names each one's).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.ts';
import { createLogger } from '../lib/log.ts';

const ENTRY = new URL('./gateway.ts', import.meta.url).pathname;
const FIRST_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 10_000;
/** An instance that ran this long is healthy again: the next crash starts the backoff anew. */
const STABLE_AFTER_MS = 30_000;
const CRASH_LOOP_EXITS = 5;
const CRASH_LOOP_WINDOW_MS = 60_000;

function fail(message: string): never {
  process.stderr.write(`switchyard supervisor: ${message}\n`);
  process.exit(1);
}

let values: { instances?: string };
try {
  ({ values } = parseArgs({ options: { instances: { type: 'string' } } }));
} catch (error) {
  fail(`${error instanceof Error ? error.message : String(error)}; usage: bun run cluster [--instances N]`);
}

let config;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) fail(`invalid configuration: ${error.message}`);
  throw error;
}

const requested = values.instances === undefined ? null : Number(values.instances);
if (requested !== null && !(Number.isInteger(requested) && requested >= 1 && requested <= 256)) {
  fail(`--instances: expected an integer from 1 to 256, got ${JSON.stringify(values.instances)}`);
}
if (!config.redisUrl && requested !== null && requested > 1) {
  fail('--instances above 1 needs REDIS_URL: instances share topics and sessions only through Redis (without it, one in-memory instance runs)');
}
const count = config.redisUrl ? (requested ?? availableParallelism()) : 1;
const base = config.instanceId;
if (`${base}-${count}`.length > 64) fail(`INSTANCE_ID ${JSON.stringify(base)} is too long to add -<n> (at most 64 characters in all)`);

const log = createLogger(config.logLevel, { service: 'supervisor', instance: base });

interface Slot {
  id: string;
  child: ChildProcess | null;
  startedAtMs: number;
  backoffMs: number;
  exits: number[];
  restartTimer: ReturnType<typeof setTimeout> | null;
}

const slots: Slot[] = Array.from({ length: count }, (_, i) => ({
  id: `${base}-${i + 1}`,
  child: null,
  startedAtMs: 0,
  backoffMs: FIRST_BACKOFF_MS,
  exits: [],
  restartTimer: null,
}));
let stopping = false;
/** What the supervisor exits with once every instance exited after stopAll. */
let exitStatus = 0;

function start(slot: Slot): void {
  slot.restartTimer = null;
  const child = spawn(process.execPath, [ENTRY], {
    env: { ...process.env, INSTANCE_ID: slot.id, REUSE_PORT: 'true' },
    stdio: ['ignore', 'inherit', 'inherit'],
    // Its own process group: a Ctrl-C in the terminal reaches the supervisor only, which
    // forwards it once. (Reaching both, the forwarded one would be the instance's second
    // signal, which ends it without a drain.)
    detached: true,
  });
  slot.child = child;
  slot.startedAtMs = Date.now();
  log.info('instance started', { child: slot.id, pid: child.pid });
  child.on('exit', (code, signal) => onExit(slot, child, code, signal));
}

function onExit(slot: Slot, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
  if (slot.child !== child) return;
  slot.child = null;
  if (stopping) {
    log.info('instance exited', { child: slot.id, code, signal });
    if (slots.every((s) => s.child === null)) process.exit(exitStatus);
    return;
  }
  const now = Date.now();
  if (now - slot.startedAtMs >= STABLE_AFTER_MS) slot.backoffMs = FIRST_BACKOFF_MS;
  slot.exits = [...slot.exits.filter((t) => now - t < CRASH_LOOP_WINDOW_MS), now];
  if (slot.exits.length >= CRASH_LOOP_EXITS) {
    process.stderr.write(
      `switchyard supervisor: instance ${slot.id} exited ${slot.exits.length} times within ${CRASH_LOOP_WINDOW_MS / 1000} s (last: ${signal ?? `code ${code}`}); giving up (its log above says why)\n`,
    );
    stopAll('SIGTERM', 1);
    return;
  }
  log.warn('instance exited; restarting', { child: slot.id, code, signal, inMs: slot.backoffMs });
  slot.restartTimer = setTimeout(() => start(slot), slot.backoffMs);
  slot.backoffMs = Math.min(slot.backoffMs * 2, MAX_BACKOFF_MS);
}

/** Forwards `signal` to every instance and exits with `exitCode` once they all exited. */
function stopAll(signal: NodeJS.Signals, exitCode: number): void {
  stopping = true;
  exitStatus = exitCode;
  for (const slot of slots) {
    if (slot.restartTimer) clearTimeout(slot.restartTimer);
    slot.restartTimer = null;
    slot.child?.kill(signal);
  }
  if (slots.every((s) => s.child === null)) process.exit(exitCode);
}

let signals = 0;
const onSignal = (signal: NodeJS.Signals): void => {
  signals += 1;
  log.info(signals === 1 ? 'stopping: each instance drains' : 'second signal: forwarded', { signal });
  stopAll(signal, 0);
};
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);

log.info('supervisor started', { instances: count, port: config.port, backend: config.redisUrl ? 'redis' : 'memory' });
for (const slot of slots) start(slot);
