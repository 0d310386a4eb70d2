/**
 * `maxConcurrentRuns` and `maxQueuedRuns` on the BullMQ back end: one limit for the whole
 * deployment (every starting process on one Redis prefix), not per process. The rules are the
 * in-process engine's (core/workflow/runLimits.ts): a run past the limit waits, `pending` with a
 * `workflow.queued` event, and starts first come first served when a run ends; past
 * `maxQueuedRuns` waiting, `startWorkflow` is refused with `limit_exceeded`.
 *
 * A slot belongs to a run in Redis, never to a process: the run takes it (or its place in the
 * queue) in the Lua call that creates it, and gives it up in the Lua call that ends it
 * (finished, failed, cancelled, timed out, from whichever process), which in the same call hands
 * it to the first run waiting. This file holds that Lua, included in the run script
 * (runScript.ts), so that the slot moves atomically with the run's end.
 *
 * Keys: SH, a sorted set of the runs holding a slot; SQ, a sorted set of the runs waiting, scored
 * by their turn; SC, a hash of the limit in force (`max`, the last starter's) and the turn
 * counter. A run's start job (jobs.ts) is what begins it on a worker: added before the run is
 * created and held back (START_GRACE_MS) so that a starter that dies before creating its run
 * leaves a job that finds no run and leaves a tombstone, never a slot taken by a run no job
 * begins. A run given a slot is announced on `SC:granted`, and the workers promote its start
 * job; a start job that finds its run still waiting looks again later (queuedPollMs), so that
 * a lost announcement costs time, never the run.
 */
import type { Redis } from 'ioredis';

/** How long a run's start job is held back while its starter creates the run (and a stalled starter's run is given up). */
export const START_GRACE_MS = 30_000;

export function slotKeys(prefix: string): [held: string, queue: string, settings: string] {
  const base = `${prefix}:runslots`;
  return [`${base}:held`, `${base}:queue`, base];
}

/** Where a run given a slot is announced (its id), for the workers to start it. */
export function grantedChannel(prefix: string): string {
  return `${slotKeys(prefix)[2]}:granted`;
}

/** When a start job looks again at its run waiting in `position`: soon for the next, seldom for the last (a lost announcement only). */
export function queuedPollMs(position: number): number {
  return Math.min(30_000, 1_000 + Math.max(0, position - 1) * 250);
}

/** Runs holding a slot and runs waiting for one, across the deployment. */
export async function slotCounts(redis: Redis, prefix: string): Promise<{ running: number; queued: number }> {
  const [held, queue] = slotKeys(prefix);
  const r = await redis.multi().zcard(held).zcard(queue).exec();
  return { running: Number(r?.[0]?.[1] ?? 0), queued: Number(r?.[1]?.[1] ?? 0) };
}

/** Whether the run holds a slot. */
export async function holdsSlot(redis: Redis, prefix: string, runId: string): Promise<boolean> {
  return (await redis.zscore(slotKeys(prefix)[0], runId)) !== null;
}

/**
 * Included in the run script after its functions and ops (it uses `mget`, `emit`, `initRun`,
 * `beginRun`, and sets the script's `releaseSlot`): SH, SQ, SC are KEYS 7 to 9.
 */
export const RUN_SLOTS_LUA = String.raw`
-- Hands free slots to the runs waiting, first come first served, and announces each.
local function fillSlots()
  local max = tonumber(redis.call('HGET', SC, 'max') or '')
  if not max then return end
  while redis.call('ZCARD', SH) < max do
    local top = redis.call('ZPOPMIN', SQ)
    if #top == 0 then return end
    redis.call('ZADD', SH, now, top[1])
    redis.call('PUBLISH', SC .. ':granted', top[1])
  end
end

-- Called by endRun: the run's slot, or its place in the queue, goes to the next.
releaseSlot = function()
  local id = mget('id')
  redis.call('ZREM', SQ, id)
  redis.call('ZREM', SH, id)
  fillSlots()
end

-- ARGV: as create's, then maxConcurrentRuns and maxQueuedRuns (-1: no bound). The run is created
-- with a slot (begun, as create does), or waiting for one (queued, told its place), or, when the
-- queue is full, not at all. Returns the outcome, the time, the runs holding slots and waiting.
function ops.admit()
  if redis.call('EXISTS', M) == 1 then
    if mget('state') == 'abandoned' then return { 'abandoned', num(now), 0, 0 } end
    return { 'exists', num(now), 0, 0 }
  end
  local max, maxq = tonumber(ARGV[#ARGV - 1]), tonumber(ARGV[#ARGV])
  redis.call('HSET', SC, 'max', max)
  -- A raised limit lets the runs already waiting go first.
  fillSlots()
  local held, waiting = redis.call('ZCARD', SH), redis.call('ZCARD', SQ)
  if held < max and waiting == 0 then
    initRun()
    redis.call('ZADD', SH, now, ARGV[3])
    beginRun(ARGV[12], tonumber(ARGV[8]))
    return { 'started', num(now), held + 1, 0 }
  end
  if maxq >= 0 and waiting >= maxq then return { 'full', num(now), held, waiting } end
  initRun()
  redis.call('HSET', M, 'state', 'queued', 'status', 'pending', 'q', 1, 'tmo', ARGV[8], 'sev', ARGV[12])
  redis.call('ZADD', SQ, redis.call('HINCRBY', SC, 'turn', 1), ARGV[3])
  emit('"type":"workflow.queued","position":' .. (waiting + 1))
  return { 'queued', num(now), held, waiting + 1 }
end

-- ARGV: op, run id, how long a tombstone stays (ms). A start job of a run under the limit: begins
-- the run once it holds a slot (its timeout counts from here), else tells its place.
function ops.begin()
  local id = ARGV[2]
  local state = mget('state')
  if not state then
    -- Never created (its starter died before, or it was refused): a tombstone keeps a late
    -- create from making a run that no job would begin.
    redis.call('HSET', M, 'state', 'abandoned')
    redis.call('PEXPIRE', M, tonumber(ARGV[3]))
    redis.call('ZREM', SQ, id)
    redis.call('ZREM', SH, id)
    fillSlots()
    return { 'gone', num(now), 0 }
  end
  if state ~= 'queued' then return { state, num(now), 0 } end
  if not redis.call('ZSCORE', SH, id) and not redis.call('ZRANK', SQ, id) then
    -- In neither set (the slot keys were lost): back in line.
    redis.call('ZADD', SQ, redis.call('HINCRBY', SC, 'turn', 1), id)
    fillSlots()
  end
  if not redis.call('ZSCORE', SH, id) then return { 'queued', num(now), redis.call('ZRANK', SQ, id) + 1 } end
  redis.call('HSET', M, 'state', 'running', 'status', 'running', 'tb', num(now))
  beginRun(mget('sev'), tonumber(mget('tmo')))
  redis.call('HDEL', M, 'sev')
  return { 'running', num(now), 0 }
end
`;
