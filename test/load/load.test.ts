/**
 * Load, sized for `npm test` (a few seconds); `npm run load` (bench/load.mjs) runs the same
 * scenarios bigger and records the figures.
 * - 1,000 runs of a 10-step composition submitted at once, at most 50 running at a time: all
 *   finish, statuses and metrics add up, the history keeps its bound, memory returns.
 * - renderBatch at full speed for a while: results right, cache within its bounds, no growth.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { PromptManager } from '../../core/manager/promptManager.js';
import { ExecutorRegistry } from '../../core/workflow/executors.js';
import { memoryFileSystem } from '../../core/workspace/fileSystem.js';
// @ts-ignore: a plain ES module shared with the benchmarks
import { LOAD_FILES as FILES } from '../../bench/loadWorkspace.mjs';

const RUNS = Number(process.env.PM_LOAD_RUNS ?? 1000);
const AT_ONCE = 50;
const HISTORY = 200;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

/** Each step yields to the event loop, so 50 runs really interleave. */
const executors = new ExecutorRegistry([{ name: 'render', execute: (r) => new Promise((resolve) => setImmediate(() => resolve(r.prompt))) }]);

test(`load: ${RUNS} runs of a 10-step composition, at most ${AT_ONCE} at once: all finish, statuses and metrics add up, memory returns`, async (t) => {
  const m = await PromptManager.create({ root: '/load', fs: memoryFileSystem(FILES), workflow: { historyLimit: HISTORY, executors } });
  try {
    const engine = m.workflowEngine as unknown as { engine: { activeRuns: number; historySize: number } };
    // Warm up, then measure the heap the finished load must come back to.
    await m.executeWorkflow('ten', { doc: 'warm', i: -1 });
    const baseline = heapAfterGc();
    let running = 0;
    let maxRunning = 0;
    let maxActive = 0;
    m.events.on('workflow.started', () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      maxActive = Math.max(maxActive, engine.engine.activeRuns);
    });
    m.events.on('workflow.finished', () => running--);

    const t0 = performance.now();
    const queue = Array.from({ length: RUNS }, (_, i) => i);
    const statuses: Record<string, number> = {};
    const ids = new Set<string>();
    const worker = async () => {
      for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
        const r = await m.executeWorkflow('ten', { doc: `d${i}`, i, fail: i % 10 === 0 }, { serviceName: 'app' });
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        ids.add(r.id);
        if (r.status === 'succeeded') assert.equal(r.outputs.last, `Step for d${i} #${i}`);
        assert.equal(Object.keys(r.outputs).length, r.status === 'succeeded' ? 10 : 8, `run ${i}: ${r.status}`);
      }
    };
    await Promise.all(Array.from({ length: AT_ONCE }, worker));
    const ms = performance.now() - t0;

    // All finished, each once, with the expected statuses.
    assert.equal(ids.size, RUNS);
    assert.deepEqual(statuses, { succeeded: RUNS - RUNS / 10, partial: RUNS / 10 });
    assert.ok(maxRunning <= AT_ONCE && maxActive <= AT_ONCE, `${maxRunning} runs at once (engine: ${maxActive})`);
    assert.equal(engine.engine.activeRuns, 0);

    // Metrics add up: the engine's per composition and per step, and the manager's per service.
    const wm = m.getWorkflowMetrics()!.compositions.ten!;
    assert.equal(wm.total, RUNS + 1);
    assert.equal(wm.runs.succeeded, RUNS - RUNS / 10 + 1);
    assert.equal(wm.runs.partial, RUNS / 10);
    for (const id of ['s0', 's1', 's6', 'join']) assert.equal(wm.steps[id]!.statuses.succeeded, RUNS + 1, id);
    assert.equal(wm.steps.risky!.statuses.failed, RUNS / 10);
    assert.equal(wm.steps.last!.statuses.skipped, RUNS / 10);
    const svc = m.getMetrics().services.app!.workflows;
    assert.equal(svc.runs, RUNS);
    assert.equal(svc.statuses.succeeded, RUNS - RUNS / 10);
    assert.equal(svc.statuses.partial, RUNS / 10);
    assert.equal(m.getMetrics().compositions.ten!.runs, RUNS + 1);

    // The history keeps its bound, and the heap comes back.
    assert.ok(engine.engine.historySize <= HISTORY, `history of ${engine.engine.historySize}`);
    assert.equal((await m.listWorkflowRuns()).length, engine.engine.historySize);
    const after = heapAfterGc();
    const growth = (after - baseline) / 1024 / 1024;
    t.diagnostic(`${RUNS} runs (${RUNS * 10} steps) in ${ms.toFixed(0)} ms: ${((RUNS / ms) * 1000).toFixed(0)} runs/s; at most ${maxRunning} at once; heap ${(baseline / 1048576).toFixed(1)} -> ${(after / 1048576).toFixed(1)} MB`);
    assert.ok(growth < 40, `the heap grew by ${growth.toFixed(1)} MB`);
  } finally {
    await m.close();
  }
});

test('load: renderBatch at full speed: right results, bounded cache, no growth', async (t) => {
  const seconds = Number(process.env.PM_LOAD_RENDER_SECONDS ?? 2);
  const m = await PromptManager.create({ root: '/load', fs: memoryFileSystem(FILES), cache: { mode: 'on', maxEntries: 500, maxBytes: 1 << 20 } });
  try {
    // 2,000 distinct contexts per batch, through a service (access and required-context checks).
    const batch = (round: number) =>
      Array.from({ length: 2000 }, (_, i) => ({ templateName: 'hello', serviceName: 'app', context: { name: `user${i % 700}`, doc: `doc${(i + round) % 900}`, tags: ['a', 'b', String(i % 7)] } }));
    const run = async (round: number) => {
      const results = await m.renderBatch(batch(round), { concurrency: 64 });
      for (const r of results) assert.ok(r.ok, r.ok ? '' : r.error.message);
      const first = results[0]!;
      assert.ok(first.ok && first.result.text === `Hello user0, about doc${round % 900} (a, b, 0)`, first.ok ? first.result.text : '');
      return results.length;
    };
    for (let i = 0; i < 3; i++) await run(i);
    const baseline = heapAfterGc();
    let renders = 0;
    let round = 3;
    const t0 = performance.now();
    const samples: number[] = [];
    while (performance.now() - t0 < seconds * 1000) {
      renders += await run(round++);
      if (round % 10 === 0) samples.push(process.memoryUsage().heapUsed);
    }
    const ms = performance.now() - t0;
    const after = heapAfterGc();
    const cache = m.getMetrics().cache as { entries?: number; bytes?: number };
    t.diagnostic(`${renders} renders in ${ms.toFixed(0)} ms: ${((renders / ms) * 1000).toFixed(0)} renders/s; heap ${(baseline / 1048576).toFixed(1)} -> ${(after / 1048576).toFixed(1)} MB; cache ${cache.entries} entries`);
    assert.ok(renders >= 4000, `only ${renders} renders`);
    assert.ok((cache.entries ?? 0) <= 500, `${cache.entries} cache entries`);
    assert.ok((after - baseline) / 1048576 < 20, `the heap grew by ${((after - baseline) / 1048576).toFixed(1)} MB`);
    const s = m.getMetrics().templates.hello!;
    assert.equal(s.renders, renders + 3 * 2000);
    assert.deepEqual(s.errors, {});
  } finally {
    await m.close();
  }
});
