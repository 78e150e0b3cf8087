/**
 * Cleans up after instances that died without retiring. Every live instance looks for dead
 * ones (no heartbeat within the TTL) and for orphaned inboxes (a stream whose instance is
 * not registered, seen on two scans in a row); one of them, the holder of a per-instance
 * lock, removes the dead instance's routes, user registrations and its sessions' presence
 * (with leave events), renames its inbox away, claims what was left in it (pending and never
 * read), hands it over (`handOver`), deletes it and the registry entry. An instance's presence
 * index without a registry entry counts as an orphan like an inbox does, so that no member
 * stays forever.
 */
import type { Envelope } from '../../protocol/envelope.ts';
import type { Logger } from '../../lib/log.ts';
import type { Service } from '../../lib/service.ts';
import { scanTargets, type RedisClient } from './connection.ts';
import type { Redis } from 'ioredis';
import { INBOX_GROUP, type Keys } from './keys.ts';
import type { Broker } from '../broker.ts';
import type { UserRegistry } from '../users.ts';
import type { Presence } from '../presence.ts';
import { decodeEntry } from './inboxEntry.ts';
import type { RedisRegistry } from './redisRegistry.ts';
import { dataEntries, readGroupEntries, readStreamBuffers, type DataEntry, type RawEntry } from './streamEntries.ts';

export interface ReaperOptions {
  /** How often to look for dead instances. */
  intervalMs: number;
  /** Look for orphaned inboxes every this many intervals. @default 10 */
  orphanScanEvery: number;
  /** Most entries claimed from one dead inbox (the rest is dropped with a warning). @default 100_000 */
  maxClaimedEntries: number;
}

/** Receives what a dead instance had not delivered. */
export type HandOver = (envelopes: Envelope[], deadInstanceId: string) => Promise<void>;

export class RedisReaper implements Service {
  private timer: ReturnType<typeof setInterval> | null = null;
  private ticks = 0;
  private busy = false;
  /** Inbox owners without a registry entry on the previous scan. */
  private suspects = new Set<string>();
  /** Instances this reaper removed (for metrics and tests). */
  reaped = 0;

  constructor(
    private readonly client: RedisClient,
    private readonly keys: Keys,
    private readonly registry: RedisRegistry,
    private readonly broker: Pick<Broker, 'removeRoutes'>,
    /** The dead instance's sessions leave the user registry with its routes. */
    private readonly users: Pick<UserRegistry, 'removeInstance'>,
    private readonly presence: Pick<Presence, 'removeInstance'>,
    private readonly selfId: string,
    private readonly options: ReaperOptions,
    private readonly handOver: HandOver,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One pass; public so that tests can drive it. */
  async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (const id of await this.registry.dead()) if (id !== this.selfId) await this.reap(id, 'missed heartbeats');
      this.ticks += 1;
      if (this.ticks % this.options.orphanScanEvery === 0) await this.reapOrphans();
    } catch (error) {
      this.log.warn('reaper pass failed', { error });
    } finally {
      this.busy = false;
    }
  }

  private async reapOrphans(): Promise<void> {
    const owners = new Set<string>();
    for (const node of scanTargets(this.client)) {
      await this.scanOwners(node, this.keys.inboxPattern, (key) => this.keys.instanceOfInbox(key), owners);
      await this.scanOwners(node, this.keys.instancePresencePattern, (key) => this.keys.instanceOfPresence(key), owners);
    }
    const unregistered = new Set<string>();
    for (const id of owners) if (!(await this.registry.isRegistered(id))) unregistered.add(id);
    // An instance creates its inbox right after its first heartbeat; requiring two scans
    // in a row keeps a starting (or just restored) instance from being reaped.
    for (const id of unregistered) if (this.suspects.has(id)) await this.reap(id, 'orphaned inbox');
    this.suspects = unregistered;
  }

  /** Adds to `owners` the instance (other than this one) of every key on `node` that matches `pattern`. */
  private async scanOwners(node: Redis, pattern: string, instanceOf: (key: string) => string | null, owners: Set<string>): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      for (const key of keys) {
        const id = instanceOf(key);
        if (id !== null && id !== this.selfId) owners.add(id);
      }
    } while (cursor !== '0');
  }

  /** Removes everything a dead instance owned. Returns false when another reaper holds it. */
  async reap(id: string, reason: string): Promise<boolean> {
    const locked = await this.client.set(this.keys.reapLock(id), this.selfId, 'PX', 60_000, 'NX');
    if (locked !== 'OK') return false;
    try {
      const routes = await this.broker.removeRoutes(id);
      const users = await this.users.removeInstance(id);
      // After the routes: the leaves go to the instances still routed, not to the dead one.
      const leaves = await this.presence.removeInstance(id);
      // What an interrupted earlier pass renamed away but did not finish.
      let left = await this.drain(id);
      // The inbox is renamed before its entries are claimed: from then on writers find no
      // inbox (XADD NOMKSTREAM answers nil) and hand their envelopes to the session directory
      // instead of appending to a stream that is about to be deleted.
      if (await this.renameInbox(id)) left += await this.drain(id);
      await this.registry.remove(id);
      this.reaped += 1;
      this.log.info('reaped instance', { instance: id, reason, routes, users, presenceLeaves: leaves, leftInInbox: left });
      return true;
    } finally {
      await this.client.del(this.keys.reapLock(id));
    }
  }

  private async renameInbox(id: string): Promise<boolean> {
    try {
      await this.client.call('RENAME', this.keys.inbox(id), this.keys.reapedInbox(id));
      return true;
    } catch (error) {
      if (error instanceof Error && /no such key/i.test(error.message)) return false;
      throw error;
    }
  }

  /**
   * Hands what the renamed inbox holds over (`handOver`), then deletes it. If that fails the
   * stream stays, and the next pass (the registry entry is removed only after this) retries.
   */
  private async drain(id: string): Promise<number> {
    const key = this.keys.reapedInbox(id);
    if ((await this.client.exists(key)) === 0) return 0;
    const envelopes = await this.claimInbox(key, id);
    if (envelopes.length > 0) await this.handOver(envelopes, id);
    await this.client.del(key);
    return envelopes.length;
  }

  /** Everything still in a dead inbox: pending (delivered, not acked) and never delivered. */
  private async claimInbox(key: string, id: string): Promise<Envelope[]> {
    const consumer = `reaper:${this.selfId}`;
    // Read with Buffer replies, like the inbox reader: the entries may hold bytes (streamEntries.ts).
    const raw: DataEntry[] = [];
    const limit = this.options.maxClaimedEntries;
    try {
      let start = '0-0';
      do {
        const reply = (await readStreamBuffers(this.client, 'xautoclaim', key, INBOX_GROUP, consumer, 0, start, 'COUNT', 500)) as [Buffer, (RawEntry | null)[]];
        start = reply[0].toString();
        raw.push(...dataEntries(reply[1]));
      } while (start !== '0-0' && raw.length < limit);
      while (raw.length < limit) {
        const batch = readGroupEntries(await readStreamBuffers(this.client, 'xreadgroup', 'GROUP', INBOX_GROUP, consumer, 'COUNT', 500, 'STREAMS', key, '>'));
        if (batch.length === 0) break;
        raw.push(...batch);
      }
    } catch (error) {
      if (!(error instanceof Error && error.message.includes('NOGROUP'))) throw error;
      // No group (the stream was recreated without one): everything in it is unread.
      raw.push(...dataEntries((await readStreamBuffers(this.client, 'xrange', key, '-', '+', 'COUNT', limit)) as RawEntry[]));
    }
    if (raw.length >= limit) this.log.warn('dead inbox larger than the claim limit; the rest is dropped', { instance: id, limit });
    const envelopes: Envelope[] = [];
    for (const [, fields] of raw) {
      const decoded = decodeEntry(fields);
      if (decoded) envelopes.push(...decoded);
    }
    return envelopes;
  }
}
