/**
 * The model response cache's store in Redis (core/workflow/responseCache.ts), where the
 * distributed back end is used: every worker, every machine and every CI job that shares the
 * Redis shares the answers. An entry is one key, `<prefix>:responses:<digest>` (the same SHA-256
 * digest of the whole request as on disk), its JSON the value, written with Redis's own expiry
 * (SET ... PX ttl): Redis forgets it when its time to live has passed, with no sweep of ours.
 *
 * Bounded, because the back end's Redis runs with `maxmemory-policy noeviction` (BullMQ's
 * requirement): a cache that filled it would stop the runs. An index (a sorted set by write
 * time) holds the keys; past `maxEntries` the oldest written are deleted, in the same atomic
 * call as the write; an entry over `maxEntryBytes` is not stored. A value that is not an entry
 * (cut, written by hand) is a miss, never an error.
 */
import { ResponseCache, parseStoredEntry, type CachedResponse, type ResponseCacheOptions, type ResponseCacheStore } from '../workflow/responseCache.js';
import { DEFAULT_PREFIX } from './connection.js';

/** What the store needs of a Redis client: an ioredis `Redis` (the back end's connection: `manager.redisConnection`) has it. */
export interface RedisCommandClient {
  get(key: string): Promise<string | null>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

export interface RedisResponseCacheOptions {
  /** Key prefix; default the back end's (`promptmanager`). */
  prefix?: string;
  /** Entries kept at most; default 10,000 (as on disk). */
  maxEntries?: number;
  /** An entry larger than this (its JSON, in bytes) is not stored; default 1 MiB. */
  maxEntryBytes?: number;
}

/** KEYS: the entry, the index. ARGV: value, ttl ms, max entries, the key prefix of entries. Times are Redis's (one clock for every machine). */
const SET_ENTRY = String.raw`
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[2], now, KEYS[1])
-- Keys whose time to live has passed are gone already: forget them in the index.
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[2]))
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if over > 0 then
  local old = redis.call('ZRANGE', KEYS[2], 0, over - 1)
  for _, k in ipairs(old) do
    if string.sub(k, 1, #ARGV[4]) == ARGV[4] then redis.call('UNLINK', k) end
  end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1)
end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
`;

/** KEYS: the index. ARGV: the key prefix of entries. */
const CLEAR = String.raw`
local keys = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, k in ipairs(keys) do
  if string.sub(k, 1, #ARGV[1]) == ARGV[1] then redis.call('UNLINK', k) end
end
redis.call('DEL', KEYS[1])
return #keys
`;

const DIGEST = /^[0-9a-f]{64}$/;

export class RedisResponseCacheStore implements ResponseCacheStore {
  readonly prefix: string;
  private readonly maxEntries: number;
  private readonly maxEntryBytes: number;

  constructor(
    private readonly redis: RedisCommandClient,
    options: RedisResponseCacheOptions = {},
  ) {
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.maxEntryBytes = options.maxEntryBytes ?? 1024 * 1024;
    if (!(this.maxEntries >= 1) || !(this.maxEntryBytes >= 1)) throw new RangeError('maxEntries and maxEntryBytes must be at least 1');
  }

  /** The Redis key of an entry. */
  keyOf(digest: string): string {
    if (!DIGEST.test(digest)) throw new RangeError('a response cache key is a SHA-256 digest in hex');
    return `${this.entryPrefix}${digest}`;
  }

  private get entryPrefix(): string {
    return `${this.prefix}:responses:`;
  }

  private get indexKey(): string {
    return `${this.prefix}:responses-index`;
  }

  async get(key: string): Promise<CachedResponse | undefined> {
    const text = await this.redis.get(this.keyOf(key));
    return text === null ? undefined : parseStoredEntry(text, key);
  }

  async set(entry: CachedResponse, ttlMs: number): Promise<void> {
    const text = JSON.stringify(entry);
    if (Buffer.byteLength(text) > this.maxEntryBytes) return;
    const ttl = Math.max(1, Math.ceil(ttlMs));
    await this.redis.eval(SET_ENTRY, 2, this.keyOf(entry.key), this.indexKey, text, ttl, this.maxEntries, this.entryPrefix);
  }

  async clear(): Promise<void> {
    await this.redis.eval(CLEAR, 1, this.indexKey, this.entryPrefix);
  }
}

/** A response cache in Redis on `redis` (an ioredis client, such as the BullMQ back end's connection). */
export function createRedisResponseCache(redis: RedisCommandClient, options: Omit<ResponseCacheOptions, 'store'> & RedisResponseCacheOptions = {}): ResponseCache {
  const { prefix, maxEntries, maxEntryBytes, ...rest } = options;
  const store = new RedisResponseCacheStore(redis, {
    ...(prefix !== undefined ? { prefix } : {}),
    ...(maxEntries !== undefined ? { maxEntries } : {}),
    ...(maxEntryBytes !== undefined ? { maxEntryBytes } : {}),
  });
  return new ResponseCache({ ...rest, store });
}
