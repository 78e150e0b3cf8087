/**
 * Each round of a RabbitMQ scenario runs under names of its own: an AMQP_PREFIX for every
 * exchange and queue and a REDIS_KEY_PREFIX for every key, so that rounds start from fresh
 * quorum queues and runs never collide with tests or deployments on the same servers. After
 * the round everything under them is deleted.
 *
 * A harness killed before its clean-up (SIGKILL) would leave queues, keys and the gateway and
 * bridge processes behind (they have no IPC channel to notice), so every namespace is written
 * to a journal before anything is created in it, with the PID of each process started in it,
 * and struck from it once cleaned up. The next round stops those processes (by PID, after
 * checking that the process still belongs to that namespace) and deletes whatever the journal
 * still lists for a harness that no longer runs.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as amqp from 'amqplib';
import { amqpNames, deleteTopology, type AmqpNames } from '../../src/amqp/topology.ts';
import type { RpcQueueType } from './options.ts';
import { AMQP_URL } from './services.ts';
import { RedisHost } from '../cluster/redisHost.ts';

const JOURNAL_DIR = new URL('../results/', import.meta.url).pathname;
const JOURNAL = `${JOURNAL_DIR}amqp-namespaces-pending.json`;

export interface Namespace {
  amqpPrefix: string;
  /** Ends with ':'; only [a-z0-9.:] so that it is also a literal SCAN pattern. */
  redisPrefix: string;
  /** Job methods whose queues exist under the prefix. */
  methods: string[];
  /** RPC_QUEUE_TYPE of the processes started in it. */
  rpcQueueType: RpcQueueType;
  /** The harness process that created it. */
  ownerPid: number;
  /** The server processes started in it (gateway, bridge, worker). */
  pids: number[];
}

export function names(ns: Namespace): AmqpNames {
  // Journals of earlier harness versions have no queue type; the name is all deletion needs.
  return amqpNames(ns.amqpPrefix, ns.rpcQueueType ?? 'classic');
}

function readJournal(): Namespace[] {
  if (!existsSync(JOURNAL)) return [];
  try {
    return JSON.parse(readFileSync(JOURNAL, 'utf8')) as Namespace[];
  } catch {
    return [];
  }
}

function writeJournal(entries: readonly Namespace[]): void {
  mkdirSync(JOURNAL_DIR, { recursive: true });
  writeFileSync(JOURNAL, JSON.stringify(entries, null, 1) + '\n');
}

/** A fresh namespace, journaled before anything is created in it. */
export function openNamespace(tag: string, methods: string[] = [], rpcQueueType: RpcQueueType = 'classic'): Namespace {
  const id = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const ns: Namespace = { amqpPrefix: `bench.${tag}.${id}`, redisPrefix: `bench:${tag}:${id}:`, methods, rpcQueueType, ownerPid: process.pid, pids: [] };
  writeJournal([...readJournal(), ns]);
  return ns;
}

/** Records a process started in the namespace, so that a later run can stop it if this one cannot. */
export function recordProcess(ns: Namespace, pid: number): void {
  ns.pids.push(pid);
  writeJournal(readJournal().map((e) => (e.amqpPrefix === ns.amqpPrefix ? { ...e, pids: [...ns.pids] } : e)));
}

/** SIGKILLs a process left behind, if that PID still runs a process of this namespace (PIDs get reused). */
function killLeftover(ns: Namespace, pid: number): void {
  let environ: string;
  try {
    environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return; // gone
  }
  if (!environ.split('\0').includes(`AMQP_PREFIX=${ns.amqpPrefix}`)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // exited meanwhile
  }
}

/** Unlinks every key under the prefix: big values (a window's dedupe hash) are freed in the background. */
async function deleteRedisKeys(prefix: string): Promise<number> {
  const host = await RedisHost.open();
  try {
    return await host.deletePrefix(prefix);
  } finally {
    host.close();
  }
}

/**
 * Deletes every queue and exchange under the namespace's prefix (src/amqp/topology.ts
 * deleteTopology: updates, dead, results and job queues, and the exchanges) and every Redis
 * key under its key prefix, then strikes it from the journal. Call it after every process of
 * the round has stopped, or a consumer could recreate what was just deleted.
 */
export async function deleteNamespace(ns: Namespace): Promise<void> {
  const connection = await amqp.connect(AMQP_URL);
  try {
    const ch = await connection.createChannel();
    await deleteTopology(ch, names(ns), ns.methods);
  } finally {
    await connection.close().catch(() => {});
  }
  await deleteRedisKeys(ns.redisPrefix);
  writeJournal(readJournal().filter((e) => e.amqpPrefix !== ns.amqpPrefix));
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Deletes what runs that were killed left behind, and what this run failed to delete before;
 * never the namespaces of another harness that is still running. Returns how many.
 */
export async function deleteLeftovers(): Promise<number> {
  const left = readJournal().filter((ns) => ns.ownerPid === process.pid || !isRunning(ns.ownerPid));
  for (const ns of left) {
    for (const pid of ns.pids ?? []) killLeftover(ns, pid);
    await deleteNamespace(ns);
  }
  return left.length;
}
