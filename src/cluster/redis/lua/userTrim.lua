-- Helper, prepended (after trim.lua, for idAtLeast) to the user inbox scripts.
-- Drops the messages older than minId (`<ms>-0`) and returns the newest one dropped, or nil.
-- Looks at the oldest entry first: usually nothing has aged out.
local function ageTrim(stream, minId)
  local oldest = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
  if not oldest[1] or idAtLeast(oldest[1][1], minId) then return nil end
  local old = redis.call('XREVRANGE', stream, '(' .. minId, '-', 'COUNT', 1)
  redis.call('XTRIM', stream, 'MINID', minId)
  return old[1][1]
end

-- Records the newest message dropped unconfirmed (IDs only grow: the last one is the newest).
local function markLost(meta, dropped)
  if dropped then redis.call('HSET', meta, 'lost', dropped) end
end
