-- Apply one batch's effects and its partition's next offset atomically (monitor/store/checkpoint.py).
-- KEYS[1] offset key, KEYS[2] epoch key, KEYS[3] expiry index, KEYS[4] dead-letter outbox
-- ARGV[1] epoch, ARGV[2] first offset (-1: sweep only, unchecked), ARGV[3] next offset (= first: an
-- idle partition's sweep, its offset checked as a batch's),
-- ARGV[4] '1' when the partition had no checkpoint at its claim (its first batch may start anywhere),
-- ARGV[5] the effects (MessagePack, see _argument in checkpoint.py), then the values of c.set, then one
-- encoded dead letter per offset of c.dead
-- Returns {status, stored offset (-1: none), expired_predictions, orphan_outcomes, detail}
local APPLIED, ALREADY_APPLIED, OVERLAP, GAP, CLAIM_LOST = 1, 0, 2, 3, 4
local FENCED, CONFLICT, INVALID = -1, -2, -3
-- First byte of a join record (monitor/vocab/effects.py) and the expiry members' separator
-- (monitor/store/keys.py); tests/monitor/store/test_lua_literals.py ties them to Python's.
local EARLY_OUTCOME, JOINED = 'O', 'J'
local MEMBER_SEP = '\31'
-- Step 1: fence. A newer epoch owns the partition; an older one means Redis lost our claim.
local stored_epoch = tonumber(redis.call('GET', KEYS[2]) or '0')
local epoch = tonumber(ARGV[1])
local stored = tonumber(redis.call('GET', KEYS[1]) or '-1')
if stored_epoch > epoch then return {FENCED, stored, 0, 0, ''} end
if stored_epoch < epoch then return {CLAIM_LOST, stored, 0, 0, ''} end
-- Step 2: accept exactly the next records. Anything else is reported with the stored offset.
local first, next = tonumber(ARGV[2]), tonumber(ARGV[3])
if first >= 0 and stored ~= first and not (stored < 0 and ARGV[4] == '1') then
  if stored < 0 or stored < first then return {GAP, stored, 0, 0, ''} end
  if stored >= next then return {ALREADY_APPLIED, stored, 0, 0, ''} end
  return {OVERLAP, stored, 0, 0, ''}
end
local c = cmsgpack.unpack(ARGV[5])
-- Step 3: validate before the first write, so a batch applies whole or not at all. Redis refuses
-- a float increment whose result is not finite, which would stop a script half-way.
local CHUNK = 500  -- stay far below Lua's limit on unpack()ed arguments
for _, h in ipairs(c.fincr) do
  for i = 2, #h, 2 * CHUNK do
    local last = math.min(i + 2 * CHUNK - 1, #h)
    local names = {}
    for j = i, last, 2 do names[#names + 1] = h[j] end
    local current = redis.call('HMGET', h[1], unpack(names))
    for j = 1, #names do
      local inc = tonumber(h[i + 2 * j - 1])
      local v = inc and tonumber(current[j] or '0') + inc
      if not v or v ~= v or v == math.huge or v == -math.huge then
        return {INVALID, stored, 0, 0, h[1] .. ' ' .. names[j] .. ' would not be finite'}
      end
    end
  end
end
-- Step 4: the join was planned on a snapshot (or on none); every record it relies on is checked
-- as it is written. On a mismatch the join writes done so far are undone and nothing else is
-- applied: the caller plans the batch again.
for i = 1, #c.expect, 2 do  -- duplicates: the record still starts as it did
  local v = redis.call('GET', c.expect[i])
  if not v or string.sub(v, 1, 1) ~= c.expect[i + 1] then return {CONFLICT, stored, 0, 0, c.expect[i]} end
end
local undo = {}
local function conflict(key)
  for i = #undo, 1, -1 do
    local u = undo[i]
    if u[2] then redis.call('SET', u[1], u[2], 'KEEPTTL') else redis.call('DEL', u[1]) end
  end
  return {CONFLICT, stored, 0, 0, key}
end
local put = c.put
for i = 2, #put, 2 do  -- new pending records: only where none exists
  if not redis.call('SET', put[i], put[i + 1], 'NX', 'PX', put[1]) then return conflict(put[i]) end
  undo[#undo + 1] = {put[i], false}
end
for i = 1, #c.mark, 2 do  -- pairs: the other side still waits; keep its TTL
  local old = redis.call('SET', c.mark[i], JOINED, 'XX', 'KEEPTTL', 'GET')
  if old then undo[#undo + 1] = {c.mark[i], old} end
  if not old or string.sub(old, 1, 1) ~= c.mark[i + 1] then return conflict(c.mark[i]) end
end
-- Step 5: apply the effects; dead letters go to the outbox, published once this script returned.
for _, h in ipairs(c.incr) do
  for i = 2, #h, 2 do redis.call('HINCRBY', h[1], h[i], h[i + 1]) end
end
for _, h in ipairs(c.fincr) do
  for i = 2, #h, 2 do redis.call('HINCRBYFLOAT', h[1], h[i], h[i + 1]) end
end
for _, h in ipairs(c.hmax) do
  for i = 2, #h, 2 do
    local cur = tonumber(redis.call('HGET', h[1], h[i]) or '-inf')
    if tonumber(h[i + 1]) > cur then redis.call('HSET', h[1], h[i], h[i + 1]) end
  end
end
for i, k in ipairs(c.set) do redis.call('SET', k, ARGV[5 + i]) end
for i, offset in ipairs(c.dead) do redis.call('HSET', KEYS[4], offset, ARGV[5 + #c.set + i]) end
for _, z in ipairs(c.zadd) do redis.call('ZADD', z[1], z[2], z[3]) end
for i = 1, #c.expire_at, 2 do redis.call('PEXPIREAT', c.expire_at[i], c.expire_at[i + 1]) end
for _, b in ipairs(c.expiry) do
  for i = 3, #b, CHUNK do
    redis.call('RPUSH', b[1], unpack(b, i, math.min(i + CHUNK - 1, #b)))
  end
  redis.call('ZADD', KEYS[3], b[2], b[1])
end
-- Step 6: sweep records whose label horizon passed; count the still-pending ones exactly once.
local swept = {0, 0}
local budget = c.sweep.limit
local buckets = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', c.sweep.now, 'LIMIT', 0, 16)
for _, bucket in ipairs(buckets) do
  if budget <= 0 then break end
  local members = redis.call('LPOP', bucket, budget)
  if members then
    budget = budget - #members
    for _, member in ipairs(members) do
      local sep = string.find(member, MEMBER_SEP, 1, true)
      local key = string.sub(member, sep + 1)
      local v = redis.call('GET', key)
      local state = v and string.sub(v, 1, 1) or JOINED
      if state ~= JOINED then
        local i = 1  -- a pending prediction expired (an early outcome: an orphan)
        if state == EARLY_OUTCOME then i = 2 end
        redis.call('DEL', key)
        redis.call('HINCRBY', c.sweep.counters .. string.sub(member, 1, sep - 1), c.sweep.fields[i], 1)
        swept[i] = swept[i] + 1
      end
    end
  end
  if redis.call('EXISTS', bucket) == 0 then redis.call('ZREM', KEYS[3], bucket) end
end
-- Step 7: the checkpoint itself (an idle partition's sweep checked it and leaves it as it is).
if first >= 0 and next ~= stored then
  redis.call('SET', KEYS[1], ARGV[3])
  stored = next
end
return {APPLIED, stored, swept[1], swept[2], ''}
