-- Publishes batches of messages to one or more topics, atomically: RedisBroker.publish.
-- Prepended with lastId.lua and trim.lua (see scripts.ts).
-- KEYS: per topic five adjacent keys: its history stream, its route set, and its dedupe
-- hashes of the current, the previous and the one-before-previous window (see Keys.dedupe).
-- ARGV: maxLength, minId (`<ms>-0`), ttlMs, dedupeTtlMs, inbox key head, inbox key tail,
-- inbox maxLength, answer ('1': the reply below; '0': an empty reply), number of topics;
-- then per topic: index in KEYS of its history stream, inbox entry head, n, then per
-- message: data, message ID ('' for none).
--
-- Per topic it appends the messages in order and trims by length and age once. On a new
-- stream, everything before its first entry is marked deleted, so that offsets from an
-- earlier incarnation are never vouched for. (A stream that position.lua created empty is not
-- new: its last-generated-id was handed out as a position, and stays vouched for.)
--
-- Dedupe: a message whose ID is in the current or the previous window's hash (`<offset>
-- <prev>` under the ID) is not appended; its stored offset is answered. So an ID is
-- remembered for one to two windows. The lookups and the record are one HMGET per window
-- and one HSET per topic, not a key per message: no per-key expiry to run, and 138 bytes
-- per ID instead of 228 (measured with 100,000 IDs), though an ID is now kept one to two
-- windows instead of one, so the total is about the same. The hash of the window before
-- the previous one is unlinked (freed in the background: it can hold millions of fields),
-- and each window's hash also expires two windows after its last write, for a topic that
-- went quiet.
--
-- With an inbox key head (standalone Redis), it also appends the new messages to the inbox
-- of every instance in the topic's route set: one round trip for the whole publish, and no
-- window in which a message is in history but not yet routed. A topic's new messages go as
-- one run entry per instance, in the format of src/cluster/redis/inboxEntry.ts: the caller
-- passes the start of its head (runHead there), which sendEntry below completes with
-- `"prev":…,"offsets":[…]}` (the head carries the publish time, `"ts":…`, which the caller
-- stamps: the publisher's clock, for the receivers' latency metric); then one `d` field per
-- message, its data as it is. In a
-- Redis Cluster the inboxes live in other slots (and so may the topics): the caller passes
-- one topic and no head, and sends the envelopes itself, using the routes returned (read in
-- the same script, after the appends, which gap-free recovery relies on; see
-- docs/architecture.md).
--
-- Returns per topic {1, instance IDs, {offset, prev, duplicate (0/1)} per message, flattened}
-- ({1} without an answer), or {0, error} for a topic that failed: each topic runs on its own.
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
