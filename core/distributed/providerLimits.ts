/**
 * A provider's limits across every worker, the same `providers:` fields and the same rules as
 * the in-process admission scheduler (core/workflow/admission.ts), kept where every worker
 * sees them:
 *
 * - `max_concurrency` is BullMQ's global concurrency of the provider's queue (one queue per
 *   provider, jobs.ts);
 * - `requests_per_minute` R is BullMQ's global rate limit of that queue: one job per 60/R
 *   seconds, so that calls are spaced evenly, never in a burst (counted when a job starts);
 * - `tokens_per_minute` K has no BullMQ counterpart: a time in Redis until which the tokens of
 *   the calls admitted so far are paid for at K a minute. A call goes when it has passed, and
 *   moves it on by its estimated tokens (core/workflow/tokens.ts); the answer's `usage` then
 *   corrects it by the difference. When a call may not go yet, its job goes back to wait and
 *   the provider's queue pauses until it may.
 * - A 429 pauses the provider's queue for every worker: for its `Retry-After` (at most
 *   `maxRetryAfterMs`), or, for a provider with limits and no `Retry-After`, 1 s doubling with
 *   each 429 in a row up to 30 s (the streak is kept in Redis, and ends at the next answer).
 *   A pause only ever lengthens the one in force.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { LIMITS } from '../limits.js';
import type { ProviderDef } from '../model/types.js';
import { MAX_RATE_LIMIT_PAUSE_MS, RATE_LIMIT_PAUSE_MS, hasLimits, type Admission, type AdmissionTicket } from '../workflow/admission.js';
import type { WorkflowMetrics } from '../workflow/metrics.js';
import { estimateTokens } from '../workflow/tokens.js';

/** KEYS[1] the provider's token time; ARGV cost in ms (tokens x 60,000 / K). Returns 0 when admitted (the time moved on), else the wait. */
const TOKENS_ADMIT = String.raw`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local due = tonumber(redis.call('GET', KEYS[1]) or '0')
if due > now then return math.ceil(due - now) end
local nxt = math.max(due, now) + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.3f', nxt), 'PX', math.ceil(nxt - now) + 60000)
return 0
`;

/** KEYS[1] the provider's token time; ARGV the correction in ms (reported minus estimated tokens, x 60,000 / K). */
const TOKENS_CORRECT = String.raw`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local due = tonumber(redis.call('GET', KEYS[1]) or '0') + tonumber(ARGV[1])
if due <= now then redis.call('DEL', KEYS[1]) return 0 end
redis.call('SET', KEYS[1], string.format('%.3f', due), 'PX', math.ceil(due - now) + 60000)
return 1
`;

/**
 * KEYS[1] the provider's 429 streak, KEYS[2] its queue's BullMQ limiter key. ARGV: Retry-After
 * in ms (-1: none), 1 when the provider has limits, the first pause, the longest, the cap on
 * any pause. Returns the pause in force now, in ms (0: none).
 */
const PAUSE = String.raw`
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], 600000)
local retryAfter = tonumber(ARGV[1])
local ms = 0
if retryAfter >= 0 then ms = retryAfter
elseif ARGV[2] == '1' then ms = math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * 2 ^ math.min(n - 1, 16)) end
ms = math.floor(math.min(ms, tonumber(ARGV[5])))
local left = redis.call('PTTL', KEYS[2])
local pausing = redis.call('GET', KEYS[2]) == '9007199254740991'
if pausing and left >= ms then return left end
if ms <= 0 then return 0 end
redis.call('SET', KEYS[2], '9007199254740991', 'PX', ms)
return ms
`;

/** KEYS[1] the provider's queue's BullMQ limiter key; ARGV the pause in ms. Lengthens a pause, never shortens one. */
const HOLD = String.raw`
local ms = tonumber(ARGV[1])
local left = redis.call('PTTL', KEYS[1])
if redis.call('GET', KEYS[1]) == '9007199254740991' and left >= ms then return left end
redis.call('SET', KEYS[1], '9007199254740991', 'PX', ms)
return ms
`;

/** The limiter key's value while PAUSE or HOLD pause the queue (BullMQ's own windows count jobs, far below it). */
const PAUSE_MARK = '9007199254740991';

type Cmd = (...args: (string | number)[]) => Promise<unknown>;

function command(redis: Redis, name: string, keys: number, lua: string): Cmd {
  const r = redis as unknown as Record<string, Cmd | undefined>;
  if (typeof r[name] !== 'function') redis.defineCommand(name, { numberOfKeys: keys, lua });
  return (r[name] as Cmd).bind(redis);
}

/** The shared state of every provider's limits beyond what BullMQ keeps: the token time and the 429 streak. */
export class SharedProviderLimits {
  private readonly admitCmd: Cmd;
  private readonly correctCmd: Cmd;
  private readonly pauseCmd: Cmd;
  private readonly holdCmd: Cmd;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    this.admitCmd = command(redis, 'pmTokensAdmit', 1, TOKENS_ADMIT);
    this.correctCmd = command(redis, 'pmTokensCorrect', 1, TOKENS_CORRECT);
    this.pauseCmd = command(redis, 'pmProviderPause', 2, PAUSE);
    this.holdCmd = command(redis, 'pmProviderHold', 1, HOLD);
  }

  private tokensKey(provider: ProviderDef): string {
    return `${this.prefix}:tokens:${provider.name}`;
  }

  /** `tokens_per_minute`: 0 when a call of `tokens` may go now (charged), else how long to wait. */
  async admitTokens(provider: ProviderDef, tokens: number): Promise<number> {
    const k = provider.tokensPerMinute;
    if (!k || k <= 0) return 0;
    return Number(await this.admitCmd(this.tokensKey(provider), (tokens * 60_000) / k));
  }

  /** The answer's usage said `reported` tokens where `estimated` were charged: the calls after it move by the difference. */
  async correctTokens(provider: ProviderDef, estimated: number, reported: number): Promise<void> {
    const k = provider.tokensPerMinute;
    if (!k || k <= 0 || !(Number.isFinite(reported) && reported >= 0) || reported === estimated) return;
    await this.correctCmd(this.tokensKey(provider), ((reported - estimated) * 60_000) / k);
  }

  /** A 429 from the provider: pauses its queue for every worker (see the module's comment); the pause in force, in ms. */
  async rateLimited(queue: Queue, provider: ProviderDef, retryAfterMs: number | undefined): Promise<number> {
    const ra = typeof retryAfterMs === 'number' && retryAfterMs >= 0 ? Math.ceil(retryAfterMs) : -1;
    return Number(await this.pauseCmd(`${this.prefix}:429:${provider.name}`, queue.keys.limiter, ra, hasLimits(provider) ? 1 : 0, RATE_LIMIT_PAUSE_MS, MAX_RATE_LIMIT_PAUSE_MS, LIMITS.maxRetryAfterMs));
  }

  /** The provider answered: a run of 429s is over. */
  async answered(provider: ProviderDef): Promise<void> {
    await this.redis.del(`${this.prefix}:429:${provider.name}`);
  }

  /** Pauses the provider's queue for `ms` unless a longer pause is in force. */
  async hold(queue: Queue, ms: number): Promise<void> {
    await this.holdCmd(queue.keys.limiter, Math.max(1, Math.ceil(ms)));
  }

  /** Milliseconds left of the pause in force on the provider's queue (a 429's, or a `tokens_per_minute` wait's); 0 when none (BullMQ's own rate window is not a pause). */
  async pausedMs(queue: Queue): Promise<number> {
    const [value, left] = (await this.redis.multi().get(queue.keys.limiter).pttl(queue.keys.limiter).exec()) ?? [];
    return value?.[1] === PAUSE_MARK ? Math.max(0, Number(left?.[1] ?? 0)) : 0;
  }
}

/**
 * BullMQ's limiter counts the jobs started in a window. R a minute is one job per window of
 * 60,000 / R ms, rounded up so that a minute never holds more than R: calls spaced evenly, as
 * the in-process scheduler spaces them. Past 1,000 a second, windows of 1 ms.
 */
export function rateWindow(requestsPerMinute: number): { max: number; duration: number } {
  if (requestsPerMinute <= 60_000) return { max: 1, duration: Math.ceil(60_000 / requestsPerMinute) };
  return { max: Math.floor(requestsPerMinute / 60_000), duration: 1 };
}

/** A rate limit that never limits by itself: BullMQ honours a pause of a queue (its limiter key) only where the queue has a rate limit. */
export const PASS_THROUGH_RATE = { max: 1_000_000, duration: 1000 } as const;

/**
 * Sets the provider's global concurrency and rate limit on its queue, in Redis for every
 * worker. The workers set no limiter of their own: BullMQ would take a worker's window length
 * over the queue's.
 */
export async function applyQueueLimits(queue: Queue, provider: ProviderDef): Promise<void> {
  if (provider.maxConcurrency !== undefined && provider.maxConcurrency > 0) await queue.setGlobalConcurrency(provider.maxConcurrency);
  else await queue.removeGlobalConcurrency();
  const w = provider.requestsPerMinute !== undefined && provider.requestsPerMinute > 0 ? rateWindow(provider.requestsPerMinute) : PASS_THROUGH_RATE;
  await queue.setGlobalRateLimit(w.max, w.duration);
}

/** Thrown when a provider's shared limit has no room now: the job goes back to wait, and the provider's queue pauses for `waitMs`. */
export class ProviderBusy extends Error {
  constructor(readonly waitMs: number) {
    super(`the provider's limit has no room for ${Math.ceil(waitMs)} ms`);
    this.name = 'ProviderBusy';
  }
}

/** Thrown when the provider answered 429 and the call goes back to its queue, first, without using one of the step's attempts (admission.ts, requeuesAfter429). */
export class RateLimitRequeue extends Error {
  constructor(
    /** The provider's pause in force, in ms. */
    readonly pausedMs: number,
    message: string,
  ) {
    super(message);
    this.name = 'RateLimitRequeue';
  }
}

/** The provider limits kept in Redis (SharedProviderLimits, each call on its provider's queue), as a step job uses them. */
export interface SharedLimits {
  /** `tokens_per_minute`: 0 when a call of `tokens` may go now (charged), else the wait. */
  admitTokens(provider: ProviderDef, tokens: number): Promise<number>;
  correctTokens(provider: ProviderDef, estimated: number, reported: number): Promise<void>;
  /** A 429: pauses the provider for every worker; the pause in force, in ms. */
  rateLimited(provider: ProviderDef, retryAfterMs: number | undefined): Promise<number>;
  /** The provider answered: a run of 429s is over. */
  answered(provider: ProviderDef): Promise<void>;
}

/**
 * `tokens_per_minute` for one call: admitted at once when the provider's shared token time
 * has passed (its estimated tokens charged), else refused with ProviderBusy (the job waits);
 * the answer's reported usage corrects the charge for the calls after it. A provider without
 * it admits at once, with no Redis call. The admission (after `queuedMs` in the provider's
 * queue) and the tokens are counted in `metrics`.
 */
export function tokenTicket(limits: SharedLimits, provider: ProviderDef, prompt: string, metrics: WorkflowMetrics | undefined, queuedMs = 0): AdmissionTicket {
  const estimated = estimateTokens(prompt, provider);
  const admitted = limits.admitTokens(provider, estimated).then((wait): Admission => {
    if (wait > 0) throw new ProviderBusy(wait);
    // Admitted without waiting here: the call's wait was its job's, in its provider's queue (BullMQ's limiter and global concurrency, free workers).
    metrics?.recordAdmission(provider.name, queuedMs);
    let reported: number | undefined;
    return {
      waitedMs: 0,
      reportTokens: (total) => {
        if (reported !== undefined || !(typeof total === 'number' && Number.isFinite(total) && total >= 0)) return;
        reported = total;
        void limits.correctTokens(provider, estimated, total).catch(() => undefined);
      },
      release: () => metrics?.recordTokens(provider.name, reported ?? estimated, reported !== undefined ? 'reported' : 'estimated'),
    };
  });
  return { admitted, cancel: () => undefined };
}
