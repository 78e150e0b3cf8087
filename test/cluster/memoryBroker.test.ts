/** What MemoryBroker does on its own clock: history ages out, and quiet topics are forgotten. */
import { expect, test } from 'bun:test';
import { MemoryCluster } from '../../src/cluster/memory/memoryBackend.ts';
import { MemoryBroker } from '../../src/cluster/memory/memoryBroker.ts';
import { publishOne } from './contracts/broker.contract.ts';

function broker(historySize: number, historyMaxAgeMs: number, now: () => number): MemoryBroker {
  return new MemoryBroker(new MemoryCluster(), { historySize, historyMaxAgeMs, dedupeWindowMs: 60_000, now });
}


test('memory history drops messages older than maxAgeMs', async () => {
  let now = 1_000_000;
  const h = broker(100, 1000, () => now);
  const { offset: first } = await publishOne(h, 'a', 't', '1');
  now += 600;
  await publishOne(h, 'a', 't', '2');
  now += 600;
  const r = await h.readSince('a', 't', first, 100);
  expect(r.entries.map((e) => e.data)).toEqual(['2']);
  expect(r.recovered).toBe(true);
  const r0 = await h.readSince('a', 't', '0-0', 100);
  expect(r0.recovered).toBe(false);
});

test('memory history forgets the logs of topics silent for longer than maxAgeMs', async () => {
  let now = 1_000_000;
  const h = broker(10, 1000, () => now);
  await publishOne(h, 'a', 'old', '1');
  now += 5000;
  // The sweep runs every 4096 appends; the busy topic keeps appending meanwhile.
  for (let i = 0; i < 4096; i++) await publishOne(h, 'a', 'busy', String(i));
  // `old` is a topic without messages again; its position moved past its old log's.
  const old = await h.readSince('a', 'old', '0-0', 10);
  expect(old.entries).toEqual([]);
  expect(old.head).toBe(await h.position('a', 'never-used'));
  expect(old.head).toBe(`${now}-0`);
  expect((await h.readSince('a', 'busy', '0-0', 10)).entries.length).toBe(10);
});

test('the position of a quiet topic is forgotten like a log after maxAgeMs', async () => {
  let now = 1_000_000;
  const h = broker(10, 1000, () => now);
  const position = await h.position('a', 'quiet');
  expect(position).toBe('1000000-0');
  // Appended in the same millisecond: still after the position.
  expect((await publishOne(h, 'a', 'quiet', '1')).offset).toBe('1000000-1');
  const kept = await h.position('a', 'kept-quiet');
  now += 5000;
  for (let i = 0; i < 4096; i++) await publishOne(h, 'a', 'busy', String(i));
  // Swept: a new log does not vouch for the old position.
  expect((await h.readSince('a', 'kept-quiet', kept, 10)).recovered).toBe(false);
  expect(await h.position('a', 'kept-quiet')).toBe(`${now}-0`);
});

test('dropping silent logs moves the epoch at most once per maxAgeMs, so a quiet position stays vouched for meanwhile', async () => {
  let now = 1_000_000;
  const h = broker(10, 1000, () => now);
  const sweep = async () => {
    for (let i = 0; i < 4096; i++) await publishOne(h, 'a', 'busy', String(i));
  };
  await publishOne(h, 'a', 'first', '1');
  now += 600;
  const { offset: second } = await publishOne(h, 'a', 'second', '2');
  now += 500;
  await sweep(); // `first` has been silent for 1,100 ms: dropped, and the epoch moves to now
  expect((await h.readSince('a', 'first', '0-0', 10)).entries).toEqual([]);
  const quiet = await h.position('a', 'quiet');
  expect(quiet).toBe(`${now}-0`);
  now += 600;
  await sweep(); // `second` is silent for 1,100 ms too (its message aged out), but the epoch is only 600 ms old: its log is kept
  expect(await h.position('a', 'second')).toBe(second);
  expect((await h.readSince('a', 'quiet', quiet, 10)).recovered).toBe(true);
  now += 500;
  await sweep(); // now it goes, and positions from the old epoch are no longer vouched for
  expect(await h.position('a', 'second')).toBe(`${now}-0`);
  expect((await h.readSince('a', 'quiet', quiet, 10)).recovered).toBe(false);
  expect(await h.position('a', 'quiet')).toBe(`${now}-0`);
});
