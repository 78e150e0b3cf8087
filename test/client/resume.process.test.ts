/**
 * The client SDK against real gateway processes on Redis. A client subscribed to a topic
 * with no message yet holds the position its subscribe ack gave; every gateway stops; a
 * message is published meanwhile straight into Redis by a publisher built the way the
 * bridge builds its own (the bridge keeps storing updates while no gateway runs); a gateway
 * starts again, and the client resumes the topic from that position: it gets the message,
 * with no gap event.
 */
import { afterAll, expect, test } from 'bun:test';
import { SwitchyardClient } from '../../src/client/index.ts';
import { RedisBackend } from '../../src/cluster/redis/redisBackend.ts';
import { TopicPublisher } from '../../src/cluster/topicPublisher.ts';
import { loadConfig } from '../../src/config.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { redisBackendOptions } from '../../src/main/redisBackendOptions.ts';
import { compareOffsets } from '../../src/protocol/offset.ts';
import type { MessageFrame } from '../../src/protocol/frames.ts';
import { TestCluster } from '../support/cluster.ts';
import { APP_A } from '../support/gateway.ts';
import { freePort } from '../support/process.ts';
import { REDIS_URL, requireRedis, uniquePrefix } from '../support/redis.ts';

const prefix = uniquePrefix('sdk-resume');
const APPS = JSON.stringify([APP_A]);
const cluster = new TestCluster(prefix, { APPS, DRAIN_TIMEOUT_MS: '1000' });
afterAll(() => cluster.dispose());

/** A publisher on the cluster's Redis, built like the bridge's (src/main/bridge.ts). */
async function bridgeLikePublisher(): Promise<{ publisher: TopicPublisher; close(): Promise<void> }> {
  const config = loadConfig({ REDIS_URL, REDIS_KEY_PREFIX: prefix, APPS });
  const backend = new RedisBackend(redisBackendOptions({ ...config, redisUrl: REDIS_URL }, 'test-bridge', 0), silentLogger);
  await backend.start();
  return { publisher: new TopicPublisher(backend.broker), close: () => backend.close() };
}

test('a quiet topic resumes across an outage of every gateway: the message published meanwhile arrives, with no gap', async () => {
  await requireRedis();
  const first = await cluster.start('rq-1');
  const laterPort = freePort();
  const client = new SwitchyardClient({
    urls: [first.wsUrl(APP_A.id).split('?')[0]!, `ws://127.0.0.1:${laterPort}/ws`],
    app: APP_A.id,
    minReconnectDelayMs: 10,
    maxReconnectDelayMs: 200,
  });
  const got: MessageFrame[] = [];
  const gaps: string[] = [];
  client.on('message', (m) => got.push(m));
  client.on('gap', (topic) => gaps.push(topic));
  try {
    await client.subscribe('quiet');
    const position = client.offset('quiet');
    expect(position).toMatch(/^\d+-\d+$/);

    await cluster.stop('rq-1');
    expect(cluster.instances()).toEqual([]);
    await waitFor(() => client.state === 'reconnecting', { what: 'the client to notice the outage' });
    const bridge = await bridgeLikePublisher();
    const offset = await bridge.publisher.publish(APP_A.id, 'quiet', 'while away').finally(() => bridge.close());
    expect(compareOffsets(offset, position!)).toBeGreaterThan(0);

    await cluster.start('rq-2', { PORT: String(laterPort) });
    await waitFor(() => got.length >= 1 && client.state === 'open', { timeoutMs: 10_000, what: 'the message published during the outage' });
    expect(client.instanceId).toBe('rq-2');
    expect(got.map((m) => [m.offset, m.data])).toEqual([[offset, 'while away']]);
    expect(gaps).toEqual([]);
  } finally {
    client.close();
  }
}, 30_000);
