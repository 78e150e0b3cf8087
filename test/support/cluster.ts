/**
 * A cluster of real gateway processes for tests: starts instances sharing one Redis key
 * prefix, stops them by handle, and reads the cluster's state in Redis (inboxes, routes,
 * registry) for assertions. Also a client that resumes the way the protocol asks (reconnect
 * elsewhere, resubscribe with `since`), a log of what was published, and a checker that
 * tells the gaps, duplicates and reorderings in what a client received.
 */
import type { Redis } from 'ioredis';
import { INBOX_GROUP, Keys } from '../../src/cluster/redis/keys.ts';
import { compareOffsets } from '../../src/protocol/offset.ts';
import { shouldReconnect } from '../../src/protocol/codes.ts';
import { waitFor } from '../../src/lib/waitFor.ts';
import { PROBE_APP } from '../../src/protocol/names.ts';
import { publishHttp } from './gateway.ts';
import { spawnGateway, TEST_OPERATOR_TOKEN, type GatewayProcess } from './process.ts';
import { deleteKeysUnder, keysUnder, REDIS_URL, testClient } from './redis.ts';
import { WsClient } from './wsClient.ts';

export interface TestApp {
  id: string;
  secret: string;
}

export interface ClusterInstance {
  id: string;
  process: GatewayProcess;
  /** http://127.0.0.1:port */
  http: string;
  wsUrl(app: string): string;
}

/** Reads a flat RESP2 key/value reply (XINFO STREAM, XINFO GROUPS entries) into a map. */
function pairs(reply: unknown[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (let i = 0; i + 1 < reply.length; i += 2) out.set(String(reply[i]), reply[i + 1]);
  return out;
}

export class TestCluster {
  readonly keys: Keys;
  readonly redis: Redis = testClient();
  private readonly running = new Map<string, ClusterInstance>();

  /** `env` is added to every instance's environment; REDIS_URL and the prefix are set here. */
  constructor(readonly prefix: string, private readonly env: Record<string, string>) {
    this.keys = new Keys(prefix);
  }

  /** Starts one instance (ready when this resolves). */
  async start(id: string, env: Record<string, string> = {}): Promise<ClusterInstance> {
    if (this.running.has(id)) throw new Error(`instance ${id} is already running`);
    const process = await spawnGateway({ REDIS_URL, REDIS_KEY_PREFIX: this.prefix, INSTANCE_ID: id, ...this.env, ...env });
    const http = `http://127.0.0.1:${process.port}`;
    const instance: ClusterInstance = {
      id,
      process,
      http,
      wsUrl: (app) => `ws://127.0.0.1:${process.port}/ws?app=${encodeURIComponent(app)}`,
    };
    this.running.set(id, instance);
    return instance;
  }

  startAll(ids: readonly string[]): Promise<ClusterInstance[]> {
    return Promise.all(ids.map((id) => this.start(id)));
  }

  /** The running instance with this ID. */
  get(id: string): ClusterInstance {
    const instance = this.running.get(id);
    if (!instance) throw new Error(`instance ${id} is not running`);
    return instance;
  }

  /** Running instances (started and not stopped through this harness). */
  instances(): ClusterInstance[] {
    return [...this.running.values()];
  }

  /** Stops one instance by its handle; resolves with the exit code. */
  async stop(id: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<number> {
    const instance = this.get(id);
    this.running.delete(id);
    return await instance.process.stop(signal);
  }

  /** Kills whatever is still running (clean-up after a test, passed or failed). */
  async killAll(): Promise<void> {
    const all = this.instances();
    this.running.clear();
    await Promise.all(all.map((i) => i.process.stop('SIGKILL')));
  }

  /** Kills what runs, deletes every key under the prefix and disconnects. */
  async dispose(): Promise<void> {
    await this.killAll();
    await deleteKeysUnder(this.redis, this.prefix);
    this.redis.disconnect();
  }

  /** Every key under this cluster's prefix, sorted. */
  keysUnder(): Promise<string[]> {
    return keysUnder(this.redis, this.prefix);
  }

  /** Stdout lines of every running instance, for failure messages. */
  logs(): string {
    return this.instances()
      .map((i) => `--- ${i.id}\n${i.process.output.join('\n')}`)
      .join('\n');
  }

  /** `entries-added` of an instance's inbox (every envelope ever appended), or null when it does not exist. */
  async inboxEntriesAdded(id: string): Promise<number | null> {
    const key = this.keys.inbox(id);
    if ((await this.redis.exists(key)) === 0) return null;
    const info = pairs((await this.redis.call('XINFO', 'STREAM', key)) as unknown[]);
    return Number(info.get('entries-added'));
  }

  /**
   * The state of an inbox's consumer group: entries read but not acknowledged, and whether
   * the group has been delivered everything appended so far.
   */
  async inboxBacklog(id: string): Promise<{ pending: number; caughtUp: boolean }> {
    const key = this.keys.inbox(id);
    const stream = pairs((await this.redis.call('XINFO', 'STREAM', key)) as unknown[]);
    const groups = (await this.redis.call('XINFO', 'GROUPS', key)) as unknown[][];
    const group = groups.map(pairs).find((g) => g.get('name') === INBOX_GROUP);
    if (!group) throw new Error(`inbox of ${id} has no group ${INBOX_GROUP}`);
    return { pending: Number(group.get('pending')), caughtUp: group.get('last-delivered-id') === stream.get('last-generated-id') };
  }

  /** Instances in a topic's route set, sorted. */
  async routes(app: string, topic: string): Promise<string[]> {
    return (await this.redis.smembers(this.keys.routes(app, topic))).sort();
  }

  /**
   * The `app:topic` entries of an instance's route index, sorted; without the route of its
   * delivery probe (`_probe:i.<id>`, docs/operations.md), which every running instance holds.
   */
  async routeIndex(id: string): Promise<string[]> {
    return (await this.redis.smembers(this.keys.instanceRoutes(id))).filter((r) => !r.startsWith(`${PROBE_APP}:`)).sort();
  }

  /** Every route set (under this prefix) that lists the instance. */
  async routeSetsListing(id: string): Promise<string[]> {
    const sets = (await keysUnder(this.redis, this.prefix)).filter((k) => /\{t:[^}]*\}:r$/.test(k));
    const listing: string[] = [];
    for (const key of sets) if ((await this.redis.sismember(key, id)) === 1) listing.push(key);
    return listing;
  }

  /** Whether the instance has a heartbeat or a description in the registry. */
  async inRegistry(id: string): Promise<boolean> {
    const [score, info] = await Promise.all([this.redis.zscore(this.keys.alive, id), this.redis.hexists(this.keys.info, id)]);
    return score !== null || info === 1;
  }

  /** Everything Redis still holds of an instance: keys in its hash tag, route set memberships, registry. */
  async traces(id: string): Promise<string[]> {
    const own = (await keysUnder(this.redis, this.prefix)).filter((k) => k.startsWith(`${this.prefix}{i:${id}}`));
    const routeSets = (await this.routeSetsListing(id)).map((k) => `member of ${k}`);
    const registry = (await this.inRegistry(id)) ? [`registry entry ${id}`] : [];
    return [...own, ...routeSets, ...registry];
  }

  /** IDs listed by GET /api/instances of a running instance, sorted. */
  async listedInstances(via: string): Promise<string[]> {
    const res = await fetch(`${this.get(via).http}/api/instances`, { headers: { authorization: `Bearer ${TEST_OPERATOR_TOKEN}` } });
    if (!res.ok) throw new Error(`GET /api/instances: ${res.status}`);
    const body = (await res.json()) as { instances: { id: string }[] };
    return body.instances.map((i) => i.id).sort();
  }
}

export interface Published {
  offset: string;
  data: unknown;
}

/** What was published per topic, with the offsets the publish API returned. */
export class PublishLog {
  private readonly byTopic = new Map<string, Published[]>();

  async publish(http: string, app: TestApp, topic: string, data: unknown): Promise<string> {
    const offset = await publishHttp(http, app, topic, data);
    let list = this.byTopic.get(topic);
    if (!list) this.byTopic.set(topic, (list = []));
    list.push({ offset, data });
    return offset;
  }

  /** Publishes `count` messages, at most `concurrency` in flight; data is `{ label, n }`. */
  async publishMany(http: string, app: TestApp, topic: string, count: number, options: { label: string; concurrency: number }): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < count) {
        const n = next++;
        await this.publish(http, app, topic, { label: options.label, n });
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.concurrency, count) }, worker));
  }

  /** Everything published on the topic, in offset order: what a subscriber must receive. */
  expected(topic: string): Published[] {
    return [...(this.byTopic.get(topic) ?? [])].sort((a, b) => compareOffsets(a.offset, b.offset));
  }

  count(topic: string): number {
    return this.byTopic.get(topic)?.length ?? 0;
  }
}

/**
 * Compares what a subscriber received on a topic with what it should have received.
 * Returns a short description of each problem (empty when the sequences are identical).
 */
export function sequenceProblems(received: readonly Published[], expected: readonly Published[], limit = 10): string[] {
  const problems: string[] = [];
  const want = new Map(expected.map((p) => [p.offset, p.data]));
  const seen = new Set<string>();
  let previous: string | null = null;
  for (const [i, r] of received.entries()) {
    if (seen.has(r.offset)) problems.push(`#${i} ${r.offset}: duplicate`);
    else if (!want.has(r.offset)) problems.push(`#${i} ${r.offset}: never published`);
    else if (JSON.stringify(want.get(r.offset)) !== JSON.stringify(r.data)) problems.push(`#${i} ${r.offset}: wrong data ${JSON.stringify(r.data)}`);
    if (previous !== null && compareOffsets(r.offset, previous) <= 0) problems.push(`#${i} ${r.offset}: after ${previous} (out of order)`);
    seen.add(r.offset);
    previous = r.offset;
  }
  const missing = expected.filter((p) => !seen.has(p.offset));
  if (missing.length > 0) problems.push(`missing ${missing.length}: ${missing.slice(0, 5).map((p) => p.offset).join(', ')}${missing.length > 5 ? ', …' : ''}`);
  return problems.length > limit ? [...problems.slice(0, limit), `… ${problems.length - limit} more`] : problems;
}

export interface Connection {
  instanceId: string;
  /** Close code that ended it; null while open. */
  closeCode: number | null;
  /** When the client saw it close (ms); null while open. */
  closedAtMs?: number | null;
  /** `recovered` of the subscribe ack (only when resubscribing with `since`). */
  recovered: Record<string, boolean> | null;
  /** Messages replayed from history (received before the subscribe ack). */
  replayed: number;
}

/**
 * A client as docs/protocol.md wants one: it keeps the last offset seen per topic and, when
 * the connection closes with a reconnect code, connects to another instance and resubscribes
 * with `since`. Everything received, over every connection, is kept per topic in arrival order.
 */
export class ResumingClient {
  readonly received = new Map<string, Published[]>();
  readonly connections: Connection[] = [];
  /** Anything the protocol does not allow: error frames, terminal closes, failed reconnects. */
  readonly failures: string[] = [];
  private current: WsClient | null = null;
  private currentUrl = '';
  private stopped = false;
  private reconnecting: Promise<void> | null = null;

  /**
   * @param candidates ws URLs the client may reconnect to (asked again on each reconnect);
   *   the URL of the connection that just closed is skipped.
   * @param spread picks among candidates, so that clients spread over the survivors.
   */
  constructor(
    readonly topics: readonly string[],
    private readonly candidates: () => string[],
    private readonly spread = 0,
  ) {
    for (const topic of topics) this.received.set(topic, []);
  }

  /** Connects to `url` and subscribes (with `since` for topics already seen). */
  async connect(url: string): Promise<void> {
    const client = await WsClient.open(url);
    const welcome = client.frames.find((f) => f.type === 'welcome');
    const connection: Connection = { instanceId: String(welcome?.instanceId), closeCode: null, recovered: null, replayed: 0 };
    this.current = client;
    this.currentUrl = url;
    this.connections.push(connection);
    let acked = false;
    client.ws.addEventListener('message', (e) => {
      const frame = JSON.parse(String(e.data)) as Record<string, unknown>;
      if (frame.type === 'ack') acked = true;
      if (frame.type === 'message' && !acked) connection.replayed += 1;
      this.onFrame(frame);
    });
    void client.closed.then(({ code }) => this.onClosed(client, connection, code));
    const since: Record<string, string> = {};
    for (const topic of this.topics) {
      const last = this.last(topic);
      if (last) since[topic] = last;
    }
    const resuming = Object.keys(since).length > 0;
    try {
      const ack = await client.request(resuming ? { type: 'subscribe', topics: this.topics, since } : { type: 'subscribe', topics: this.topics });
      if (ack.type !== 'ack') throw new Error(`subscribe refused: ${JSON.stringify(ack)}`);
      if (resuming) connection.recovered = (ack.recovered as Record<string, boolean> | undefined) ?? {};
    } catch (error) {
      // Given up on this connection: its close must not start a second reconnect.
      this.current = null;
      client.close();
      throw error;
    }
  }

  /** ID of the instance the client is connected to (the last one, when disconnected). */
  get instanceId(): string {
    return this.connections.at(-1)?.instanceId ?? '';
  }

  /** True while connected and subscribed (not between a close and the resubscribe's ack). */
  get settled(): boolean {
    return this.reconnecting === null && this.connections.at(-1)?.closeCode === null;
  }

  last(topic: string): string | undefined {
    return this.received.get(topic)?.at(-1)?.offset;
  }

  count(topic: string): number {
    return this.received.get(topic)?.length ?? 0;
  }

  async unsubscribe(topics: string[]): Promise<void> {
    if (!this.current) throw new Error('not connected');
    const ack = await this.current.request({ type: 'unsubscribe', topics });
    if (ack.type !== 'ack') throw new Error(`unsubscribe refused: ${JSON.stringify(ack)}`);
  }

  /** Stops reconnecting and closes the connection. */
  close(): void {
    this.stopped = true;
    this.current?.close();
  }

  private onFrame(frame: Record<string, unknown>): void {
    if (frame.type === 'error') this.failures.push(`error frame ${JSON.stringify(frame)}`);
    if (frame.type !== 'message') return;
    this.received.get(String(frame.topic))?.push({ offset: String(frame.offset), data: frame.data });
  }

  private onClosed(client: WsClient, connection: Connection, code: number): void {
    connection.closeCode = code;
    connection.closedAtMs = Date.now();
    if (this.stopped || client !== this.current) return;
    if (!shouldReconnect(code)) {
      this.failures.push(`closed with terminal code ${code}`);
      return;
    }
    const lost = this.currentUrl;
    this.current = null;
    this.reconnecting = this.reconnect(lost)
      .catch((error) => {
        this.failures.push(`reconnect failed: ${String(error)}`);
      })
      .finally(() => {
        this.reconnecting = null;
      });
  }

  /** Tries the other instances in turn until one accepts the connection and the resubscribe. */
  private async reconnect(lost: string): Promise<void> {
    let attempt = this.spread;
    await waitFor(
      async () => {
        if (this.stopped) return true;
        const urls = this.candidates().filter((u) => u !== lost);
        if (urls.length === 0) return false;
        const url = urls[attempt++ % urls.length]!;
        try {
          await this.connect(url);
          return true;
        } catch {
          return false;
        }
      },
      { timeoutMs: 10_000, intervalMs: 50, what: 'a reconnect to another instance' },
    );
  }
}

/** Deletes the keys of a whole test file (called once, in afterAll). */
export async function deleteTestKeys(prefix: string): Promise<void> {
  const client = testClient();
  try {
    await deleteKeysUnder(client, prefix);
  } finally {
    client.disconnect();
  }
}
