/**
 * `maxConcurrentRuns` and `maxQueuedRuns` on the BullMQ back end hold for the whole deployment:
 * two starting managers on one Redis prefix share one limit (never two runs at once with a
 * limit of 1, counted by the executor), the runs past it wait `pending` with a `workflow.queued`
 * event and start first come first served whichever process ends the run before them, a full
 * queue refuses with the in-process engine's error, a waiting run can be cancelled, and a slot
 * is the run's in Redis: its timeout gives it up, and a starter killed or closed while its run
 * runs leaks nothing. And `probes` on the BullMQ back end feed the starting manager's health,
 * and leave a provider alone while the workers' calls to it run.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { isPromptError } from '../../../core/errors.js';
import { PromptManager } from '../../../core/manager/promptManager.js';
import { createWorkflowWorker, type WorkflowWorker } from '../../../core/manager/workflowWorker.js';
import type { StepExecutor } from '../../../core/workflow/executors.js';
import type { WorkflowEvent, WorkflowRun } from '../../../core/workflow/types.js';
import { REPO } from '../../helpers/paths.js';
import { redisMissingReason } from '../../helpers/redisServer.js';
import { redisWorkspace } from '../../helpers/distributedFixture.js';

const unavailable = redisMissingReason();
if (unavailable) console.log(`# the distributed run-limit and probe tests are skipped: ${unavailable}`);

const RULES = `version: 1
compositions:
  pair:
    steps:
      - { id: a, template: step }
      - { id: b, template: step, depends_on: [a] }
  timed:
    timeout_ms: 700
    steps:
      - { id: a, template: step }
`;

/** Records, in this process, which runs have a step executing: the most at once, and the order runs first executed. */
function overlapExecutor() {
  const active = new Map<string, number>();
  const rec = { most: 0, firstStarts: [] as string[], executed: [] as string[] };
  const executor: StepExecutor = {
    name: 'render',
    async execute(req) {
      if (!rec.firstStarts.includes(req.runId)) rec.firstStarts.push(req.runId);
      rec.executed.push(`${req.runId}.${req.stepId}`);
      active.set(req.runId, (active.get(req.runId) ?? 0) + 1);
      rec.most = Math.max(rec.most, active.size);
      try {
        const ms = Number(((req.context.delays ?? {}) as Record<string, unknown>)[req.stepId] ?? 100);
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(resolve, ms);
          req.signal.addEventListener('abort', () => (clearTimeout(t), reject(req.signal.reason)), { once: true });
        });
        return req.prompt;
      } finally {
        const n = active.get(req.runId)! - 1;
        if (n) active.set(req.runId, n);
        else active.delete(req.runId);
      }
    },
  };
  return { executor, rec };
}

async function eventsOf(run: WorkflowRun): Promise<string[]> {
  const out: string[] = [];
  for await (const e of run) out.push(trace(e));
  return out;
}

function trace(e: WorkflowEvent): string {
  if (e.type === 'workflow.queued') return `workflow.queued ${e.position}`;
  if (e.type === 'workflow.finished') return `workflow.finished ${e.status}`;
  if (e.type === 'step.finished') return `step.finished ${e.stepId} ${e.status}`;
  if (e.type === 'step.started') return `step.started ${e.stepId}`;
  return e.type;
}

async function until(ready: () => Promise<boolean> | boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('the run limit across starting processes', { skip: unavailable ?? false }, () => {
  const fx = redisWorkspace('pm-slots-', RULES);
  let n = 0;

  const starter = (prefix: string, limits: { maxConcurrentRuns?: number; maxQueuedRuns?: number }) =>
    PromptManager.create({ root: fx.dir, watch: false, workflow: { backend: { type: 'bullmq', connection: { url: fx.redis.url }, prefix }, ...limits } });
  const worker = (prefix: string, executor: StepExecutor): Promise<WorkflowWorker> =>
    createWorkflowWorker({ root: fx.dir, connection: { url: fx.redis.url }, prefix, concurrency: 4, executors: [executor], managerOptions: { watch: false } });
  /** A worker and two starting processes sharing one run limit; `close` ends all three. */
  const deployment = async (prefix: string, limits: { maxConcurrentRuns: number; maxQueuedRuns?: number }, executor: StepExecutor) => {
    const w = await worker(prefix, executor);
    const a = await starter(prefix, limits);
    const b = await starter(prefix, limits);
    return { a, b, close: async () => (await a.close(), await b.close(), await w.close(2000)) };
  };

  test('two starters, one limit: never two runs at once, first come first served, the waiting runs pending with their place', async () => {
    const prefix = `fifo${++n}`;
    const { executor, rec } = overlapExecutor();
    const { a, b, close } = await deployment(prefix, { maxConcurrentRuns: 1, maxQueuedRuns: 10 }, executor);
    try {
      const runs: WorkflowRun[] = [];
      for (let i = 0; i < 5; i++) runs.push(await (i % 2 ? b : a).startWorkflow('pair', { name: `r${i}`, delays: { a: 150, b: 150 } }, { workflowId: `r${i}` }));
      // Read from the other starter: the state is in Redis.
      const statuses = await Promise.all(runs.map((r, i) => (i % 2 ? a : b).getWorkflowStatus(r.id)));
      assert.deepEqual(statuses.map((s) => s!.status), ['running', 'pending', 'pending', 'pending', 'pending']);
      assert.deepEqual(statuses[4]!.steps.map((s) => s.status), ['pending', 'pending']);
      assert.ok(statuses[4]!.queuedMs! >= 0);
      assert.deepEqual(runs.map((r) => r.status().status), ['running', 'pending', 'pending', 'pending', 'pending']);
      assert.match(a.getMetrics({ format: 'prometheus' }), /promptmanager_workflow_runs_queued 4\n/, 'a saw 4 waiting at its last start, its own included');
      const results = await Promise.all(runs.map((r) => r.done));
      assert.deepEqual(results.map((r) => r.status), ['succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded']);
      assert.equal(rec.most, 1, 'one run at a time across both starters');
      assert.deepEqual(rec.firstStarts, ['r0', 'r1', 'r2', 'r3', 'r4'], 'started in the order they were started');
      assert.equal(results[0]!.queuedMs, undefined, 'the first never waited');
      for (const r of results.slice(1)) {
        assert.ok(r.queuedMs! >= 250, `${r.id} waited ${r.queuedMs} ms`);
        assert.ok(r.durationMs! >= r.queuedMs! + 250, 'its duration counts the wait');
      }
      assert.deepEqual(await eventsOf(runs[3]!), ['workflow.queued 3', 'workflow.started', 'step.started a', 'step.finished a succeeded', 'step.started b', 'step.finished b succeeded', 'workflow.finished succeeded']);
      assert.deepEqual(await eventsOf(runs[0]!), ['workflow.started', 'step.started a', 'step.finished a succeeded', 'step.started b', 'step.finished b succeeded', 'workflow.finished succeeded']);
      const status = await b.getWorkflowStatus('r4');
      assert.equal(status!.status, 'succeeded');
      assert.equal(status!.queuedMs, results[4]!.queuedMs);
      await until(() => /promptmanager_workflow_runs_running 0\n[^]*promptmanager_workflow_runs_queued 0\n/.test(b.getMetrics({ format: 'prometheus' })), 'the gauges read the empty queue');
    } finally {
      await close();
    }
  });

  test('a full queue refuses as in-process (limit_exceeded, both limits named); a run cancelled while it waits never starts', async () => {
    const prefix = `full${++n}`;
    const { executor, rec } = overlapExecutor();
    const { a, b, close } = await deployment(prefix, { maxConcurrentRuns: 1, maxQueuedRuns: 1 }, executor);
    try {
      const first = await a.startWorkflow('pair', { name: 'first', delays: { a: 600, b: 100 } }, { workflowId: 'first' });
      const waiting = await b.startWorkflow('pair', { name: 'waiting' }, { workflowId: 'waiting' });
      await assert.rejects(
        a.startWorkflow('pair', { name: 'refused' }, { workflowId: 'refused' }),
        (e: unknown) => isPromptError(e) && e.code === 'limit_exceeded' && /^composition "pair" was not started: 1 runs are running \(maxConcurrentRuns 1\) and 1 are waiting \(maxQueuedRuns 1\); try again when a run has ended, or raise the limits$/.test(e.message),
      );
      assert.equal(await b.getWorkflowStatus('refused'), undefined, 'a refused run is never created');
      assert.match(a.getMetrics({ format: 'prometheus' }), /promptmanager_workflow_runs_refused_total 1\n/);
      assert.match(b.getMetrics({ format: 'prometheus' }), /promptmanager_workflow_runs_refused_total 0\n/, 'refusals are counted by the process that refused');
      // Cancelled from the other starter while it waits: it ends at once, and its place is free.
      assert.equal(await a.cancelWorkflow('waiting', 'not needed'), true);
      const r = await waiting.done;
      assert.equal(r.status, 'cancelled');
      assert.equal(r.error!.message, 'not needed');
      assert.deepEqual(r.steps.map((s) => s.status), ['cancelled', 'cancelled']);
      assert.ok(r.queuedMs! >= 0);
      assert.deepEqual(await eventsOf(waiting), ['workflow.queued 1', 'workflow.finished cancelled']);
      const next = await a.startWorkflow('pair', { name: 'next' }, { workflowId: 'next' });
      assert.equal((await b.getWorkflowStatus('next'))!.status, 'pending');
      assert.equal((await first.done).status, 'succeeded');
      assert.equal((await next.done).status, 'succeeded');
      assert.equal(await a.cancelWorkflow('waiting'), false, 'it has ended');
      assert.deepEqual(rec.firstStarts, ['first', 'next'], 'the cancelled and the refused runs never ran');
      assert.equal(rec.most, 1);
    } finally {
      await close();
    }
  });

  test('a run that times out gives its slot up; the run after it, its timeout counting from its start, runs its course', async () => {
    const prefix = `timeout${++n}`;
    const { executor, rec } = overlapExecutor();
    const { a, b, close } = await deployment(prefix, { maxConcurrentRuns: 1 }, executor);
    try {
      const stuck = await a.startWorkflow('timed', { name: 'stuck', delays: { a: 60_000 } }, { workflowId: 'stuck' });
      const after = await b.startWorkflow('timed', { name: 'after', delays: { a: 50 } }, { workflowId: 'after' });
      assert.equal((await a.getWorkflowStatus('after'))!.status, 'pending');
      const s = await stuck.done;
      assert.equal(s.status, 'timed_out');
      const r = await after.done;
      assert.equal(r.status, 'succeeded', JSON.stringify(r.error));
      assert.ok(r.queuedMs! >= 600, `it waited ${r.queuedMs} ms, most of its own timeout_ms of 700, and still ran`);
      assert.deepEqual(rec.firstStarts, ['stuck', 'after']);
      assert.equal(rec.most, 1);
    } finally {
      await close();
    }
  });

  test('a starter killed, or closed, while its run runs leaks no slot: another process\'s run starts when that run ends', async () => {
    const prefix = `kill${++n}`;
    const { executor, rec } = overlapExecutor();
    const w = await worker(prefix, executor);
    try {
      const script = `
        const { PromptManager } = require(${JSON.stringify(path.join(REPO, 'dist', 'core.js'))});
        (async () => {
          const m = await PromptManager.create({ root: ${JSON.stringify(fx.dir)}, watch: false, workflow: { maxConcurrentRuns: 1, backend: { type: 'bullmq', connection: { url: ${JSON.stringify(fx.redis.url)} }, prefix: ${JSON.stringify(prefix)} } } });
          const run = await m.startWorkflow('pair', { name: 'orphan', delays: { a: 500, b: 500 } }, { workflowId: 'orphan' });
          process.stdout.write('started ' + (await m.getWorkflowStatus(run.id)).status + '\\n');
          setInterval(() => {}, 1000);
        })().catch((e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });
      `;
      const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      const line = await new Promise<string>((resolve, reject) => {
        child.stdout!.on('data', (d) => String(d).includes('started') && resolve(String(d).trim()));
        child.on('exit', (code) => reject(new Error(`the starter exited (${code}) before starting its run`)));
      });
      assert.equal(line, 'started running');
      child.kill('SIGKILL');
      const b = await starter(prefix, { maxConcurrentRuns: 1 });
      try {
        const mine = await b.startWorkflow('pair', { name: 'mine', delays: { a: 50, b: 50 } }, { workflowId: 'mine' });
        assert.equal((await b.getWorkflowStatus('mine'))!.status, 'pending', 'the orphan still holds the slot');
        const r = await mine.done;
        assert.equal(r.status, 'succeeded');
        assert.equal((await b.getWorkflowStatus('orphan'))!.status, 'succeeded', 'the orphan ran to its end on the workers');
        assert.deepEqual(rec.firstStarts, ['orphan', 'mine']);
        assert.equal(rec.most, 1);

        // Closed rather than killed: the same.
        const c = await starter(prefix, { maxConcurrentRuns: 1 });
        const closing = await c.startWorkflow('pair', { name: 'closing', delays: { a: 300, b: 50 } }, { workflowId: 'closing' });
        await c.close();
        const later = await b.startWorkflow('pair', { name: 'later' }, { workflowId: 'later' });
        assert.equal((await b.getWorkflowStatus(later.id))!.status, 'pending');
        assert.equal((await later.done).status, 'succeeded');
        assert.equal((await b.getWorkflowStatus(closing.id))!.status, 'succeeded');
        assert.deepEqual(rec.firstStarts, ['orphan', 'mine', 'closing', 'later']);
        assert.equal(rec.most, 1);
      } finally {
        await b.close();
      }
    } finally {
      await w.close(2000);
    }
  });

  test('probes on the BullMQ back end: the starting manager probes its providers and its health reads them', async () => {
    let mode: 'up' | 'down' = 'up';
    const probes: string[] = [];
    const server: Server = createServer((req, res) => {
      probes.push(`${req.method} ${req.url}`);
      if (mode === 'down') {
        res.writeHead(503).end('unavailable');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: [{ id: 'm' }, { id: 'other' }] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-probes-'));
    fs.mkdirSync(path.join(ws, 'templates'));
    fs.writeFileSync(path.join(ws, 'templates', 'ask.hbs'), 'Ask');
    fs.writeFileSync(
      path.join(ws, 'composition_rules.yaml'),
      `version: 1
providers:
  llm: { type: openai-compatible, base_url: "http://127.0.0.1:${port}/v1", model: m }
compositions:
  ask:
    steps:
      - { id: ask, template: ask, model: llm }
`,
    );
    const prefix = `probes${++n}`;
    const m = await PromptManager.create({ root: ws, watch: false, workflow: { backend: { type: 'bullmq', connection: { url: fx.redis.url }, prefix }, probes: { intervalMs: 1000, timeoutMs: 5000 } } });
    // The workers' model client: a call that holds until released.
    let release!: () => void;
    let calling = false;
    const held = new Promise<void>((r) => (release = r));
    const w = await createWorkflowWorker({
      root: ws,
      connection: { url: fx.redis.url },
      prefix,
      executors: [{ name: 'openai-compatible', execute: async () => ((calling = true), await held, 'answer') }],
      managerOptions: { watch: false },
    });
    try {
      assert.equal(m.workflowBackend, 'bullmq');
      const providers = () => m.healthCheck().components.providers;
      await until(() => providers().reason.includes('probe ok'), 'the first probe');
      assert.deepEqual(providers(), { status: 'healthy', reason: 'provider llm: no API key, probe ok (2 models listed)' });
      assert.equal(probes[0], 'GET /v1/models');
      // While a worker's call to the provider runs, its calls say more: no probe.
      const run = await m.startWorkflow('ask');
      await until(() => calling, 'the call on the worker');
      // A probe already on its way when the call began may still arrive.
      await new Promise((r) => setTimeout(r, 500));
      const before = probes.length;
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(probes.length, before, 'no probe while the provider\'s queue has a job running');
      release();
      assert.equal((await run.done).status, 'succeeded');
      await until(() => probes.length > before, 'probes again once the queue is idle');
      mode = 'down';
      await until(() => providers().status !== 'healthy', 'a failed probe');
      // The worker's call, older than the probe, is told once the fleet's figures have been read.
      assert.equal(providers().status, 'degraded');
      assert.match(providers().reason, /^provider llm: no API key, the last probe failed \(server error\)(, 1 call, the last succeeded)?$/);
    } finally {
      release();
      await m.close();
      await w.close(2000);
      await new Promise((r) => server.close(r));
      fs.rmSync(ws, { recursive: true, force: true });
    }
    const count = probes.length;
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(probes.length, count, 'close stops the probes');
  });
});
