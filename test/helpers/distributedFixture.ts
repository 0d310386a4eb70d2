/**
 * Processes for the distributed back end's tests and benchmarks: a worker in a child process
 * (to kill with SIGKILL, or stop with SIGTERM) whose executor records every execution in Redis,
 * so that a test counts, across processes, how often each step ran and when.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before } from 'node:test';
import { REPO } from './paths.js';
import { startRedis, type TestRedis } from './redisServer.js';
import type { StepExecutor } from '../../core/workflow/executors.js';

/**
 * For a suite: a redis-server of its own, and a workspace whose composition_rules.yaml is
 * `rules` and whose `templates/step.hbs` renders `step of {{name}}`; both gone after it.
 */
export function redisWorkspace(tmpPrefix: string, rules: string): { readonly redis: TestRedis; readonly dir: string } {
  const fx = {} as { redis: TestRedis; dir: string };
  before(async () => {
    fx.redis = await startRedis();
    fx.dir = fs.mkdtempSync(path.join(os.tmpdir(), tmpPrefix));
    fs.mkdirSync(path.join(fx.dir, 'templates'));
    fs.writeFileSync(path.join(fx.dir, 'composition_rules.yaml'), rules);
    fs.writeFileSync(path.join(fx.dir, 'templates', 'step.hbs'), 'step of {{name}}');
  });
  after(async () => {
    await fx.redis?.stop();
    if (fx.dir) fs.rmSync(fx.dir, { recursive: true, force: true });
  });
  return fx;
}

/**
 * The executor both the child workers and a test's own workers use: it records the execution
 * (`PREFIX:exec`, JSON `{ run, step, at, who }`), waits `context.delays[step]` ms (aborted by
 * the attempt's signal), records the end (`PREFIX:done`) and answers the prompt.
 */
export const RECORDING_EXECUTOR_SOURCE = `
function recordingExecutor(redis, prefix, who, onStart) {
  return {
    name: 'render',
    async execute(req) {
      await redis.rpush(prefix + ':exec', JSON.stringify({ run: req.runId, step: req.stepId, at: Date.now(), who }));
      if (onStart) onStart(req);
      const ms = Number((req.context.delays || {})[req.stepId] || 0);
      await new Promise((resolve, reject) => {
        const t = setTimeout(resolve, ms);
        req.signal.addEventListener('abort', () => { clearTimeout(t); reject(req.signal.reason); }, { once: true });
      });
      await redis.rpush(prefix + ':done', JSON.stringify({ run: req.runId, step: req.stepId, at: Date.now(), who }));
      return req.prompt;
    },
  };
}
`;

const WORKER_SCRIPT = `
const { createWorkflowWorker } = require(${JSON.stringify(path.join(REPO, 'dist', 'core.js'))});
const { Redis } = require(${JSON.stringify(path.join(REPO, 'node_modules', 'ioredis'))});
${RECORDING_EXECUTOR_SOURCE}
const [dir, url, prefix, who, concurrency, lockMs, stalledMs] = process.argv.slice(2);
(async () => {
  const redis = new Redis(url);
  const executor = recordingExecutor(redis, prefix, who, (req) => process.stdout.write('started ' + req.runId + ' ' + req.stepId + '\\n'));
  const w = await createWorkflowWorker({ root: dir, connection: { url }, prefix, concurrency: Number(concurrency), executors: [executor], lockDurationMs: Number(lockMs), stalledIntervalMs: Number(stalledMs), managerOptions: { watch: false } });
  process.stdout.write('ready\\n');
  process.on('SIGTERM', async () => { await w.close(10000); redis.disconnect(); process.exit(0); });
})().catch((e) => { process.stderr.write(String(e && e.stack || e) + '\\n'); process.exit(1); });
`;

export interface ChildWorker {
  child: ChildProcess;
  lines: string[];
  /** Resolves when a stdout line matches. */
  line(re: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<number | null>;
}

let scriptFile: string | undefined;

export function spawnWorker(dir: string, url: string, prefix: string, who: string, opts: { concurrency?: number; lockMs?: number; stalledMs?: number } = {}): ChildWorker {
  if (!scriptFile) {
    scriptFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pm-worker-')), 'worker.cjs');
    fs.writeFileSync(scriptFile, WORKER_SCRIPT);
  }
  const child = spawn(process.execPath, [scriptFile, dir, url, prefix, who, String(opts.concurrency ?? 4), String(opts.lockMs ?? 1000), String(opts.stalledMs ?? 500)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  let buf = '';
  child.stdout!.on('data', (d) => {
    buf += String(d);
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      lines.push(l);
      for (const w of [...waiters]) if (w.re.test(l)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(l));
    }
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    child,
    lines,
    exited,
    line(re, timeoutMs = 30_000) {
      const seen = lines.find((l) => re.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`worker ${who}: no line ${re} within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
        waiters.push({ re, resolve: (l) => (clearTimeout(t), resolve(l)) });
        void exited.then((code) => reject(new Error(`worker ${who} exited (${code}) before ${re}; stderr: ${stderr}`)));
      });
    },
  };
}

/** The same recording executor, for a worker in the test's own process. */
export function recordingExecutor(redis: { rpush(k: string, v: string): Promise<unknown> }, prefix: string, who: string, useDelays = true): StepExecutor {
  return {
    name: 'render',
    async execute(req) {
      await redis.rpush(`${prefix}:exec`, JSON.stringify({ run: req.runId, step: req.stepId, at: Date.now(), who }));
      const ms = useDelays ? Number(((req.context.delays ?? {}) as Record<string, unknown>)[req.stepId] ?? 0) : 0;
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, ms);
        req.signal.addEventListener('abort', () => (clearTimeout(t), reject(req.signal.reason)), { once: true });
      });
      await redis.rpush(`${prefix}:done`, JSON.stringify({ run: req.runId, step: req.stepId, at: Date.now(), who }));
      return req.prompt;
    },
  };
}

export interface Execution {
  run: string;
  step: string;
  at: number;
  who: string;
}

export async function executions(redis: { lrange(k: string, a: number, b: number): Promise<string[]> }, prefix: string, which: 'exec' | 'done' = 'exec'): Promise<Execution[]> {
  return (await redis.lrange(`${prefix}:${which}`, 0, -1)).map((s) => JSON.parse(s) as Execution);
}
