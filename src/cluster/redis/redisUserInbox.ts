/**
 * The user inbox in Redis: per user a stream (`{u:<app>:<user>}:in`) whose entry IDs are the
 * message IDs (`f` = sender, '' for none; `d` = the data as JSON text, or `b` = its bytes, see
 * streamEntries.ts), a meta hash (`acked`,
 * `lost`) and the dedupe hashes, all in the user's slot with the user registry's hash. Each
 * operation is one script (lua/user*.lua). Sending on standalone Redis also writes the
 * instance inboxes inside the script; in a Redis Cluster they live in other slots, and the
 * envelopes follow the script through Inbox.send (sent again for a duplicate: an earlier
 * attempt may have stopped in between; receivers drop repeats by message ID).
 */
import type { DirectEnvelope } from '../../protocol/envelope.ts';
import type { Inbox } from '../inbox.ts';
import type { DirectItem, SentDirect, StoredDirect, UserInbox, UserInboxStatus } from '../userInbox.ts';
import type { RedisClient } from './connection.ts';
import { directHead } from './inboxEntry.ts';
import type { Keys } from './keys.ts';
import { withScripts, type ScriptedClient } from './scripts.ts';
import { dataEntries, field, payloadField, payloadOf, readStreamBuffers, type RawEntry } from './streamEntries.ts';

export interface RedisUserInboxOptions {
  /** Unconfirmed messages kept per user (USER_INBOX_MAX_LENGTH). */
  maxLength: number;
  /** Unconfirmed messages older than this are dropped (USER_INBOX_TTL_MS). */
  ttlMs: number;
  /** How long an idempotency key is remembered. */
  dedupeWindowMs: number;
  /** The client talks to a Redis Cluster: inboxes are written apart from the script. */
  cluster: boolean;
  /** Approximate cap on an instance inbox's length. */
  inboxMaxLength: number;
}

export class RedisUserInbox implements UserInbox {
  private readonly client: RedisClient & ScriptedClient;

  constructor(
    client: RedisClient,
    private readonly keys: Keys,
    private readonly options: RedisUserInboxOptions,
    /** Writes the envelopes in a Redis Cluster. */
    private readonly inbox: Pick<Inbox, 'send'>,
  ) {
    this.client = withScripts(client);
  }

  async send(app: string, user: string, item: DirectItem): Promise<SentDirect> {
    const { maxLength, ttlMs, dedupeWindowMs, cluster, inboxMaxLength } = this.options;
    const window = Math.floor(Date.now() / dedupeWindowMs);
    const { head, tail } = this.keys.inboxKeyParts;
    const [dataField, data] = payloadField(item.data);
    const [duplicate, messageId, prev, instances] = await this.client.syUserSend(
      this.keys.userInbox(app, user),
      this.keys.userInstances(app, user),
      this.keys.userMeta(app, user),
      this.keys.userDedupe(app, user, window),
      this.keys.userDedupe(app, user, window - 1),
      data,
      item.from ?? '',
      item.key ?? '',
      maxLength,
      `${Date.now() - ttlMs}-0`,
      2 * ttlMs,
      2 * dedupeWindowMs,
      head,
      tail,
      inboxMaxLength,
      cluster ? '' : directHead(app, user, item.from),
      dataField,
    );
    if (cluster && instances.length > 0) {
      const envelope: DirectEnvelope = { kind: 'direct', app, user, messageId, prev, from: item.from, data: item.data };
      await this.inbox.send(instances.map((instanceId) => ({ instanceId, envelope })));
    }
    return { messageId, prev, duplicate: duplicate === 1 };
  }

  async status(app: string, user: string): Promise<UserInboxStatus> {
    const [pending, lost, head] = await this.client.syUserStatus(
      this.keys.userInbox(app, user),
      this.keys.userMeta(app, user),
      `${Date.now() - this.options.ttlMs}-0`,
    );
    return { pending: Number(pending), lost: lost !== '', head };
  }

  async read(app: string, user: string, after: string, limit: number): Promise<StoredDirect[]> {
    const raw = (await readStreamBuffers(this.client, 'xrange', this.keys.userInbox(app, user), `(${after}`, '+', 'COUNT', limit)) as RawEntry[];
    return toStored(raw);
  }

  async readBetween(app: string, user: string, after: string, before: string): Promise<StoredDirect[]> {
    const raw = (await readStreamBuffers(this.client, 'xrange', this.keys.userInbox(app, user), `(${after}`, `(${before}`)) as RawEntry[];
    return toStored(raw);
  }

  async confirm(app: string, user: string, upTo: string): Promise<boolean> {
    const confirmed = await this.client.syUserConfirm(this.keys.userInbox(app, user), this.keys.userMeta(app, user), upTo, nextId(upTo));
    return confirmed === 1;
  }
}

/** The stream ID right after `id` (`<ms>-<seq + 1>`): XTRIM MINID keeps it and drops `id`. */
function nextId(id: string): string {
  const sep = id.indexOf('-');
  return `${id.slice(0, sep)}-${BigInt(id.slice(sep + 1)) + 1n}`;
}

/** Entries read with Buffer replies (they may hold bytes, see streamEntries.ts). */
function toStored(raw: RawEntry[]): StoredDirect[] {
  const out: StoredDirect[] = [];
  for (const [messageId, fields] of dataEntries(raw)) {
    const data = payloadOf(fields);
    if (data === undefined) continue;
    const from = field(fields, 'f');
    out.push({ messageId, from: typeof from === 'string' && from !== '' ? from : null, data });
  }
  return out;
}
