/**
 * The Redis cluster backend: broker (history, routes, publish), inbox, registry, session
 * directory and presence in one Redis (standalone or Cluster), plus the reaper. Owns its connections;
 * `start()` waits until Redis answers.
 */
import type { Envelope } from '../../protocol/envelope.ts';
import type { Logger } from '../../lib/log.ts';
import { waitFor } from '../../lib/waitFor.ts';
import { TIMED_OUT, withTimeout } from '../../lib/timeout.ts';
import type { ClusterBackend } from '../backend.ts';
import { connectRedis, type RedisClient } from './connection.ts';
import { Keys } from './keys.ts';
import { RedisBroker } from './redisBroker.ts';
import { RedisInbox, type RedisInboxOptions } from './redisInbox.ts';
import { RedisPresence } from './redisPresence.ts';
import { RedisReaper } from './redisReaper.ts';
import { RedisRegistry } from './redisRegistry.ts';
import { RedisSessions } from './redisSessions.ts';
import { RedisUserInbox } from './redisUserInbox.ts';
import { RedisUsers } from './redisUsers.ts';
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
  /** Unconfirmed direct messages kept per user (USER_INBOX_MAX_LENGTH). @default 1000 */
  userInboxMaxLength?: number;
  /** Unconfirmed direct messages older than this are dropped (USER_INBOX_TTL_MS). @default 604_800_000 */
  userInboxTtlMs?: number;
}

export class RedisBackend implements ClusterBackend {
  readonly kind = 'redis' as const;
  readonly client: RedisClient;
  readonly keys: Keys;
  readonly broker: RedisBroker;
  readonly inbox: RedisInbox;
  readonly registry: RedisRegistry;
  readonly reaper: RedisReaper;
  readonly sessions: RedisSessions;
  readonly users: RedisUsers;
  readonly userInbox: RedisUserInbox;
  readonly presence: RedisPresence;
  /** Where a job reply goes when the instance that should deliver it cannot. */
  readonly delivery: SessionDelivery;
  private readonly restoredListeners: (() => void)[] = [];
  private wasReady = false;
  /** Times the connection came back after a loss (the metrics). */
  reconnects = 0;

  constructor(private readonly options: RedisBackendOptions, private readonly log: Logger) {
    this.client = connectRedis({ url: options.url, cluster: options.cluster });
    this.keys = new Keys(options.keyPrefix);
    this.sessions = new RedisSessions(this.client, this.keys, log);
    this.inbox = new RedisInbox(this.client, this.keys, options.instanceId, options.inbox, log);
    this.broker = new RedisBroker(
      this.client,
      this.keys,
      {
        historySize: options.historySize,
        historyMaxAgeMs: options.historyMaxAgeMs,
        dedupeWindowMs: options.dedupeWindowMs ?? 600_000,
        cluster: options.cluster,
        inboxMaxLength: options.inbox.maxLength,
      },
      this.inbox,
    );
    this.users = new RedisUsers(this.client, this.keys);
    this.userInbox = new RedisUserInbox(
      this.client,
      this.keys,
      {
        maxLength: options.userInboxMaxLength ?? 1000,
        ttlMs: options.userInboxTtlMs ?? 604_800_000,
        dedupeWindowMs: options.dedupeWindowMs ?? 600_000,
        cluster: options.cluster,
        inboxMaxLength: options.inbox.maxLength,
      },
      this.inbox,
    );
    this.presence = new RedisPresence(this.client, this.keys, { cluster: options.cluster, inboxMaxLength: options.inbox.maxLength }, this.inbox);
    this.delivery = new SessionDelivery(this.inbox, this.sessions, options.resumeWindowMs, log);
    this.registry = new RedisRegistry(this.client, this.keys, options.instanceTtlMs, log);
    this.reaper = new RedisReaper(
      this.client,
      this.keys,
      this.registry,
      this.broker,
      this.users,
      this.presence,
      options.instanceId,
      { intervalMs: options.reapIntervalMs, orphanScanEvery: 10, maxClaimedEntries: options.inbox.maxLength },
      (envelopes, dead) => this.handOver(envelopes, dead),
      log,
    );
    this.client.on('ready', () => {
      if (this.wasReady) {
        this.reconnects += 1;
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
    const stale = await this.broker.removeRoutes(this.options.instanceId);
    if (stale > 0) this.log.info('removed routes left by an earlier process with this instance ID', { routes: stale });
    // The same for its sessions' users: none of them is connected to this process.
    const staleUsers = await this.users.removeInstance(this.options.instanceId);
    if (staleUsers > 0) this.log.info('removed user registrations left by an earlier process with this instance ID', { users: staleUsers });
    // Its sessions are gone too: they leave presence (with leave events).
    const leaves = await this.presence.removeInstance(this.options.instanceId);
    if (leaves > 0) this.log.info('removed presence left by an earlier process with this instance ID', { leaves });
    if (this.options.reapIntervalMs > 0) await this.reaper.start();
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
   * subscribers reconnect elsewhere and recover them from history by offset. Nor are direct
   * messages: they wait in their user inbox until confirmed, and the user gets them on the
   * next connection.
   */
  private async handOver(envelopes: Envelope[], dead: string): Promise<void> {
    let messages = 0;
    let directs = 0;
    const replies = { sent: 0, parked: 0, orphaned: 0 };
    for (const envelope of envelopes) {
      if (envelope.kind === 'direct') {
        directs += 1;
        continue;
      }
      if (envelope.kind !== 'rpc') {
        // Presence events were for the dead instance's subscribers, who ask again where they reconnect.
        if (envelope.kind === 'message') messages += 1;
        continue;
      }
      replies[await this.delivery.handOver(envelope, dead)] += 1;
    }
    this.log.info('dead inbox handed over', { instance: dead, topicMessages: messages, directMessages: directs, ...replies });
  }

  async retire(): Promise<void> {
    await this.broker.removeRoutes(this.options.instanceId);
    await this.users.removeInstance(this.options.instanceId);
    // Sessions that left during the drain have left presence already; this takes out the rest.
    await this.presence.removeInstance(this.options.instanceId);
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
