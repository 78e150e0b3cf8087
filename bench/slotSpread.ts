/**
 * A diagnostic beside the benchmark (`bun bench/slotSpread.ts`), for docs/deploy.md's "A
 * million connections": how Switchyard's Redis keys spread over the masters of a Redis
 * Cluster. It computes the hash slot of the real key names (src/cluster/redis/keys.ts) the
 * way Redis does (CRC16 of the hash tag, mod 16384) and gives each master an equal,
 * contiguous share of the 16,384 slots, as `redis-cli --cluster create` does.
 *
 *   - topics: `--topics` (1,000,000) per-user topics (history stream and route set share
 *     the `{t:app:topic}` slot): keys per master;
 *   - inboxes: `--instances` (10, 40, 100) instances with random 14-hex-digit IDs (the shape
 *     of Fly machine IDs) over `--masters` (3, 6): how many times its fair share of inboxes
 *     the busiest master holds, on average and at worst over `--trials` (2,000) draws.
 *
 * No Redis needed: slots are arithmetic.
 */
import { parseArgs } from 'node:util';
import calculateSlot from 'cluster-key-slot';
import { Keys } from '../src/cluster/redis/keys.ts';

const SLOTS = 16384;

const { values } = parseArgs({
  options: {
    topics: { type: 'string', default: '1000000' },
    instances: { type: 'string', default: '10,40,100' },
    masters: { type: 'string', default: '3,6' },
    trials: { type: 'string', default: '2000' },
  },
});
const list = (s: string) => s.split(',').map(Number);
const keys = new Keys('sy:');

function masterOf(key: string, masters: number): number {
  return Math.floor((calculateSlot(key) * masters) / SLOTS);
}

function randomId(): string {
  return Array.from({ length: 14 }, () => Math.floor(Math.random() * 16).toString(16)).join('');
}

for (const masters of list(values.masters)) {
  const topics = Number(values.topics);
  const perMaster = new Array<number>(masters).fill(0);
  for (let i = 0; i < topics; i++) perMaster[masterOf(keys.history('shop', `user.${i}`), masters)]! += 1;
  const fair = topics / masters;
  const spread = perMaster.map((n) => `${((n / fair - 1) * 100).toFixed(2)} %`).join(', ');
  console.log(`${topics.toLocaleString('en-US')} topics on ${masters} masters: each master's keys against its fair share: ${spread}`);
}

const trials = Number(values.trials);
for (const masters of list(values.masters)) {
  for (const instances of list(values.instances)) {
    let sum = 0;
    let worst = 0;
    for (let t = 0; t < trials; t++) {
      const perMaster = new Array<number>(masters).fill(0);
      for (let i = 0; i < instances; i++) perMaster[masterOf(keys.inbox(randomId()), masters)]! += 1;
      const busiest = Math.max(...perMaster) / (instances / masters);
      sum += busiest;
      worst = Math.max(worst, busiest);
    }
    console.log(
      `${instances} inboxes on ${masters} masters: the busiest master holds ${(sum / trials).toFixed(2)}x its fair share on average, ${worst.toFixed(2)}x at worst (${trials} draws)`,
    );
  }
}
console.log(`the registry ({reg}) is one slot, ${calculateSlot(keys.alive)}: one master takes every heartbeat`);
