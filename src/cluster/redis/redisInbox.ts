/**
 * This instance's inbox in Redis: one stream per instance, read through a consumer group on
 * a dedicated blocking connection. Entries are acknowledged only after the handler delivered
 * them; on (re)start the instance first re-reads its own pending entries (left by a crash),
 * then new ones. A malformed entry is logged, acknowledged and skipped. If the group is gone
 * (Redis restarted), it is recreated and reading resumes. stop() ends the loop at once
 * whatever state Redis is in: every wait inside the loop also ends when stop() is called.
 * Entries are in the format of inboxEntry.ts.
 */
import type { Envelope } from '../../protocol/envelope.ts';
import type { Logger } from '../../lib/log.ts';
import type { Addressed, EnvelopeHandler, Inbox, InboxStats } from '../inbox.ts';
import { duplicateClient, type RedisClient } from './connection.ts';
import { decodeEntry, encodeEntry } from './inboxEntry.ts';
import { INBOX_GROUP, type Keys } from './keys.ts';
import type { StreamEntry } from './scripts.ts';
import { readGroupEntries } from './streamEntries.ts';
import { sleep } from '../../lib/runtime.ts';

export interface RedisInboxOptions {
  /** Entries read per XREADGROUP call. @default 512 */
  batchSize: number;
  /** How long one XREADGROUP waits for entries before asking again. @default 2000 */
  blockTimeInMs: number;
  /** Approximate cap on an inbox's length, so a stuck reader cannot fill Redis. @default 100_000 */
  maxLength: number;
}

/** What a wait in the read loop resolves with when stop() was called. */
const STOPPED: unique symbol = Symbol('stopped');

export class RedisInbox implements Inbox {
  private reader: RedisClient | null = null;
  private running = false;
  private loop: Promise<void> | null = null;
  /** Resolves with STOPPED when stop() is called: the loop races every wait against it. */
  private stopped = Promise.withResolvers<typeof STOPPED>();
  private healthy = true;
  /** Entries skipped because they did not parse as envelopes. */
  malformedEntries = 0;

  constructor(
    private readonly client: RedisClient,
    private readonly keys: Keys,
    private readonly instanceId: string,
    private readonly options: RedisInboxOptions,
    private readonly log: Logger,
  ) {}

  /** False while the read loop cannot reach Redis. */
  isHealthy(): boolean {
    return this.healthy;
  }

  async send(batch: readonly Addressed[]): Promise<string[]> {
    // A publish sends one envelope object to every instance with subscribers: encode it once.
    const encoded = new Map<Envelope, string[]>();
    // NOMKSTREAM: an inbox exists only while its instance does; envelopes for a retired or
    // reaped instance are dropped (XADD answers nil) instead of recreating an orphan stream.
    const ids = await Promise.all(
      batch.map((a) => {
        let fields = encoded.get(a.envelope);
        if (fields === undefined) encoded.set(a.envelope, (fields = encodeEntry(a.envelope)));
        return this.client.call('XADD', this.keys.inbox(a.instanceId), 'NOMKSTREAM', 'MAXLEN', '~', this.options.maxLength, '*', ...fields);
      }),
    );
    const missing: string[] = [];
    for (let i = 0; i < ids.length; i++) if (ids[i] === null) missing.push(batch[i]!.instanceId);
    return missing;
  }

  async start(handler: EnvelopeHandler): Promise<void> {
    await this.ensure();
    this.stopped = Promise.withResolvers<typeof STOPPED>();
    this.reader = duplicateClient(this.client);
    // Without a listener ioredis prints "Unhandled error event" for every failed reconnect.
    // The read loop reports failures itself (a warning, then every 50th).
    this.reader.on('error', (error: Error) => this.log.debug('inbox reader connection error', { error: error.message }));
    this.running = true;
    this.loop = this.run(this.reader, handler);
  }

  /**
   * Ends the read loop and drops the reader's connection. Disconnecting alone is not enough:
   * while ioredis reconnects, the pending XREADGROUP waits in its offline queue and
   * disconnect() never rejects it, and a Redis that stopped answering never ends it either.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.stopped.resolve(STOPPED);
    this.reader?.disconnect();
    await this.loop;
    this.reader = null;
    this.loop = null;
  }

  /** The value of `promise`, or STOPPED as soon as stop() is called; a later rejection is ignored. */
  private untilStopped<T>(promise: Promise<T>): Promise<T | typeof STOPPED> {
    return Promise.race([promise, this.stopped.promise]);
  }

  /** Deletes the inbox stream: graceful stop, after stop(). */
  async destroy(): Promise<void> {
    await this.client.del(this.keys.inbox(this.instanceId));
  }

  /** XINFO GROUPS: the group's `pending` and `lag` (entries not yet delivered to the group; Redis 7+). */
  async stats(): Promise<InboxStats> {
    const groups = (await this.client.call('XINFO', 'GROUPS', this.keys.inbox(this.instanceId))) as unknown[][];
    for (const group of groups) {
      const fields = new Map<string, unknown>();
      for (let i = 0; i + 1 < group.length; i += 2) fields.set(String(group[i]), group[i + 1]);
      if (fields.get('name') !== INBOX_GROUP) continue;
      return { pending: Number(fields.get('pending') ?? 0), lag: Number(fields.get('lag') ?? 0) };
    }
    return { pending: 0, lag: 0 };
  }

  async ensure(): Promise<void> {
    try {
      await this.client.call('XGROUP', 'CREATE', this.keys.inbox(this.instanceId), INBOX_GROUP, '0', 'MKSTREAM');
    } catch (error) {
      if (!(error instanceof Error && error.message.includes('BUSYGROUP'))) throw error;
    }
  }

  private async run(reader: RedisClient, handler: EnvelopeHandler): Promise<void> {
    const key = this.keys.inbox(this.instanceId);
    // '0' reads this consumer's pending entries (delivered before a crash, never acked);
    // once those are done, '>' reads new ones.
    let cursor: '0' | '>' = '0';
    let failures = 0;
    /** The previous batch's IDs: acknowledged by the next read's round trip. */
    let delivered: string[] = [];
    while (this.running) {
      try {
        const args: (string | number)[] = ['GROUP', INBOX_GROUP, this.instanceId, 'COUNT', this.options.batchSize];
        if (cursor === '>') args.push('BLOCK', this.options.blockTimeInMs);
        // The previous batch's XACK and XTRIM go in the same write as this read (auto-pipelining,
        // on the reader's connection, in this order): one round trip per batch, not two.
        // One reader, in order: everything up to the last acknowledged entry can go.
        const acked = delivered.length > 0 ? this.acknowledge(reader, key, delivered) : null;
        delivered = [];
        const read = await this.untilStopped(Promise.all([acked, reader.call('XREADGROUP', ...args, 'STREAMS', key, cursor)]));
        if (read === STOPPED) break;
        const entries = readGroupEntries(read[1]);
        this.healthy = true;
        failures = 0;
        if (entries.length === 0) {
          cursor = '>';
          continue;
        }
        // Delivery may wait on Redis too (gap fills read history); a batch cut short by stop()
        // stays pending, which is what a crash would leave.
        if ((await this.untilStopped(this.deliver(entries, handler))) === STOPPED) break;
        delivered = entries.map(([id]) => id);
      } catch (error) {
        if (!this.running) break;
        if (error instanceof Error && error.message.includes('NOGROUP')) {
          this.log.warn('inbox consumer group missing (Redis restarted?); recreating', { key });
          await this.untilStopped(this.ensure().catch(() => {}));
          cursor = '0';
          continue;
        }
        this.healthy = false;
        failures += 1;
        // After any failure, re-read pending entries: an ack may not have reached Redis. The
        // hub drops what it already delivered.
        cursor = '0';
        if (failures === 1 || failures % 50 === 0) this.log.warn('inbox read failed; retrying', { key, failures, error });
        await this.untilStopped(sleep(Math.min(50 * 2 ** Math.min(failures, 5), 1000)));
      }
    }
    // The last batch's ack goes out on the shared connection without waiting for the answer:
    // with Redis unreachable it would wait in the offline queue, and the inbox is deleted
    // right after on a graceful stop anyway. Unacknowledged, the entries stay pending.
    if (delivered.length > 0) void this.acknowledge(this.client, key, delivered).catch(() => {});
  }

  private acknowledge(client: RedisClient, key: string, ids: string[]): Promise<unknown> {
    return Promise.all([client.call('XACK', key, INBOX_GROUP, ...ids), client.call('XTRIM', key, 'MINID', '~', ids[ids.length - 1]!)]);
  }

  private async deliver(entries: StreamEntry[], handler: EnvelopeHandler): Promise<void> {
    const envelopes: Envelope[] = [];
    for (const [id, fields] of entries) {
      const decoded = decodeEntry(fields);
      if (decoded) for (const envelope of decoded) envelopes.push(envelope);
      else {
        this.malformedEntries += 1;
        this.log.warn('malformed inbox entry skipped', { id, fields: fields.join(' ').slice(0, 200) });
      }
    }
    if (envelopes.length === 0) return;
    try {
      await handler(envelopes);
    } catch (error) {
      // A handler bug must not wedge the inbox: the batch is acknowledged and the error logged.
      this.log.error('inbox handler failed', { error });
    }
  }
}
