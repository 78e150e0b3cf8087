-- RedisPresence.update: sets one instance's session counts of users on one topic, atomically.
-- KEYS: the topic's presence users hash (user -> sessions over every instance), the instance's
-- presence hash on the topic (user -> sessions there), the topic's route set.
-- ARGV: full ('1': users of the instance not listed go to 0), inbox key head, inbox key tail,
-- inbox maxLength, app, topic, then per user: user ID, sessions.
--
-- The instance states its counts (it is their authority), so running this twice changes
-- nothing the second time. A user whose total goes from 0 to more joins; one whose total goes
-- to 0 leaves. With an inbox key head (standalone Redis), the joins and leaves go, as one
-- presence envelope entry (format of src/cluster/redis/inboxEntry.ts), to the inbox of every
-- instance in the route set, in this same step: a transition is never stored without its
-- event. In a Redis Cluster the inboxes live in other slots: the caller sends the envelope to
-- the routes returned.
--
-- Returns {joined users, left users, routes (read only when something joined or left),
-- 1 when the instance holds no presence on the topic any more, else 0}.
local users, mine, routeSet = KEYS[1], KEYS[2], KEYS[3]
local full = ARGV[1] == '1'
local inboxHead, inboxTail, inboxMax, app, topic = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]

local target, order = {}, {}
for i = 7, #ARGV, 2 do
  local user = ARGV[i]
  if target[user] == nil then order[#order + 1] = user end
  target[user] = math.max(0, tonumber(ARGV[i + 1]))
end
if full then
  for _, user in ipairs(redis.call('HKEYS', mine)) do
    if target[user] == nil then
      target[user] = 0
      order[#order + 1] = user
    end
  end
end

local joined, left = {}, {}
for _, user in ipairs(order) do
  local want = target[user]
  local delta = want - tonumber(redis.call('HGET', mine, user) or '0')
  if delta ~= 0 then
    if want > 0 then redis.call('HSET', mine, user, want) else redis.call('HDEL', mine, user) end
    local total = redis.call('HINCRBY', users, user, delta)
    local before = total - delta
    if total <= 0 then redis.call('HDEL', users, user) end
    if before <= 0 and total > 0 then joined[#joined + 1] = user end
    if before > 0 and total <= 0 then left[#left + 1] = user end
  end
end

local routes = {}
if #joined + #left > 0 then
  routes = redis.call('SMEMBERS', routeSet)
  if inboxHead ~= '' and #routes > 0 then
    -- cjson writes an empty table as {}: only non-empty lists go in (the schema defaults them).
    local envelope = {kind = 'presence', app = app, topic = topic}
    if #joined > 0 then envelope.joined = joined end
    if #left > 0 then envelope.left = left end
    local e = cjson.encode(envelope)
    for r = 1, #routes do
      redis.call('XADD', inboxHead .. routes[r] .. inboxTail, 'NOMKSTREAM', 'MAXLEN', '~', inboxMax, '*', 'e', e)
    end
  end
end
return {joined, left, routes, redis.call('EXISTS', mine) == 0 and 1 or 0}
