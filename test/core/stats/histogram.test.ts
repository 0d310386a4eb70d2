import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LatencyHistogram } from '../../../core/stats/histogram.js';

function near(actual: number, expected: number, relTol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= expected * relTol, `${what}: ${actual} not within ${relTol * 100}% of ${expected}`);
}

test('percentiles against known samples (1..1000 ms)', () => {
  const h = new LatencyHistogram();
  for (let i = 1; i <= 1000; i++) h.record(i);
  near(h.quantile(0.5), 500, 0.05, 'p50');
  near(h.quantile(0.95), 950, 0.05, 'p95');
  near(h.quantile(0.99), 990, 0.05, 'p99');
  const s = h.summary();
  assert.equal(s.count, 1000);
  assert.equal(s.min, 1);
  assert.equal(s.max, 1000);
  near(s.mean, 500.5, 1e-9, 'mean');
});

test('percentiles of a skewed distribution (microseconds to seconds)', () => {
  const h = new LatencyHistogram();
  for (let i = 0; i < 900; i++) h.record(0.002); // 2 µs
  for (let i = 0; i < 90; i++) h.record(40);
  for (let i = 0; i < 10; i++) h.record(2000);
  near(h.quantile(0.5), 0.002, 0.05, 'p50');
  near(h.quantile(0.95), 40, 0.05, 'p95');
  near(h.quantile(0.995), 2000, 0.05, 'p99.5');
});

test('identical samples answer exactly; empty answers 0', () => {
  const h = new LatencyHistogram();
  assert.equal(h.quantile(0.5), 0);
  for (let i = 0; i < 10; i++) h.record(3.7);
  assert.equal(h.quantile(0.5), 3.7);
  assert.equal(h.quantile(0.99), 3.7);
});

test('memory is bounded: a million samples keep the same buckets', () => {
  const h = new LatencyHistogram();
  for (let i = 0; i < 1_000_000; i++) h.record((i % 5000) / 100);
  assert.equal(h.count, 1_000_000);
  near(h.quantile(0.5), 25, 0.05, 'p50');
  h.record(-1);
  h.record(Number.NaN);
  h.record(1e12); // beyond the last bucket: counted in the overflow bucket
  assert.equal(h.count, 1_000_003);
  assert.equal(h.max, 1e12);
});

test('histograms counted elsewhere (by bucket) merge exactly: the same quantiles as one histogram of every sample', () => {
  const all = new LatencyHistogram();
  const buckets = new Map<number, number>();
  let sum = 0;
  let min = Infinity;
  let max = 0;
  // Two "processes" counting their samples by bucket, as the workers do in Redis.
  for (const samples of [[0.0004, 3, 7, 7, 120, 2500], [1, 15, 15, 900, 42_000]]) {
    for (const ms of samples) {
      all.record(ms);
      const i = LatencyHistogram.bucketOf(ms);
      buckets.set(i, (buckets.get(i) ?? 0) + 1);
      sum += ms;
      min = Math.min(min, ms);
      max = Math.max(max, ms);
    }
  }
  const merged = LatencyHistogram.fromBuckets(buckets, sum, min, max);
  assert.deepEqual(merged.summary(), all.summary());
  assert.deepEqual(LatencyHistogram.fromBuckets([[-1, 3], [1e6, 2], [5, 0]], 10, 1, 2).summary(), new LatencyHistogram().summary(), 'buckets out of range and empty counts are ignored');
});
