/** The Redis inbox against a real server: consumer group, acks, crash recovery, bad entries, stopping while Redis is away. */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { connectRedis, type RedisClient } from '../../src/cluster/redis/connection.ts';
import { INBOX_GROUP, Keys } from '../../src/cluster/redis/keys.ts';
import { RedisInbox } from '../../src/cluster/redis/redisInbox.ts';
import type { Envelope } from '../../src/protocol/envelope.ts';
import { createLogger, silentLogger } from '../../src/lib/log.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { TIMED_OUT, withTimeout } from '../../src/lib/timeout.ts';
import { deleteKeysUnder, REDIS_URL, requireRedis, startRedisServer, testClient, uniquePrefix } from '../support/redis.ts';

const prefix = uniquePrefix('inbox');
const keys = new Keys(prefix);
const options = { batchSize: 100, blockTimeInMs: 200, maxLength: 10_000 };
let client: RedisClient;
const admin = testClient();
const started: RedisInbox[] = [];

beforeAll(async () => {
  await requireRedis();
  client = connectRedis({ url: REDIS_URL, cluster: false });
});
afterAll(async () => {
  for (const inbox of started) await inbox.stop();
  await deleteKeysUnder(admin, prefix);
  admin.disconnect();
  client.disconnect();
});

function message(i: number): Envelope {
  return { kind: 'message', app: 'a', topic: 't', offset: `${i + 1}-0`, prev: `${i}-0`, data: JSON.stringify(i) };
}

async function open(instanceId: string, handler: (e: readonly Envelope[]) => void | Promise<void>): Promise<RedisInbox> {
  const inbox = new RedisInbox(client, keys, instanceId, options, silentLogger);
  await inbox.start(handler);
  started.push(inbox);
  return inbox;
}

async function pendingCount(instanceId: string): Promise<number> {
  const summary = (await admin.xpending(keys.inbox(instanceId), INBOX_GROUP)) as [number, ...unknown[]];
  return Number(summary[0]);
}

test('envelopes sent to an instance are delivered in order and acknowledged', async () => {
  const got: Envelope[] = [];
  const inbox = await open('in-1', (batch) => void got.push(...batch));
  await inbox.send(Array.from({ length: 50 }, (_, i) => ({ instanceId: 'in-1', envelope: message(i) })));
  await waitFor(() => got.length === 50, { what: '50 envelopes' });
  expect(got.map((e) => (e.kind === 'message' ? e.data : ''))).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
  await waitFor(async () => (await pendingCount('in-1')) === 0, { what: 'all acked' });
});

test('a restart re-reads pending entries left by a reader that died mid-batch', async () => {
  // Put entries into the group's pending list as a dead consumer would leave them.
  const key = keys.inbox('in-3');
  await admin.call('XGROUP', 'CREATE', key, INBOX_GROUP, '0', 'MKSTREAM');
  for (let i = 0; i < 3; i++) await admin.xadd(key, '*', 'e', JSON.stringify(message(i)));
  await admin.call('XREADGROUP', 'GROUP', INBOX_GROUP, 'in-3', 'COUNT', 10, 'STREAMS', key, '>');
  expect(await pendingCount('in-3')).toBe(3);
  const got: Envelope[] = [];
  await open('in-3', (batch) => void got.push(...batch));
  await waitFor(() => got.length === 3, { what: 'pending entries' });
  await waitFor(async () => (await pendingCount('in-3')) === 0, { what: 'acked' });
});

test('a malformed entry is logged, acknowledged and skipped; the loop goes on', async () => {
  const got: Envelope[] = [];
  const inbox = await open('in-4', (batch) => void got.push(...batch));
  const key = keys.inbox('in-4');
  await admin.xadd(key, '*', 'e', 'not json');
  await admin.xadd(key, '*', 'e', JSON.stringify({ kind: 'message', app: 'a' }));
  await admin.xadd(key, '*', 'other', 'field');
  // A run whose data fields do not match its offsets, and one with a bad offset.
  const run = { kind: 'message', app: 'a', topic: 't', prev: '0-0', offsets: ['1-0', '2-0'] };
  await admin.xadd(key, '*', 'e', JSON.stringify(run), 'd', '1');
  await admin.xadd(key, '*', 'e', JSON.stringify({ ...run, offsets: ['1-0', 'two'] }), 'd', '1', 'd', '2');
  await admin.xadd(key, '*', 'e', JSON.stringify(run), 'd', '"one"', 'd', '"two"');
  await inbox.send([{ instanceId: 'in-4', envelope: message(7) }]);
  await waitFor(() => got.length === 3, { what: 'the good entries' });
  expect(inbox.malformedEntries).toBe(5);
  expect(got.slice(0, 2)).toEqual([
    { kind: 'message', app: 'a', topic: 't', offset: '1-0', prev: '0-0', data: '"one"' },
    { kind: 'message', app: 'a', topic: 't', offset: '2-0', prev: '1-0', data: '"two"' },
  ]);
  await waitFor(async () => (await pendingCount('in-4')) === 0, { what: 'bad entries acked' });
});

test('when the group disappears (Redis lost it), the reader recreates it and goes on', async () => {
  const got: Envelope[] = [];
  const inbox = await open('in-5', (batch) => void got.push(...batch));
  await admin.del(keys.inbox('in-5'));
  // The stream is gone: sends are dropped (NOMKSTREAM) until the reader has recreated it.
  await waitFor(async () => (await admin.exists(keys.inbox('in-5'))) === 1, { what: 'group recreated', timeoutMs: 5000 });
  await inbox.send([{ instanceId: 'in-5', envelope: message(9) }]);
  await waitFor(() => got.length === 1, { what: 'delivery after recreation' });
});

test('envelopes for an instance that has no inbox are dropped, not left as an orphan stream', async () => {
  const inbox = await open('in-6', () => {});
  await inbox.send([{ instanceId: 'gone-instance', envelope: message(1) }]);
  expect(await admin.exists(keys.inbox('gone-instance'))).toBe(0);
});

/**
 * stop() must end the read loop however Redis is gone. Killed: ioredis reconnects, and the
 * next XREADGROUP waits in its offline queue, which disconnect() never rejects. Frozen
 * (SIGSTOP): the connection stays up and nothing answers. 2 s is twice the gateway's bound
 * for this step.
 */
for (const fault of ['killed', 'frozen'] as const) {
  test(`stop() ends the reader while its Redis is ${fault}`, async () => {
    const server = await startRedisServer();
    const own = connectRedis({ url: server.url, cluster: false });
    own.on('error', () => {});
    const lines: string[] = [];
    try {
      const got: Envelope[] = [];
      const inbox = new RedisInbox(own, keys, `in-${fault}`, options, createLogger('debug', {}, (l) => lines.push(l)));
      await inbox.start((batch) => void got.push(...batch));
      await inbox.send([{ instanceId: `in-${fault}`, envelope: message(0) }]);
      await waitFor(() => got.length === 1, { what: 'a delivery before the fault' });
      if (fault === 'killed') {
        await server.kill();
        // The first read fails and the loop waits 100 ms before the next one; the reader's
        // second failed reconnect comes 200 ms after its first: by then the next read waits
        // in the offline queue.
        await waitFor(() => lines.filter((l) => l.includes('inbox reader connection error')).length >= 2, { what: 'two failed reconnects of the reader' });
      } else {
        server.proc.kill('SIGSTOP');
      }
      expect(await withTimeout(inbox.stop(), 2000)).not.toBe(TIMED_OUT);
    } finally {
      own.disconnect();
      await server.kill();
    }
  });
}
