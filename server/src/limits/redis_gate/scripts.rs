//! The gate's Lua scripts. Every script that touches slots starts with [`PRELUDE`] (Redis's
//! clock, expired holders dropped); the quota scripts add [`QUOTA`], which names the current
//! windows from that clock, seeds any window Redis has no count for from the database's
//! baseline (ARGV 1–7), and reads the counts.
//!
//! Keys: KEYS[1] is the user's slot set, KEYS[2] the prefix of the user's quota keys. Window
//! keys are built inside the script because their names depend on Redis's clock; all of a
//! user's keys share the user id, so a cluster deployment would wrap it in a hash tag.

/// Drops expired holders and reads Redis's clock in ms.
pub const PRELUDE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local function expire_with_last_lease()
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIREAT', KEYS[1], last[2]) end
end
";

pub const ACQUIRE: &str = r"
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
  expire_with_last_lease()
  return 1
end
return 0
";

pub const RENEW: &str = r"
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
expire_with_last_lease()
return 1
";

pub const RELEASE: &str = r"
redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[1]) end
return 1
";

/// Calendar arithmetic, the same as `app::protocol::quota` (a test compares the two).
pub const CALENDAR: &str = r"
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end
local function month_of_day(z)
  z = z + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y * 12 + m - 1
end
";

/// The current windows, their seeding and counts, and `report(code)`.
pub const QUOTA: &str = r"
local hid = math.floor(now / 3600000)
local did = math.floor(now / 86400000)
local mid = month_of_day(did)
local mend = days_from_civil(math.floor((mid + 1) / 12), (mid + 1) % 12 + 1, 1) * 86400000
local wkeys = {KEYS[2] .. ':h:' .. hid, KEYS[2] .. ':d:' .. did, KEYS[2] .. ':m:' .. mid}
local wids = {hid, did, mid}
local wends = {(hid + 1) * 3600000, (did + 1) * 86400000, mend}
local skey = KEYS[2] .. ':s:' .. mid
local cdkey = KEYS[2] .. ':cd'
local function seed(key, id_arg, value_arg, id, ends)
  local v = 0
  if tonumber(ARGV[id_arg]) == id then v = tonumber(ARGV[value_arg]) end
  return redis.call('SET', key, v, 'PXAT', ends + 60000, 'NX')
end
for i = 1, 3 do seed(wkeys[i], 2 * i - 1, 2 * i, wids[i], wends[i]) end
local spend_fresh = seed(skey, 5, 7, mid, mend)
local function count(key) return tonumber(redis.call('GET', key)) or 0 end
local used = {count(wkeys[1]), count(wkeys[2]), count(wkeys[3])}
local spent = count(skey)
local cd = redis.call('PTTL', cdkey)
if cd < 0 then cd = 0 end
local function report(code)
  return {code, now, hid, did, mid, used[1], used[2], used[3], spent, cd, redis.call('ZCARD', KEYS[1])}
end
";

/// ARGV 8–17: holder, lease ms, running, hour, day and month limits, cooldown ms, spend cap,
/// images asked for, their estimated cost. Codes: 0 admitted, 1 busy, 2 cooldown, 3–5 no room
/// in the hour/day/month, 6 spend cap reached (or the estimate would pass it).
pub const ADMIT: &str = r"
local images = tonumber(ARGV[16])
local estimate = tonumber(ARGV[17])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[10]) then return report(1) end
if cd > 0 then return report(2) end
for i = 1, 3 do
  if used[i] + images > tonumber(ARGV[10 + i]) then return report(2 + i) end
end
local cap = tonumber(ARGV[15])
if spent >= cap or (estimate > 0 and spent + estimate > cap) then return report(6) end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[9]), ARGV[8])
expire_with_last_lease()
for i = 1, 3 do used[i] = redis.call('INCRBY', wkeys[i], images) end
if tonumber(ARGV[14]) > 0 then
  redis.call('SET', cdkey, ARGV[8], 'PX', ARGV[14])
  cd = tonumber(ARGV[14])
end
return report(0)
";

/// Stand-alone (KEYS[1]: the quota prefix). ARGV: holder, hour, day and month ids, images.
/// Counts are only lowered while their window lasts, never below zero; the cooldown only if
/// this holder started it.
pub const REFUND: &str = r"
local tags = {':h:', ':d:', ':m:'}
for i = 1, 3 do
  local k = KEYS[1] .. tags[i] .. ARGV[i + 1]
  local v = tonumber(redis.call('GET', k))
  if v and v > 0 then redis.call('DECRBY', k, math.min(v, tonumber(ARGV[5]))) end
end
if redis.call('GET', KEYS[1] .. ':cd') == ARGV[1] then redis.call('DEL', KEYS[1] .. ':cd') end
return 1
";

/// ARGV 8–9: the month the job was admitted in, its cost. A spend key seeded just now came
/// from the database, which already holds this cost.
pub const CHARGE: &str = r"
if tonumber(ARGV[8]) == mid and not spend_fresh then
  spent = redis.call('INCRBY', skey, ARGV[9])
end
return report(0)
";

pub const USAGE: &str = r"
return report(0)
";
