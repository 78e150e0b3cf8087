/** SessionDirectory in Redis: owner, mailbox and open jobs of a session share a slot; each operation is one script. */
import * as v from 'valibot';
import { RpcEnvelopeSchema, type RpcEnvelope } from '../../protocol/envelope.ts';
import type { Logger } from '../../lib/log.ts';
import { MAILBOX_LIMIT, type Claimed, type OpenJob, type ParkOutcome, type SessionDirectory } from '../sessions.ts';
import type { RedisClient } from './connection.ts';
import type { Keys } from './keys.ts';
import { withScripts, type ScriptedClient } from './scripts.ts';
import { parseJson } from '../../lib/json.ts';

export class RedisSessions implements SessionDirectory {
  private readonly client: RedisClient & ScriptedClient;

  constructor(client: RedisClient, private readonly keys: Keys, private readonly log: Logger) {
    this.client = withScripts(client);
  }

  async claim(sessionId: string, instanceId: string, ttlMs: number): Promise<Claimed> {
    const [raw, flat] = await this.client.syClaim(
      this.keys.sessionOwner(sessionId),
      this.keys.sessionMailbox(sessionId),
      this.keys.sessionJobs(sessionId),
      instanceId,
      ttlMs,
    );
    const parked: RpcEnvelope[] = [];
    for (const text of raw) {
      const parsed = v.safeParse(RpcEnvelopeSchema, parseJson(text));
      if (parsed.success) parked.push(parsed.output);
      else this.log.warn('malformed mailbox entry skipped', { session: sessionId });
    }
    const open: OpenJob[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const deadlineMs = Number(flat[i + 1]);
      if (Number.isFinite(deadlineMs)) open.push({ requestId: flat[i]!, deadlineMs });
    }
    return { parked, open };
  }

  async openJob(sessionId: string, instanceId: string, job: OpenJob, ttlMs: number): Promise<boolean> {
    const mine = await this.client.syOpenJob(
      this.keys.sessionOwner(sessionId),
      this.keys.sessionJobs(sessionId),
      instanceId,
      ttlMs,
      job.requestId,
      job.deadlineMs,
    );
    return mine === 1;
  }

  async closeJob(sessionId: string, requestId: string): Promise<void> {
    await this.client.hdel(this.keys.sessionJobs(sessionId), requestId);
  }

  owner(sessionId: string): Promise<string | null> {
    return this.client.get(this.keys.sessionOwner(sessionId));
  }

  async park(sessionId: string, holder: string, envelope: RpcEnvelope, ttlMs: number): Promise<ParkOutcome> {
    const [parked, owner] = await this.client.syPark(
      this.keys.sessionOwner(sessionId),
      this.keys.sessionMailbox(sessionId),
      holder,
      JSON.stringify(envelope),
      ttlMs,
      MAILBOX_LIMIT,
    );
    return parked === 1 ? { parked: true } : { parked: false, owner: owner ?? null };
  }

  async release(sessionId: string, instanceId: string): Promise<void> {
    await this.client.syRelease(this.keys.sessionOwner(sessionId), this.keys.sessionMailbox(sessionId), this.keys.sessionJobs(sessionId), instanceId);
  }
}
