/**
 * Scenario (c), idle sessions: N sessions, each subscribed to one topic (by default its
 * own, like a per-user channel, so that per-topic state grows with them), then left alone.
 * Reports how long opening them all took and the server's RSS growth per session.
 */
import { nowMs, sleep } from '../clock.ts';
import { interval, snapshot, steadyRss, total } from '../measure.ts';
import { withServer, type ServerKind } from '../servers.ts';
import { openSubscribers, withWorkers } from '../workerPool.ts';
import type { ScenarioContext } from './context.ts';

/** Opening may take 2 minutes plus 1 ms per session past 10,000 (100,000 sessions: 3.5 minutes); it only bounds a stuck run. */
function openTimeoutMs(sessions: number): number {
  return 120_000 + Math.max(0, sessions - 10_000);
}
/** Time for the server to finish what the connection storm left behind (GC, buffers). */
const SETTLE_MS = 2000;

export interface IdleResult {
  sessions: number;
  topics: number;
  openSeconds: number;
  sessionsPerSec: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  /** (RSS after - RSS before) / sessions. */
  bytesPerSession: number;
  /** CPU seconds the server spent while the sessions were opening. */
  serverCpuSecOpening: number;
  unexpectedCloses: number;
  /** CPU used by other processes from opening to measuring (see core/outcome.ts DISTURBANCE). */
  otherCpuCores: number;
  /** Processes or threads started elsewhere on the machine meanwhile. */
  processesStarted: number;
}

export function runIdle(kind: ServerKind, ctx: ScenarioContext): Promise<IdleResult> {
  const { options: o } = ctx;
  // Several loopback addresses: the server must listen on all of them.
  return withServer(kind, ctx.logPath, (server) =>
    withWorkers(`${kind}-idle`, o.workers, ctx.workerDeadlineMs, async (workers) => {
      await sleep(SETTLE_MS / 2);
      const rssBefore = await steadyRss([server.pid]);
      const before = await snapshot(server, workers);
      const startedMs = nowMs();
      const topics = Array.from({ length: o.idleSessions }, (_, i) => `bench.idle.${i % o.idleTopics}`);
      const urls = Array.from({ length: o.idleAddresses }, (_, k) => server.wsUrl.replace('127.0.0.1', `127.0.0.${k + 1}`));
      await openSubscribers(workers, urls, topics, { concurrency: o.openConcurrency, measureLatency: false }, openTimeoutMs(o.idleSessions));
      const openSeconds = (nowMs() - startedMs) / 1000;
      const opened = await snapshot(server, workers);
      ctx.progress(`${kind}: ${o.idleSessions} sessions open in ${openSeconds.toFixed(2)} s; letting them idle`);
      await sleep(SETTLE_MS);
      const rssAfter = await steadyRss([server.pid]);
      const end = await snapshot(server, workers);
      const span = interval(before, end);
      return {
        sessions: o.idleSessions,
        topics: o.idleTopics,
        openSeconds,
        sessionsPerSec: o.idleSessions / openSeconds,
        rssBeforeMiB: rssBefore / 2 ** 20,
        rssAfterMiB: rssAfter / 2 ** 20,
        bytesPerSession: (rssAfter - rssBefore) / o.idleSessions,
        serverCpuSecOpening: opened.serverCpuSec - before.serverCpuSec,
        unexpectedCloses: total(end, 'unexpectedCloses'),
        otherCpuCores: span.otherCpuCores,
        processesStarted: span.processesStarted,
      };
    }),
    o.idleAddresses > 1 ? '0.0.0.0' : undefined,
  );
}
