/**
 * The Lua scripts (lua/*.lua), each touching keys of one hash tag (one Cluster slot),
 * registered with ioredis `defineCommand` (EVALSHA with a fallback to EVAL). Shared helpers
 * (lua/lastId.lua, lua/trim.lua) are prepended to the scripts that call them. The files are
 * imported as text: Bun loads them at run time and inlines them in `bun build`.
 */
import type { RedisClient } from './connection.ts';
import lastId from './lua/lastId.lua' with { type: 'text' };
import trim from './lua/trim.lua' with { type: 'text' };
import publish from './lua/publish.lua' with { type: 'text' };
import readSince from './lua/readSince.lua' with { type: 'text' };
import position from './lua/position.lua' with { type: 'text' };
import claim from './lua/claim.lua' with { type: 'text' };
import openJob from './lua/openJob.lua' with { type: 'text' };
import park from './lua/park.lua' with { type: 'text' };
import release from './lua/release.lua' with { type: 'text' };

export type StreamEntry = [id: string, fields: string[]];

export interface ScriptedClient {
  /** See lua/publish.lua: `numKeys` first, then KEYS, then ARGV. */
  syPublish(numKeys: number, ...keysAndArgs: (string | number)[]): Promise<([1, string[]?, (string | number)[]?] | [0, string])[]>;
  syClaim(owner: string, mailbox: string, open: string, instanceId: string, ttlMs: number): Promise<[string[], string[]]>;
  syOpenJob(owner: string, open: string, instanceId: string, ttlMs: number, requestId: string, deadlineMs: number): Promise<number>;
  syPark(owner: string, mailbox: string, instanceId: string, envelope: string, ttlMs: number, limit: number): Promise<[0 | 1, string?]>;
  syRelease(owner: string, mailbox: string, open: string, instanceId: string): Promise<number>;
  syReadSince(history: string, since: string, minId: string, count: number): Promise<[string, string, StreamEntry[]] | []>;
  syPosition(history: string, ttlMs: number): Promise<string>;
}

/** Registers the scripts on a client (idempotent per client). */
export function withScripts(client: RedisClient): RedisClient & ScriptedClient {
  const c = client as RedisClient & Partial<ScriptedClient>;
  if (!c.syPublish) {
    // The number of keys varies with the messages that carry an ID: given per call.
    client.defineCommand('syPublish', { lua: lastId + trim + publish });
    client.defineCommand('syClaim', { numberOfKeys: 3, lua: claim });
    client.defineCommand('syOpenJob', { numberOfKeys: 2, lua: openJob });
    client.defineCommand('syPark', { numberOfKeys: 2, lua: park });
    client.defineCommand('syRelease', { numberOfKeys: 3, lua: release });
    client.defineCommand('syReadSince', { numberOfKeys: 1, lua: lastId + trim + readSince });
    client.defineCommand('syPosition', { numberOfKeys: 1, lua: lastId + position });
  }
  return client as RedisClient & ScriptedClient;
}
