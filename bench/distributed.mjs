// The distributed back end's figures (npm run bench:distributed): BullMQ over a redis-server of
// its own (Debian's, on a free port, nothing saved), 4 worker processes (bench/distributedWorker.cjs).
//  1. overhead: 10,000 render-only steps (100 runs of a 100-step chain, at most 16 runs at once
//     so that no step waits for a worker slot): per step, the time from its last dependency's
//     end (the run's start for the first) to its own end, the render included; median, p95.
//     Then the same one run at a time (10 runs): a step's latency with nothing queued.
//     Parts 1 and 2 run twice in one go: with eager dispatch (the default) and with every step
//     through the queue (the workers' eagerSteps 0), so that the two compare at the same load.
//  2. a 1,000-step DAG of 50 ms steps (32 layers of up to 32 steps, each depending on 1-3 steps
//     of the layer before) on 4 workers x 8 jobs: the run's time against the bound
//     max(critical path, total work / slots).
//  3. faults: 100 runs (chains of 8 steps of 30-80 ms) started by a child process; during them
//     one worker is killed with SIGKILL and the starting process is killed and started again
//     (it attaches to its runs by id). Every run must complete with every output, and no step
//     run again after it finished (counted from the executions recorded in Redis).
// `--only=overhead,dag,faults` runs some parts; `--lanes=N --runs=N` change part 1's main figure.
// PM_BENCH_PROF=DIR writes the workers' CPU profiles there (node --cpu-prof).
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { COMPOSITION_RULES_FILE } from './configFiles.mjs';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { PromptManager } = require(path.join(root, 'dist', 'core.js'));
const { Redis } = require(path.join(root, 'node_modules', 'ioredis'));
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(',');
const wanted = (p) => !only || only.includes(p);
const arg = (name, dflt) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt);

// ------------------------------------------------------------------ Redis, workspace, workers

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startRedis() {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-bench-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const c = new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: true, maxRetriesPerRequest: null });
  c.on('error', () => undefined);
  for (let i = 0; i < 200; i++) {
    try {
      await c.connect();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { url: `redis://127.0.0.1:${port}`, pid: child.pid, client: c, stop: () => (c.disconnect(), child.kill('SIGTERM'), fs.rmSync(dir, { recursive: true, force: true })) };
}

function workspace(rules) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-bench-ws-'));
  fs.mkdirSync(path.join(dir, 'templates'));
  fs.writeFileSync(path.join(dir, COMPOSITION_RULES_FILE), rules);
  fs.writeFileSync(path.join(dir, 'templates', 'step.hbs'), 'step {{n}}');
  return dir;
}

function worker(dir, url, prefix, who, concurrency, record = false, eager = '') {
  const child = spawn(process.execPath, [...(process.env.PM_BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.PM_BENCH_PROF] : []), ...(process.env.PM_BENCH_HEAPPROF ? ['--heap-prof', '--heap-prof-dir=' + process.env.PM_BENCH_HEAPPROF] : []), path.join(root, 'bench', 'distributedWorker.cjs'), dir, url, prefix, who, String(concurrency), record ? '1' : '0', String(eager)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = new Promise((resolve) => child.stdout.on('data', (d) => String(d).includes('ready') && resolve()));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return { child, ready, exited, who };
}

async function stopAll(ws) {
  for (const w of ws) if (w.child.exitCode === null) w.child.kill('SIGTERM');
  await Promise.all(ws.map((w) => w.exited));
}

const starter = (dir, url, prefix) => PromptManager.create({ root: dir, watch: false, environment: 'production', workflow: { backend: { type: 'bullmq', connection: { url }, prefix } } });

/** CPU milliseconds a process has used (Linux /proc), or NaN. */
function cpuOf(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}
/** CPU of the workers, redis-server and this process, for a part's figures. */
function cpuMeter(ws) {
  const pids = [...ws.map((w) => w.child.pid), redis.pid];
  const before = pids.map(cpuOf);
  const self = process.cpuUsage();
  return () => {
    const mine = process.cpuUsage(self);
    const parts = pids.map((p, i) => cpuOf(p) - before[i]);
    return { workers: parts.slice(0, -1).reduce((a, b) => a + b, 0), redis: parts.at(-1), starter: (mine.user + mine.system) / 1000 };
  };
}
const cpuText = (c, steps) => `CPU per step: workers ${(c.workers / steps).toFixed(2)} ms, redis-server ${(c.redis / steps).toFixed(2)} ms, starter ${(c.starter / steps).toFixed(2)} ms (all ${((c.workers + c.redis + c.starter) / steps).toFixed(2)} ms)`;

function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}
const f1 = (x) => x.toFixed(1);
const load = () => os.loadavg().map((x) => x.toFixed(1)).join(' ');

console.log(`distributed benchmark: ${new Date().toISOString()}, ${os.cpus().length} x ${os.cpus()[0]?.model}, Node ${process.version}, ${spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout.trim()}, load ${load()}`);

const redis = await startRedis();
try {
  // ---------------------------------------------------------------- 1. overhead
  // Each figure twice in this run: with eager dispatch (the default: a job runs the render-only
  // step its step made ready itself) and with every step through the queue (eagerSteps 0).
  const overhead = async (lanes, runs, eager) => {
    const STEPS = 100;
    const steps = Array.from({ length: STEPS }, (_, i) => `      - { id: s${i}, template: step${i ? `, depends_on: [s${i - 1}]` : ''} }`).join('\n');
    const dir = workspace(`version: 1\ncompositions:\n  chain:\n    steps:\n${steps}\n`);
    const prefix = `overhead${lanes}e${eager}`;
    const ws = [0, 1, 2, 3].map((i) => worker(dir, redis.url, prefix, `w${i}`, 4, false, eager));
    await Promise.all(ws.map((w) => w.ready));
    const m = await starter(dir, redis.url, prefix);
    // Warm-up: one run, not counted.
    await m.executeWorkflow('chain', { n: 0 });
    const cpu = cpuMeter(ws);
    const t0 = performance.now();
    const results = [];
    let next = 0;
    const lane = async () => {
      while (next < runs) {
        next++;
        results.push(await m.executeWorkflow('chain', { n: next }));
      }
    };
    await Promise.all(Array.from({ length: lanes }, lane));
    const wall = performance.now() - t0;
    const used = cpu();
    const per = [];
    const inStep = [];
    for (const r of results) {
      if (r.status !== 'succeeded') throw new Error(`run ${r.id}: ${r.status}`);
      let ready = r.startedAt;
      for (const s of r.steps) {
        per.push(s.finishedAt - ready);
        inStep.push(s.durationMs);
        ready = s.finishedAt;
      }
    }
    console.log(
      `overhead, ${eager === 0 ? 'every step through the queue (eagerSteps 0)' : `eager dispatch (eagerSteps ${eager === '' ? 'default' : eager})`}: ${per.length} render-only steps (${runs} runs, ${lanes} at once) on 4 workers in ${f1(wall)} ms (${f1((per.length / wall) * 1000)} steps/s); per step, dependency's end to own end: median ${quantile(per, 0.5).toFixed(2)} ms, p95 ${quantile(per, 0.95).toFixed(2)} ms (claim to finish: median ${quantile(inStep, 0.5).toFixed(2)} ms); ${cpuText(used, per.length)}; load ${load()}`,
    );
    await m.close();
    await stopAll(ws);
  };
  if (wanted('overhead')) {
    const lanes = arg('lanes', 16);
    const runs = arg('runs', 100);
    const rtt = [];
    for (let i = 0; i < 200; i++) {
      const a = performance.now();
      await redis.client.ping();
      rtt.push(performance.now() - a);
    }
    console.log(`a Redis PING: median ${quantile(rtt, 0.5).toFixed(2)} ms`);
    for (const eager of ['', 0]) {
      await overhead(lanes, runs, eager);
      await overhead(1, 10, eager);
    }
  }

  // ---------------------------------------------------------------- 2. 1,000-step DAG
  const dag = async (eager) => {
    const LAYERS = 32;
    const WIDTH = 32;
    const TOTAL = 1000;
    const STEP_MS = 50;
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const lines = [];
    const layerOf = [];
    for (let i = 0; i < TOTAL; i++) {
      const layer = Math.floor(i / WIDTH);
      layerOf.push(layer);
      let deps = [];
      if (layer > 0) {
        const prev = Array.from({ length: WIDTH }, (_, k) => (layer - 1) * WIDTH + k);
        const n = 1 + Math.floor(rand() * 3);
        for (let k = 0; k < n; k++) deps.push(prev[Math.floor(rand() * prev.length)]);
        deps = [...new Set(deps)];
      }
      lines.push(`      - { id: s${i}, template: step${deps.length ? `, depends_on: [${deps.map((d) => `s${d}`).join(', ')}]` : ''} }`);
    }
    const layers = Math.max(...layerOf) + 1;
    const dir = workspace(`version: 1\ncompositions:\n  dag:\n    steps:\n${lines.join('\n')}\n`);
    const prefix = `dag${eager}`;
    const WORKERS = 4;
    const CONC = 8;
    // The reference: the same DAG on the in-process engine, 32 steps at once, in this process.
    const inProcess = eager === 'in-process';
    const ws = inProcess ? [] : Array.from({ length: WORKERS }, (_, i) => worker(dir, redis.url, prefix, `w${i}`, CONC, false, eager));
    await Promise.all(ws.map((w) => w.ready));
    const sleeper = { name: 'render', execute: (req) => new Promise((r) => setTimeout(() => r(req.prompt), Number(req.context.sleep_ms || 0))) };
    const m = inProcess
      ? await PromptManager.create({ root: dir, watch: false, environment: 'production', workflow: { maxParallel: WORKERS * CONC, executors: [sleeper] } })
      : await starter(dir, redis.url, prefix);
    const slots = WORKERS * CONC;
    const critical = layers * STEP_MS;
    const bound = Math.max(critical, (TOTAL * STEP_MS) / slots);
    const times = [];
    // A first run warms the workers (their plan of the 1,000-step graph, the JIT): not counted.
    await m.executeWorkflow('dag', { n: -1, sleep_ms: STEP_MS });
    const cpu = cpuMeter(ws);
    for (let k = 0; k < 3; k++) {
      const r = await m.executeWorkflow('dag', { n: k, sleep_ms: STEP_MS });
      if (r.status !== 'succeeded') throw new Error(`dag: ${r.status} ${JSON.stringify(r.error)}`);
      times.push(r.durationMs);
    }
    const used = cpu();
    console.log(
      `dag, ${inProcess ? 'in-process engine (the reference: one process, max_parallel 32)' : eager === 0 ? 'every step through the queue' : 'eager dispatch'}: ${TOTAL} steps of ${STEP_MS} ms in ${layers} layers${inProcess ? '' : ` on ${WORKERS} workers x ${CONC} jobs`}: ${times.map(f1).join(' / ')} ms (3 runs); bound max(critical path ${critical} ms, work / slots ${f1((TOTAL * STEP_MS) / slots)} ms) = ${f1(bound)} ms; ratio ${times.map((t) => (t / bound).toFixed(3)).join(' / ')} (goal <= 1.1); ${cpuText(used, 3 * TOTAL)}; load ${load()}`,
    );
    await m.close();
    await stopAll(ws);
  };
  if (wanted('dag')) {
    await dag('');
    await dag(0);
    await dag('in-process');
  }

  // ---------------------------------------------------------------- 3. faults
  if (wanted('faults')) {
    const RUNS = 100;
    const STEPS = 8;
    const steps = Array.from({ length: STEPS }, (_, i) => `      - { id: s${i}, template: step${i ? `, depends_on: [s${i - 1}]` : ''} }`).join('\n');
    const dir = workspace(`version: 1\ncompositions:\n  chain:\n    steps:\n${steps}\n`);
    const prefix = 'faults';
    const ws = [0, 1, 2, 3].map((i) => worker(dir, redis.url, prefix, `w${i}`, 4, true));
    await Promise.all(ws.map((w) => w.ready));
    const idsFile = path.join(dir, 'ids.txt');
    const starterScript = `
      const { PromptManager } = require(${JSON.stringify(path.join(root, 'dist', 'core.js'))});
      const fs = require('node:fs');
      (async () => {
        const m = await PromptManager.create({ root: ${JSON.stringify(dir)}, watch: false, workflow: { backend: { type: 'bullmq', connection: { url: ${JSON.stringify(redis.url)} }, prefix: ${JSON.stringify(prefix)} } } });
        for (let i = 0; i < ${RUNS}; i++) {
          const run = await m.startWorkflow('chain', { n: i, sleep_ms: 30 + (i % 6) * 10 }, { workflowId: 'f' + i });
          fs.appendFileSync(${JSON.stringify(idsFile)}, run.id + '\\n');
        }
        process.stdout.write('all started\\n');
        setInterval(() => {}, 1000);
      })();`;
    const first = spawn(process.execPath, ['-e', starterScript], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve) => first.stdout.on('data', (d) => String(d).includes('all started') && resolve()));
    const t0 = Date.now();
    // Mid-run: kill one worker outright, and the starting process.
    await new Promise((r) => setTimeout(r, 400));
    ws[1].child.kill('SIGKILL');
    first.kill('SIGKILL');
    const killedAt = Date.now();
    await new Promise((r) => setTimeout(r, 300));
    // The starting process again: it attaches to its runs by id and waits for them.
    const m = await starter(dir, redis.url, prefix);
    const ids = fs.readFileSync(idsFile, 'utf8').split('\n').filter(Boolean);
    const results = await Promise.all(ids.map(async (id) => (await m.attachWorkflow(id)).done));
    const wall = Date.now() - t0;
    const exec = (await redis.client.lrange(`${prefix}:bench:exec`, 0, -1)).map((s) => JSON.parse(s));
    const done = (await redis.client.lrange(`${prefix}:bench:done`, 0, -1)).map((s) => JSON.parse(s));
    let incomplete = 0;
    let lostOutputs = 0;
    let afterFinish = 0;
    let again = 0;
    let againLost = 0;
    for (const r of results) {
      if (r.status !== 'succeeded') incomplete++;
      for (const s of r.steps) {
        if (r.outputs[s.id] !== `step ${Number(r.id.slice(1))}`) lostOutputs++;
        const runs = exec.filter((e) => e.run === r.id && e.step === s.id);
        if (runs.length > 1) {
          again++;
          // Legitimate only when every run but the last was on the killed worker and never ended there.
          const earlier = runs.slice(0, -1);
          if (earlier.every((e) => e.who === 'w1' && !done.some((d) => d.run === r.id && d.step === s.id && d.who === 'w1'))) againLost++;
        }
        afterFinish += runs.filter((e) => e.at > s.finishedAt).length;
      }
    }
    const byKilled = exec.filter((e) => e.who === 'w1').length;
    console.log(
      `faults: ${results.length} runs of ${STEPS} steps; worker w1 killed (SIGKILL) and the starting process killed and restarted ${killedAt - t0} ms in; all ended after ${wall} ms: ${results.length - incomplete} succeeded, ${incomplete} not; outputs missing or wrong: ${lostOutputs}; step executions ${exec.length} for ${results.length * STEPS} steps (${byKilled} on the killed worker), steps executed more than once: ${again} (of which in flight, unfinished, on the killed worker: ${againLost}), executions of a step after it had finished: ${afterFinish}; load ${load()}`,
    );
    await m.close();
    await stopAll(ws);
  }
} finally {
  redis.stop();
}
process.exit(0);
