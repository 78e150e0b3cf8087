/**
 * Security scenario (a), connections with tokens: N sessions opened by the load workers, each
 * with a client token in its URL (verified by `jose` at the upgrade) and subscribing one
 * topic (the same for all, so that topic state costs nothing). The baseline's place signs
 * HS256 tokens (today's path), Switchyard's place ES256 tokens. Reports sessions opened per
 * second and the server's CPU per session.
 */
import { nowMs } from '../clock.ts';
import { interval, snapshot, total } from '../measure.ts';
import { machineFigures, type MachineFigures } from '../core/outcome.ts';
import type { ServerKind } from '../servers.ts';
import { withSecuredServer } from '../security/server.ts';
import { openSubscribers, withWorkers } from '../workerPool.ts';
import type { ScenarioContext } from './context.ts';

const OPEN_TIMEOUT_MS = 120_000;

export interface AuthConnectResult extends MachineFigures {
  connections: number;
  openSeconds: number;
  connectionsPerSec: number;
  /** Server CPU time per session opened (upgrade, token check, welcome, one subscribe). */
  serverUsPerConnection: number;
  serverCpuCores: number;
  unexpectedCloses: number;
  errorFrames: number;
}

export function runAuthConnect(kind: ServerKind, ctx: ScenarioContext): Promise<AuthConnectResult> {
  const { options: o } = ctx;
  return withSecuredServer(ctx.logPath, {}, (server, tokens) =>
    withWorkers(`${kind}-auth-connect`, o.workers, ctx.workerDeadlineMs, async (workers) => {
      const token = kind === 'baseline' ? await tokens.hs256() : await tokens.es256();
      const url = `${server.wsUrl}&token=${encodeURIComponent(token)}`;
      const before = await snapshot(server, workers);
      const startedMs = nowMs();
      const topics = Array.from({ length: o.authConnections }, () => 'bench.auth');
      await openSubscribers(workers, url, topics, { concurrency: o.openConcurrency, measureLatency: false }, OPEN_TIMEOUT_MS);
      const openSeconds = (nowMs() - startedMs) / 1000;
      const after = await snapshot(server, workers);
      const span = interval(before, after);
      ctx.progress(`${kind === 'baseline' ? 'HS256' : 'ES256'}: ${o.authConnections} sessions open in ${openSeconds.toFixed(2)} s`);
      return {
        connections: o.authConnections,
        openSeconds,
        connectionsPerSec: o.authConnections / openSeconds,
        serverUsPerConnection: ((after.serverCpuSec - before.serverCpuSec) * 1e6) / o.authConnections,
        serverCpuCores: span.serverCpuCores,
        unexpectedCloses: total(after, 'unexpectedCloses'),
        errorFrames: total(after, 'errorFrames'),
        ...machineFigures(span),
      };
    }),
  );
}
