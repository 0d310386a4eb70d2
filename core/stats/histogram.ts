/**
 * A latency histogram of fixed size: logarithmic buckets (8 per doubling, so an estimate is
 * within about 4.5% of the true value) from 1 microsecond to about 18 minutes. Recording is
 * O(1) and memory does not grow with the number of samples, unlike keeping every sample.
 */

const SUB_BUCKETS = 8; // per power of two
const MIN_MS = 0.001;
const BUCKETS = 30 * SUB_BUCKETS + 2; // [0, MIN) + 30 doublings + overflow
const LOG_SCALE = SUB_BUCKETS;

/** Upper bound (ms) of bucket i (i >= 1); bucket 0 holds everything below MIN_MS. */
function upperBound(i: number): number {
  return MIN_MS * Math.pow(2, i / SUB_BUCKETS);
}

export interface HistogramSummary {
  count: number;
  sum: number;
  mean: number;
  min: number;
  max: number;
  p50: number;
  p95: number;
  p99: number;
}

export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  count = 0;
  sum = 0;
  min = Infinity;
  max = 0;

  /** The bucket a sample goes to: what a histogram kept elsewhere (in Redis, by several processes) counts, to be merged with `fromBuckets`. */
  static bucketOf(ms: number): number {
    if (!(ms >= MIN_MS)) return 0; // NaN and negatives (a clock stepping back) count as 0
    const i = Math.ceil(Math.log2(ms / MIN_MS) * LOG_SCALE);
    return i < 1 ? 1 : i >= BUCKETS ? BUCKETS - 1 : i;
  }

  /**
   * A histogram of samples counted elsewhere: bucket index (`bucketOf`) to count, with the
   * samples' sum, min and max. Its quantiles are those of all the samples, as precise as one
   * process's: merging buckets is exact, where averaging quantiles would not be.
   */
  static fromBuckets(counts: Iterable<readonly [number, number]>, sum: number, min: number, max: number): LatencyHistogram {
    const h = new LatencyHistogram();
    for (const [i, c] of counts) {
      if (!(Number.isInteger(i) && i >= 0 && i < BUCKETS && c > 0)) continue;
      h.counts[i]! += c;
      h.count += c;
    }
    if (h.count === 0) return h;
    h.sum = sum;
    h.min = min;
    h.max = max;
    return h;
  }

  record(ms: number): void {
    if (!(ms >= 0)) ms = 0; // NaN and negatives (a clock stepping back) count as 0
    const i = LatencyHistogram.bucketOf(ms);
    this.counts[i]!++;
    this.count++;
    this.sum += ms;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
  }

  /**
   * The q-quantile (0..1), interpolated linearly inside its bucket and clamped to the observed
   * min and max, so a histogram of identical samples answers that exact value.
   */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.min(this.count, Math.max(1, Math.ceil(q * this.count)));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      const c = this.counts[i]!;
      if (c === 0) continue;
      if (seen + c >= rank) {
        const lo = i === 0 ? 0 : upperBound(i - 1);
        const hi = i === 0 ? MIN_MS : upperBound(i);
        const v = lo + ((hi - lo) * (rank - seen)) / c;
        return Math.min(this.max, Math.max(this.min, v));
      }
      seen += c;
    }
    return this.max;
  }

  summary(): HistogramSummary {
    return {
      count: this.count,
      sum: this.sum,
      mean: this.count ? this.sum / this.count : 0,
      min: this.count ? this.min : 0,
      max: this.max,
      p50: this.quantile(0.5),
      p95: this.quantile(0.95),
      p99: this.quantile(0.99),
    };
  }

  /** Adds another histogram's samples to this one (a window made of slices). */
  add(other: LatencyHistogram): void {
    if (other.count === 0) return;
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.sum += other.sum;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = 0;
  }
}
