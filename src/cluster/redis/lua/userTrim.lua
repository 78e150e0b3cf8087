-- Helper, prepended (after trim.lua) to the user inbox scripts.
-- Records the newest message dropped unconfirmed (IDs only grow: the last one is the newest).
local function markLost(meta, dropped)
  if dropped then redis.call('HSET', meta, 'lost', dropped) end
end
