// Load benchmark (npm run load; needs dist/core.js from `node esbuild.mjs`). The long versions of
// test/load/load.test.ts:
//  1. RUNS runs (default 10,000) of a 10-step composition submitted at once, at most 50 running
//     at a time: every run finishes, statuses and metrics add up, the history keeps its bound,
//     and the heap returns to its baseline once the runs are done;
//  2. renderBatch at full speed for SECONDS (default 60): renders per second in one-second
//     windows against the goal of 10,000/s, and the heap after GC at the start and the end.
// Environment: PM_LOAD_RUNS, PM_LOAD_SECONDS, PM_LOAD_AT_ONCE. Exit code 1 when a check fails
// (not when a throughput goal is missed: that is a figure, printed with the machine's load).
import os from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';
import { ExecutorRegistry, memoryFileSystem, PromptManager } from '../dist/core.js';
import { LOAD_FILES as FILES } from './loadWorkspace.mjs';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
const heap = () => {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
};
const mb = (b) => (b / 1048576).toFixed(1);

const RUNS = Number(process.env.PM_LOAD_RUNS ?? 10_000);
const AT_ONCE = Number(process.env.PM_LOAD_AT_ONCE ?? 50);
const SECONDS = Number(process.env.PM_LOAD_SECONDS ?? 60);
const HISTORY = 1000;
const RENDER_GOAL = 10_000;

const failures = [];
function check(ok, what) {
  if (!ok) failures.push(what);
  return ok;
}

async function runs() {
  const executors = new ExecutorRegistry([{ name: 'render', execute: (r) => new Promise((resolve) => setImmediate(() => resolve(r.prompt))) }]);
  const m = await PromptManager.create({ root: '/load', fs: memoryFileSystem(FILES), workflow: { historyLimit: HISTORY, executors } });
  const engine = m.workflowEngine.engine;
  await m.executeWorkflow('ten', { doc: 'warm', i: -1 });
  const baseline = heap();
  let running = 0;
  let maxRunning = 0;
  m.events.on('workflow.started', () => (maxRunning = Math.max(maxRunning, ++running)));
  m.events.on('workflow.finished', () => running--);
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 100);
  const statuses = {};
  let next = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: AT_ONCE }, async () => {
      for (let i = next++; i < RUNS; i = next++) {
        const r = await m.executeWorkflow('ten', { doc: `d${i}`, i, fail: i % 10 === 0 }, { serviceName: 'app' });
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      }
    }),
  );
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  const failing = Math.ceil(RUNS / 10);
  check(statuses.succeeded === RUNS - failing && statuses.partial === failing, `statuses ${JSON.stringify(statuses)}`);
  check(maxRunning <= AT_ONCE, `${maxRunning} runs at once`);
  const wm = m.getWorkflowMetrics().compositions.ten;
  check(wm.total === RUNS + 1 && wm.runs.partial === failing, `engine metrics: ${wm.total} runs, ${wm.runs.partial} partial`);
  check(wm.steps.s0.statuses.succeeded === RUNS + 1 && wm.steps.risky.statuses.failed === failing, 'step metrics');
  const svc = m.getMetrics().services.app.workflows;
  check(svc.runs === RUNS && svc.statuses.partial === failing, `service metrics: ${svc.runs} runs`);
  check(engine.historySize <= HISTORY && engine.activeRuns === 0, `history ${engine.historySize}, active ${engine.activeRuns}`);
  await m.close();
  const after = heap();
  check((after - baseline) / 1048576 < 64, `heap grew ${mb(after - baseline)} MB`);
  return {
    runs: RUNS,
    atOnce: maxRunning,
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    statuses,
    history: engine.historySize,
    heap: { baseline: mb(baseline), peak: mb(peak), after: mb(after) },
  };
}

async function renders() {
  const m = await PromptManager.create({ root: '/load', fs: memoryFileSystem(FILES), cache: { mode: 'on', maxEntries: 5000, maxBytes: 4 << 20 } });
  const batch = (round) =>
    Array.from({ length: 2000 }, (_, i) => ({ templateName: 'hello', serviceName: 'app', context: { name: `user${i % 700}`, doc: `doc${(i + round) % 9000}`, tags: ['a', 'b', String(i % 7)] } }));
  let round = 0;
  for (; round < 5; round++) await m.renderBatch(batch(round));
  const start = heap();
  const windows = [];
  const heaps = [];
  let total = 0;
  let errors = 0;
  const t0 = performance.now();
  let windowStart = t0;
  let inWindow = 0;
  while (performance.now() - t0 < SECONDS * 1000) {
    const results = await m.renderBatch(batch(round++), { concurrency: 64 });
    for (const r of results) if (!r.ok) errors++;
    total += results.length;
    inWindow += results.length;
    const now = performance.now();
    if (now - windowStart >= 1000) {
      windows.push((inWindow / (now - windowStart)) * 1000);
      heaps.push(process.memoryUsage().heapUsed);
      windowStart = now;
      inWindow = 0;
    }
  }
  const ms = performance.now() - t0;
  const end = heap();
  const cache = m.getMetrics().cache;
  await m.close();
  check(errors === 0, `${errors} failed renders`);
  check(cache.entries <= 5000 && cache.bytes <= 4 << 20, `cache ${cache.entries} entries, ${cache.bytes} bytes`);
  check((end - start) / 1048576 < 32, `heap grew ${mb(end - start)} MB over the run`);
  const sorted = [...windows].sort((a, b) => a - b);
  const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
  // Heap growth within the run: the last third of the windows against the first third.
  const third = Math.max(1, Math.floor(heaps.length / 3));
  const avg = (xs) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  return {
    seconds: ms / 1000,
    renders: total,
    perSecond: { mean: (total / ms) * 1000, min: q(0), median: q(0.5), max: q(1) },
    windowsAtGoal: windows.filter((w) => w >= RENDER_GOAL).length,
    windows: windows.length,
    cache: { entries: cache.entries, hitRate: cache.hitRate },
    heap: { start: mb(start), end: mb(end), firstThird: mb(avg(heaps.slice(0, third))), lastThird: mb(avg(heaps.slice(-third))) },
  };
}

const load = os.loadavg()[0].toFixed(1);
console.log(`# Load benchmark: node ${process.version}, ${os.cpus().length} CPUs, load average ${load}`);
const r1 = await runs();
console.log(`\n## ${r1.runs} runs of a 10-step composition, at most ${AT_ONCE} at once`);
console.log(`| measure | value |\n| --- | --- |`);
console.log(`| wall time | ${(r1.ms / 1000).toFixed(2)} s (${((r1.runs / r1.ms) * 1000).toFixed(0)} runs/s, ${((r1.runs * 10) / r1.ms * 1000).toFixed(0)} steps/s) |`);
console.log(`| CPU time | ${(r1.cpuMs / 1000).toFixed(2)} s |`);
console.log(`| most runs at once | ${r1.atOnce} |`);
console.log(`| statuses | ${Object.entries(r1.statuses).map(([k, v]) => `${k} ${v}`).join(', ')} |`);
console.log(`| history kept | ${r1.history} runs (limit ${HISTORY}) |`);
console.log(`| heap (after GC) | ${r1.heap.baseline} MB before, peak ${r1.heap.peak} MB, ${r1.heap.after} MB after |`);

const r2 = await renders();
console.log(`\n## renderBatch for ${r2.seconds.toFixed(0)} s (goal ${RENDER_GOAL.toLocaleString('en-US')} renders/s)`);
console.log(`| measure | value |\n| --- | --- |`);
console.log(`| renders | ${r2.renders.toLocaleString('en-US')} |`);
console.log(`| renders/s | mean ${r2.perSecond.mean.toFixed(0)}, min ${r2.perSecond.min.toFixed(0)}, median ${r2.perSecond.median.toFixed(0)}, max ${r2.perSecond.max.toFixed(0)} |`);
console.log(`| one-second windows at the goal | ${r2.windowsAtGoal} of ${r2.windows} |`);
console.log(`| cache | ${r2.cache.entries} entries, hit rate ${(r2.cache.hitRate * 100).toFixed(0)}% |`);
console.log(`| heap (after GC) | ${r2.heap.start} MB at the start, ${r2.heap.end} MB at the end; sampled ${r2.heap.firstThird} MB (first third) vs ${r2.heap.lastThird} MB (last third) |`);

if (failures.length) {
  console.log(`\nFAILED: ${failures.join('; ')}`);
  process.exitCode = 1;
} else console.log('\nAll checks passed.');
