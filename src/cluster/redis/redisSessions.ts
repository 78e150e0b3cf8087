/** SessionDirectory in Redis: owner and mailbox of a session share a slot; each operation is one script. */
import * as v from 'valibot';
import { RpcEnvelopeSchema, type RpcEnvelope } from '../../protocol/envelope.ts';
import type { Logger } from '../../lib/log.ts';
import { MAILBOX_LIMIT, type ParkOutcome, type SessionDirectory } from '../sessions.ts';
import type { RedisClient } from './connection.ts';
import type { Keys } from './keys.ts';
import { withScripts, type ScriptedClient } from './scripts.ts';
import { parseJson } from '../../lib/json.ts';

export class RedisSessions implements SessionDirectory {
  private readonly client: RedisClient & ScriptedClient;

  constructor(client: RedisClient, private readonly keys: Keys, private readonly log: Logger) {
    this.client = withScripts(client);
  }

  async claim(sessionId: string, instanceId: string, ttlMs: number): Promise<RpcEnvelope[]> {
    const raw = await this.client.syClaim(this.keys.sessionOwner(sessionId), this.keys.sessionMailbox(sessionId), instanceId, ttlMs);
    const out: RpcEnvelope[] = [];
    for (const text of raw) {
      const parsed = v.safeParse(RpcEnvelopeSchema, parseJson(text));
      if (parsed.success) out.push(parsed.output);
      else this.log.warn('malformed mailbox entry skipped', { sessionId });
    }
    return out;
  }

  async claimIfFree(sessionId: string, instanceId: string, ttlMs: number): Promise<boolean> {
    return (await this.client.syClaimIfFree(this.keys.sessionOwner(sessionId), instanceId, ttlMs)) === 1;
  }

  owner(sessionId: string): Promise<string | null> {
    return this.client.get(this.keys.sessionOwner(sessionId));
  }

  async park(sessionId: string, instanceId: string, envelope: RpcEnvelope, ttlMs: number): Promise<ParkOutcome> {
    const [parked, owner] = await this.client.syPark(
      this.keys.sessionOwner(sessionId),
      this.keys.sessionMailbox(sessionId),
      instanceId,
      JSON.stringify(envelope),
      ttlMs,
      MAILBOX_LIMIT,
    );
    return parked === 1 ? { parked: true } : { parked: false, owner: owner ?? null };
  }

  async release(sessionId: string, instanceId: string): Promise<void> {
    await this.client.syRelease(this.keys.sessionOwner(sessionId), this.keys.sessionMailbox(sessionId), instanceId);
  }
}
