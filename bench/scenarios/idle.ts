/**
 * Scenario (c), idle sessions: N sessions, each subscribed to one topic (by default its
 * own, like a per-user channel, so that per-topic state grows with them), then left alone.
 * Reports how long opening them all took and the server's RSS growth per session: 2 s
 * after the last one opened (what earlier runs reported), and once the server's RSS has
 * settled, which is what an idle session keeps. Until then the RSS still holds memory that
 * the connection storm used and freed, which the allocators give back over several seconds.
 * With --idle-instances the sessions are spread over several server processes (one process
 * may not hold more sockets than its open-file limit), whose RSS and CPU are summed; with
 * --idle-store redis they share Redis, whose memory, keys and commands are reported too.
 */
import { nowMs, sleep } from '../clock.ts';
import { cpuSeconds, threadCount } from '../procStats.ts';
import { interval, snapshot, steadyRss, total } from '../measure.ts';
import { withServers, type ServerKind } from '../servers.ts';
import { commandsBetween, RedisHost, REDIS_URL } from '../cluster/redisHost.ts';
import { openSubscribers, withWorkers } from '../workerPool.ts';
import type { ScenarioContext } from './context.ts';

/** Opening may take 2 minutes plus 1 ms per session past 10,000 (100,000 sessions: 3.5 minutes); it only bounds a stuck run. */
function openTimeoutMs(sessions: number): number {
  return 120_000 + Math.max(0, sessions - 10_000);
}
/** Time for the server to finish what the connection storm left behind (GC, buffers). */
const SETTLE_MS = 2000;
/** Settled: RSS fell by less than this share of its growth over the last SETTLED_STEP_MS. */
const SETTLED_SHARE = 0.01;
const SETTLED_STEP_MS = 2000;
/** Settling gives up after this long (the figure is then the last reading). */
const SETTLE_MAX_MS = 30_000;

export interface IdleResult {
  sessions: number;
  /** Server processes (--idle-instances); RSS and CPU are their sums. */
  instances: number;
  topics: number;
  openSeconds: number;
  sessionsPerSec: number;
  rssBeforeMiB: number;
  /** RSS once settled. */
  rssAfterMiB: number;
  /** (RSS settled - RSS before) / sessions. */
  bytesPerSession: number;
  /** (RSS 2 s after opening - RSS before) / sessions. */
  bytesPerSessionAt2s: number;
  /** How long after opening the RSS settled. */
  settleSeconds: number;
  /** CPU seconds the server spent while the sessions were opening. */
  serverCpuSecOpening: number;
  unexpectedCloses: number;
  /** CPU used by other processes from opening to measuring, Redis's not counted (see core/outcome.ts DISTURBANCE). */
  otherCpuCores: number;
  /** Processes or threads started elsewhere on the machine meanwhile. */
  processesStarted: number;
  /** With --idle-store redis: growth of Redis's used_memory per session (settled), and its keys per session. */
  redisBytesPerSession?: number;
  redisKeysPerSession?: number;
  /** With --idle-store redis, per session opened and subscribed: Redis commands (those a script runs included, as INFO commandstats counts them) and Redis process CPU (µs, from /proc). */
  redisCommandsPerSession?: number;
  redisUsecPerSession?: number;
}

export async function runIdle(kind: ServerKind, ctx: ScenarioContext): Promise<IdleResult> {
  if (kind !== 'switchyard' || ctx.options.idleStore === 'memory') return measureIdle(kind, ctx, null);
  // Redis mode: the server's keys under a prefix of their own, deleted afterwards.
  const redis = await RedisHost.open();
  const prefix = `bench:idle:${process.pid}:${Date.now()}:`;
  try {
    return await measureIdle(kind, ctx, { redis, prefix });
  } finally {
    await redis.deletePrefix(prefix);
    redis.close();
  }
}

async function measureIdle(kind: ServerKind, ctx: ScenarioContext, store: { redis: RedisHost; prefix: string } | null): Promise<IdleResult> {
  const { options: o } = ctx;
  const env: Record<string, string> = store ? { REDIS_URL, REDIS_KEY_PREFIX: store.prefix } : {};
  // Several loopback addresses: the servers must listen on all of them.
  return withServers(
    kind,
    o.idleInstances,
    ctx.logPath,
    (servers) =>
      withWorkers(`${kind}-idle`, o.workers, ctx.workerDeadlineMs, async (workers) => {
        const pids = servers.map((s) => s.pid);
        // Threads the measured processes start are theirs, not other work (many servers and workers start many).
        const measured = [...pids, ...workers.map((w) => w.pid)];
        const threads = () => measured.reduce((sum, pid) => sum + threadCount(pid), 0);
        await sleep(SETTLE_MS / 2);
        const rssBefore = await steadyRss(pids);
        const redisBefore = store ? await redisUsage(store) : null;
        const redisCpuBefore = store ? cpuSeconds(store.redis.pid) : 0;
        const countersBefore = store ? await store.redis.counters() : null;
        const threadsBefore = threads();
        const before = await snapshot(servers, workers);
        const startedMs = nowMs();
        const topics = Array.from({ length: o.idleSessions }, (_, i) => `bench.idle.${i % o.idleTopics}`);
        const urls = servers.flatMap((server) => Array.from({ length: o.idleAddresses }, (_, k) => server.wsUrl.replace('127.0.0.1', `127.0.0.${k + 1}`)));
        await openSubscribers(workers, urls, topics, { concurrency: o.openConcurrency, measureLatency: false }, openTimeoutMs(o.idleSessions));
        const openSeconds = (nowMs() - startedMs) / 1000;
        const opened = await snapshot(servers, workers);
        const opening = store && countersBefore ? commandsBetween(countersBefore, await store.redis.counters()) : null;
        // Redis's process CPU, not INFO commandstats' times: those count a script's commands twice (in the script's and their own).
        const redisCpuOpening = store ? cpuSeconds(store.redis.pid) - redisCpuBefore : 0;
        ctx.progress(`${kind}: ${o.idleSessions} sessions open in ${openSeconds.toFixed(2)} s; letting them idle`);
        await sleep(SETTLE_MS);
        const rssAt2s = await steadyRss(pids);
        const rssAfter = await settledRss(pids, rssAt2s, rssAt2s - rssBefore);
        const settleSeconds = (nowMs() - startedMs) / 1000 - openSeconds;
        const redisAfter = store ? await redisUsage(store) : null;
        const end = await snapshot(servers, workers);
        const span = interval(before, end);
        return {
          sessions: o.idleSessions,
          instances: o.idleInstances,
          topics: o.idleTopics,
          openSeconds,
          sessionsPerSec: o.idleSessions / openSeconds,
          rssBeforeMiB: rssBefore / 2 ** 20,
          rssAfterMiB: rssAfter / 2 ** 20,
          bytesPerSession: (rssAfter - rssBefore) / o.idleSessions,
          bytesPerSessionAt2s: (rssAt2s - rssBefore) / o.idleSessions,
          settleSeconds,
          serverCpuSecOpening: opened.serverCpuSec - before.serverCpuSec,
          unexpectedCloses: total(end, 'unexpectedCloses'),
          // Redis works for the servers here: its CPU is theirs, not a disturbance.
          otherCpuCores: span.otherCpuCores - (store ? (cpuSeconds(store.redis.pid) - redisCpuBefore) / span.seconds : 0),
          processesStarted: Math.max(0, span.processesStarted - Math.max(0, threads() - threadsBefore)),
          ...(redisBefore && redisAfter
            ? {
                redisBytesPerSession: (redisAfter.bytes - redisBefore.bytes) / o.idleSessions,
                redisKeysPerSession: (redisAfter.keys - redisBefore.keys) / o.idleSessions,
              }
            : {}),
          ...(opening
            ? {
                redisCommandsPerSession: Object.values(opening).reduce((sum, c) => sum + c.calls, 0) / o.idleSessions,
                redisUsecPerSession: (redisCpuOpening * 1e6) / o.idleSessions,
              }
            : {}),
        };
      }),
    o.idleAddresses > 1 ? '0.0.0.0' : undefined,
    env,
  );
}

async function redisUsage(store: { redis: RedisHost; prefix: string }): Promise<{ bytes: number; keys: number }> {
  return { bytes: await store.redis.usedMemory(), keys: await store.redis.countPrefix(store.prefix) };
}

/** Reads the RSS every SETTLED_STEP_MS until it falls by less than SETTLED_SHARE of `growth` in a step. */
async function settledRss(pids: readonly number[], first: number, growth: number): Promise<number> {
  const deadline = nowMs() + SETTLE_MAX_MS;
  let last = first;
  while (nowMs() < deadline) {
    await sleep(SETTLED_STEP_MS);
    const now = await steadyRss(pids);
    const fell = last - now;
    last = now;
    if (fell < SETTLED_SHARE * growth) break;
  }
  return last;
}
