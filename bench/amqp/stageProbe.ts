/**
 * A diagnostic, not part of a normal run: with BENCH_PROBE=1 the harness preloads this file
 * into the gateway and the bridge (`bun --preload`), where it times each stage of an update's
 * and a job's way and writes the histograms to BENCH_PROBE_OUT (JSON) when the process exits.
 * Every update and job of the RabbitMQ scenarios carries its send time in `t` (bench/clock.ts,
 * comparable across processes), so "since sent" stages need no correlation table.
 *
 * It uses only what src/ offers to the outside: the bridge's diagnostics channel for an
 * update's arrival (UpdatesConsumer's updateReceivedChannel), and wrappers around public
 * methods, named through their class's type so that a renamed method fails the typecheck (a
 * private one cannot be named at all). Each process writes its own file, so the stages need
 * not say which process they are in.
 */
import { writeFileSync } from 'node:fs';
import type { ConsumeMessage } from 'amqplib';
import { AmqpJobPublisher } from '../../src/amqp/amqpJobPublisher.ts';
import { updateReceivedChannel } from '../../src/bridge/updatesConsumer.ts';
import { RedisBroker } from '../../src/cluster/redis/redisBroker.ts';
import { RedisInbox } from '../../src/cluster/redis/redisInbox.ts';
import { RedisSessions } from '../../src/cluster/redis/redisSessions.ts';
import { Hub } from '../../src/gateway/hub.ts';
import { JobTracker } from '../../src/rpc/jobTracker.ts';
import type { Envelope } from '../../src/protocol/envelope.ts';
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

function recordSinceSent(stage: string, text: unknown): void {
  const t = sentAt(text);
  if (t !== undefined) record(stage, nowMs() - t);
}

type Fn = (...args: never[]) => unknown;
/** The public methods of T: keyof leaves private members out. */
type MethodName<T> = { [K in keyof T]: T[K] extends Fn ? K : never }[keyof T];

interface Measure<Args> {
  /** On entry, the time since the item was sent, as this stage; `text` finds its JSON text in the arguments. */
  sinceSent?: { stage: string; text: (args: Args) => unknown };
  /** Every call's duration (until its promise settles, for an async method), as this stage. */
  timed?: string;
  /** The arguments the method gets instead (e.g. a handler that measures, then calls the original). */
  args?: (args: Args) => Args;
}

/** Wraps the public method `name` of `proto` to measure its calls as `how` says. */
function measure<T extends object, K extends MethodName<T>>(proto: T, name: K, how: Measure<Parameters<Extract<T[K], Fn>>>): void {
  const original = proto[name] as (...args: unknown[]) => unknown;
  type Args = Parameters<Extract<T[K], Fn>>;
  const wrapped = function (this: unknown, ...given: unknown[]): unknown {
    if (how.sinceSent) recordSinceSent(how.sinceSent.stage, how.sinceSent.text(given as Args));
    const args: unknown[] = how.args ? how.args(given as Args) : given;
    const stage = how.timed;
    if (stage === undefined) return original.apply(this, args);
    const start = nowMs();
    const out = original.apply(this, args);
    if (out instanceof Promise) return out.finally(() => record(stage, nowMs() - start));
    record(stage, nowMs() - start);
    return out;
  };
  proto[name] = wrapped as T[K];
}

/** The first item's data of what the bridge stores at once. */
const firstItemData = ([batches]: Parameters<RedisBroker['publish']>) => batches[0]?.items[0]?.data;
/** A job reply's JSON text (a result or progress; an error carries none). */
const replyData = (envelope: Envelope) => (envelope.kind === 'rpc' && 'data' in envelope ? envelope.data : undefined);

// Updates: broker -> bridge -> Redis -> gateway.
updateReceivedChannel.subscribe((message) => recordSinceSent('update: sent -> bridge receives it', (message as ConsumeMessage).content.toString('utf8')));
measure(RedisBroker.prototype, 'publish', {
  sinceSent: { stage: 'update: sent -> bridge stores its batch', text: firstItemData },
  timed: 'redis: publish script round trip (with the inbox entries)',
});
measure(RedisInbox.prototype, 'send', {
  // The bridge sends a job's reply on its own; the gateway forwards one when its session moved.
  sinceSent: { stage: 'job: sent -> its reply is sent to an inbox', text: ([batch]) => batch.map((a) => replyData(a.envelope)).find((data) => data !== undefined) },
  timed: 'redis: inbox XADD round trip',
});
measure(Hub.prototype, 'deliver', { sinceSent: { stage: 'update: sent -> gateway hub delivers it', text: ([envelope]) => envelope.data } });
// Jobs: gateway -> broker -> worker -> broker -> bridge -> Redis -> gateway.
measure(JobTracker.prototype, 'start', {
  sinceSent: { stage: 'job: sent -> gateway starts it', text: ([frame]) => JSON.stringify(frame.params) },
  timed: 'job: gateway start (own + publish confirm)',
});
measure(AmqpJobPublisher.prototype, 'publish', { timed: 'amqp: job publish until confirm' });
measure(RedisSessions.prototype, 'owner', { timed: 'redis: session owner GET round trip' });
// What the gateway reads from its inbox: a job's reply reaches the gateway here.
measure(RedisInbox.prototype, 'start', {
  args: ([handler]): Parameters<RedisInbox['start']> => [
    (envelopes) => {
      for (const envelope of envelopes) recordSinceSent('job: sent -> gateway reads its reply from the inbox', replyData(envelope));
      return handler(envelopes);
    },
  ],
});

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
