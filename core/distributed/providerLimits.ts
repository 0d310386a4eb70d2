/**
 * A provider's limits across every worker. `max_concurrency` and `requests_per_minute` are
 * BullMQ's own global concurrency and global rate limit of the provider's queue (one queue per
 * provider, jobs.ts). `tokens_per_minute` has no BullMQ counterpart: a token bucket kept in
 * Redis, taken from atomically by a Lua script; when it has no room the job goes back to wait
 * and the provider's queue pauses (BullMQ's `rateLimit`) until it has.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ProviderDef } from '../model/types.js';

const BUCKET = String.raw`
local cap = tonumber(ARGV[1])
local cost = math.min(tonumber(ARGV[2]), cap)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local v = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(v[1]) or cap
local last = tonumber(v[2]) or now
tokens = math.min(cap, tokens + (now - last) * cap / 60000)
local wait = 0
if tokens >= cost then tokens = tokens - cost else wait = math.ceil((cost - tokens) * 60000 / cap) end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('PEXPIRE', KEYS[1], 120000)
return wait
`;

/** Tokens a request will use, before the answer says: about four characters a token, plus the answer's `max_tokens` when set. */
export function estimateTokens(prompt: string, provider: ProviderDef): number {
  const max = Number(provider.options['max_tokens'] ?? provider.options['max_completion_tokens'] ?? 0);
  return Math.ceil(prompt.length / 4) + (Number.isFinite(max) && max > 0 ? max : 0);
}

export class TokenBuckets {
  private readonly take: (key: string, cap: number, cost: number) => Promise<unknown>;

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    const r = redis as Redis & { pmTokenBucket?: unknown };
    if (typeof r.pmTokenBucket !== 'function') redis.defineCommand('pmTokenBucket', { numberOfKeys: 1, lua: BUCKET });
    const fn = (redis as unknown as { pmTokenBucket: (key: string, cap: number, cost: number) => Promise<unknown> }).pmTokenBucket;
    this.take = fn.bind(redis);
  }

  /** 0 when the tokens were taken; else how long to wait before there is room. */
  async admit(provider: ProviderDef, tokens: number): Promise<number> {
    const cap = provider.tokensPerMinute;
    if (!cap || cap <= 0) return 0;
    return Number(await this.take(`${this.prefix}:tokens:${provider.name}`, cap, tokens));
  }
}

/**
 * BullMQ's limiter counts jobs started in a window: 600 a minute as one window of 60 s would
 * let 600 start in the first second. The same rate in the shortest window that holds one job
 * or more keeps the calls spread out.
 */
export function rateWindow(requestsPerMinute: number): { max: number; duration: number } {
  const max = Math.max(1, Math.floor(requestsPerMinute / 60));
  return { max, duration: Math.round((60_000 * max) / requestsPerMinute) };
}

/** Sets (or removes) the provider's global concurrency and rate limit on its queue. */
export async function applyQueueLimits(queue: Queue, provider: ProviderDef): Promise<void> {
  if (provider.maxConcurrency !== undefined && provider.maxConcurrency > 0) await queue.setGlobalConcurrency(provider.maxConcurrency);
  else await queue.removeGlobalConcurrency();
  if (provider.requestsPerMinute !== undefined && provider.requestsPerMinute > 0) {
    const w = rateWindow(provider.requestsPerMinute);
    await queue.setGlobalRateLimit(w.max, w.duration);
  } else await queue.removeGlobalRateLimit();
}
