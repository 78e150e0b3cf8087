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
import userTrim from './lua/userTrim.lua' with { type: 'text' };
import userSend from './lua/userSend.lua' with { type: 'text' };
import userStatus from './lua/userStatus.lua' with { type: 'text' };
import userConfirm from './lua/userConfirm.lua' with { type: 'text' };
import userAdd from './lua/userAdd.lua' with { type: 'text' };
import userRemove from './lua/userRemove.lua' with { type: 'text' };
import presence from './lua/presence.lua' with { type: 'text' };
import presenceMembers from './lua/presenceMembers.lua' with { type: 'text' };

import type { RawEntry } from './streamEntries.ts';

/** An argument of a script: a Buffer is passed as its bytes (payloads, see streamEntries.ts). */
export type ScriptArg = string | number | Buffer;

/** Per topic: {1, routes, flattened answers} ({1} without an answer) or {0, error}; see lua/publish.lua. */
export type PublishReply = ([1, string[]?, (string | number)[]?] | [0, string])[];

export interface ScriptedClient {
  /** See lua/publish.lua: `numKeys` first, then KEYS, then ARGV. */
  syPublish(numKeys: number, ...keysAndArgs: ScriptArg[]): Promise<PublishReply>;
  /** syPublish for one topic: its five KEYS, then ARGV (see withScripts). */
  syPublishTopic(...keysAndArgs: ScriptArg[]): Promise<PublishReply>;
  syClaim(owner: string, mailbox: string, open: string, instanceId: string, ttlMs: number): Promise<[string[], string[]]>;
  syOpenJob(owner: string, open: string, instanceId: string, ttlMs: number, requestId: string, deadlineMs: number): Promise<number>;
  syPark(owner: string, mailbox: string, instanceId: string, envelope: string, ttlMs: number, limit: number): Promise<[0 | 1, string?]>;
  syRelease(owner: string, mailbox: string, open: string, instanceId: string): Promise<number>;
  /** See lua/readSince.lua; read with Buffer replies, since the entries hold payloads (streamEntries.ts). */
  syReadSinceBuffer(history: string, since: string, minId: string, count: number): Promise<[Buffer, Buffer, RawEntry[]] | []>;
  syPosition(history: string, ttlMs: number): Promise<string>;
  /** See lua/userSend.lua: five KEYS, then ARGV. */
  syUserSend(...keysAndArgs: ScriptArg[]): Promise<[0 | 1, string, string, string[]]>;
  syUserStatus(stream: string, meta: string, minId: string): Promise<[number, string, string]>;
  syUserConfirm(stream: string, meta: string, upTo: string, next: string): Promise<0 | 1>;
  syUserAdd(instances: string, instanceId: string, limit: number): Promise<0 | 1>;
  syUserRemove(instances: string, instanceId: string): Promise<number>;
  /** See lua/presence.lua: three KEYS, then ARGV. */
  syPresence(...keysAndArgs: (string | number)[]): Promise<[string[], string[], string[], 0 | 1]>;
  syPresenceMembers(users: string, limit: number): Promise<[number, string[]]>;
}

/** Registers the scripts on a client (idempotent per client). */
export function withScripts(client: RedisClient): RedisClient & ScriptedClient {
  const c = client as RedisClient & Partial<ScriptedClient>;
  if (!c.syPublish) {
    // The number of keys varies with the number of topics: given per call.
    client.defineCommand('syPublish', { lua: lastId + trim + publish });
    // In a Redis Cluster, one topic per call (one slot), and its key count declared: ioredis's
    // auto-pipelining groups a call by its first argument, which must then be a key. Given
    // per call, the count comes first, and calls for topics on different masters would land
    // in one pipeline, which ioredis refuses ("All keys in the pipeline should belong to the
    // same slots allocation group").
    client.defineCommand('syPublishTopic', { numberOfKeys: 5, lua: lastId + trim + publish });
    client.defineCommand('syClaim', { numberOfKeys: 3, lua: claim });
    client.defineCommand('syOpenJob', { numberOfKeys: 2, lua: openJob });
    client.defineCommand('syPark', { numberOfKeys: 2, lua: park });
    client.defineCommand('syRelease', { numberOfKeys: 3, lua: release });
    client.defineCommand('syReadSince', { numberOfKeys: 1, lua: lastId + trim + readSince });
    client.defineCommand('syPosition', { numberOfKeys: 1, lua: lastId + position });
    client.defineCommand('syPresence', { numberOfKeys: 3, lua: presence });
    client.defineCommand('syPresenceMembers', { numberOfKeys: 1, lua: presenceMembers });
  }
  if (!c.syUserSend) {
    client.defineCommand('syUserSend', { numberOfKeys: 5, lua: lastId + trim + userTrim + userSend });
    client.defineCommand('syUserStatus', { numberOfKeys: 2, lua: lastId + trim + userTrim + userStatus });
    client.defineCommand('syUserConfirm', { numberOfKeys: 2, lua: trim + userConfirm });
    client.defineCommand('syUserAdd', { numberOfKeys: 1, lua: userAdd });
    client.defineCommand('syUserRemove', { numberOfKeys: 1, lua: userRemove });
  }
  return client as RedisClient & ScriptedClient;
}
