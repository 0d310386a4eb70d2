/**
 * When rendered results are worth caching.
 *
 * A lookup costs hashing the context (a SHA-256 digest of its canonical form, contextHash.ts),
 * and hashing must read every character of every string in it, whereas Handlebars renders by
 * concatenating strings (V8 joins them without copying), so its cost grows with the number of
 * substitutions, not with their length. Measured by bench/render.mjs on the benchmark template
 * (553 characters, #each over 10 items), hashing the context costs 0.8-0.9x the render with a
 * 120-character document in it, 1x with 1,000 characters, 2.2x with 10,000 and 15x with
 * 100,000 (bench/RESULTS.md). A hit costs about the hash, a miss the hash
 * plus the render, so the cache pays only when `hitRate x render > hash`: for templates that
 * do real work per render (partials, loops, helpers) over small contexts that repeat, and
 * never for large documents rendered once.
 *
 * The default mode, `auto`, therefore measures instead of guessing: each template version is
 * probed for PROBE_RENDERS renders with the cache on, timing the hash and the render; it keeps
 * the cache when `hitRate x renderCost > MARGIN x hashCost` (the expected time a lookup
 * saves exceeds what it costs), and otherwise renders uncached for OFF_RENDERS renders (doubling
 * after each further "no") before probing again, since traffic changes. A probe ends early
 * when the hash alone costs more than a render. `on` always caches plain-data contexts; `off`
 * never hashes.
 */

export type ResultCacheMode = 'auto' | 'on' | 'off';

export const PROBE_RENDERS = 64;
export const ON_RENDERS = 4096;
/** Renders without the cache before probing again; doubles after each further "no", up to MAX_OFF_RENDERS. */
export const OFF_RENDERS = 4096;
export const MAX_OFF_RENDERS = 65_536;
/** Lookups after which a probe stops early when even a 100% hit rate could not pay. */
export const EARLY_SAMPLES = 8;
export const MARGIN = 1.25;

/** The measurement behind a decision, for tests and `getTemplateInfo`. */
export interface CacheDecision {
  hitRate: number;
  hashMs: number;
  renderMs: number;
  cache: boolean;
}

export function cachePays(hitRate: number, hashMs: number, renderMs: number): boolean {
  return hitRate * renderMs > MARGIN * hashMs;
}

/** Weight of a new sample in the running cost averages. */
const ALPHA = 1 / 8;

function ewma(avg: number, sample: number): number {
  return Number.isNaN(avg) ? sample : avg + ALPHA * (sample - avg);
}

/** The cache state of one template version (compiled templates reset it by being new). */
export class TemplateCachePolicy {
  state: 'probe' | 'on' | 'off';
  /** Renders until the next decision. */
  private left: number;
  // Hit rate is counted per decision window; costs are running averages kept across windows,
  // because a window of nothing but hits measures no render and one of no lookups no hash.
  private lookups = 0;
  private hits = 0;
  private hashAvg = NaN;
  private renderAvg = NaN;
  /** The first render of a template version includes its compilation: not a render cost. */
  private first = true;
  /**
   * Nor is the first lookup's hash a hash cost: it includes the warm-up of the hashing code
   * (the digest's first call in the process alone is ~0.2 ms, fifty lookups' worth), which
   * would otherwise end the 8-lookup early probe with a "no" for a template where the cache pays.
   */
  private firstLookup = true;
  private offRenders = OFF_RENDERS;
  lastDecision?: CacheDecision;

  constructor(readonly mode: ResultCacheMode) {
    this.state = mode === 'on' ? 'on' : mode === 'off' ? 'off' : 'probe';
    this.left = PROBE_RENDERS;
  }

  /** Whether this render should hash its context and look in the cache. */
  get lookup(): boolean {
    return this.state !== 'off';
  }

  /**
   * Records one render. With a lookup: its hash time, and the render time on a miss. Without
   * (cache off for this template, or a context that cannot be hashed): the render time.
   */
  record(looked: boolean, hit: boolean, hashMs: number, renderMs: number): void {
    if (this.mode !== 'auto') return;
    if (looked) {
      this.lookups++;
      if (this.firstLookup) this.firstLookup = false;
      else this.hashAvg = ewma(this.hashAvg, hashMs);
      if (hit) this.hits++;
    }
    if (!hit) {
      if (this.first) this.first = false;
      else this.renderAvg = ewma(this.renderAvg, renderMs);
    }
    // Probing is itself costly for huge contexts: stop as soon as a perfect hit rate could not
    // pay for the hash (hitRate <= 1, so render <= MARGIN x hash means "never").
    const hopeless =
      this.state === 'probe' && this.lookups >= EARLY_SAMPLES && !Number.isNaN(this.renderAvg) && this.renderAvg <= MARGIN * this.hashAvg;
    if (--this.left > 0 && !hopeless) return;
    if (this.state === 'off') {
      this.state = 'probe';
      this.left = PROBE_RENDERS;
      this.lookups = this.hits = 0;
      return;
    }
    const hitRate = this.lookups ? this.hits / this.lookups : 0;
    const hashMsAvg = Number.isNaN(this.hashAvg) ? 0 : this.hashAvg;
    const renderMsAvg = Number.isNaN(this.renderAvg) ? 0 : this.renderAvg;
    // All hits but the first (a compilation, not a render cost): no render was measured, so
    // nothing says caching does not pay. Keep it, and decide again after ON_RENDERS renders
    // (turning it off for want of a measurement turned off a 98% hit rate).
    const unmeasured = Number.isNaN(this.renderAvg) && this.hits > 0;
    const cache = this.lookups > 0 && (unmeasured || cachePays(hitRate, hashMsAvg, renderMsAvg));
    this.lastDecision = { hitRate, hashMs: hashMsAvg, renderMs: renderMsAvg, cache };
    this.state = cache ? 'on' : 'off';
    this.left = cache ? ON_RENDERS : this.offRenders;
    this.offRenders = cache ? OFF_RENDERS : Math.min(MAX_OFF_RENDERS, this.offRenders * 2);
    this.lookups = this.hits = 0;
  }
}
