/**
 * A diagnostic beside the benchmark (`bun bench/storeCost.ts`): what the bridge's store path
 * costs per update in the bridge process and in Redis, without RabbitMQ, WebSockets or a
 * second busy process in the way, so that a change to the publish script or to how the
 * bridge builds its calls shows up in a few seconds instead of in the noise of the whole
 * stack.
 *
 * It publishes as the bridge does (`broker.publish(batches, { answer: false })`): batches of
 * `--topics` topics with `--per-topic` updates each (every update with a message ID, as the
 * bench's publisher sends them, unless `--no-ids`), `--in-flight` calls at once, each topic
 * routed to one instance whose inbox it keeps short. Prints this process's CPU per update,
 * Redis's CPU per update (/proc), and Redis's per-command time per update (INFO
 * commandstats, before and after; commands a script runs are counted too). Redis at 127.0.0.1:6379 (bench/cluster/redisHost.ts,
 * which starts it where it is not running), keys under a prefix of their own, deleted at the end.
 */
import { parseArgs } from 'node:util';
import type { TopicBatch } from '../src/cluster/broker.ts';
import { RedisBackend } from '../src/cluster/redis/redisBackend.ts';
import { silentLogger } from '../src/lib/log.ts';
import { commandsBetween, RedisHost, REDIS_URL } from './cluster/redisHost.ts';
import { cpuSeconds } from './procStats.ts';

const { values } = parseArgs({
  options: {
    topics: { type: 'string', default: '5' },
    'per-topic': { type: 'string', default: '10' },
    updates: { type: 'string', default: '300000' },
    'in-flight': { type: 'string', default: '2' },
    'history-size': { type: 'string', default: '1000' },
    'no-ids': { type: 'boolean', default: false },
  },
});
const topics = Number(values.topics);
const perTopic = Number(values['per-topic']);
const total = Number(values.updates);
const inFlight = Number(values['in-flight']);
const withIds = !values['no-ids'];

const prefix = `bench:store:${process.pid}:${Date.now().toString(36)}:`;
const host = await RedisHost.open();
const backend = new RedisBackend(
  {
    url: REDIS_URL,
    cluster: false,
    keyPrefix: prefix,
    instanceId: 'bridge-storecost',
    historySize: Number(values['history-size']),
    historyMaxAgeMs: 24 * 3600 * 1000,
    instanceTtlMs: 10_000,
    reapIntervalMs: 0,
    resumeWindowMs: 60_000,
    inbox: { batchSize: 512, blockTimeInMs: 2000, maxLength: 100_000 },
  },
  silentLogger,
);

const names = Array.from({ length: topics }, (_, i) => `bench.store.${i}`);
const inbox = backend.keys.inbox('gateway-storecost');
/** The bench publisher's payload shape: a send time, a flag and padding to about 64 bytes. */
const data = JSON.stringify({ sentAt: 1234.5, measured: false, pad: 'x'.repeat(32) });
let sequence = 0;

function nextBatches(): TopicBatch[] {
  return names.map((topic) => ({
    app: 'demo',
    topic,
    items: Array.from({ length: perTopic }, () => ({ data, messageId: withIds ? `bench.store-${sequence++}` : undefined })),
  }));
}

async function store(updates: number): Promise<void> {
  let sent = 0;
  let calls = 0;
  const lane = async () => {
    while (sent < updates) {
      sent += topics * perTopic;
      const outcomes = await backend.broker.publish(nextBatches(), { answer: false });
      if (outcomes.some((o) => o !== null)) throw new Error(`store failed: ${outcomes.join(', ')}`);
      // Nobody reads the inbox: keep it short, as a gateway's reader would.
      if (++calls % 50 === 0) await backend.client.xtrim(inbox, 'MAXLEN', 1000);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
}

try {
  await backend.start();
  await backend.client.xgroup('CREATE', inbox, 'gw', '$', 'MKSTREAM');
  for (const topic of names) await backend.broker.addRoute('demo', topic, 'gateway-storecost');

  await store(Math.min(total, 50_000)); // warm-up: JIT, script cache, dedupe hashes
  const before = await host.counters();
  const cpu0 = process.cpuUsage();
  const redis0 = cpuSeconds(host.pid);
  const t0 = performance.now();
  await store(total);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const redisSec = cpuSeconds(host.pid) - redis0;
  const after = await host.counters();

  const perUpdateUs = (sec: number) => ((sec * 1e6) / total).toFixed(2);
  console.log(`${total.toLocaleString('en-US')} updates: ${topics} topics x ${perTopic} per call, ${inFlight} calls in flight, ${withIds ? 'with' : 'without'} message IDs`);
  console.log(`  rate                      ${Math.round(total / seconds).toLocaleString('en-US')} updates/s`);
  console.log(`  this process, CPU/update  ${perUpdateUs((cpu.user + cpu.system) / 1e6)} us`);
  console.log(`  redis-server, CPU/update  ${perUpdateUs(redisSec)} us`);
  console.log('  redis commands per update (calls, us):');
  const rows = Object.entries(commandsBetween(before, after))
    .map(([name, { calls, usec }]) => ({ name, calls, usec }))
    .filter((r) => r.name !== 'info')
    .sort((a, b) => b.usec - a.usec);
  for (const r of rows) console.log(`    ${r.name.padEnd(12)} ${(r.calls / total).toFixed(3).padStart(7)} ${(r.usec / total).toFixed(3).padStart(8)}`);
} finally {
  await backend.close();
  await host.deletePrefix(prefix);
  host.close();
}
