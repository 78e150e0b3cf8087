/**
 * A diagnostic, not part of a normal run: with BENCH_PROBE=1 the harness preloads this file
 * into the gateway and the bridge (`bun --preload`), where it wraps a few methods of src/ to
 * time each stage of an update's and a job's way, and writes the histograms to
 * BENCH_PROBE_OUT (JSON) when the process exits. Every update and job of the RabbitMQ
 * scenarios carries its send time in `t` (bench/clock.ts, comparable across processes), so
 * "since sent" stages need no correlation table.
 *
 * It reaches into private methods on purpose (it measures them from outside); when one of them
 * is renamed it says so at start instead of measuring nothing.
 */
import { writeFileSync } from 'node:fs';
import { AmqpJobPublisher } from '../../src/amqp/amqpJobPublisher.ts';
import { RepliesConsumer } from '../../src/bridge/repliesConsumer.ts';
import { UpdatesConsumer } from '../../src/bridge/updatesConsumer.ts';
import { RedisBackend } from '../../src/cluster/redis/redisBackend.ts';
import { RedisInbox } from '../../src/cluster/redis/redisInbox.ts';
import { RedisSessions } from '../../src/cluster/redis/redisSessions.ts';
import { Gateway } from '../../src/gateway/gateway.ts';
import { Hub } from '../../src/gateway/hub.ts';
import { JobTracker } from '../../src/rpc/jobTracker.ts';
import { nowMs } from '../clock.ts';
import { Histogram } from '../histogram.ts';

const stages = new Map<string, { histogram: Histogram; sumMs: number }>();

function record(stage: string, ms: number): void {
  let entry = stages.get(stage);
  if (!entry) stages.set(stage, (entry = { histogram: new Histogram(), sumMs: 0 }));
  entry.histogram.record(ms);
  entry.sumMs += ms;
}

/** The send time the bench stamped into a JSON text (`"t":<ms>`), if any. */
function sentAt(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const match = /"t":(\d+(?:\.\d+)?)/.exec(text);
  return match ? Number(match[1]) : undefined;
}

type Method = (this: unknown, ...args: unknown[]) => unknown;

/** Replaces `proto[name]` by `wrap(original)`; complains when there is no such method. */
function patch(proto: object, name: string, wrap: (original: Method) => Method): void {
  const target = proto as Record<string, unknown>;
  const original = target[name];
  if (typeof original !== 'function') {
    process.stderr.write(`stageProbe: no method ${name} to measure; the probe needs updating\n`);
    return;
  }
  target[name] = wrap(original as Method);
}

/** Times every call of a method (sync or async) as `stage`. */
function timed(stage: string): (original: Method) => Method {
  return (original) =>
    function (this: unknown, ...args: unknown[]) {
      const start = nowMs();
      const out = original.apply(this, args);
      if (out instanceof Promise) return out.finally(() => record(stage, nowMs() - start));
      record(stage, nowMs() - start);
      return out;
    };
}

/** Records, on entry, the time since the item was sent (`textOf` finds its JSON text in the arguments). */
function sinceSent(stage: string, textOf: (args: unknown[]) => unknown, then?: (original: Method) => Method): (original: Method) => Method {
  return (original) => {
    const inner = then ? then(original) : original;
    return function (this: unknown, ...args: unknown[]) {
      const t = sentAt(textOf(args));
      if (t !== undefined) record(stage, nowMs() - t);
      return inner.apply(this, args);
    };
  };
}

/** The AMQP message's body: handle(ch, acks, message, ...) in both consumers. */
const content = (args: unknown[]) => (args[2] as { content?: Buffer } | undefined)?.content?.toString('utf8');
/** The first message's body of what the bridge stores at once: store({ topics }), per topic { messages }. */
const batchContent = (args: unknown[]) => {
  const topics = (args[0] as { topics?: Map<string, { messages: { content?: Buffer }[] }> } | undefined)?.topics;
  return topics?.values().next().value?.messages[0]?.content?.toString('utf8');
};
const envelopeData = (args: unknown[]) => (args[0] as { data?: unknown } | undefined)?.data;

// Updates: broker -> bridge -> Redis -> gateway.
patch(UpdatesConsumer.prototype, 'handle', sinceSent('update: sent -> bridge handles it', content, timed('update: bridge handle (parse, check, batch)')));
patch(UpdatesConsumer.prototype, 'store', sinceSent('update: sent -> bridge stores its batch', batchContent, timed('update: bridge store (publish round trip of a batch)')));
patch(RedisBackend.prototype, 'store', timed('redis: publish script round trip (bridge)'));
patch(RedisBackend.prototype, 'publish', timed('redis: publish script round trip (HTTP, client frames)'));
patch(RedisInbox.prototype, 'send', timed('redis: inbox XADD round trip'));
patch(Hub.prototype, 'deliver', sinceSent('update: sent -> gateway hub delivers it', envelopeData));
// Jobs: gateway -> broker -> worker -> broker -> bridge -> Redis -> gateway.
patch(JobTracker.prototype, 'start', sinceSent('job: sent -> gateway starts it', (args) => JSON.stringify((args[0] as { params?: unknown }).params), timed('job: gateway start (own + publish confirm)')));
patch(AmqpJobPublisher.prototype, 'publish', timed('amqp: job publish until confirm'));
patch(RepliesConsumer.prototype, 'handle', sinceSent('job: sent -> bridge handles reply', content, timed('job: bridge reply handle (XADD; owner lookup when the inbox is gone)')));
patch(RedisSessions.prototype, 'owner', timed('redis: session owner GET round trip'));
patch(Gateway.prototype, 'routeRpc', sinceSent('job: sent -> gateway routes reply', envelopeData));

process.on('exit', () => {
  const out = process.env.BENCH_PROBE_OUT;
  if (!out) return;
  const summary = Object.fromEntries(
    [...stages].map(([stage, { histogram, sumMs }]) => [
      stage,
      {
        count: histogram.count,
        meanMs: sumMs / histogram.count,
        p50Ms: histogram.percentileMs(0.5),
        p95Ms: histogram.percentileMs(0.95),
        p99Ms: histogram.percentileMs(0.99),
        maxMs: histogram.maxMs(),
      },
    ]),
  );
  writeFileSync(out, JSON.stringify(summary, null, 2) + '\n');
});
