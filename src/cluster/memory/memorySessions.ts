/** In-memory SessionDirectory, shared by the instances of one MemoryCluster. */
import type { RpcEnvelope } from '../../protocol/envelope.ts';
import { MAILBOX_LIMIT, type ParkOutcome, type SessionDirectory } from '../sessions.ts';

interface Entry {
  owner: string;
  expiresAtMs: number;
  mailbox: RpcEnvelope[];
}

export class MemorySessions implements SessionDirectory {
  private readonly entries = new Map<string, Entry>();

  private live(sessionId: string): Entry | undefined {
    const entry = this.entries.get(sessionId);
    if (entry && entry.expiresAtMs <= Date.now()) {
      this.entries.delete(sessionId);
      return undefined;
    }
    return entry;
  }

  async claim(sessionId: string, instanceId: string, ttlMs: number): Promise<RpcEnvelope[]> {
    const entry = this.live(sessionId);
    const parked = entry?.mailbox ?? [];
    this.entries.set(sessionId, { owner: instanceId, expiresAtMs: Date.now() + ttlMs, mailbox: [] });
    return parked;
  }

  async claimIfFree(sessionId: string, instanceId: string, ttlMs: number): Promise<boolean> {
    const entry = this.live(sessionId);
    if (entry && entry.owner !== instanceId) return false;
    if (entry) entry.expiresAtMs = Date.now() + ttlMs;
    else this.entries.set(sessionId, { owner: instanceId, expiresAtMs: Date.now() + ttlMs, mailbox: [] });
    return true;
  }

  async owner(sessionId: string): Promise<string | null> {
    return this.live(sessionId)?.owner ?? null;
  }

  async park(sessionId: string, instanceId: string, envelope: RpcEnvelope, ttlMs: number): Promise<ParkOutcome> {
    const entry = this.live(sessionId);
    if (!entry || entry.owner !== instanceId) return { parked: false, owner: entry?.owner ?? null };
    entry.mailbox.push(envelope);
    if (entry.mailbox.length > MAILBOX_LIMIT) entry.mailbox.shift();
    entry.expiresAtMs = Math.max(entry.expiresAtMs, Date.now() + ttlMs);
    return { parked: true };
  }

  async release(sessionId: string, instanceId: string): Promise<void> {
    if (this.live(sessionId)?.owner === instanceId) this.entries.delete(sessionId);
  }
}
