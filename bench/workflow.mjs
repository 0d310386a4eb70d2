// Workflow engine benchmark (npm run bench:workflow). Bundles core/workflow with esbuild on the
// fly, so it measures the current sources whatever dist/ holds. Three parts:
//  1. engine overhead on a 10,000-step DAG of no-op steps, against a bare p-limit loop over
//     the same topological order in the same process;
//  2. scheduling quality on 200-step random DAGs with 5-50 ms steps, against the critical
//     path, an ideal zero-overhead simulation of the same policy, and the lower bound
//     max(critical path, total work / k), for first-ready and critical-path policies;
//  3. 1,000 concurrent runs of a 10-step composition: statuses consistent, history bounded,
//     memory flat across rounds.
import * as esbuild from 'esbuild';
import { precompiledSchemas } from '../build/precompiledSchemas.mjs';
import pLimit from 'p-limit';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { median } from './stats.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'out', 'bench', 'workflow-engine.cjs');
await esbuild.build({ plugins: [precompiledSchemas],
  entryPoints: [join(root, 'core', 'workflow', 'index.ts')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  mainFields: ['module', 'main'],
  logLevel: 'warning',
  outfile,
});
const wf = createRequire(import.meta.url)(outfile);
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

const quick = process.argv.includes('--quick');
// `--only=overhead,scheduling,concurrent` runs some parts.
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(',');
const wanted = (part) => !only || only.includes(part);

// ------------------------------------------------------------------ helpers

function rng(seed) {
  // mulberry32: reproducible DAGs from run to run.
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random DAG: step i depends on 0..maxDeps distinct steps among the `window` before it. */
function randomDag(n, seed, { maxDeps = 3, window = 30 } = {}) {
  const r = rng(seed);
  const deps = [];
  for (let i = 0; i < n; i++) {
    const k = Math.floor(r() * (maxDeps + 1));
    const set = new Set();
    for (let j = 0; j < k && i > 0; j++) set.add(Math.max(0, i - 1 - Math.floor(r() * Math.min(window, i))));
    deps.push([...set]);
  }
  return deps;
}

function resolved(name, deps, { maxParallel = Infinity, failFast = true, stepExtra = () => ({}) } = {}) {
  const retry = wf.resolveRetry();
  return {
    name,
    inputs: { required: [], optional: [] },
    maxParallel,
    failFast,
    appliedOverrides: {},
    steps: deps.map((d, i) => ({
      id: `s${i}`,
      template: 'noop',
      dependsOn: d.map((j) => `s${j}`),
      skip: false,
      retry,
      continueOnError: false,
      context: {},
      ...stepExtra(i),
    })),
  };
}

function topoOrder(deps) {
  const n = deps.length;
  const indeg = deps.map((d) => d.length);
  const out = deps.map(() => []);
  deps.forEach((d, i) => d.forEach((j) => out[j].push(i)));
  const q = [];
  for (let i = 0; i < n; i++) if (indeg[i] === 0) q.push(i);
  for (let h = 0; h < q.length; h++) for (const w of out[q[h]]) if (--indeg[w] === 0) q.push(w);
  return { order: q, dependents: out };
}

const noopHost = { renderTemplate: async () => '', renderString: (s) => s };
const fmt = (x, d = 2) => x.toFixed(d);

// ------------------------------------------------------------------ 1. overhead

async function overhead() {
  const N = 10_000;
  const deps = randomDag(N, 42, { maxDeps: 3, window: 50 });
  const { order } = topoOrder(deps);
  const executor = wf.renderExecutor;
  const engine = new wf.WorkflowEngine({ host: noopHost, historyLimit: 1 });
  const results = [];
  for (const k of [8, Infinity]) {
    const comp = resolved('overhead', deps, { maxParallel: k });
    const engineRun = async () => {
      const t = performance.now();
      const r = await engine.executeResolved(comp, {}).done;
      if (r.status !== 'succeeded') throw new Error(`overhead run ${r.status}`);
      return performance.now() - t;
    };
    const baseline = async () => {
      const t = performance.now();
      const limit = pLimit(k);
      const done = new Array(N);
      const ctl = new AbortController();
      for (const i of order) {
        done[i] = limit(async () => {
          await Promise.all(deps[i].map((j) => done[j]));
          const prompt = await noopHost.renderTemplate('noop', {}, { signal: ctl.signal });
          return executor.execute({ prompt, signal: ctl.signal });
        });
      }
      await Promise.all(done);
      return performance.now() - t;
    };
    // Warm both paths up, then alternate so that GC and JIT affect them alike.
    for (let i = 0; i < 2; i++) {
      await engineRun();
      await baseline();
    }
    const e = [];
    const b = [];
    for (let i = 0; i < (quick ? 3 : 11); i++) {
      e.push(await engineRun());
      b.push(await baseline());
    }
    results.push({ k, eMin: Math.min(...e), eMed: median(e), bMin: Math.min(...b), bMed: median(b) });
  }
  // Best-of measures the code; the median shows what a busy machine adds (both paths alike).
  console.log('\n1. Engine overhead: 10,000-step random DAG of no-op steps, 11 alternating runs of each');
  console.log('   max_parallel | engine µs/step best / median | p-limit loop µs/step best / median | ratio best / median');
  for (const r of results) {
    const us = (ms) => fmt((ms * 1000) / N);
    console.log(`   ${String(r.k).padStart(12)} | ${us(r.eMin).padStart(14)} / ${us(r.eMed).padEnd(13)} | ${us(r.bMin).padStart(20)} / ${us(r.bMed).padEnd(13)} | ${fmt(r.eMin / r.bMin)}x / ${fmt(r.eMed / r.bMed)}x`);
  }
  const worst = Math.max(...results.map((r) => (r.eMin * 1000) / N));
  const worstMed = Math.max(...results.map((r) => (r.eMed * 1000) / N));
  console.log(`   target <= 20 µs/step: ${worst <= 20 ? 'met' : 'NOT MET'} (worst best-of ${fmt(worst)} µs, worst median ${fmt(worstMed)} µs)`);
  return results;
}

// ------------------------------------------------------------------ 2. scheduling quality

/**
 * A step's latency: a plain timer. (Spin-polling the last milliseconds for precision was
 * tried: on a loaded machine the spinning competes for the CPU and overshoots more.)
 */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function criticalPath(deps, lat) {
  const { order } = topoOrder(deps);
  const finish = new Float64Array(deps.length);
  let cp = 0;
  for (const i of order) {
    let s = 0;
    for (const j of deps[i]) s = Math.max(s, finish[j]);
    finish[i] = s + lat[i];
    cp = Math.max(cp, finish[i]);
  }
  return cp;
}

/**
 * Zero-overhead list scheduling on k machines. `priority`: null = first-ready (FIFO by the
 * time and order steps became ready), else larger first, ties by lower index (as the engine).
 */
function simulate(deps, lat, k, priority) {
  const n = deps.length;
  const { dependents } = topoOrder(deps);
  const remaining = deps.map((d) => d.length);
  const ready = [];
  for (let i = 0; i < n; i++) if (remaining[i] === 0) ready.push(i);
  const running = []; // [end, i]
  let t = 0;
  let done = 0;
  while (done < n) {
    while (running.length < k && ready.length) {
      let pick = 0;
      if (priority) for (let x = 1; x < ready.length; x++) if (priority[ready[x]] > priority[ready[pick]] || (priority[ready[x]] === priority[ready[pick]] && ready[x] < ready[pick])) pick = x;
      const i = ready.splice(pick, 1)[0];
      running.push([t + lat[i], i]);
    }
    running.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const [end, i] = running.shift();
    t = end;
    done++;
    for (const d of dependents[i]) if (--remaining[d] === 0) ready.push(d);
  }
  return t;
}

function remainingPath(deps, weight) {
  const { order, dependents } = topoOrder(deps);
  const r = new Float64Array(deps.length);
  for (let x = order.length - 1; x >= 0; x--) {
    const v = order[x];
    let best = 0;
    for (const w of dependents[v]) best = Math.max(best, r[w]);
    r[v] = best + weight[v];
  }
  return r;
}

async function scheduling() {
  console.log('\n2. Scheduling quality: 200-step random DAGs, steps of 5-50 ms (real time)');
  console.log('   LB = max(critical path, work / k). "sim" = ideal zero-overhead list scheduling of the same DAG and policy, with the');
  console.log('   nominal latencies, and (actual) with the step durations that occurred in the measured run, which leaves only the');
  console.log('   engine\'s dispatch overhead; on a loaded machine timers and preemption stretch the steps themselves.');
  console.log('   dag | k | crit.path | work/k | first-ready sim/LB | crit-path sim/LB | engine ms | engine/sim | engine/sim (actual) | engine/LB');
  const rows = [];
  const seeds = quick ? [7] : [7, 8, 9];
  for (const seed of seeds) {
    const deps = randomDag(200, seed, { maxDeps: 3, window: 30 });
    const r = rng(seed * 101);
    const lat = deps.map(() => 5 + r() * 45);
    const total = lat.reduce((a, b) => a + b, 0);
    const cp = criticalPath(deps, lat);
    const executor = {
      name: 'render',
      execute: (req) => sleep(lat[Number(req.stepId.slice(1))]).then(() => req.stepId),
    };
    for (const k of [Infinity, 4, 8]) {
      const engine = new wf.WorkflowEngine({ host: noopHost, executors: new wf.ExecutorRegistry([executor]) });
      const comp = resolved(`dag${seed}`, deps, { maxParallel: k });
      const timed = async () => {
        const t = performance.now();
        const res = await engine.executeResolved(comp, {}).done;
        if (res.status !== 'succeeded') throw new Error(res.status);
        return { ms: performance.now() - t, res };
      };
      // The engine weighs paths by the medians it has measured: one run to learn them,
      // and the simulation uses the very weights the measured run starts with.
      if (k !== Infinity) await timed();
      const learned = deps.map((_, i) => engine.metrics.stepP50(comp.name, `s${i}`) ?? 1);
      const { ms: real, res } = await timed();
      const actual = res.steps.map((x) => x.durationMs);
      const lb = Math.max(cp, total / k);
      const prio = remainingPath(deps, learned);
      const simFifo = k === Infinity ? cp : simulate(deps, lat, k, null);
      const simCp = k === Infinity ? cp : simulate(deps, lat, k, prio);
      const simActual = k === Infinity ? criticalPath(deps, actual) : simulate(deps, actual, k, prio);
      const row = { seed, k, cp, fifoLb: simFifo / lb, cpLb: simCp / lb, real, realSim: real / simCp, realSimActual: real / simActual, realLb: real / lb };
      rows.push(row);
      console.log(
        `   ${String(seed).padStart(3)} | ${k === Infinity ? '∞' : k} | ${fmt(cp, 1).padStart(9)} | ${k === Infinity ? '     -' : fmt(total / k, 0).padStart(6)} | ${fmt(row.fifoLb, 3).padStart(18)} | ${fmt(row.cpLb, 3).padStart(16)} | ${fmt(real, 1).padStart(9)} | ${fmt(row.realSim, 3).padStart(10)} | ${fmt(row.realSimActual, 3).padStart(19)} | ${fmt(row.realLb, 3).padStart(9)}`,
      );
    }
  }
  const worst = (pred, key) => Math.max(...rows.filter(pred).map((r) => r[key]));
  const unb = (r) => r.k === Infinity;
  const bnd = (r) => r.k !== Infinity;
  const verdict = (x) => (x <= 1.05 ? 'met' : 'NOT MET');
  console.log(`   unbounded vs critical path (target <= 1.05x): nominal worst ${fmt(worst(unb, 'realSim'), 3)}x, actual durations worst ${fmt(worst(unb, 'realSimActual'), 3)}x: ${verdict(worst(unb, 'realSimActual'))}`);
  console.log(`   max_parallel k vs simulation of the same policy (target <= 1.05x): nominal worst ${fmt(worst(bnd, 'realSim'), 3)}x, actual durations worst ${fmt(worst(bnd, 'realSimActual'), 3)}x: ${verdict(worst(bnd, 'realSimActual'))}`);
  console.log(`   policy vs LB (simulated): first-ready worst ${fmt(worst(bnd, 'fifoLb'), 3)}x, critical-path worst ${fmt(worst(bnd, 'cpLb'), 3)}x`);
  return rows;
}

// ------------------------------------------------------------------ 3. concurrent runs

async function concurrentRuns() {
  const RUNS = 1000;
  const HISTORY = 200;
  // bench/generate.mjs's composition shape: step s depends on s-1 and s-3; max_parallel 3.
  const deps = Array.from({ length: 10 }, (_, s) => (s === 0 ? [] : [s - 1, ...(s > 2 ? [s - 3] : [])]));
  const r = rng(1234);
  const executor = {
    name: 'render',
    async execute(req) {
      await new Promise((res) => setTimeout(res, Math.floor(r() * 4)));
      // Some attempts fail: steps 3 and 7 retry, step 5 may fail for good (continue_on_error).
      const s = Number(req.stepId.slice(1));
      if ((s === 3 || s === 7) && req.attempt === 1 && r() < 0.3) throw new Error('flaky');
      if (s === 5 && r() < 0.1) throw new Error('broken');
      return `${req.stepId}:${req.attempt}`;
    },
  };
  const engine = new wf.WorkflowEngine({ host: noopHost, executors: new wf.ExecutorRegistry([executor]), historyLimit: HISTORY });
  const comp = resolved('ten', deps, {
    maxParallel: 3,
    stepExtra: (i) => ({
      ...(i === 3 || i === 7 ? { retry: wf.resolveRetry({ maxAttempts: 3, initialIntervalMs: 1 }) } : {}),
      ...(i === 5 ? { continueOnError: true } : {}),
    }),
  });

  const check = (res) => {
    const failed = res.steps.some((s) => s.status === 'failed' || (s.status === 'skipped' && s.skipReason === 'upstream'));
    const expected = failed ? 'partial' : 'succeeded';
    if (res.status !== expected) return `status ${res.status}, expected ${expected}`;
    for (const [i, s] of res.steps.entries()) {
      if (!['succeeded', 'failed'].includes(s.status)) return `step ${s.id} ${s.status}`;
      for (const j of deps[i]) if (s.startedAt < res.steps[j].finishedAt) return `step ${s.id} started before ${res.steps[j].id} finished`;
      if (s.status === 'succeeded' && res.outputs[s.id] !== s.output) return `output of ${s.id} missing`;
    }
    return null;
  };

  const round = async () => {
    const t = performance.now();
    const runs = Array.from({ length: RUNS }, () => engine.executeResolved(comp, {}));
    const peakActive = engine.activeRuns;
    const results = await Promise.all(runs.map((x) => x.done));
    const ms = performance.now() - t;
    const problems = results.map(check).filter(Boolean);
    const byStatus = {};
    for (const x of results) byStatus[x.status] = (byStatus[x.status] ?? 0) + 1;
    gc();
    return { ms, peakActive, problems, byStatus, history: engine.historySize, heapMB: process.memoryUsage().heapUsed / 2 ** 20 };
  };
  gc();
  const before = process.memoryUsage().heapUsed / 2 ** 20;
  const rounds = [];
  for (let i = 0; i < (quick ? 2 : 3); i++) rounds.push(await round());
  console.log(`\n3. ${RUNS} concurrent runs of a 10-step composition (max_parallel 3, retries, continue_on_error), history limit ${HISTORY}`);
  console.log(`   heap before: ${fmt(before, 1)} MB`);
  rounds.forEach((x, i) => {
    console.log(
      `   round ${i + 1}: ${fmt(x.ms, 0)} ms, ${x.peakActive} running at once, statuses ${JSON.stringify(x.byStatus)}, inconsistent ${x.problems.length}, history ${x.history}, heap after GC ${fmt(x.heapMB, 1)} MB`,
    );
  });
  if (rounds.some((x) => x.problems.length)) console.log('   problems:', rounds.flatMap((x) => x.problems).slice(0, 5));
  const m = engine.getMetrics().compositions.ten;
  console.log(`   metrics: runs ${m.total}, p50 ${fmt(m.durationMs.p50, 1)} ms, p95 ${fmt(m.durationMs.p95, 1)} ms, retries ${m.retries}`);
  return rounds;
}

if (wanted('overhead')) await overhead();
if (wanted('scheduling')) await scheduling();
if (wanted('concurrent')) await concurrentRuns();
