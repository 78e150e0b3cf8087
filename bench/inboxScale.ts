/**
 * A diagnostic beside the benchmark (`bun bench/inboxScale.ts`): what a cluster of many
 * instances costs Redis in inbox reads, for docs/deploy.md's "A million connections". It runs
 * `--instances` (100) real inbox readers (RedisInbox: a blocking XREADGROUP connection each,
 * as every gateway has) in this one process against the local Redis, then:
 *
 *   1. idle: the readers only block and come back every `--block-ms` (2000, the default
 *      INBOX_BLOCK_MS); Redis's CPU and commands per second over `--seconds`;
 *   2. load: `--rate` (2,000) publishes per second through the real publish script, to
 *      `--topics` (1,000) topics each routed to `--fanout` (10) of the instances; Redis's CPU per
 *      publish, per inbox entry written and read, and the reads (XREADGROUP calls) per second.
 *
 * Only Redis's side is measured (its process CPU from /proc and INFO commandstats): the
 * instances' own CPU per delivery is the cluster scenario's. Keys live under a prefix of their
 * own and are deleted at the end. Redis at 127.0.0.1:6379 (bench/cluster/redisHost.ts).
 */
import { parseArgs } from 'node:util';
import type { TopicBatch } from '../src/cluster/broker.ts';
import { RedisBackend } from '../src/cluster/redis/redisBackend.ts';
import { RedisInbox } from '../src/cluster/redis/redisInbox.ts';
import { silentLogger } from '../src/lib/log.ts';
import { commandsBetween, RedisHost, REDIS_URL } from './cluster/redisHost.ts';
import { cpuSeconds } from './procStats.ts';

const { values } = parseArgs({
  options: {
    instances: { type: 'string', default: '100' },
    topics: { type: 'string', default: '1000' },
    fanout: { type: 'string', default: '10' },
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '10' },
    'block-ms': { type: 'string', default: '2000' },
  },
});
const instances = Number(values.instances);
const topics = Number(values.topics);
const fanout = Math.min(Number(values.fanout), instances);
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const blockMs = Number(values['block-ms']);

const prefix = `bench:inboxscale:${process.pid}:${Date.now().toString(36)}:`;
const host = await RedisHost.open();
const backend = new RedisBackend(
  {
    url: REDIS_URL,
    cluster: false,
    keyPrefix: prefix,
    instanceId: 'publisher',
    historySize: 100,
    historyMaxAgeMs: 3600_000,
    instanceTtlMs: 60_000,
    reapIntervalMs: 0,
    resumeWindowMs: 60_000,
    inbox: { batchSize: 512, blockTimeInMs: blockMs, maxLength: 100_000 },
  },
  silentLogger,
);

const ids = Array.from({ length: instances }, (_, i) => `scale-${i}`);
const readers: RedisInbox[] = [];
let envelopes = 0;
const data = JSON.stringify({ pad: 'x'.repeat(48) });

async function measure(label: string, work: () => Promise<number>): Promise<void> {
  const before = await host.counters();
  const redis0 = cpuSeconds(host.pid);
  const envelopes0 = envelopes;
  const t0 = performance.now();
  const publishes = await work();
  const elapsed = (performance.now() - t0) / 1000;
  const redisSec = cpuSeconds(host.pid) - redis0;
  const after = await host.counters();
  const commands = commandsBetween(before, after);
  const reads = commands.xreadgroup?.calls ?? 0;
  const delivered = envelopes - envelopes0;
  console.log(`${label}: ${elapsed.toFixed(1)} s`);
  console.log(`  redis-server CPU            ${(redisSec / elapsed).toFixed(3)} cores`);
  console.log(`  XREADGROUP calls/s          ${Math.round(reads / elapsed).toLocaleString('en-US')}  (${((commands.xreadgroup?.usec ?? 0) / Math.max(1, reads)).toFixed(1)} us each in Redis)`);
  if (publishes > 0) {
    console.log(`  publishes/s                 ${Math.round(publishes / elapsed).toLocaleString('en-US')}`);
    console.log(`  envelopes delivered/s       ${Math.round(delivered / elapsed).toLocaleString('en-US')}`);
    console.log(`  Redis CPU per publish       ${((redisSec * 1e6) / publishes).toFixed(1)} us (fan-out to ${fanout} inboxes)`);
    console.log(`  Redis CPU per envelope      ${((redisSec * 1e6) / Math.max(1, delivered)).toFixed(2)} us (written, read, acknowledged)`);
  }
  const rows = Object.entries(commands)
    .filter(([name]) => name !== 'info')
    .sort((a, b) => b[1].usec - a[1].usec)
    .slice(0, 8);
  for (const [name, { calls, usec }] of rows) console.log(`    ${name.padEnd(12)} ${Math.round(calls / elapsed).toLocaleString('en-US').padStart(9)}/s ${(usec / Math.max(1, calls)).toFixed(2).padStart(8)} us`);
}

try {
  await backend.start();
  for (const id of ids) {
    const inbox = new RedisInbox(backend.client, backend.keys, id, { batchSize: 512, blockTimeInMs: blockMs, maxLength: 100_000 }, silentLogger);
    await inbox.start((batch) => void (envelopes += batch.length));
    readers.push(inbox);
  }
  // Each topic routed to `fanout` consecutive instances: every inbox gets an even share.
  for (let t = 0; t < topics; t++) for (let k = 0; k < fanout; k++) await backend.broker.addRoute('demo', `scale.${t}`, ids[(t * fanout + k) % instances]!);
  console.log(`${instances} inbox readers (XREADGROUP BLOCK ${blockMs} ms), ${topics} topics routed to ${fanout} instances each`);

  await measure('idle', async () => {
    await Bun.sleep(seconds * 1000);
    return 0;
  });

  await measure(`load at ${rate} publishes/s`, async () => {
    const tickMs = 10;
    const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
    const deadline = performance.now() + seconds * 1000;
    let published = 0;
    let next = 0;
    while (performance.now() < deadline) {
      const started = performance.now();
      const batches: TopicBatch[] = [];
      for (let i = 0; i < perTick; i++) batches.push({ app: 'demo', topic: `scale.${next++ % topics}`, items: [{ data }] });
      await backend.broker.publish(batches, { answer: false });
      published += perTick;
      const wait = tickMs - (performance.now() - started);
      if (wait > 0) await Bun.sleep(wait);
    }
    // Let the readers drain what was written.
    const expected = published * fanout;
    const until = performance.now() + 10_000;
    while (envelopes < expected && performance.now() < until) await Bun.sleep(10);
    return published;
  });
} finally {
  for (const inbox of readers) await inbox.stop();
  await backend.close();
  await host.deletePrefix(prefix);
  host.close();
}
