/**
 * Security scenario (b), subscribe requests under permissions: a few sessions, each keeping
 * a window of requests in flight, each slot subscribing one topic and unsubscribing it again.
 * The baseline's place connects with a token without permission claims (today: every topic
 * allowed, no check), Switchyard's place with a token carrying 20 `subscribe` patterns (10
 * names, 10 prefixes; the topics match the last prefix). The harness process itself is the
 * client (a few sockets need no worker); its CPU is reported as the generator's.
 */
import { BenchSocket } from '../benchSocket.ts';
import { sleep } from '../clock.ts';
import { interval, snapshot } from '../measure.ts';
import { machineFigures, type MachineFigures } from '../core/outcome.ts';
import type { ServerKind } from '../servers.ts';
import { withSecuredServer } from '../security/server.ts';
import type { ScenarioContext } from './context.ts';

const CONNECT_TIMEOUT_MS = 15_000;

/** 20 patterns: 10 exact names, 9 prefixes that do not match, and the one that does. */
export const PERMISSION_PATTERNS = [
  ...Array.from({ length: 10 }, (_, i) => `news.${i}`),
  ...Array.from({ length: 9 }, (_, i) => `team${i}:*`),
  'bench.sub.*',
];

export interface AuthSubscribeResult extends MachineFigures {
  sessions: number;
  window: number;
  seconds: number;
  subscribesPerSec: number;
  /** Server CPU per subscribe (and the unsubscribe that follows it). */
  serverUsPerSubscribe: number;
  serverCpuCores: number;
  errors: number;
}

export function runAuthSubscribe(kind: ServerKind, ctx: ScenarioContext): Promise<AuthSubscribeResult> {
  const { options: o } = ctx;
  return withSecuredServer(ctx.logPath, { MAX_SUBSCRIPTIONS_PER_SESSION: String(Math.max(100, o.subscribeWindow)) }, async (server, tokens) => {
    const token = kind === 'baseline' ? await tokens.hs256() : await tokens.hs256({ subscribe: PERMISSION_PATTERNS });
    const url = `${server.wsUrl}&token=${encodeURIComponent(token)}`;
    const sockets = await Promise.all(Array.from({ length: o.subscribeSessions }, () => BenchSocket.connect(url, CONNECT_TIMEOUT_MS)));
    let subscribed = 0;
    let errors = 0;
    let running = true;
    const slot = async (session: number, k: number): Promise<void> => {
      const socket = sockets[session]!;
      const topics = [`bench.sub.${session}.${k}`];
      while (running) {
        try {
          await socket.subscribe(topics);
          subscribed += 1;
          await socket.unsubscribe(topics);
        } catch {
          errors += 1;
          if (errors > 100) throw new Error('more than 100 subscribe errors; see the server log');
        }
      }
    };
    const loops = sockets.flatMap((_, s) => Array.from({ length: o.subscribeWindow }, (_, k) => slot(s, k)));
    try {
      await sleep(o.warmupSec * 1000);
      const cpuBefore = process.cpuUsage();
      const countBefore = subscribed;
      const before = await snapshot(server, []);
      await sleep(o.seconds * 1000);
      const after = await snapshot(server, []);
      const count = subscribed - countBefore;
      const cpu = process.cpuUsage(cpuBefore);
      const span = interval(before, after);
      const harnessCores = (cpu.user + cpu.system) / 1e6 / span.seconds;
      ctx.progress(`${kind === 'baseline' ? 'no patterns' : '20 patterns'}: ${count} subscribes in ${span.seconds.toFixed(2)} s`);
      return {
        sessions: o.subscribeSessions,
        window: o.subscribeWindow,
        seconds: span.seconds,
        subscribesPerSec: count / span.seconds,
        serverUsPerSubscribe: ((after.serverCpuSec - before.serverCpuSec) * 1e6) / Math.max(1, count),
        serverCpuCores: span.serverCpuCores,
        errors,
        ...machineFigures({ ...span, generatorCpuCores: harnessCores, otherCpuCores: Math.max(0, span.otherCpuCores - harnessCores) }),
      };
    } finally {
      // Closing rejects the requests in flight, so every slot's loop ends.
      running = false;
      for (const socket of sockets) socket.close();
      await Promise.allSettled(loops);
    }
  });
}
