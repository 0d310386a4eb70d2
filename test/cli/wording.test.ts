/**
 * CLI wording and edges: counts in words ("1 step", never "1 steps" or
 * "attempt(s)"), no "at most Infinity", progress times taken from the events themselves, folder
 * arguments that do not exist or are files, `demo` on a folder that is not the examples,
 * wall-clock run times, and renderBatch's concurrency.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import { ProgressView } from '../../cli/progress.js';
import { createTesting } from '../../core/manager/factory.js';
import type { WorkflowEvent, WorkflowResult } from '../../core/workflow/types.js';
import { CLI, CONFORMANCE, EXAMPLES, REPO, tempWorkspace } from '../helpers/paths.js';

function run(args: string[], cwd = REPO, input?: string) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', input });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const oneStep = () =>
  tempWorkspace({
    'templates/a.hbs': 'Hello {{who}}',
    'composition_rules.yaml': 'version: 1\ncompositions:\n  flow:\n    inputs: { required: [who] }\n    steps:\n      - id: a\n        template: a\n',
  });

test('run: one step is "1 step", no max_parallel is "no limit", one attempt is "1 attempt"', () => {
  const r = run(['run', 'flow', '--dir', oneStep(), '--context', '-'], REPO, '{"who":"you"}');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /started: 1 step, no limit on how many run at once\n/);
  assert.match(r.stderr, /\] a: succeeded after 1 attempt, \d+ ms\n/);
  assert.doesNotMatch(r.stderr, /Infinity|1 steps|\(s\)/);
});

test('health: one run is "1 run"', async () => {
  const m = await createTesting({ templates: { a: 'A' }, compositionRules: 'version: 1\ncompositions:\n  f:\n    steps:\n      - id: s\n        template: a\n' });
  await m.executeWorkflow('f');
  assert.equal(m.healthCheck().components.workflows.reason, '1 run, none failed');
  await m.close();
});

test('progress: each line carries its event\'s own time, so a step ends at its start plus its duration', () => {
  const lines: string[] = [];
  // The view reads the events late and all at once: its own clock says nothing about them.
  const view = new ProgressView((s) => lines.push(s), false, () => 5_000_000);
  const base = { runId: 'r1', composition: 'c' };
  const events: WorkflowEvent[] = [
    { ...base, type: 'workflow.started', time: 1_000_000, steps: ['a', 'b'], maxParallel: 2 },
    { ...base, type: 'step.started', time: 1_000_020, stepId: 'a', attempt: 1 },
    { ...base, type: 'step.retrying', time: 1_000_120, stepId: 'a', attempt: 1, nextAttempt: 2, waitMs: 500, error: { code: 'provider_error', message: 'busy' } },
    { ...base, type: 'step.finished', time: 1_001_057, stepId: 'a', status: 'succeeded', durationMs: 1037, attempts: 2 },
    { ...base, type: 'step.finished', time: 1_001_060, stepId: 'b', status: 'skipped', skipReason: 'when', durationMs: 0, attempts: 0 },
    { ...base, type: 'workflow.finished', time: 1_001_060, status: 'succeeded', durationMs: 1060 },
  ];
  for (const e of events) view.onEvent(e);
  assert.deepEqual(lines, [
    '[0.00s] run r1 of c started: 2 steps, at most 2 at once\n',
    '[0.02s] a: started (attempt 1)\n',
    '[0.12s] a: attempt 1 failed (provider_error: busy); attempt 2 in 500 ms\n',
    '[1.06s] a: succeeded after 2 attempts, 1037 ms\n',
    '[1.06s] b: skipped (its when condition is false)\n',
    '[1.06s] run r1 succeeded\n',
  ]);
  view.finish({ id: 'r1', status: 'succeeded', durationMs: 1060, steps: [{ status: 'succeeded' }, { status: 'skipped' }] } as unknown as WorkflowResult);
  assert.equal(lines.at(-1), 'run r1: succeeded in 1.06s (1 succeeded, 1 skipped)\n');
});

test('run --json: startedAt and finishedAt are wall-clock epoch milliseconds; their difference is the duration', () => {
  const before = Date.now();
  const r = run(['run', 'flow', '--dir', oneStep(), '--context', '-', '--json'], REPO, '{"who":"you"}');
  const afterRun = Date.now();
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as { startedAt: number; finishedAt: number; durationMs: number; steps: { startedAt: number; finishedAt: number; durationMs: number }[] };
  assert.ok(s.startedAt >= before - 1 && s.startedAt <= afterRun, `startedAt ${s.startedAt} is not between ${before} and ${afterRun}`);
  assert.ok(Math.abs(s.finishedAt - s.startedAt - s.durationMs) < 0.01, "finishedAt - startedAt is the duration (to float precision at epoch scale)");
  const step = s.steps[0]!;
  assert.ok(step.startedAt >= s.startedAt && step.finishedAt <= s.finishedAt);
  assert.ok(Math.abs(step.finishedAt - step.startedAt - step.durationMs) < 0.01);
  assert.equal(new Date(s.startedAt).getUTCFullYear() >= 2025, true);
});

test('render --dir with a folder that does not exist says so (not "pass --dir")', () => {
  const r = run(['render', 'a', '--dir', '/nonexistent/prompts']);
  assert.equal(r.code, 64);
  assert.match(r.stderr, /^promptmanager render: the folder \/nonexistent\/prompts does not exist\n/);
  assert.doesNotMatch(r.stderr, /pass --dir/);
  const rel = run(['graph', 'f', '--dir', 'no/such/dir']);
  assert.match(rel.stderr, new RegExp(`the folder no/such/dir does not exist \\(in ${REPO.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)`));
});

test('validate FILE: a configuration file or a template stands for its workspace, counted once', () => {
  const r = run(['validate', 'examples/composition_rules.yaml']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^0 errors, 0 warnings, \d+ information in 1 prompt workspace\n$/m);
  const both = run(['validate', 'examples/service_mappings.yaml', 'examples/templates/analysis/summary.hbs', 'examples']);
  assert.equal(both.code, 0, both.stdout + both.stderr);
  assert.match(both.stdout, /in 1 prompt workspace\n$/);
  const render = run(['render', 'analysis/extract', '--dir', path.join(EXAMPLES, 'composition_rules.yaml'), '--context', path.join(EXAMPLES, 'contexts', 'complete_analysis.json')]);
  assert.equal(render.code, 0, render.stderr);
  const lone = tempWorkspace({ 'notes.txt': 'x' });
  const bad = run(['validate', path.join(lone, 'notes.txt')]);
  assert.equal(bad.code, 64);
  assert.match(bad.stderr, /notes\.txt is a file in no prompt workspace/);
});

test('demo: a missing folder and a workspace that is not the examples get a plain message, not ENOENT', () => {
  const missing = run(['demo', '/nonexistent/examples']);
  assert.equal(missing.code, 64);
  assert.match(missing.stderr, /^promptmanager demo: the folder \/nonexistent\/examples does not exist\n/);
  const other = run(['demo', path.join(CONFORMANCE, 'valid-basic')]);
  assert.equal(other.code, 64, other.stdout + other.stderr);
  assert.match(other.stderr, /the demo is a tour of the bundled examples .* lacks what it uses: contexts\/analysis_service\.json, /);
  assert.doesNotMatch(other.stderr, /ENOENT/);
  const away = run(['demo'], tempWorkspace({}));
  assert.equal(away.code, 64);
  assert.match(away.stderr, /there is no examples\/ folder in .*: run it from the clone, or give the examples folder as DIR/);
});

test('renderBatch: concurrency must be a whole number of at least 1 (or Infinity): a clear RangeError', async () => {
  const m = await createTesting({ templates: { a: 'A{{n}}' } });
  const requests = [1, 2, 3].map((n) => ({ templateName: 'a', context: { n } }));
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    await assert.rejects(m.renderBatch(requests, { concurrency: bad }), (e: Error) => {
      assert.ok(e instanceof RangeError, `${bad}: ${e}`);
      assert.equal(e.message, `renderBatch: concurrency must be a whole number of at least 1 (or Infinity), got ${bad}`);
      return true;
    });
  }
  for (const good of [1, 2, Infinity, undefined]) {
    const out = await m.renderBatch(requests, good === undefined ? {} : { concurrency: good });
    assert.deepEqual(out.map((r) => r.ok && r.result.text), ['A1', 'A2', 'A3']);
  }
  await m.close();
});
