/** The History contract on real Redis. */
import { expect, test } from 'bun:test';
import { RedisHistory } from '../../src/cluster/redis/redisHistory.ts';
import { Keys } from '../../src/cluster/redis/keys.ts';
import { historyContract } from './contracts/history.contract.ts';
import { uniquePrefix, useRedisClient } from '../support/redis.ts';

const prefix = uniquePrefix('history');
const redis = useRedisClient(prefix);
let n = 0;

historyContract('redis', (size) => new RedisHistory(redis.client, new Keys(`${prefix}${++n}:`), { size, maxAgeMs: 60_000, dedupeWindowMs: 60_000 }));

test('redis history drops messages older than maxAgeMs, and says so', async () => {
  const { waitFor } = await import('../../src/lib/waitFor.ts');
  const h = new RedisHistory(redis.client, new Keys(`${prefix}age:`), { size: 100, maxAgeMs: 300, dedupeWindowMs: 60_000 });
  const first = await h.append('a', 't', '"old"');
  // Young entries stay: a read right away keeps them.
  expect((await h.readSince('a', 't', first.prev, 100)).entries.map((e) => e.data)).toEqual(['"old"']);
  await waitFor(async () => (await h.readSince('a', 't', first.prev, 100)).entries.length === 0, { timeoutMs: 3000, intervalMs: 50, what: 'the old entry to age out' });
  const later = await h.append('a', 't', '"new"');
  const r = await h.readSince('a', 't', first.offset, 100);
  expect(r.recovered).toBe(true);
  expect(r.entries.map((e) => e.data)).toEqual(['"new"']);
  expect((await h.readSince('a', 't', first.prev, 100)).recovered).toBe(false);
  expect(later.prev).toBe(first.offset);
});

test('publishing trims aged-out entries and refreshes the stream TTL on its own, without a read', async () => {
  const keys = new Keys(`${prefix}age-publish:`);
  const h = new RedisHistory(redis.client, keys, { size: 100, maxAgeMs: 300, dedupeWindowMs: 60_000 });
  await h.append('a', 't', '"old 1"');
  await h.append('a', 't', '"old 2"');
  // Both have aged out, and the next append falls in a later second of Redis's clock (the
  // age trim runs with the first publish of each second).
  await Bun.sleep(1100);
  await h.append('a', 't', '"new"');
  expect(await redis.client.xlen(keys.history('a', 't'))).toBe(1);
  const ttl = await redis.client.pttl(keys.history('a', 't'));
  expect(ttl).toBeGreaterThan(300);
  expect(ttl).toBeLessThanOrEqual(600);
});

test('the position of a topic without a stream creates an empty stream that expires like history', async () => {
  const keys = new Keys(`${prefix}position:`);
  const h = new RedisHistory(redis.client, keys, { size: 100, maxAgeMs: 60_000, dedupeWindowMs: 60_000 });
  const position = await h.position('a', 'quiet');
  const key = keys.history('a', 'quiet');
  expect(await redis.client.xlen(key)).toBe(0);
  const ttl = await redis.client.pttl(key);
  expect(ttl).toBeGreaterThan(60_000);
  expect(ttl).toBeLessThanOrEqual(120_000);
  // The publish script finds a stream that is not new: it does not mark the position deleted.
  const first = await h.append('a', 'quiet', '"first"');
  expect(first.prev).toBe(position);
  expect((await h.readSince('a', 'quiet', position, 100)).recovered).toBe(true);
});
