// RedisStore's Lua scripts. Each touches the one key it is given (KEYS[1]), so it runs on that key's
// Redis Cluster node; the SHA is computed here, so EVALSHA never needs a SCRIPT LOAD.
import { createHash } from 'node:crypto'

// Leases: a sorted set per key, member = lease id, score = expiry in ms of Redis's clock (inf: never).
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`
// The set lives as long as its longest lease; a set holding a lease that never expires never does.
const KEEP = `local function keep (key, ttl, existed)
  if ttl <= 0 then redis.call('PERSIST', key) return end
  local left = redis.call('PTTL', key)
  if existed == 0 or (left ~= -1 and left < ttl) then redis.call('PEXPIRE', key, ttl) end
end`
const ACQUIRE = `${NOW}
${KEEP}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
local ttl = tonumber(ARGV[2])
local existed = redis.call('EXISTS', KEYS[1])
redis.call('ZADD', KEYS[1], ttl > 0 and now + ttl or 'inf', ARGV[3])
keep(KEYS[1], ttl, existed)
return 1`
// A renewal adds the lease back if it expired meanwhile (Redis was unreachable longer than the TTL): the
// session is live, so the count says so again.
const RENEW = `${NOW}
${KEEP}
local ttl = tonumber(ARGV[1])
local existed = redis.call('EXISTS', KEYS[1])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[2])
keep(KEYS[1], ttl, existed)
return 1`
// Budgets: USD spent by a key in the current window; the key expires with its window.
const DEBIT = `local total = redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) == -1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return total`
// A total raised to at least ARGV[1] (a spent key re-asserted after a flush): idempotent, unlike a debit.
const RAISE = `local total = tonumber(redis.call('GET', KEYS[1]) or '0')
if total >= tonumber(ARGV[1]) then return tostring(total) end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]`
// Fleet messages: kept in a sorted set scored by Redis's clock (older than the TTL trimmed), then published.
const RECORD = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return now`

/** A script with its SHA1, for EVALSHA. */
export interface Script { lua: string, sha: string }
const script = (lua: string): Script => ({ lua, sha: createHash('sha1').update(lua).digest('hex') })
export const SCRIPTS = { acquire: script(ACQUIRE), renew: script(RENEW), debit: script(DEBIT), raise: script(RAISE), record: script(RECORD) }
