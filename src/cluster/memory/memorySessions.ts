/** In-memory SessionDirectory, shared by the instances of one MemoryCluster. */
import type { RpcEnvelope } from '../../protocol/envelope.ts';
import { MAILBOX_LIMIT, type Claimed, type OpenJob, type ParkOutcome, type SessionDirectory } from '../sessions.ts';

interface Entry {
  owner: string | null;
  expiresAtMs: number;
  mailbox: RpcEnvelope[];
  /** Request ID -> deadline (ms). */
  open: Map<string, number>;
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

  private entry(sessionId: string, ttlMs: number): Entry {
    let entry = this.live(sessionId);
    if (!entry) this.entries.set(sessionId, (entry = { owner: null, expiresAtMs: 0, mailbox: [], open: new Map() }));
    entry.expiresAtMs = Math.max(entry.expiresAtMs, Date.now() + ttlMs);
    return entry;
  }

  async claim(sessionId: string, instanceId: string, ttlMs: number): Promise<Claimed> {
    const entry = this.entry(sessionId, ttlMs);
    entry.owner = instanceId;
    const parked = entry.mailbox;
    entry.mailbox = [];
    return { parked, open: [...entry.open].map(([requestId, deadlineMs]) => ({ requestId, deadlineMs })) };
  }

  async openJob(sessionId: string, instanceId: string, job: OpenJob, ttlMs: number): Promise<boolean> {
    const entry = this.entry(sessionId, ttlMs);
    entry.open.set(job.requestId, job.deadlineMs);
    if (entry.owner !== null && entry.owner !== instanceId) return false;
    entry.owner = instanceId;
    return true;
  }

  async closeJob(sessionId: string, requestId: string): Promise<void> {
    this.live(sessionId)?.open.delete(requestId);
  }

  async owner(sessionId: string): Promise<string | null> {
    return this.live(sessionId)?.owner ?? null;
  }

  async park(sessionId: string, holder: string, envelope: RpcEnvelope, ttlMs: number): Promise<ParkOutcome> {
    const entry = this.live(sessionId);
    if (!entry || entry.owner !== holder) return { parked: false, owner: entry?.owner ?? null };
    entry.mailbox.push(envelope);
    if (entry.mailbox.length > MAILBOX_LIMIT) entry.mailbox.shift();
    entry.expiresAtMs = Math.max(entry.expiresAtMs, Date.now() + ttlMs);
    return { parked: true };
  }

  async release(sessionId: string, instanceId: string): Promise<void> {
    if (this.live(sessionId)?.owner === instanceId) this.entries.delete(sessionId);
  }
}
