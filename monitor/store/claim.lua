-- Claim one partition for a new owner (monitor/store/checkpoint.py, step 0).
-- KEYS[1] epoch key, KEYS[2] offset key, KEYS[3] set of partition tags, KEYS[4] dead-letter outbox
-- ARGV[1] the partition's tag; optionally ARGV[2] an offset to rewind to and ARGV[3] the epoch
-- under which Kafka was seen to lose the records from that offset on
-- Returns {epoch, stored next offset or false, dead letters waiting in the outbox}
--
-- The epoch is the larger of (stored epoch + 1) and Redis' clock in microseconds: it grows with
-- every claim as INCR would, and also stays above every epoch handed out before Redis lost writes
-- (a restore from an older copy, a failover to a lagging replica), so an owner from before the
-- loss can never present the same epoch as one after it.
--
-- The rewind (Kafka's log now diverges from what was applied at that offset: the records from
-- there on are new) moves the stored offset back only while nobody claimed since it was seen
-- and only backwards: a later owner may already have applied the new records.
local t = redis.call('TIME')
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])  -- < 2^53: exact in Lua's doubles
local stored_epoch = tonumber(redis.call('GET', KEYS[1]) or '0')
if ARGV[2] and stored_epoch == tonumber(ARGV[3]) then
  local stored = tonumber(redis.call('GET', KEYS[2]) or '-1')
  if stored > tonumber(ARGV[2]) then redis.call('SET', KEYS[2], ARGV[2]) end
end
local epoch = math.max(stored_epoch + 1, now_us)
redis.call('SET', KEYS[1], string.format('%d', epoch))
redis.call('SADD', KEYS[3], ARGV[1])
return {epoch, redis.call('GET', KEYS[2]), redis.call('HLEN', KEYS[4])}
