/**
 * The history of test runs (bounded, safe with concurrent runs, readable as "failed in 3 of
 * the last 10 runs") and the comparison with the previous runs (`--compare`): newly failing
 * and passing, snapshots whose text changed, new tests and changes of time.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { compareWithHistory } from '../../../core/testing/compare.js';
import { TestHistory, summarizeTest, type HistoryRun } from '../../../core/testing/history.js';
import type { PromptTestResult, TestOutcome, TestRunReport } from '../../../core/testing/types.js';
import { tempWorkspace } from '../../helpers/paths.js';

const R = { start: { line: 2, character: 2 }, end: { line: 2, character: 6 } };

function result(id: string, outcome: TestOutcome, durationMs = 5, snapshot?: string): PromptTestResult {
  const r: PromptTestResult = {
    id,
    file: '/ws/prompt_tests.yaml',
    range: R,
    outcome,
    durationMs,
    repetitions: outcome === 'skipped' ? [] : [{ repetition: 1, passed: outcome === 'passed', durationMs, status: 'succeeded', assertions: [] }],
    passRate: outcome === 'passed' ? 1 : 0,
    requiredPassRate: 1,
    assertions: outcome === 'failed' ? [{ index: 0, kind: 'contains', label: 'output contains "x"', range: R, passed: false, message: 'the output does not contain "x"' }] : [],
    live: false,
  };
  if (snapshot) r.snapshotDigests = { 'output.txt': snapshot };
  return r;
}
function report(results: PromptTestResult[], startedAt: number, durationMs = 100): TestRunReport {
  const summary = { total: results.length, passed: 0, failed: 0, skipped: 0 };
  for (const r of results) summary[r.outcome]++;
  return { root: '/ws', startedAt, durationMs, live: false, results, summary, problems: [], snapshotsWritten: [] };
}

test('each run is a file of its own, the newest kept past the bound, newest first when read', async () => {
  const root = tempWorkspace({});
  const h = new TestHistory(root, { maxRuns: 3 });
  for (let i = 0; i < 5; i++) await h.record(report([result('t', i % 2 ? 'failed' : 'passed')], Date.UTC(2026, 0, 1, 0, 0, i)));
  const files = fs.readdirSync(h.dir).filter((f) => f.endsWith('.json'));
  assert.equal(files.length, 3);
  const runs = await h.runs();
  assert.deepEqual(
    runs.map((r) => new Date(r.startedAt).getUTCSeconds()),
    [4, 3, 2],
  );
  assert.deepEqual(runs[1]!.tests.t, { outcome: 'failed', durationMs: 5, repetitions: 1, passRate: 0, failures: ['output contains "x": the output does not contain "x"'] });
  assert.equal(path.relative(root, h.dir), path.join('.promptmanager', 'test-history'));
  assert.ok(fs.existsSync(path.join(root, '.promptmanager', '.gitignore')));
});

test('runs recorded at the same moment all land, and a file that is not a run is skipped', async () => {
  const root = tempWorkspace({});
  const h = new TestHistory(root);
  const at = Date.UTC(2026, 0, 1);
  await Promise.all(Array.from({ length: 12 }, (_, i) => new TestHistory(root).record(report([result(`t${i}`, 'passed')], at))));
  fs.writeFileSync(path.join(h.dir, '9999-not-a-run.json'), '{ cut');
  const runs = await h.runs();
  assert.equal(runs.length, 12);
  assert.deepEqual(new Set(runs.flatMap((r) => Object.keys(r.tests))).size, 12);
});

test('summarizeTest: "failed in 4 of the last 10 runs", over the runs the test appears in', async () => {
  const runs: HistoryRun[] = [];
  const outcomes: TestOutcome[] = ['failed', 'passed', 'failed', 'passed', 'passed', 'skipped', 'failed', 'passed', 'passed', 'passed', 'failed', 'failed'];
  outcomes.forEach((o, i) => {
    runs.unshift({ id: String(i), startedAt: i, durationMs: 1, live: false, tests: { t: { outcome: o, durationMs: 1, repetitions: 1, passRate: o === 'passed' ? 1 : 0 }, ...(i % 3 ? {} : { other: { outcome: 'passed', durationMs: 1, repetitions: 1, passRate: 1 } }) } });
  });
  runs.splice(1, 0, { id: 'x', startedAt: 99, durationMs: 1, live: false, tests: { other: { outcome: 'failed', durationMs: 1, repetitions: 1, passRate: 0 } } });
  const s = summarizeTest(runs, 't', 10);
  assert.deepEqual([s.runs, s.failed, s.passed, s.skipped], [10, 4, 5, 1]);
  assert.deepEqual(s.recent.slice(0, 3).map((r) => r.outcome), ['failed', 'failed', 'passed']);
  assert.deepEqual(summarizeTest(runs, 'missing'), { id: 'missing', runs: 0, passed: 0, failed: 0, skipped: 0, recent: [] });
});

test('compareWithHistory: newly failing and passing, still failing, new tests, changed snapshots, notable time changes', async () => {
  const root = tempWorkspace({});
  const h = new TestHistory(root);
  await h.record(report([result('a', 'passed', 5, 'aaaa'), result('b', 'failed'), result('c', 'failed'), result('slow', 'passed', 10), result('fast', 'passed', 200)], Date.UTC(2026, 0, 1)));
  // A later run that ran only `a` (filtered): `b` still compares with the first run.
  await h.record(report([result('a', 'passed', 5, 'aaaa')], Date.UTC(2026, 0, 2)));
  const previous = await h.runs();
  const now = report([result('a', 'failed', 6, 'bbbb'), result('b', 'passed'), result('c', 'failed'), result('d', 'passed'), result('slow', 'passed', 100), result('fast', 'passed', 20), result('e', 'skipped')], Date.UTC(2026, 0, 3), 150);
  const c = compareWithHistory(now, previous);
  assert.deepEqual(c.previous, { startedAt: Date.UTC(2026, 0, 2), durationMs: 100, tests: 1 });
  assert.deepEqual(c.newlyFailing, [{ id: 'a', failures: ['output contains "x": the output does not contain "x"'] }]);
  assert.deepEqual(c.newlyPassing, ['b']);
  assert.deepEqual(c.stillFailing, ['c']);
  assert.deepEqual(c.newTests, ['d']);
  assert.deepEqual(c.changedSnapshots, [{ id: 'a', file: 'output.txt' }]);
  assert.deepEqual(c.slower, [{ id: 'slow', beforeMs: 10, afterMs: 100 }]);
  assert.deepEqual(c.faster, [{ id: 'fast', beforeMs: 200, afterMs: 20 }]);
  assert.deepEqual(c.durationMs, { before: 100, after: 150 });
  // Small changes of time are noise, not news.
  const quiet = compareWithHistory(report([result('a', 'passed', 14, 'aaaa')], 5), previous);
  assert.deepEqual([quiet.slower, quiet.changedSnapshots, quiet.newlyFailing], [[], [], []]);
  assert.equal(compareWithHistory(now, []).previous, undefined);
});
