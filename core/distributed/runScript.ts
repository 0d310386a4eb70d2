/**
 * The Lua script that holds a distributed run's state in Redis: every change of a run (a step
 * claimed, retried, finished, skipped; dependents released; steps dispatched within
 * `max_parallel`; the run stopped or finished) happens in one atomic call, together with the
 * events it causes (XADD to the run's stream). Two workers finishing sibling steps at the same
 * moment are serialised by Redis: a dependent is released exactly once, never lost, never
 * dispatched twice. The TypeScript side (runStore.ts) decides what needs the templates (`when`,
 * the output); this script decides what needs the whole run's state.
 *
 * KEYS: 1 meta hash, 2 steps hash, 3 ready zset, 4 events stream, 5 errors hash, 6 run index zset,
 * 7-9 the run slots of `maxConcurrentRuns` (runSlots.ts, whose ops and release this script includes).
 * ARGV[1]: the operation; the rest depends on it (see each `ops.*`).
 *
 * Step states: pending (dependencies unfinished), deciding (dependencies finished, its `skip` and
 * `when` not yet decided by TypeScript), ready (waiting for a slot), queued (has a slot and a
 * job, no worker yet), running, then one of the final statuses. A run under `maxConcurrentRuns`
 * may wait for a run slot first (state `queued`, runSlots.ts), its steps all pending. Times are
 * Redis's clock (`TIME`), in milliseconds, one clock for every worker.
 */
import { RUN_SLOTS_LUA } from './runSlots.js';

export const RUN_SCRIPT = String.raw`
local M, S, R, E, ER, IDX = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local SH, SQ, SC = KEYS[7], KEYS[8], KEYS[9]
-- A run's end gives up its run slot (runSlots.ts, defined below).
local releaseSlot
local op = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local function num(x) return string.format('%.3f', x) end
local FINAL = { succeeded = true, fallback = true, failed = true, skipped = true, cancelled = true }
local MAX_ERRORS, KEPT_FIRST = 10, 5

local head
local function eventHead()
  if not head then
    local m = redis.call('HMGET', M, 'id', 'comp')
    head = '"runId":' .. cjson.encode(m[1]) .. ',"composition":' .. cjson.encode(m[2])
  end
  return head
end
local function emit(body)
  redis.call('XADD', E, '*', 'e', '{"time":' .. num(now) .. ',' .. eventHead() .. ',' .. body .. '}')
end
local function sget(f, i) return redis.call('HGET', S, f .. ':' .. i) end
local function sset(f, i, v) redis.call('HSET', S, f .. ':' .. i, v) end
local function mget(f) return redis.call('HGET', M, f) end
local function mincr(f, by) return tonumber(redis.call('HINCRBY', M, f, by)) end

-- Keeps the first KEPT_FIRST errors and the latest ones, MAX_ERRORS in all.
local function pushError(i, e)
  if e == nil or e == '' then return end
  local k = tonumber(redis.call('HINCRBY', S, 'ec:' .. i, 1))
  redis.call('HSET', ER, i .. ':' .. k, e)
  if k > MAX_ERRORS then redis.call('HDEL', ER, i .. ':' .. (k - (MAX_ERRORS - KEPT_FIRST))) end
end

local function finishedEvent(i, status, err)
  local t0 = tonumber(sget('t0', i) or '')
  local t1 = tonumber(sget('t1', i) or '')
  local dur = 0
  if t0 and t1 then dur = t1 - t0 end
  local body = '"type":"step.finished","stepId":' .. cjson.encode(sget('id', i)) .. ',"status":"' .. status .. '"'
  local reason = sget('k', i)
  if reason then body = body .. ',"skipReason":"' .. reason .. '"' end
  body = body .. ',"durationMs":' .. num(dur) .. ',"attempts":' .. (sget('a', i) or '0')
  if err and err ~= '' then body = body .. ',"error":' .. err end
  emit(body)
end

local function dependents(i)
  local out = {}
  local d = sget('d', i)
  if d and d ~= '' then for x in string.gmatch(d, '[^,]+') do out[#out + 1] = x end end
  return out
end

local toDecide = {}
local skip
-- A step whose dependencies have all finished: an override's skip is decided here (it needs no
-- context), a step with a \`when\` waits for TypeScript to decide it, any other is ready.
local function arrive(i)
  if sget('sk', i) == '1' then
    skip(i, 'override')
  elseif sget('w', i) == '1' then
    sset('s', i, 'deciding')
    mincr('undecided', 1)
    toDecide[#toDecide + 1] = i
  else
    sset('s', i, 'ready')
    redis.call('ZADD', R, -tonumber(sget('p', i)), string.format('%09d', tonumber(i)))
  end
end
-- A step that finished in a way that lets its dependents run: each whose last dependency this was arrives.
local function release(i)
  for _, d in ipairs(dependents(i)) do
    if sget('s', d) == 'pending' then
      local left = tonumber(redis.call('HINCRBY', S, 'rem:' .. d, -1))
      if left == 0 then arrive(d) end
    end
  end
end

skip = function(i, reason)
  sset('s', i, 'skipped')
  sset('k', i, reason)
  finishedEvent(i, 'skipped')
  -- A step skipped by \`when\` or \`skip\` counts as finished for its dependents (Argo); an upstream skip is passed on by skipDownstream.
  if reason ~= 'upstream' then release(i) end
end

-- A failed step skips everything downstream of it, transitively (only steps still pending).
local function skipDownstream(i)
  local stack = { i }
  while #stack > 0 do
    local v = table.remove(stack)
    for _, d in ipairs(dependents(v)) do
      if sget('s', d) == 'pending' then
        skip(d, 'upstream')
        mincr('bad', 1)
        stack[#stack + 1] = d
      end
    end
  end
end

local function expireAll()
  local ttl = tonumber(mget('ttl') or '0')
  if ttl and ttl > 0 then
    for _, k in ipairs({ M, S, R, E, ER }) do redis.call('PEXPIRE', k, ttl) end
  end
end

-- Dispatches ready steps into free slots (highest priority first), and sees whether the run has come to its end.
local function advance()
  local dispatched = {}
  local mp = tonumber(mget('mp'))
  -- Steps still to decide may outrank the ready ones (in-process, deciding comes before starting).
  if mget('stopping') ~= '1' and tonumber(mget('undecided')) == 0 then
    while mp == 0 or tonumber(mget('running')) < mp do
      local top = redis.call('ZPOPMIN', R)
      if #top == 0 then break end
      local i = tostring(tonumber(top[1]))
      sset('s', i, 'queued')
      mincr('running', 1)
      dispatched[#dispatched + 1] = i
    end
  end
  local finishing = ''
  if tonumber(mget('running')) == 0 and tonumber(mget('undecided')) == 0 and (mget('stopping') == '1' or redis.call('ZCARD', R) == 0) then
    if mget('stopping') == '1' then finishing = 'failed'
    elseif tonumber(mget('bad')) > 0 then finishing = 'partial'
    else finishing = 'succeeded' end
    redis.call('HSET', M, 'state', 'finishing', 'status', finishing)
  end
  return { 'ok', num(now), finishing, toDecide, dispatched }
end

-- Ends the run: steps that never got to finish are cancelled (or, running at a timeout, failed).
local function endRun(status, err, stopped)
  local n = tonumber(mget('n'))
  -- A run that never left the queue has no step events (in-process, the same).
  local begun = mget('state') ~= 'queued'
  for i = 0, n - 1 do
    local s = sget('s', i)
    if s == 'running' and stopped then
      local st = 'cancelled'
      if status == 'timed_out' then st = 'failed' end
      sset('s', i, st)
      sset('t1', i, num(now))
      pushError(i, err)
      finishedEvent(i, st, err)
    elseif s and not FINAL[s] and s ~= 'running' then
      sset('s', i, 'cancelled')
      if begun then finishedEvent(i, 'cancelled') end
    end
  end
  redis.call('DEL', R)
  redis.call('HSET', M, 'state', 'ended', 'status', status, 't1', num(now), 'running', 0)
  if err and err ~= '' and not mget('error') then redis.call('HSET', M, 'error', err) end
  local dur = now - tonumber(mget('t0'))
  local body = '"type":"workflow.finished","status":"' .. status .. '","durationMs":' .. num(dur)
  local e = mget('error')
  if e then body = body .. ',"error":' .. e end
  emit(body)
  redis.call('ZADD', IDX, now, mget('id'))
  expireAll()
  releaseSlot()
end

local function stop(status, err)
  endRun(status, err, true)
  local ch = mget('channel')
  if ch then redis.call('PUBLISH', ch, mget('id')) end
end

local ops = {}

-- ARGV: op, spec, id, composition, n, maxParallel (0 = none), failFast, timeoutMs (0 = none),
-- timeout error JSON, ttl ms, cancel channel, workflow.started body, then per step: id, number
-- of dependencies, dependents (comma-separated indexes), priority, continue_on_error, skip (an
-- override's), has a \`when\`.
-- The run's state from create's ARGV, all its steps pending: not begun yet.
local function initRun()
  local n = tonumber(ARGV[5])
  redis.call('HSET', M, 'spec', ARGV[2], 'id', ARGV[3], 'comp', ARGV[4], 'n', n, 'mp', ARGV[6], 'ff', ARGV[7],
    'state', 'running', 'status', 'running', 'running', 0, 'undecided', 0, 'bad', 0, 'stopping', 0,
    't0', num(now), 'terr', ARGV[9], 'ttl', ARGV[10], 'channel', ARGV[11])
  local base, per = 12, 7
  for i = 0, n - 1 do
    local o = base + i * per
    redis.call('HSET', S, 'id:' .. i, ARGV[o + 1], 'rem:' .. i, ARGV[o + 2], 'd:' .. i, ARGV[o + 3], 'p:' .. i, ARGV[o + 4], 'coe:' .. i, ARGV[o + 5], 'sk:' .. i, ARGV[o + 6], 'w:' .. i, ARGV[o + 7], 'a:' .. i, 0, 's:' .. i, 'pending')
  end
  -- Running runs sort last and are never trimmed; a finished one is scored by its end.
  redis.call('ZADD', IDX, '+inf', ARGV[3])
  local ttl = tonumber(ARGV[10])
  if ttl > 0 then redis.call('ZREMRANGEBYSCORE', IDX, '-inf', '(' .. num(now - ttl)) end
end

-- Begins a created run: its deadline counts from now, its first event, its first steps.
local function beginRun(startedBody, timeout)
  if timeout > 0 then redis.call('HSET', M, 'deadline', num(now + timeout)) end
  emit(startedBody)
  for i = 0, tonumber(mget('n')) - 1 do
    if tonumber(sget('rem', i)) == 0 and sget('s', i) == 'pending' then arrive(tostring(i)) end
  end
  return advance()
end

function ops.create()
  if redis.call('EXISTS', M) == 1 then return { 'exists', num(now) } end
  initRun()
  return beginRun(ARGV[12], tonumber(ARGV[8]))
end

-- ARGV: op, then pairs of step index and decision (ready | when | override).
function ops.settle()
  if mget('state') ~= 'running' then return { 'ended', num(now) } end
  for k = 2, #ARGV, 2 do
    local i, decision = ARGV[k], ARGV[k + 1]
    if sget('s', i) == 'deciding' then
      mincr('undecided', -1)
      if decision == 'ready' then
        sset('s', i, 'ready')
        redis.call('ZADD', R, -tonumber(sget('p', i)), string.format('%09d', tonumber(i)))
      else
        skip(i, decision)
      end
    end
  end
  return advance()
end

-- Re-reads what a recovering worker must redo: the steps to decide, the steps holding a slot.
function ops.pending()
  local n = tonumber(mget('n') or '0')
  local deciding, slotted = {}, {}
  for i = 0, n - 1 do
    local s = sget('s', i)
    if s == 'deciding' then deciding[#deciding + 1] = tostring(i)
    elseif s == 'queued' or s == 'running' then slotted[#slotted + 1] = tostring(i) end
  end
  return { mget('state') or 'gone', num(now), mget('status') or '', deciding, slotted }
end

local function deadlinePassed()
  local d = tonumber(mget('deadline') or '')
  if d and now >= d then
    stop('timed_out', mget('terr'))
    return true
  end
  return false
end

-- Claims step i for attempt a, and reads the views of the steps in \`reads\` (the \`steps.<id>\` it reads).
local function claimStep(i, a, reads)
  local state = mget('state')
  if state ~= 'running' then return { 'ended', num(now), state or 'gone' } end
  if deadlinePassed() then return { 'ended', num(now), 'ended' } end
  local s = sget('s', i)
  if FINAL[s] then return { 'done', num(now), s } end
  redis.call('HDEL', M, 'notice')
  if s == 'queued' then
    sset('s', i, 'running')
    sset('t0', i, num(now))
    emit('"type":"step.started","stepId":' .. cjson.encode(sget('id', i)) .. ',"attempt":1')
  elseif s ~= 'running' then
    return { 'notready', num(now), s or 'none' }
  end
  if a > tonumber(sget('a', i) or '0') then sset('a', i, a) end
  local views = {}
  for _, j in ipairs(reads) do
    views[#views + 1] = redis.call('HMGET', S, 's:' .. j, 'a:' .. j, 't0:' .. j, 't1:' .. j, 'o:' .. j)
  end
  return { 'ok', num(now), sget('t0', i), mget('deadline') or '', views }
end

-- ARGV: op, step index, attempt, then the steps whose \`steps.<id>\` the step reads.
function ops.claim()
  local reads = {}
  for k = 4, #ARGV do reads[#reads + 1] = ARGV[k] end
  return claimStep(ARGV[2], tonumber(ARGV[3]), reads)
end

-- ARGV: op, step index, attempt, next attempt, wait ms, error JSON.
function ops.retrying()
  if mget('state') ~= 'running' then return 0 end
  local i = ARGV[2]
  if sget('s', i) ~= 'running' then return 0 end
  pushError(i, ARGV[6])
  emit('"type":"step.retrying","stepId":' .. cjson.encode(sget('id', i)) .. ',"attempt":' .. ARGV[3] .. ',"nextAttempt":' .. ARGV[4] .. ',"waitMs":' .. ARGV[5] .. ',"error":' .. ARGV[6])
  return 1
end

-- ARGV: op, step index, status (succeeded | fallback | failed), output JSON ('' = null), the
-- event's error JSON ('' = none), a fallback's provider failure JSON ('' = none: its kind and
-- provider, for the run's \`fallbacks\`), the number of errors, the errors to keep in the step's
-- status; then the steps the worker would run eagerly, each as: index, number of reads, reads.
-- The first of those the step's end dispatches is claimed for attempt 1 in this same call (it
-- leaves the dispatched list; its claim is the reply's 6th and 7th items).
function ops.complete()
  if mget('state') ~= 'running' then return { 'stale', num(now) } end
  local i, status = ARGV[2], ARGV[3]
  if sget('s', i) ~= 'running' then return { 'stale', num(now) } end
  redis.call('HDEL', M, 'notice')
  sset('s', i, status)
  if status ~= 'failed' and ARGV[4] ~= '' then sset('o', i, ARGV[4]) end
  sset('t1', i, num(now))
  if status == 'fallback' and ARGV[6] ~= '' then sset('fb', i, ARGV[6]) end
  local nerr = tonumber(ARGV[7])
  for k = 8, 7 + nerr do pushError(i, ARGV[k]) end
  finishedEvent(i, status, ARGV[5])
  mincr('running', -1)
  if status == 'failed' then
    mincr('bad', 1)
    if sget('coe', i) == '1' then
      release(i)
    else
      skipDownstream(i)
      if mget('ff') == '1' then redis.call('HSET', M, 'stopping', 1) end
    end
  else
    release(i)
  end
  local res = advance()
  local eager = {}
  local k = 8 + nerr
  while k <= #ARGV do
    local n = tonumber(ARGV[k + 1])
    local reads = {}
    for r = k + 2, k + 1 + n do reads[#reads + 1] = ARGV[r] end
    eager[ARGV[k]] = reads
    k = k + 2 + n
  end
  local dispatched = res[5]
  for x = 1, #dispatched do
    local d = dispatched[x]
    if eager[d] then
      table.remove(dispatched, x)
      res[6] = d
      res[7] = claimStep(d, 1, eager[d])
      break
    end
  end
  return res
end

-- ARGV: op, status (cancelled | timed_out), error JSON.
function ops.stop()
  local state = mget('state')
  if state ~= 'running' and state ~= 'queued' then return 0 end
  stop(ARGV[2], ARGV[3])
  return 1
end

-- ARGV: op, status, output JSON ('' = null), error JSON ('' = none).
function ops.finalize()
  if mget('state') ~= 'finishing' then return 0 end
  if ARGV[3] ~= '' then redis.call('HSET', M, 'output', ARGV[3]) end
  if ARGV[4] ~= '' then redis.call('HSET', M, 'error', ARGV[4]) end
  endRun(ARGV[2], '', false)
  return 1
end

-- A timeout job: ends the run once its deadline has passed; else the milliseconds left.
function ops.expire()
  -- A run waiting for a slot has no deadline yet: it is at least its timeout away.
  if mget('state') == 'queued' then return tonumber(mget('tmo')) end
  if mget('state') ~= 'running' then return 0 end
  local d = tonumber(mget('deadline') or '')
  if not d then return 0 end
  if now >= d then
    stop('timed_out', mget('terr'))
    return 0
  end
  return math.ceil(d - now)
end

-- ARGV: op, text. Why a running run waits (no worker serves its configuration), for its status.
function ops.notice()
  if mget('state') ~= 'running' then return 0 end
  redis.call('HSET', M, 'notice', ARGV[2])
  return 1
end

-- Everything a status needs, read at one instant.
function ops.read()
  if redis.call('EXISTS', M) == 0 then return 0 end
  return { redis.call('HGETALL', M), redis.call('HGETALL', S), redis.call('HGETALL', ER), num(now) }
end

${RUN_SLOTS_LUA}
return ops[op]()
`;
