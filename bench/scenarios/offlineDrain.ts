/**
 * Users scenario (b), offline drain: a user with `drainMessages` pending direct messages
 * (sent through instance A's server API while the user was away) connects to instance B;
 * measured from the connect to the last message received, with the Redis work per message of
 * that interval. The `baseline` run is Switchyard's topic path doing the same: a topic with
 * as many messages in history, replayed to a session that subscribes with `since`.
 */
import { withCluster } from '../cluster/clusters.ts';
import type { MachineFigures } from '../core/outcome.ts';
import type { ServerKind } from '../servers.ts';
import { DEMO_SECRET, openUser } from '../users/userClients.ts';
import { usersInterval, usersSnapshot } from '../users/usersMeasure.ts';
import type { ScenarioContext } from './context.ts';

export interface OfflineDrainResult extends MachineFigures {
  messages: number;
  /** From the WebSocket connect to the last pending message received. */
  drainMs: number;
  /** Messages received per second of the drain. */
  messagesPerSec: number;
  /** Redis commands per message during the drain (script-internal ones included). */
  redisCommandsPerMessage: number;
  /** Microseconds Redis spent per message during the drain. */
  redisUsPerMessage: number;
  serverCpuCores: number;
  redisCpuCores: number;
}

/** Server API calls in flight while the pending messages are written. */
const WRITE_WINDOW = 32;

export function runOfflineDrain(server: ServerKind, ctx: ScenarioContext): Promise<OfflineDrainResult> {
  const o = ctx.options;
  const direct = server === 'switchyard';
  const n = o.drainMessages;
  return withCluster('switchyard-cluster', o.socketioRuntime, ctx.logPath, async (cluster) => {
    const [a, b] = cluster.instances as [(typeof cluster.instances)[0], (typeof cluster.instances)[0]];
    const base = `http://127.0.0.1:${a.port}/api/apps/demo`;
    const headers = { authorization: `Bearer ${DEMO_SECRET}` };
    // A window of writes at a time: writing is not what is measured.
    for (let from = 0; from < n; from += WRITE_WINDOW) {
      await Promise.all(
        Array.from({ length: Math.min(WRITE_WINDOW, n - from) }, async (_, k) => {
          const i = from + k;
          const body = direct ? { data: { i } } : { topic: 'drain', data: { i } };
          const res = await fetch(direct ? `${base}/users/drainer/messages` : `${base}/publish`, { method: 'POST', headers, body: JSON.stringify(body) });
          if (!res.ok) throw new Error(`writing message ${i}: ${res.status} ${await res.text()}`);
        }),
      );
    }
    ctx.progress(`${direct ? 'user inbox' : 'topic history'}: ${n} messages waiting; connecting on B`);
    let received = 0;
    const done = Promise.withResolvers<void>();
    const type = direct ? 'direct' : 'message';
    const from = await usersSnapshot(cluster);
    const started = performance.now();
    const socket = await openUser(b.wsUrl, 'drainer', (frame) => {
      if (frame.type === type && ++received === n) done.resolve();
    });
    try {
      if (!direct) socket.ws.send(JSON.stringify({ type: 'subscribe', id: 'sub', topics: ['drain'], since: { drain: '0-0' } }));
      const timeout = setTimeout(() => done.reject(new Error(`drain: ${received}/${n} messages after 30 s`)), 30_000);
      await done.promise.finally(() => clearTimeout(timeout));
      const drainMs = performance.now() - started;
      const to = await usersSnapshot(cluster);
      const { seconds: _seconds, redisCalls, redisUsec, ...figures } = usersInterval(from, to);
      ctx.progress(`${direct ? 'user inbox' : 'topic history'}: drained ${n} in ${drainMs.toFixed(1)} ms; ${(redisCalls / n).toFixed(2)} Redis commands per message`);
      return {
        ...figures,
        messages: n,
        drainMs,
        messagesPerSec: (n * 1000) / drainMs,
        redisCommandsPerMessage: redisCalls / n,
        redisUsPerMessage: redisUsec / n,
      };
    } finally {
      socket.ws.close();
    }
  });
}
