/**
 * In-memory UserInbox, shared by the instances of one MemoryCluster: per user an array of
 * unconfirmed messages with their IDs (`<ms>-<seq>`, like the Redis stream's), the newest ID
 * issued, confirmed and dropped, and the idempotency keys seen. A send appends, then reads the
 * user's instances from the registry with no await in between (nothing runs between the two,
 * as in the Redis script), then hands the envelopes to those instances' inboxes.
 */
import type { DirectEnvelope } from '../../protocol/envelope.ts';
import { compareOffsets } from '../../protocol/offset.ts';
import type { Inbox } from '../inbox.ts';
import type { DirectItem, SentDirect, StoredDirect, UserInbox, UserInboxStatus } from '../userInbox.ts';
import type { MemoryUsers } from './memoryUsers.ts';

export interface MemoryUserInboxOptions {
  /** Unconfirmed messages kept per user. */
  maxLength: number;
  /** Unconfirmed messages older than this are dropped. */
  ttlMs: number;
  /** How long an idempotency key is remembered. */
  dedupeWindowMs: number;
  /** @default Date.now */
  now?: () => number;
}

interface Held extends StoredDirect {
  atMs: number;
}

interface UserState {
  messages: Held[];
  /** Newest ID issued (`0-0`: none yet). */
  head: string;
  /** Newest ID confirmed. */
  acked: string | null;
  /** Newest ID dropped unconfirmed, until confirmed past. */
  lost: string | null;
  /** Idempotency key -> what its first send got; in insertion (hence expiry) order. */
  seen: Map<string, { messageId: string; prev: string; expiresAtMs: number }>;
}

export class MemoryUserInbox implements UserInbox {
  private readonly users = new Map<string, UserState>();
  private readonly now: () => number;

  constructor(
    private readonly registry: MemoryUsers,
    private readonly inboxes: Pick<Inbox, 'send'>,
    private readonly options: MemoryUserInboxOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  async send(app: string, user: string, item: DirectItem): Promise<SentDirect> {
    const state = this.state(app, user);
    const now = this.now();
    if (item.key !== undefined) {
      for (const [key, seen] of state.seen) {
        if (seen.expiresAtMs > now) break;
        state.seen.delete(key);
      }
      const seen = state.seen.get(item.key);
      if (seen) return { messageId: seen.messageId, prev: seen.prev, duplicate: true };
    }
    const prev = state.head;
    const messageId = nextId(prev, now);
    state.head = messageId;
    state.messages.push({ messageId, from: item.from, data: item.data, atMs: now });
    while (state.messages.length > this.options.maxLength) state.lost = state.messages.shift()!.messageId;
    this.expire(state);
    if (item.key !== undefined) state.seen.set(item.key, { messageId, prev, expiresAtMs: now + this.options.dedupeWindowMs });
    // Append, then read the instances: the order docs/users.md relies on.
    const instances = this.registry.instancesOf(app, user);
    if (instances.length > 0) {
      const envelope: DirectEnvelope = { kind: 'direct', app, user, messageId, prev, from: item.from, data: item.data };
      await this.inboxes.send(instances.map((instanceId) => ({ instanceId, envelope })));
    }
    return { messageId, prev, duplicate: false };
  }

  async status(app: string, user: string): Promise<UserInboxStatus> {
    const state = this.users.get(key(app, user));
    if (!state) return { pending: 0, lost: false, head: '0-0' };
    this.expire(state);
    return { pending: state.messages.length, lost: state.lost !== null, head: state.head };
  }

  async read(app: string, user: string, after: string, limit: number): Promise<StoredDirect[]> {
    const messages = this.users.get(key(app, user))?.messages ?? [];
    const out: StoredDirect[] = [];
    for (const { messageId, from, data } of messages) {
      if (out.length >= limit) break;
      if (compareOffsets(messageId, after) > 0) out.push({ messageId, from, data });
    }
    return out;
  }

  async readBetween(app: string, user: string, after: string, before: string): Promise<StoredDirect[]> {
    const messages = this.users.get(key(app, user))?.messages ?? [];
    return messages
      .filter((m) => compareOffsets(m.messageId, after) > 0 && compareOffsets(m.messageId, before) < 0)
      .map(({ messageId, from, data }) => ({ messageId, from, data }));
  }

  async confirm(app: string, user: string, upTo: string): Promise<boolean> {
    const state = this.users.get(key(app, user));
    if (!state) return false;
    const held = state.messages.some((m) => m.messageId === upTo);
    const atOrBelow = (mark: string | null) => mark !== null && compareOffsets(upTo, mark) <= 0;
    if (!held && !atOrBelow(state.acked) && !atOrBelow(state.lost)) return false;
    state.messages = state.messages.filter((m) => compareOffsets(m.messageId, upTo) > 0);
    if (!atOrBelow(state.acked)) state.acked = upTo;
    if (state.lost !== null && compareOffsets(upTo, state.lost) >= 0) state.lost = null;
    return true;
  }

  private state(app: string, user: string): UserState {
    const k = key(app, user);
    let state = this.users.get(k);
    if (!state) this.users.set(k, (state = { messages: [], head: '0-0', acked: null, lost: null, seen: new Map() }));
    return state;
  }

  /** Drops the messages past the age limit, marking them lost. */
  private expire(state: UserState): void {
    const cutoff = this.now() - this.options.ttlMs;
    while (state.messages.length > 0 && state.messages[0]!.atMs < cutoff) state.lost = state.messages.shift()!.messageId;
  }
}

function key(app: string, user: string): string {
  return `${app}\u0000${user}`;
}

/** The next ID after `prev` at `nowMs`: `<ms>-0`, or `<prev ms>-<seq + 1>` when the clock has not passed prev. */
function nextId(prev: string, nowMs: number): string {
  const sep = prev.indexOf('-');
  const ms = Number(prev.slice(0, sep));
  if (nowMs > ms) return `${nowMs}-0`;
  return `${ms}-${Number(prev.slice(sep + 1)) + 1}`;
}
