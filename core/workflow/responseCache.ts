/**
 * A cache of model answers, keyed by a SHA-256 digest of the whole request: the executor, the
 * provider's type, base URL (without credentials), model and every request field it sends, and
 * the prompt. With it a repeated live test, or a development run asked to use it, costs
 * nothing. It wraps executors (`wrap`, `wrapRegistry`), so every provider type gets it alike;
 * `render` is never cached (it calls nothing).
 *
 * Where entries live is a `ResponseCacheStore`: on disk by default (diskResponseCache.ts,
 * `.promptmanager/responses/` in the workspace), in memory for tests, or any shared store (a
 * Redis one is `get` = GET, `set` = SET ... PX ttl). A store that fails never fails a call: the
 * cache is skipped and `stats.errors` counts it.
 *
 * What is stored: the output, when it was made, when it expires, and the provider's type,
 * model and base URL with credentials and query values redacted. Never an API key, never the
 * prompt or the context: an output that holds the provider's key, or any 8-character piece of
 * it (a server that echoes it), is not stored. Only answers are cached, never failures.
 *
 * A store is not trusted to hold only this cache's entries: a folder committed to a
 * repository, restored from a CI cache another pipeline saved, or shared by several
 * workspaces can hold entries someone wrote by hand. So an entry is used only when its key is
 * the request's digest, its times are sane (made in the past, used for at most `ttlMs`) and it
 * holds an output; and when the provider has a secret (its API key, or credentials in its
 * base_url), only when it carries a seal: an HMAC-SHA256 of the entry under a key derived from
 * that secret. Whoever does not hold the key cannot write an entry the cache will serve to
 * someone who does. A request whose canonical form is not one-to-one with what is sent (nesting
 * past 64 levels, values JSON cannot write) is not cached.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { ExecutorRegistry, RENDER_EXECUTOR, type StepExecutionRequest, type StepExecutor } from './executors.js';
import { holdsSecret, redactUrl } from './redact.js';

export interface CachedResponse {
  /** The digest it is stored under: an entry a store returns under another key is not used. */
  key: string;
  output: unknown;
  /** Epoch milliseconds. */
  createdAt: number;
  expiresAt: number;
  /** Where it came from, for people reading the store: never a key or credential. */
  provider: { type?: string; model?: string; baseUrl?: string };
  /** HMAC-SHA256 (hex) of the entry under a key derived from the provider's secret, when it has one. */
  seal?: string;
}

/**
 * A stored entry read back: the entry when `text` is JSON of an entry under `key`, else
 * undefined (a miss). Stores check only this much; the cache checks the rest (output, age, seal).
 */
export function parseStoredEntry(text: string, key: string): CachedResponse | undefined {
  let entry: CachedResponse;
  try {
    entry = JSON.parse(text) as CachedResponse;
  } catch {
    return undefined;
  }
  if (!entry || typeof entry !== 'object' || entry.key !== key || typeof entry.expiresAt !== 'number') return undefined;
  return entry;
}

export interface ResponseCacheStore {
  get(key: string): Promise<CachedResponse | undefined>;
  /** Stores an entry for `ttlMs` (a store with its own expiry uses it; the cache checks `expiresAt` anyway). */
  set(entry: CachedResponse, ttlMs: number): Promise<void>;
  /** Forgets every entry. */
  clear?(): Promise<void>;
}

/** A week: long enough for a day's work and a CI pipeline's reruns; a prompt change is a new key anyway. */
export const DEFAULT_RESPONSE_TTL_MS = 7 * 24 * 60 * 60 * 1000;

export interface ResponseCacheOptions {
  store: ResponseCacheStore;
  /** How long an answer is used; default `DEFAULT_RESPONSE_TTL_MS`. */
  ttlMs?: number;
  /**
   * The executors whose answers are cached, by name; default all but `render`. Leave out an
   * executor of your own whose answer depends on more than the prompt and the provider's
   * settings (it reads the step's context, the time...): the key would not tell those apart.
   */
  executors?: readonly string[];
  /** Wall clock, epoch milliseconds (tests). */
  now?: () => number;
}

export interface ResponseCacheStats {
  hits: number;
  misses: number;
  writes: number;
  /** Answers not stored because they hold the provider's secret. */
  refused: number;
  /** Store failures (the call went on without the cache). */
  errors: number;
  /** The last store failure's message (a link where the cache folder should be...), when there was one. */
  lastError?: string;
}

/** The most nesting a request's canonical form follows; a deeper request is not cached. */
const MAX_CANONICAL_DEPTH = 64;
/** An entry made this far ahead of this machine's clock is still taken (clocks differ a little). */
const CLOCK_SKEW_MS = 5 * 60 * 1000;

class Uncacheable extends Error {}

/**
 * JSON with sorted keys: equal values give equal text whatever their key order, and values
 * that JSON writes differently give different text (JSON.stringify's own rules: `toJSON`,
 * undefined and functions in objects left out, in arrays null). What cannot be written so
 * (nesting past MAX_CANONICAL_DEPTH, a BigInt, a cycle) throws `Uncacheable`: a key that
 * stopped looking would make different requests one.
 */
function canonicalJson(v: unknown, depth = 0): string {
  if (depth > MAX_CANONICAL_DEPTH) throw new Uncacheable('nested too deep');
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') v = (v as { toJSON(k: string): unknown }).toJSON('');
  if (v === undefined || typeof v === 'function' || typeof v === 'symbol') return 'null';
  if (typeof v === 'bigint') throw new Uncacheable('a BigInt');
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map((x) => canonicalJson(x, depth + 1)).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined && typeof o[k] !== 'function' && typeof o[k] !== 'symbol')
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k], depth + 1)}`)
    .join(',')}}`;
}

/** A base URL without its user part (credentials): the same endpoint whoever calls it. */
function endpoint(baseUrl: string | undefined): string | undefined {
  if (baseUrl === undefined) return undefined;
  try {
    const u = new URL(baseUrl);
    u.username = '';
    u.password = '';
    return u.href;
  } catch {
    return baseUrl.replace(/\/\/[^/?#@]*@/, '//');
  }
}

/**
 * The digest of a request: SHA-256 of the canonical JSON of the executor, the provider's type,
 * endpoint, model and request fields (`timeout_ms` is the engine's, not sent, and left out), the
 * prompt, and `sample` (the repetition of a repeated test: N samples are N answers).
 */
export function responseCacheKey(executor: string, req: Pick<StepExecutionRequest, 'prompt' | 'provider'>, sample = 0): string {
  const p = req.provider;
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p?.options ?? {})) if (k !== 'timeout_ms' && k !== 'timeoutMs') fields[k] = v;
  const material = { v: 1, executor, type: p?.type, endpoint: endpoint(p?.baseUrl), model: p ? (p.model ?? p.name) : undefined, fields, prompt: req.prompt, sample };
  return createHash('sha256').update(canonicalJson(material)).digest('hex');
}

/** The key of a request, or undefined when it cannot have one (see canonicalJson). */
function keyOrUndefined(executor: string, req: StepExecutionRequest, sample: number): string | undefined {
  try {
    return responseCacheKey(executor, req, sample);
  } catch (e) {
    if (e instanceof Uncacheable || e instanceof RangeError) return undefined;
    throw e;
  }
}

/** The provider's secrets for this request: its API key and the credentials of its base_url. */
function secretsOf(req: StepExecutionRequest): string[] {
  const p = req.provider;
  return [p?.apiKeyEnv ? req.env(p.apiKeyEnv) : undefined, credentialsOf(p?.baseUrl)].filter((s): s is string => !!s && s.length >= 4);
}

/** The seal of an entry under the provider's secrets; undefined without a secret, or for an output that cannot be written one-to-one. */
function sealOf(secrets: readonly string[], e: Pick<CachedResponse, 'key' | 'output' | 'createdAt' | 'expiresAt'>): string | undefined {
  if (!secrets.length) return undefined;
  let material: string;
  try {
    material = canonicalJson({ v: 1, key: e.key, output: e.output, createdAt: e.createdAt, expiresAt: e.expiresAt });
  } catch (err) {
    if (err instanceof Uncacheable || err instanceof RangeError) return undefined;
    throw err;
  }
  // A key of its own, derived from the secret: the seal says nothing of the secret itself.
  const macKey = createHmac('sha256', secrets.join('\u0000')).update('promptmanager response cache seal v1').digest();
  return createHmac('sha256', macKey).update(material).digest('hex');
}

function sameSeal(a: string | undefined, b: unknown): boolean {
  if (a === undefined || typeof b !== 'string' || a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

export class ResponseCache {
  readonly ttlMs: number;
  readonly stats: ResponseCacheStats = { hits: 0, misses: 0, writes: 0, refused: 0, errors: 0 };
  private readonly store: ResponseCacheStore;
  private readonly cached: (name: string) => boolean;
  private readonly now: () => number;

  constructor(options: ResponseCacheOptions) {
    if (!options?.store || typeof options.store.get !== 'function' || typeof options.store.set !== 'function') throw new TypeError('a ResponseCache needs a store ({ get(key), set(entry, ttlMs) })');
    const ttl = options.ttlMs ?? DEFAULT_RESPONSE_TTL_MS;
    if (!(ttl > 0)) throw new RangeError(`ttlMs must be a positive number of milliseconds, got ${String(options.ttlMs)}`);
    this.ttlMs = ttl;
    this.store = options.store;
    const only = options.executors ? new Set(options.executors) : undefined;
    this.cached = (name) => name !== RENDER_EXECUTOR && (!only || only.has(name));
    this.now = options.now ?? Date.now;
  }

  /** Forgets every answer (when the store can). */
  async clear(): Promise<void> {
    await this.store.clear?.();
  }

  /**
   * The executor with this cache in front. `sampleOf` tells a request's sample (the test
   * runner's repetition); default 0.
   */
  wrap(executor: StepExecutor, options: { sampleOf?: (req: StepExecutionRequest) => number } = {}): StepExecutor {
    if (!this.cached(executor.name)) return executor;
    return {
      name: executor.name,
      execute: async (req) => {
        const key = keyOrUndefined(executor.name, req, options.sampleOf?.(req) ?? 0);
        if (key === undefined) return executor.execute(req);
        const secrets = secretsOf(req);
        const hit = await this.lookup(key, secrets);
        if (hit) return hit.output;
        const output = await executor.execute(req);
        await this.keep(key, req, output, secrets);
        return output;
      },
    };
  }

  /** A new registry: each executor of `registry` wrapped (the given one is left as it is). */
  wrapRegistry(registry: ExecutorRegistry, options: { sampleOf?: (req: StepExecutionRequest) => number } = {}): ExecutorRegistry {
    const out = new ExecutorRegistry();
    for (const name of registry.names()) out.register(this.wrap(registry.get(name)!, options));
    return out;
  }

  private async lookup(key: string, secrets: readonly string[]): Promise<CachedResponse | undefined> {
    let e: CachedResponse | undefined;
    try {
      e = await this.store.get(key);
    } catch (err) {
      this.failed(err);
      return undefined;
    }
    if (!this.usable(e, key, secrets)) {
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    return e;
  }

  /** Whether a store's entry may answer this request (see the module's comment): anything else is a miss. */
  private usable(e: CachedResponse | undefined, key: string, secrets: readonly string[]): e is CachedResponse {
    if (!e || typeof e !== 'object' || e.key !== key || e.output === undefined) return false;
    const now = this.now();
    const { createdAt, expiresAt } = e;
    if (typeof createdAt !== 'number' || typeof expiresAt !== 'number' || !Number.isFinite(createdAt) || !Number.isFinite(expiresAt)) return false;
    if (!(expiresAt > now) || createdAt > now + CLOCK_SKEW_MS || expiresAt - createdAt > this.ttlMs) return false;
    return !secrets.length || sameSeal(sealOf(secrets, e), e.seal);
  }

  private async keep(key: string, req: StepExecutionRequest, output: unknown, secrets: readonly string[]): Promise<void> {
    const p = req.provider;
    const text = typeof output === 'string' ? output : (JSON.stringify(output) ?? '');
    if (output === undefined || holdsSecret(text, secrets)) {
      if (output !== undefined) this.stats.refused++;
      return;
    }
    const now = this.now();
    const provider: CachedResponse['provider'] = {};
    if (p?.type) provider.type = p.type;
    if (p) provider.model = p.model ?? p.name;
    if (p?.baseUrl) provider.baseUrl = redactUrl(p.baseUrl);
    const entry: CachedResponse = { key, output, createdAt: now, expiresAt: now + this.ttlMs, provider };
    if (secrets.length) {
      const seal = sealOf(secrets, entry);
      // An output the seal cannot cover one-to-one is not kept: it could never be used.
      if (seal === undefined) return;
      entry.seal = seal;
    }
    try {
      await this.store.set(entry, this.ttlMs);
      this.stats.writes++;
    } catch (err) {
      this.failed(err);
    }
  }

  private failed(err: unknown): void {
    this.stats.errors++;
    this.stats.lastError = err instanceof Error ? err.message : String(err);
  }
}

function credentialsOf(baseUrl: string | undefined): string | undefined {
  if (!baseUrl) return undefined;
  try {
    const u = new URL(baseUrl);
    return decodeURIComponent(u.password || u.username) || undefined;
  } catch {
    return undefined;
  }
}

/** A store in memory, bounded (oldest use dropped first): tests, and development runs that need nothing on disk. */
export class MemoryResponseCacheStore implements ResponseCacheStore {
  private readonly entries = new Map<string, CachedResponse>();
  constructor(private readonly maxEntries = 1000) {}
  async get(key: string): Promise<CachedResponse | undefined> {
    const e = this.entries.get(key);
    if (e) {
      this.entries.delete(key);
      this.entries.set(key, e);
    }
    return e;
  }
  async set(entry: CachedResponse): Promise<void> {
    this.entries.delete(entry.key);
    this.entries.set(entry.key, structuredClone(entry));
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }
  async clear(): Promise<void> {
    this.entries.clear();
  }
  get size(): number {
    return this.entries.size;
  }
}
