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
 * Publishes batches of messages to one or more topics, atomically.
 * KEYS: per topic five adjacent keys: its history stream, its route set, and its dedupe
 * hashes of the current, the previous and the one-before-previous window (see Keys.dedupe).
 * ARGV: maxLength, minId (`<ms>-0`), ttlMs, dedupeTtlMs, inbox key head, inbox key tail,
 * inbox maxLength, answer ('1': the reply below; '0': an empty reply), number of topics;
 * then per topic: index in KEYS of its history stream, inbox entry head, n, then per
 * message: data, message ID ('' for none).
 *
 * Per topic it appends the messages in order and trims by length and age once. On a new
 * stream, everything before its first entry is marked deleted, so that offsets from an
 * earlier incarnation are never vouched for. (A stream that POSITION created empty is not
 * new: its last-generated-id was handed out as a position, and stays vouched for.)
 *
 * Dedupe: a message whose ID is in the current or the previous window's hash (`<offset>
 * <prev>` under the ID) is not appended; its stored offset is answered. So an ID is
 * remembered for one to two windows. The lookups and the record are one HMGET per window
 * and one HSET per topic, not a key per message: no per-key expiry to run, and 138 bytes
 * per ID instead of 228 (measured with 100,000 IDs), though an ID is now kept one to two
 * windows instead of one, so the total is about the same. The hash of the window before
 * the previous one is unlinked (freed in the
 * background: it can hold millions of fields), and each window's hash also expires two
 * windows after its last write, for a topic that went quiet.
 *
 * With an inbox key head (standalone Redis), it also appends the new messages to the inbox
 * of every instance in the topic's route set: one round trip for the whole publish, and no
 * window in which a message is in history but not yet routed. A topic's new messages go as
 * one inbox entry (a run; see decodeEntry in redisInbox.ts): `e` is
 * `{"kind":"message","app":…,"topic":…,"prev":<offset before the first>,"offsets":[…]}` (the
 * caller passes its head up to the comma after the topic), then one `d` field per message,
 * its data as it is. In a
 * Redis Cluster the inboxes live in other slots (and so may the topics): the caller passes
 * one topic and no head, and sends the envelopes itself, using the routes returned (read in
 * the same script, after the appends, which gap-free recovery relies on; see
 * docs/architecture.md).
 *
 * Returns per topic {1, instance IDs, {offset, prev, duplicate (0/1)} per message, flattened}
 * ({1} without an answer), or {0, error} for a topic that failed: each topic runs on its own.
 */
const PUBLISH = `${LAST_ID}${TRIM}
local maxLen, minId, ttl, dedupeTtl = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]
local inboxHead, inboxTail, inboxMax = ARGV[5], ARGV[6], ARGV[7]
-- At most this many messages per inbox entry (unpack() has a limit of about 8,000 values).
local ENTRY_MESSAGES = 1000
-- One inbox entry per routed instance for a run of consecutive messages of one topic.
local function sendEntry(routes, entry, runHead, first, ids)
  entry[8] = runHead .. '"prev":"' .. first .. '","offsets":["' .. table.concat(ids, '","') .. '"]}'
  for r = 1, #routes do
    entry[1] = inboxHead .. routes[r] .. inboxTail
    redis.call('XADD', unpack(entry))
  end
end
local answer = ARGV[8] == '1'
local topics = tonumber(ARGV[9])

-- The second of an offset (milliseconds-sequence); nil for 0-0.
local function second(id)
  return string.match(id, '^(%d+)%d%d%d%-')
end

-- HMGET of many fields, in slices that unpack() can take.
local function lookup(key, ids, into)
  for from = 1, #ids, ENTRY_MESSAGES do
    local to = math.min(from + ENTRY_MESSAGES - 1, #ids)
    local values = redis.call('HMGET', key, unpack(ids, from, to))
    for j = 1, #values do
      if values[j] and not into[ids[from + j - 1]] then into[ids[from + j - 1]] = values[j] end
    end
  end
end

-- One topic's batch; its messages start at ARGV[a], its keys at KEYS[k]. Returns {routes, out}.
local function publishTopic(k, runHead, n, a)
  local history = KEYS[k]
  local routes = redis.call('SMEMBERS', KEYS[k + 1])
  local routed = inboxHead ~= '' and #routes > 0
  -- Stored offsets of the batch's message IDs seen within the dedupe window.
  local stored, msgIds = {}, {}
  for i = 1, n do
    local msgId = ARGV[a + 2 * i - 1]
    if msgId ~= '' then msgIds[#msgIds + 1] = msgId end
  end
  if #msgIds > 0 then
    lookup(KEYS[k + 2], msgIds, stored)
    lookup(KEYS[k + 3], msgIds, stored)
  end
  local prev = lastId(history)
  local before = prev
  local fresh = prev == '0-0'
  local appended = false
  local out = {}
  local first = prev
  local recorded = {}
  local ids, entry = {}, {'', 'NOMKSTREAM', 'MAXLEN', '~', inboxMax, '*', 'e', ''}
  for i = 1, n do
    local data, msgId = ARGV[a], ARGV[a + 1]
    a = a + 2
    local seen = msgId ~= '' and stored[msgId]
    if seen then
      if answer then
        local sp = string.find(seen, ' ')
        out[#out + 1] = string.sub(seen, 1, sp - 1)
        out[#out + 1] = string.sub(seen, sp + 1)
        out[#out + 1] = 1
      end
    else
      local id = redis.call('XADD', history, '*', 'd', data)
      if fresh then
        fresh = false
        local ms, seq = string.match(id, '^(%d+)-(%d+)$')
        local below
        if tonumber(seq) > 0 then below = ms .. '-' .. (tonumber(seq) - 1)
        else below = string.format('%.0f', tonumber(ms) - 1) .. '-9007199254740991' end
        redis.call('XSETID', history, id, 'MAXDELETEDID', below)
      end
      if msgId ~= '' then
        local value = id .. ' ' .. prev
        stored[msgId] = value
        recorded[#recorded + 1] = msgId
        recorded[#recorded + 1] = value
      end
      if routed then
        ids[#ids + 1] = id
        entry[#entry + 1] = 'd'
        entry[#entry + 1] = data
        if #ids == ENTRY_MESSAGES then
          sendEntry(routes, entry, runHead, first, ids)
          first, ids, entry = id, {}, {'', 'NOMKSTREAM', 'MAXLEN', '~', inboxMax, '*', 'e', ''}
        end
      end
      if answer then
        out[#out + 1] = id
        out[#out + 1] = prev
        out[#out + 1] = 0
      end
      prev = id
      appended = true
    end
  end
  if #ids > 0 then sendEntry(routes, entry, runHead, first, ids) end
  if #recorded > 0 then
    for from = 1, #recorded, 2 * ENTRY_MESSAGES do
      redis.call('HSET', KEYS[k + 2], unpack(recorded, from, math.min(from + 2 * ENTRY_MESSAGES - 1, #recorded)))
    end
    redis.call('PEXPIRE', KEYS[k + 2], 2 * dedupeTtl)
    redis.call('UNLINK', KEYS[k + 4])
  end
  if appended then
    -- The length cap holds after every call. The age trim and the TTL refresh are done by
    -- the first call in each second of Redis's clock (reads trim by age themselves): they
    -- cost as much as the rest of a small batch.
    local firstInSecond = second(prev) ~= second(before)
    trim(history, prev, maxLen, firstInSecond and minId or nil)
    if firstInSecond then redis.call('PEXPIRE', history, ttl) end
  end
  return {routes, out}
end

-- Each topic on its own: a topic that fails (a key of the wrong type, say) fails alone, and
-- the others are stored. (What a failing topic wrote before its error stays, as it would
-- in a script of its own.)
local a = 10
local result = {}
for t = 1, topics do
  local k, runHead, n = tonumber(ARGV[a]), ARGV[a + 1], tonumber(ARGV[a + 2])
  local ok, res = pcall(publishTopic, k, runHead, n, a + 3)
  a = a + 3 + 2 * n
  if not ok then
    result[t] = {0, type(res) == 'table' and res.err or tostring(res)}
  elseif answer then
    result[t] = {1, res[1], res[2]}
  else
    result[t] = {1}
  end
end
return result
`;

/**
 * KEYS: history stream. ARGV: since, minId (`<ms>-0`), count.
 * Drops entries past their age first, then returns {last-generated-id, max-deleted-entry-id,
 * up to count entries after since} or {} when no stream. The caller pages on from the last
 * entry; since at or above max-deleted-entry-id means nothing after it was dropped.
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

/**
 * KEYS: history stream. ARGV: ttlMs.
 * Returns the topic's position: the offset of the newest entry ever added. Without a stream
 * it creates an empty one whose last-generated-id is the position returned (an entry added
 * and deleted at once; XDEL also records it as max-deleted-entry-id), expiring after ttlMs
 * like a history stream. The first PUBLISH then finds a stream that is not new: it appends
 * after the position and leaves the deleted mark where it is, so READ_SINCE vouches for the
 * position, and still for no offset of an earlier incarnation. An empty stream costs about
 * 380 bytes (MEMORY USAGE).
 */
const POSITION = `${LAST_ID}
local last = lastId(KEYS[1])
if last ~= '0-0' then return last end
local id = redis.call('XADD', KEYS[1], '*', 'p', '')
redis.call('XDEL', KEYS[1], id)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return id
`;

/**
 * KEYS: owner, mailbox, open jobs. ARGV: instanceId, ttlMs. Takes ownership; returns and
 * empties the mailbox, and returns the open jobs: {parked, {requestId, deadline, …}}.
 */
const CLAIM = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local parked = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
local open = redis.call('HGETALL', KEYS[3])
if #open > 0 and redis.call('PTTL', KEYS[3]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[3], ARGV[2]) end
return {parked, open}
`;

/**
 * KEYS: owner, open jobs. ARGV: instanceId, ttlMs, requestId, deadlineMs. Records the job;
 * takes or extends ownership unless another instance has it: 1, else 0.
 */
const OPEN_JOB = `
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
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

/** KEYS: owner, mailbox, open jobs. ARGV: instanceId. Forgets the session if the caller owns it. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1], KEYS[2], KEYS[3]) end
return 0
`;

export type StreamEntry = [id: string, fields: string[]];

export interface ScriptedClient {
  /** See PUBLISH: `numKeys` first, then KEYS, then ARGV. */
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
    client.defineCommand('syPublish', { lua: PUBLISH });
    client.defineCommand('syClaim', { numberOfKeys: 3, lua: CLAIM });
    client.defineCommand('syOpenJob', { numberOfKeys: 2, lua: OPEN_JOB });
    client.defineCommand('syPark', { numberOfKeys: 2, lua: PARK });
    client.defineCommand('syRelease', { numberOfKeys: 3, lua: RELEASE });
    client.defineCommand('syReadSince', { numberOfKeys: 1, lua: READ_SINCE });
    client.defineCommand('syPosition', { numberOfKeys: 1, lua: POSITION });
  }
  return client as RedisClient & ScriptedClient;
}
