/**
 * Show Metrics as a report (client/metricsReport.ts): Markdown tables that line up, durations
 * and rates rounded as people read them, never a 16-digit float; every section of the JSON.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bytes, formatMetricsReport, mdTable, percent } from '../../client/metricsReport.js';

const latency = (v: number, count = 3) => ({ count, sum: v * count, mean: v, min: v / 2, max: v * 3.3333333333333335, p50: v, p95: v * 2.000000000000001, p99: v * 3 });

const metrics = {
  templates: {
    'analysis/quick_summary': { renders: 3, errors: { missing_context: 1 }, fallbacks: 1, cache: { hits: 2, misses: 1, hitRate: 0.6666666666666666 }, latencyMs: latency(0.0697924948905765) },
    'a|b': { renders: 0, errors: {}, fallbacks: 0, cache: { hits: 0, misses: 0, hitRate: 0 }, latencyMs: latency(0, 0) },
  },
  services: { analysis_service: { renders: 4, errors: {}, fallbacks: 0, cache: { hits: 2, misses: 2, hitRate: 0.5 }, latencyMs: latency(1.9390500000000017, 4) } },
  cache: { entries: 9, bytes: 53688, maxEntries: 500, maxBytes: 4194304, hits: 2, misses: 9, evictions: 0, hitRate: 0.18181818181818182, mode: 'auto' },
  config: { loads: 1, outcomes: { loaded: 1 }, lastOutcome: 'loaded', lastDurationMs: 27.914582999999993, durationMs: latency(27.914582999999993, 1), generation: 1 },
  templatesCompiled: 11,
  workflowEngine: {
    compositions: {
      reply_drafter: {
        runs: { succeeded: 1, partial: 0, failed: 0, cancelled: 0, timed_out: 0 },
        total: 1,
        durationMs: { count: 1, p50: 7.487471999999997, p95: 7.487471999999997, mean: 7.487471999999997, max: 7.487471999999997 },
        retries: 0,
        fallbacks: 1,
        timeouts: 0,
        steps: { draft: { statuses: { fallback: 1 }, durationMs: { count: 1, p50: 1234.5678, p95: 1234.5678, mean: 1234.5678, max: 1234.5678 }, retries: 2, fallbacks: 1, timeouts: 0 } },
      },
    },
    providers: { local: { calls: 1, failures: 1, failuresByStatus: { none: 1 }, failuresByKind: { missing_key: 1 }, consecutiveFailures: 1, lastFailureKind: 'missing_key', durationMs: { count: 1, p50: 1.0730250000000012, p95: 1.07, mean: 1.07, max: 1.07 } } },
  },
};

test('figures are rounded: no float of more than a few digits anywhere', () => {
  const report = formatMetricsReport('examples', metrics, new Date(2025, 0, 2, 13, 4, 5));
  assert.doesNotMatch(report, /\d\.\d{4,}/, 'no long decimals');
  assert.match(report, /^# PromptManager metrics: examples$/m);
  assert.match(report, /Show Metrics as JSON/);
});

test('each section is a table: templates, services, runs, steps, providers, cache, configuration', () => {
  const lines = formatMetricsReport('examples', metrics, new Date(0)).split('\n');
  const cells = (l: string) => l.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
  const row = (first: string) => {
    const l = lines.find((x) => x.startsWith('|') && cells(x)[0] === first);
    assert.ok(l, `a row for ${first}`);
    return l;
  };
  assert.deepEqual(cells(row('analysis/quick_summary')), ['analysis/quick_summary', '3', 'missing_context 1', '1', '67%', '0.1 ms', '0.1 ms', '0.2 ms']);
  assert.deepEqual(cells(row('a\\|b')), ['a\\|b', '0', '-', '0', '-', '-', '-', '-'], 'a pipe in a name is escaped; no sample reads "-"');
  assert.deepEqual(cells(row('analysis_service')).slice(0, 5), ['analysis_service', '4', '-', '0', '50%']);
  assert.deepEqual(cells(row('reply_drafter')), ['reply_drafter', '1', '1', '0', '0', '0', '0', '7.5 ms', '7.5 ms', '7.5 ms', '0', '1', '0']);
  assert.ok(lines.includes('### Steps of reply_drafter'));
  assert.deepEqual(cells(row('draft')), ['draft', 'fallback 1', '1.23 s', '1.23 s', '1.23 s', '2', '1', '0']);
  assert.deepEqual(cells(row('local')), ['local', '1', '1', 'API key not set 1', '1', '1.1 ms', '1.1 ms']);
  assert.deepEqual(cells(row('auto')), ['auto', '9 of 500', '52 KB of 4 MB', '2', '9', '18%', '0']);
  assert.deepEqual(cells(row('1')).slice(0, 4), ['1', 'loaded 1', 'loaded', '28 ms']);
  // Aligned: every line of a table is as long as its header.
  const header = lines.findIndex((l) => l.startsWith('| template '));
  assert.equal(new Set(lines.slice(header, header + 4).map((l) => l.length)).size, 1);
});

test('an engine with nothing recorded says so instead of empty tables', () => {
  const report = formatMetricsReport('w', {}, new Date(0));
  assert.match(report, /## Templates\n\nNo render yet\./);
  assert.match(report, /## Workflow runs\n\nNo run yet\./);
  assert.match(report, /## Model providers\n\nNo call yet\./);
});

test('percentages, sizes and tables', () => {
  assert.equal(percent(0.6666), '67%');
  assert.equal(percent(0.004), '0.4%');
  assert.equal(percent(0, 0), '-');
  assert.equal(bytes(812), '812 B');
  assert.equal(bytes(53688), '52 KB');
  assert.equal(bytes(4194304), '4 MB');
  assert.deepEqual(mdTable(['a', 'n'], [['x', '10']], [false, true]), ['| a   |   n |', '| --- | --: |', '| x   |  10 |']);
});
