/**
 * Lua scripts, each touching keys of one hash tag (one Cluster slot), registered with
 * ioredis `defineCommand` (EVALSHA with a fallback to EVAL).
 */
import type { RedisClient } from './connection.ts';

/** Offset of the newest entry ever added to a stream (`0-0` when there is none). */
const LAST_ID = `
local function lastId(key)
  local newest = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
  if newest[1] then return newest[1][1] end
  if redis.call('EXISTS', key) == 0 then return '0-0' end
  local info = redis.call('XINFO', 'STREAM', key)
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then return info[i + 1] end
  end
  return '0-0'
end
`;

/**
 * KEYS: history stream, route set. ARGV: data, maxLength, minId (ms), ttlMs.
 * Appends, trims by length and age, and reads the routes after the append: publishers rely
 * on this order (see TopicPublisher). On a new stream, everything before its first entry is
 * marked deleted, so that offsets from an earlier incarnation are never vouched for.
 * Returns {offset, prev, {instance IDs}}.
 */
const APPEND = `${LAST_ID}
local prev = lastId(KEYS[1])
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'd', ARGV[1])
if prev == '0-0' then
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  local before
  if tonumber(seq) > 0 then before = ms .. '-' .. (tonumber(seq) - 1)
  else before = string.format('%.0f', tonumber(ms) - 1) .. '-9007199254740991' end
  redis.call('XSETID', KEYS[1], id, 'MAXDELETEDID', before)
end
redis.call('XTRIM', KEYS[1], 'MINID', '~', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {id, prev, redis.call('SMEMBERS', KEYS[2])}
`;

/**
 * KEYS: history stream. ARGV: since, minId (ms), count.
 * Drops entries past their age first (exactly), then returns
 * {last-generated-id, max-deleted-entry-id, entries after since} or {} when no stream.
 */
const READ_SINCE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
redis.call('XTRIM', KEYS[1], 'MINID', ARGV[2])
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local lastGenerated, maxDeleted = '0-0', '0-0'
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then lastGenerated = info[i + 1] end
  if info[i] == 'max-deleted-entry-id' then maxDeleted = info[i + 1] end
end
return {lastGenerated, maxDeleted, redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[3])}
`;

/** KEYS: history stream. Returns the offset of the newest entry ever added. */
const HEAD = `${LAST_ID}
return lastId(KEYS[1])
`;

export type StreamEntry = [id: string, fields: string[]];

export interface ScriptedClient {
  syAppend(history: string, routes: string, data: string, maxLength: number, minId: number, ttlMs: number): Promise<[string, string, string[]]>;
  syReadSince(history: string, since: string, minId: number, count: number): Promise<[string, string, StreamEntry[]] | []>;
  syHead(history: string): Promise<string>;
}

/** Registers the scripts on a client (idempotent per client). */
export function withScripts(client: RedisClient): RedisClient & ScriptedClient {
  const c = client as RedisClient & Partial<ScriptedClient>;
  if (!c.syAppend) {
    client.defineCommand('syAppend', { numberOfKeys: 2, lua: APPEND });
    client.defineCommand('syReadSince', { numberOfKeys: 1, lua: READ_SINCE });
    client.defineCommand('syHead', { numberOfKeys: 1, lua: HEAD });
  }
  return client as RedisClient & ScriptedClient;
}
