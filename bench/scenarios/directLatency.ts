/**
 * Users scenario (a), direct message latency across two instances: `directPairs` sender
 * sessions on instance A, their receivers on instance B, `directRatePerSec` messages per second
 * round-robin over the pairs. The `switchyard` run sends direct messages (`send` to the
 * receiver's user); the `baseline` run is Switchyard's topic path measured the same way (a
 * `publish` frame to one topic per pair, which its receiver subscribes to). Each message carries
 * its send time (this process's clock: senders and receivers both live here); the receivers
 * record send-to-receipt latency for the messages sent during the measured interval.
 */
import { withCluster } from '../cluster/clusters.ts';
import type { MachineFigures } from '../core/outcome.ts';
import { Histogram, latencyFigures, type LatencyFigures } from '../histogram.ts';
import type { ServerKind } from '../servers.ts';
import { openUser, openUsers, type UserSocket } from '../users/userClients.ts';
import { usersInterval, usersSnapshot } from '../users/usersMeasure.ts';
import type { ScenarioContext } from './context.ts';

export interface DirectLatencyResult extends LatencyFigures, MachineFigures {
  pairs: number;
  ratePerSec: number;
  seconds: number;
  /** Messages sent in the measured interval that never arrived (waited for up to 5 s after). */
  lost: number;
  /** Both instances together. */
  serverCpuCores: number;
  redisCpuCores: number;
  /** Redis commands per message in the measured interval (script-internal ones included). */
  redisCommandsPerMessage: number;
}

/** Sends are paced in ticks of this length. */
const TICK_MS = 10;

export function runDirectLatency(server: ServerKind, ctx: ScenarioContext): Promise<DirectLatencyResult> {
  const o = ctx.options;
  const direct = server === 'switchyard';
  const path = direct ? 'direct messages' : 'topic path';
  return withCluster('switchyard-cluster', o.socketioRuntime, ctx.logPath, async (cluster) => {
    const [a, b] = cluster.instances as [(typeof cluster.instances)[0], (typeof cluster.instances)[0]];
    const histogram = new Histogram();
    let measuring = false;
    let measuredSent = 0;
    let measuredReceived = 0;
    const onReceived = (frame: Record<string, unknown>) => {
      const type = direct ? 'direct' : 'message';
      if (frame.type !== type) return;
      const data = frame.data as { t: number; m: boolean };
      if (!data.m) return;
      histogram.record(performance.now() - data.t);
      measuredReceived += 1;
    };
    const sockets: UserSocket[] = [];
    try {
      const receivers = await openUsers(o.directPairs, o.openConcurrency, (i) => openUser(b.wsUrl, `r-${i}`, onReceived));
      sockets.push(...receivers);
      if (!direct) {
        // One topic per pair, subscribed before anything is sent.
        await Promise.all(
          receivers.map(
            (r, i) =>
              new Promise<void>((resolve) => {
                r.ws.addEventListener('message', function acked(e) {
                  if (String(e.data).includes('"id":"sub"')) {
                    r.ws.removeEventListener('message', acked);
                    resolve();
                  }
                });
                r.ws.send(JSON.stringify({ type: 'subscribe', id: 'sub', topics: [`pair-${i}`] }));
              }),
          ),
        );
      }
      const senders = await openUsers(o.directPairs, o.openConcurrency, (i) => openUser(a.wsUrl, `s-${i}`, () => {}));
      sockets.push(...senders);
      ctx.progress(`${path}: ${o.directPairs} pairs open (senders on A, receivers on B); ${o.directRatePerSec} msg/s`);

      let next = 0;
      let id = 0;
      let owed = 0;
      const send = (measured: boolean) => {
        const i = next++ % o.directPairs;
        const data = { t: performance.now(), m: measured };
        const frame = direct ? { type: 'send', id: String(++id), to: `r-${i}`, data } : { type: 'publish', id: String(++id), topic: `pair-${i}`, data };
        senders[i]!.ws.send(JSON.stringify(frame));
        if (measured) measuredSent += 1;
      };
      const timer = setInterval(() => {
        owed += (o.directRatePerSec * TICK_MS) / 1000;
        while (owed >= 1) {
          owed -= 1;
          send(measuring);
        }
      }, TICK_MS);
      try {
        await Bun.sleep(o.latencyWarmupSec * 1000);
        const from = await usersSnapshot(cluster);
        measuring = true;
        await Bun.sleep(o.seconds * 1000);
        measuring = false;
        const to = await usersSnapshot(cluster);
        clearInterval(timer);
        const deadline = performance.now() + 5000;
        while (measuredReceived < measuredSent && performance.now() < deadline) await Bun.sleep(20);
        const span = usersInterval(from, to);
        const { seconds, redisCalls, redisUsec: _usec, ...figures } = span;
        ctx.progress(`${path}: ${measuredReceived}/${measuredSent} measured messages arrived; Redis commands per message ${(redisCalls / Math.max(1, measuredSent)).toFixed(1)}`);
        return {
          ...latencyFigures(histogram, measuredSent),
          ...figures,
          pairs: o.directPairs,
          ratePerSec: o.directRatePerSec,
          seconds,
          lost: measuredSent - measuredReceived,
          redisCommandsPerMessage: redisCalls / Math.max(1, measuredSent),
        };
      } finally {
        clearInterval(timer);
      }
    } finally {
      for (const s of sockets) s.ws.close();
    }
  });
}
