-- RedisUserInbox.status. Prepended with lastId.lua, trim.lua and userTrim.lua.
-- KEYS: user inbox stream, meta hash. ARGV: minId (`<ms>-0`, the age limit).
-- Drops what aged out (marking it lost), then returns {pending, lost ('' for none), head}.
markLost(KEYS[2], ageTrim(KEYS[1], ARGV[1]))
return {redis.call('XLEN', KEYS[1]), redis.call('HGET', KEYS[2], 'lost') or '', lastId(KEYS[1])}
