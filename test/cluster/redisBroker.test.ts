/** What RedisBroker does on Redis's clock: history ages out by itself, streams expire. */
import { expect, test } from 'bun:test';
import { Keys } from '../../src/cluster/redis/keys.ts';
import { RedisBroker } from '../../src/cluster/redis/redisBroker.ts';
import { RedisInbox } from '../../src/cluster/redis/redisInbox.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { uniquePrefix, useRedisClient } from '../support/redis.ts';
import { publishOne } from './contracts/broker.contract.ts';

const prefix = uniquePrefix('history');
const redis = useRedisClient(prefix);

function broker(keys: Keys, historyMaxAgeMs: number): RedisBroker {
  const inboxOptions = { batchSize: 100, blockTimeInMs: 100, maxLength: 10_000 };
  return new RedisBroker(
    redis.client,
    keys,
    { historySize: 100, historyMaxAgeMs, dedupeWindowMs: 60_000, cluster: false, inboxMaxLength: inboxOptions.maxLength },
    new RedisInbox(redis.client, keys, 'publisher', inboxOptions, silentLogger),
  );
}


test('redis history drops messages older than maxAgeMs, and says so', async () => {
  const { waitFor } = await import('../../src/lib/waitFor.ts');
  const h = broker(new Keys(`${prefix}age:`), 300);
  const first = await publishOne(h, 'a', 't', '"old"');
  // Young entries stay: a read right away keeps them.
  expect((await h.readSince('a', 't', first.prev, 100)).entries.map((e) => e.data)).toEqual(['"old"']);
  await waitFor(async () => (await h.readSince('a', 't', first.prev, 100)).entries.length === 0, { timeoutMs: 3000, intervalMs: 50, what: 'the old entry to age out' });
  const later = await publishOne(h, 'a', 't', '"new"');
  const r = await h.readSince('a', 't', first.offset, 100);
  expect(r.recovered).toBe(true);
  expect(r.entries.map((e) => e.data)).toEqual(['"new"']);
  expect((await h.readSince('a', 't', first.prev, 100)).recovered).toBe(false);
  expect(later.prev).toBe(first.offset);
});

test('publishing trims aged-out entries and refreshes the stream TTL on its own, without a read', async () => {
  const keys = new Keys(`${prefix}age-publish:`);
  const h = broker(keys, 300);
  await publishOne(h, 'a', 't', '"old 1"');
  await publishOne(h, 'a', 't', '"old 2"');
  // Both have aged out, and the next append falls in a later second of Redis's clock (the
  // age trim runs with the first publish of each second).
  await Bun.sleep(1100);
  await publishOne(h, 'a', 't', '"new"');
  expect(await redis.client.xlen(keys.history('a', 't'))).toBe(1);
  const ttl = await redis.client.pttl(keys.history('a', 't'));
  expect(ttl).toBeGreaterThan(300);
  expect(ttl).toBeLessThanOrEqual(600);
});

test('the position of a topic without a stream creates an empty stream that expires like history', async () => {
  const keys = new Keys(`${prefix}position:`);
  const h = broker(keys, 60_000);
  const position = await h.position('a', 'quiet');
  const key = keys.history('a', 'quiet');
  expect(await redis.client.xlen(key)).toBe(0);
  const ttl = await redis.client.pttl(key);
  expect(ttl).toBeGreaterThan(60_000);
  expect(ttl).toBeLessThanOrEqual(120_000);
  // The publish script finds a stream that is not new: it does not mark the position deleted.
  const first = await publishOne(h, 'a', 'quiet', '"first"');
  expect(first.prev).toBe(position);
  expect((await h.readSince('a', 'quiet', position, 100)).recovered).toBe(true);
});
