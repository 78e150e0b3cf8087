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
 * Trims a stream by length and/or age and records the newest entry dropped as the stream's
 * max-deleted-entry-id, which Redis itself updates only on XDEL. Recovery relies on it:
 * an offset at or above it has nothing missing after it.
 */
const TRIM = `
local function idAtLeast(id, minId)
  local ims, iseq = string.match(id, '^(%d+)-(%d+)$')
  local mms, mseq = string.match(minId, '^(%d+)-(%d+)$')
  ims, mms = tonumber(ims), tonumber(mms)
  if ims ~= mms then return ims > mms end
  return tonumber(iseq) >= tonumber(mseq)
end

local function trim(key, lastId, maxLen, minId)
  local dropped = nil
  if maxLen then
    local excess = redis.call('XLEN', key) - maxLen
    if excess > 0 then
      local gone = redis.call('XRANGE', key, '-', '+', 'COUNT', excess)
      dropped = gone[#gone][1]
      redis.call('XTRIM', key, 'MAXLEN', maxLen)
    end
  end
  if minId then
    -- Look at the oldest entry first: usually nothing has aged out, and XREVRANGE from
    -- minId would walk the whole stream to find that out (measured: 72 us at 1,000 entries).
    local oldest = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)
    if oldest[1] and not idAtLeast(oldest[1][1], minId) then
      local old = redis.call('XREVRANGE', key, '(' .. minId, '-', 'COUNT', 1)
      if old[1] then
        dropped = old[1][1]
        redis.call('XTRIM', key, 'MINID', minId)
      end
    end
  end
  if dropped then redis.call('XSETID', key, lastId, 'MAXDELETEDID', dropped) end
end
`;

/**
 * KEYS: history stream, route set, dedupe key (the history key again when there is no
 * message ID). ARGV: data, maxLength, minId (`<ms>-0`), ttlMs, dedupe ('1'/'0'), dedupeTtlMs.
 * Appends, trims by length and age, and reads the routes after the append: publishers rely
 * on this order (see TopicPublisher). On a new stream, everything before its first entry is
 * marked deleted, so that offsets from an earlier incarnation are never vouched for.
 * With a message ID seen before, appends nothing and answers the stored offset.
 * Returns {offset, prev, {instance IDs}, duplicate (0/1)}.
 */
const APPEND = `${LAST_ID}${TRIM}
if ARGV[5] == '1' then
  local seen = redis.call('GET', KEYS[3])
  if seen then
    local sp = string.find(seen, ' ')
    return {string.sub(seen, 1, sp - 1), string.sub(seen, sp + 1), redis.call('SMEMBERS', KEYS[2]), 1}
  end
end
local prev = lastId(KEYS[1])
local id = redis.call('XADD', KEYS[1], '*', 'd', ARGV[1])
if prev == '0-0' then
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  local before
  if tonumber(seq) > 0 then before = ms .. '-' .. (tonumber(seq) - 1)
  else before = string.format('%.0f', tonumber(ms) - 1) .. '-9007199254740991' end
  redis.call('XSETID', KEYS[1], id, 'MAXDELETEDID', before)
end
trim(KEYS[1], id, tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if ARGV[5] == '1' then redis.call('SET', KEYS[3], id .. ' ' .. prev, 'PX', ARGV[6]) end
return {id, prev, redis.call('SMEMBERS', KEYS[2]), 0}
`;

/**
 * KEYS: history stream. ARGV: since, minId (`<ms>-0`), count.
 * Drops entries past their age first, then returns
 * {last-generated-id, max-deleted-entry-id, entries after since} or {} when no stream.
 */
const READ_SINCE = `${LAST_ID}${TRIM}
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
trim(KEYS[1], lastId(KEYS[1]), nil, ARGV[2])
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

/** KEYS: owner, mailbox. ARGV: instanceId, ttlMs. Takes ownership; returns and empties the mailbox. */
const CLAIM = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local parked = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
return parked
`;

/** KEYS: owner. ARGV: instanceId, ttlMs. Takes or extends ownership unless another instance has it: 1, else 0. */
const CLAIM_IF_FREE = `
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

/**
 * KEYS: owner, mailbox. ARGV: instanceId, envelope JSON, ttlMs, limit.
 * Parks the envelope when the caller still owns the session: returns {1}. Otherwise {0, owner}
 * ({0} when nobody does).
 */
const PARK = `
local owner = redis.call('GET', KEYS[1])
if owner ~= ARGV[1] then
  if owner then return {0, owner} end
  return {0}
end
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[4]), -1)
redis.call('PEXPIRE', KEYS[2], ARGV[3])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {1}
`;

/** KEYS: owner, mailbox. ARGV: instanceId. Forgets the session if the caller owns it. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1], KEYS[2]) end
return 0
`;

export type StreamEntry = [id: string, fields: string[]];

export interface ScriptedClient {
  syAppend(
    history: string,
    routes: string,
    dedupe: string,
    data: string,
    maxLength: number,
    minId: string,
    ttlMs: number,
    dedupeOn: '0' | '1',
    dedupeTtlMs: number,
  ): Promise<[string, string, string[], number]>;
  syClaim(owner: string, mailbox: string, instanceId: string, ttlMs: number): Promise<string[]>;
  syClaimIfFree(owner: string, instanceId: string, ttlMs: number): Promise<number>;
  syPark(owner: string, mailbox: string, instanceId: string, envelope: string, ttlMs: number, limit: number): Promise<[0 | 1, string?]>;
  syRelease(owner: string, mailbox: string, instanceId: string): Promise<number>;
  syReadSince(history: string, since: string, minId: string, count: number): Promise<[string, string, StreamEntry[]] | []>;
  syHead(history: string): Promise<string>;
}

/** Registers the scripts on a client (idempotent per client). */
export function withScripts(client: RedisClient): RedisClient & ScriptedClient {
  const c = client as RedisClient & Partial<ScriptedClient>;
  if (!c.syAppend) {
    client.defineCommand('syAppend', { numberOfKeys: 3, lua: APPEND });
    client.defineCommand('syClaim', { numberOfKeys: 2, lua: CLAIM });
    client.defineCommand('syClaimIfFree', { numberOfKeys: 1, lua: CLAIM_IF_FREE });
    client.defineCommand('syPark', { numberOfKeys: 2, lua: PARK });
    client.defineCommand('syRelease', { numberOfKeys: 2, lua: RELEASE });
    client.defineCommand('syReadSince', { numberOfKeys: 1, lua: READ_SINCE });
    client.defineCommand('syHead', { numberOfKeys: 1, lua: HEAD });
  }
  return client as RedisClient & ScriptedClient;
}
