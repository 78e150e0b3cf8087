/**
 * The Redis cluster backend: history, routes, inbox and registry in one Redis (standalone or
 * Cluster), plus the reaper. Owns its connections; `start()` waits until Redis answers.
 */
import type { Envelope, TopicMessageEnvelope } from '../../protocol/envelope.ts';
import type { Logger } from '../../lib/log.ts';
import { waitFor } from '../../lib/waitFor.ts';
import { TIMED_OUT, withTimeout } from '../../lib/timeout.ts';
import type { Addressed } from '../inbox.ts';
import type { ClusterBackend, Published, TopicBatch } from '../backend.ts';
import { connectRedis, type RedisClient } from './connection.ts';
import { Keys } from './keys.ts';
import { RedisHistory, type AppendedBatch, type InboxWrite } from './redisHistory.ts';
import { RedisInbox, type RedisInboxOptions } from './redisInbox.ts';
import { RedisReaper } from './redisReaper.ts';
import { RedisRegistry } from './redisRegistry.ts';
import { RedisRoutes } from './redisRoutes.ts';
import { RedisSessions } from './redisSessions.ts';
import { SessionDelivery } from '../sessionDelivery.ts';

/** How long close() waits for Redis to answer QUIT before dropping the connection. */
const QUIT_TIMEOUT_MS = 1000;

export interface RedisBackendOptions {
  url: string;
  /** The URL names a seed node of a Redis Cluster. */
  cluster: boolean;
  keyPrefix: string;
  instanceId: string;
  historySize: number;
  historyMaxAgeMs: number;
  /** How long a message ID is remembered for dedupe. @default 600_000 */
  dedupeWindowMs?: number;
  instanceTtlMs: number;
  /** How often the reaper looks for dead instances; 0: no reaper (the bridge). */
  reapIntervalMs: number;
  /** How long a job reply waits in a session's mailbox for the session to resume. */
  resumeWindowMs: number;
  inbox: RedisInboxOptions;
}

export class RedisBackend implements ClusterBackend {
  readonly kind = 'redis' as const;
  readonly client: RedisClient;
  readonly keys: Keys;
  readonly history: RedisHistory;
  readonly routes: RedisRoutes;
  readonly inbox: RedisInbox;
  readonly registry: RedisRegistry;
  readonly reaper: RedisReaper;
  readonly sessions: RedisSessions;
  /** Where a job reply goes when the instance that should deliver it cannot. */
  readonly delivery: SessionDelivery;
  private readonly restoredListeners: (() => void)[] = [];
  /** Set on standalone Redis, where the publish script writes the inboxes itself. */
  private readonly inboxWrite: InboxWrite | null;
  private wasReady = false;

  constructor(private readonly options: RedisBackendOptions, private readonly log: Logger) {
    this.client = connectRedis({ url: options.url, cluster: options.cluster });
    this.keys = new Keys(options.keyPrefix);
    this.history = new RedisHistory(this.client, this.keys, {
      size: options.historySize,
      maxAgeMs: options.historyMaxAgeMs,
      dedupeWindowMs: options.dedupeWindowMs ?? 600_000,
    });
    this.sessions = new RedisSessions(this.client, this.keys, log);
    const { head, tail } = this.keys.inboxKeyParts;
    this.inboxWrite = options.cluster ? null : { keyHead: head, keyTail: tail, maxLength: options.inbox.maxLength };
    this.routes = new RedisRoutes(this.client, this.keys);
    this.inbox = new RedisInbox(this.client, this.keys, options.instanceId, options.inbox, log);
    this.delivery = new SessionDelivery(this.inbox, this.sessions, options.resumeWindowMs, log);
    this.registry = new RedisRegistry(this.client, this.keys, options.instanceTtlMs, log);
    this.reaper = new RedisReaper(
      this.client,
      this.keys,
      this.registry,
      this.routes,
      options.instanceId,
      { intervalMs: options.reapIntervalMs, orphanScanEvery: 10, maxClaimedEntries: options.inbox.maxLength },
      (envelopes, dead) => this.reroute(envelopes, dead),
      log,
    );
    this.client.on('ready', () => {
      if (this.wasReady) {
        this.log.info('redis connection restored');
        for (const listener of this.restoredListeners) listener();
      }
      this.wasReady = true;
    });
    this.client.on('error', (error: Error) => this.log.debug('redis error', { error: error.message }));
  }

  /** Waits for the first connection, then starts the reaper. */
  async start(): Promise<void> {
    await waitFor(() => this.client.status === 'ready', { timeoutMs: 15_000, intervalMs: 20, what: `redis at ${redact(this.options.url)}` });
    // A crashed predecessor with this ID may still hold routes; this process has no
    // subscribers yet, so none of them is right.
    const stale = await this.routes.removeAll(this.options.instanceId);
    if (stale > 0) this.log.info('removed routes left by an earlier process with this instance ID', { routes: stale });
    if (this.options.reapIntervalMs > 0) await this.reaper.start();
  }

  /**
   * Standalone Redis: one script call appends every batch to its history and to the routed
   * inboxes. Redis Cluster: per topic (its own slot), the script appends and reads the
   * routes, then the envelopes go to the inboxes (other slots). There a duplicate's
   * envelopes are sent again, since an earlier attempt may have stopped between the two
   * steps; receivers drop repeats by offset.
   */
  async publish(batches: readonly TopicBatch[]): Promise<Published[][]> {
    if (this.inboxWrite) {
      const appended = await this.history.appendBatches(batches, this.inboxWrite);
      return appended.map((batch) => batch.appended);
    }
    return Promise.all(batches.map((batch) => this.publishInCluster(batch)));
  }

  async store(batches: readonly TopicBatch[]): Promise<(string | null)[]> {
    if (this.inboxWrite) return this.history.appendBatches(batches, this.inboxWrite, false);
    const settled = await Promise.allSettled(batches.map((batch) => this.publishInCluster(batch)));
    return settled.map((s) => (s.status === 'fulfilled' ? null : s.reason instanceof Error ? s.reason.message : String(s.reason)));
  }

  private async publishInCluster(batch: TopicBatch): Promise<Published[]> {
    const { app, topic, items } = batch;
    const [{ routes, appended }] = (await this.history.appendBatches([batch])) as [AppendedBatch];
    if (routes.length > 0) {
      const sends: Addressed[] = [];
      for (let i = 0; i < appended.length; i++) {
        const { offset, prev } = appended[i]!;
        const envelope: TopicMessageEnvelope = { kind: 'message', app, topic, offset, prev, data: items[i]!.data };
        for (const instanceId of routes) sends.push({ instanceId, envelope });
      }
      await this.inbox.send(sends);
    }
    return appended;
  }

  isHealthy(): boolean {
    return this.client.status === 'ready' && this.inbox.isHealthy();
  }

  onRestored(listener: () => void): void {
    this.restoredListeners.push(listener);
  }

  /**
   * What a dead instance had not delivered. Job replies go to their session wherever it is
   * now, or wait in its mailbox until it resumes. Topic messages are not re-sent: their
   * subscribers reconnect elsewhere and recover them from history by offset.
   */
  private async reroute(envelopes: Envelope[], dead: string): Promise<void> {
    let messages = 0;
    const replies = { sent: 0, parked: 0, orphaned: 0 };
    for (const envelope of envelopes) {
      if (envelope.kind !== 'rpc') {
        messages += 1;
        continue;
      }
      replies[await this.delivery.handOver(envelope, dead)] += 1;
    }
    this.log.info('dead inbox rerouted', { instance: dead, topicMessages: messages, ...replies });
  }

  async retire(): Promise<void> {
    await this.routes.removeAll(this.options.instanceId);
    await this.inbox.destroy();
    await this.registry.remove(this.options.instanceId);
  }

  /**
   * Stops the reaper and the inbox reader and closes the connection: QUIT when Redis answers
   * (commands sent before it still complete), else the socket is dropped. A client that is
   * not connected would queue QUIT behind whatever waits in its offline queue, and one whose
   * Redis stopped answering would wait for its reply forever.
   */
  async close(): Promise<void> {
    await this.reaper.stop();
    await this.inbox.stop();
    if (this.client.status === 'ready') {
      const quit = await withTimeout(
        this.client.quit().catch(() => null),
        QUIT_TIMEOUT_MS,
      );
      if (quit !== TIMED_OUT) return;
      this.log.warn('redis did not answer QUIT; dropping the connection', { timeoutMs: QUIT_TIMEOUT_MS });
    }
    this.client.disconnect();
  }
}

/** The URL without its password, for logs. */
function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}
