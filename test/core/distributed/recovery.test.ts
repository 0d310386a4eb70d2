/**
 * The distributed back end across processes: a worker killed with SIGKILL in the middle of a
 * step (another worker takes the step up; no finished step runs again), the starting process
 * killed while its run goes on (a new process attaches to it and gets its result), status and
 * cancellation from another process, and a worker that does not serve the run's configuration.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { PromptManager } from '../../../core/manager/promptManager.js';
import { createWorkflowWorker } from '../../../core/manager/workflowWorker.js';
import { redisMissingReason, startRedis, type TestRedis } from '../../helpers/redisServer.js';
import { executions, recordingExecutor, spawnWorker } from '../../helpers/distributedFixture.js';
import { REPO } from '../../helpers/paths.js';

const unavailable = redisMissingReason();
if (unavailable) console.log(`# the distributed recovery tests are skipped: ${unavailable}`);

const RULES = `version: 1
compositions:
  chain:
    steps:
      - { id: a, template: step }
      - { id: b, template: step, depends_on: [a] }
      - { id: c, template: step, depends_on: [b] }
      - { id: d, template: step, depends_on: [c] }
`;

describe('the distributed back end across processes', { skip: unavailable ?? false }, () => {
  let redis: TestRedis;
  let client: Redis;
  let dir: string;
  let n = 0;

  before(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-dist-'));
    fs.mkdirSync(path.join(dir, 'templates'));
    fs.writeFileSync(path.join(dir, 'composition_rules.yaml'), RULES);
    fs.writeFileSync(path.join(dir, 'templates', 'step.hbs'), 'step of {{name}}');
  });
  after(async () => {
    client?.disconnect();
    await redis?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const starter = (prefix: string, root = dir) => PromptManager.create({ root, watch: false, workflow: { backend: { type: 'bullmq', connection: { url: redis.url }, prefix } } });

  test('a worker killed in the middle of a step: another takes the step up, and no finished step runs again', async () => {
    const prefix = `kill${++n}`;
    const doomed = spawnWorker(dir, redis.url, prefix, 'doomed', { concurrency: 1 });
    await doomed.line(/^ready$/);
    const m = await starter(prefix);
    try {
      const run = await m.startWorkflow('chain', { name: 'x', delays: { b: 60_000 } });
      await doomed.line(new RegExp(`^started ${run.id} b$`));
      doomed.child.kill('SIGKILL');
      await doomed.exited;
      const rescuer = await createWorkflowWorker({ root: dir, connection: { url: redis.url }, prefix, executors: [recordingExecutor(client, prefix, 'rescuer', false)], lockDurationMs: 1000, stalledIntervalMs: 500, managerOptions: { watch: false } });
      try {
        // The rescuer's executor takes no time (it ignores the run's delays).
        const r = await run.done;
        assert.equal(r.status, 'succeeded', JSON.stringify(r.error));
        assert.deepEqual(Object.keys(r.outputs), ['a', 'b', 'c', 'd']);
        const ex = await executions(client, prefix);
        const count = (s: string) => ex.filter((e) => e.step === s).length;
        assert.equal(count('a'), 1, 'a finished before the kill and never ran again');
        assert.equal(count('b'), 2, 'b ran on the doomed worker, then on the rescuer');
        assert.deepEqual(ex.filter((e) => e.step === 'b').map((e) => e.who), ['doomed', 'rescuer']);
        assert.equal(count('c'), 1);
        assert.equal(count('d'), 1);
        for (const s of r.steps) for (const e of ex.filter((x) => x.step === s.id)) assert.ok(e.at <= s.finishedAt!, `${s.id} executed at ${e.at}, after it finished at ${s.finishedAt}`);
      } finally {
        await rescuer.close(2000);
      }
    } finally {
      await m.close();
    }
  });

  test('a worker stopped with SIGTERM finishes its running step before it exits; the next steps go to another worker', async () => {
    const prefix = `term${++n}`;
    const leaving = spawnWorker(dir, redis.url, prefix, 'leaving', { concurrency: 1 });
    await leaving.line(/^ready$/);
    const m = await starter(prefix);
    try {
      const run = await m.startWorkflow('chain', { name: 't', delays: { b: 1500 } });
      await leaving.line(new RegExp(`^started ${run.id} b$`));
      leaving.child.kill('SIGTERM');
      assert.equal(await leaving.exited, 0);
      const done = await executions(client, prefix, 'done');
      assert.deepEqual(done.map((e) => `${e.step}@${e.who}`), ['a@leaving', 'b@leaving'], 'b finished before the worker left');
      const next = await createWorkflowWorker({ root: dir, connection: { url: redis.url }, prefix, executors: [recordingExecutor(client, prefix, 'next', false)], managerOptions: { watch: false } });
      try {
        const r = await run.done;
        assert.equal(r.status, 'succeeded');
        const ex = await executions(client, prefix);
        assert.deepEqual(ex.map((e) => `${e.step}@${e.who}`), ['a@leaving', 'b@leaving', 'c@next', 'd@next']);
      } finally {
        await next.close(2000);
      }
    } finally {
      await m.close();
    }
  });

  test('the starting process killed: the run goes on, and a new process attaches to it and reads its result', async () => {
    const prefix = `restart${++n}`;
    const worker = await createWorkflowWorker({ root: dir, connection: { url: redis.url }, prefix, executors: [recordingExecutor(client, prefix, 'w')], managerOptions: { watch: false } });
    try {
      const script = `
        const { PromptManager } = require(${JSON.stringify(path.join(REPO, 'dist', 'core.js'))});
        (async () => {
          const m = await PromptManager.create({ root: ${JSON.stringify(dir)}, watch: false, workflow: { backend: { type: 'bullmq', connection: { url: ${JSON.stringify(redis.url)} }, prefix: ${JSON.stringify(prefix)} } } });
          const run = await m.startWorkflow('chain', { name: 'y', delays: { a: 300, b: 300 } }, { workflowId: 'survivor' });
          process.stdout.write('started ' + run.id + '\\n');
          setInterval(() => {}, 1000);
        })();
      `;
      const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => child.stdout!.on('data', (d) => String(d).includes('started survivor') && resolve()));
      child.kill('SIGKILL');
      const m = await starter(prefix);
      try {
        const run = await m.attachWorkflow('survivor');
        assert.ok(run, 'the run is found by its id');
        const seen: string[] = [];
        for await (const e of run) seen.push(e.type);
        const r = await run.done;
        assert.equal(r.status, 'succeeded');
        assert.equal(r.outputs.d, 'step of y');
        assert.equal(seen[0], 'workflow.started', 'attached late, it sees the run from its first event');
        const ex = await executions(client, prefix);
        assert.deepEqual(ex.map((e) => e.step), ['a', 'b', 'c', 'd'], 'every step ran once');
      } finally {
        await m.close();
      }
    } finally {
      await worker.close(2000);
    }
  });

  test('status and cancellation from another process: the running step sees the abort', async () => {
    const prefix = `cancel${++n}`;
    const worker = await createWorkflowWorker({ root: dir, connection: { url: redis.url }, prefix, executors: [recordingExecutor(client, prefix, 'w')], managerOptions: { watch: false } });
    const a = await starter(prefix);
    const b = await starter(prefix);
    try {
      const run = await a.startWorkflow('chain', { name: 'z', delays: { b: 60_000 } });
      await new Promise<void>((resolve) => {
        const check = async () => ((await b.getWorkflowStatus(run.id))?.steps[1]?.status === 'running' ? resolve() : setTimeout(check, 20));
        void check();
      });
      const seen = await b.getWorkflowStatus(run.id);
      assert.equal(seen!.outputs.a, 'step of z', 'another process reads the run, outputs and all');
      assert.equal(await b.cancelWorkflow(run.id, 'stopped elsewhere'), true);
      const r = await run.done;
      assert.equal(r.status, 'cancelled');
      assert.equal(r.error!.message, 'stopped elsewhere');
      assert.deepEqual(r.steps.map((s) => s.status), ['succeeded', 'cancelled', 'cancelled', 'cancelled']);
      // The abort reached the executor on the worker: b never recorded an end.
      await new Promise((res) => setTimeout(res, 200));
      assert.deepEqual((await executions(client, prefix, 'done')).map((e) => e.step), ['a']);
      assert.equal(await b.cancelWorkflow(run.id), false, 'it has ended');
    } finally {
      await a.close();
      await b.close();
      await worker.close(2000);
    }
  });

  test('a worker that does not serve the configuration the run started with leaves its steps alone and says why', async () => {
    const prefix = `pin${++n}`;
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-dist-other-'));
    fs.cpSync(dir, other, { recursive: true });
    fs.writeFileSync(path.join(other, 'templates', 'step.hbs'), 'ANOTHER VERSION of {{name}}');
    const stale = await createWorkflowWorker({ root: other, connection: { url: redis.url }, prefix, executors: [recordingExecutor(client, prefix, 'stale')], managerOptions: { watch: false } });
    const m = await starter(prefix);
    try {
      assert.notEqual(stale.pin, m.configurationPin());
      const run = await m.startWorkflow('chain', { name: 'p' });
      let notice: string | undefined;
      for (let i = 0; i < 200 && !notice; i++) {
        notice = (await m.getWorkflowStatus(run.id))?.notice;
        if (!notice) await new Promise((r) => setTimeout(r, 25));
      }
      assert.match(notice ?? '', new RegExp(`waits for a worker that serves the configuration ${m.configurationPin()}.*serves ${stale.pin}`));
      assert.equal((await executions(client, prefix)).length, 0, 'the stale worker rendered nothing');
      const fresh = await createWorkflowWorker({ root: dir, connection: { url: redis.url }, prefix, executors: [recordingExecutor(client, prefix, 'fresh')], managerOptions: { watch: false } });
      try {
        const r = await run.done;
        assert.equal(r.status, 'succeeded');
        assert.equal(r.outputs.d, 'step of p');
        assert.ok((await executions(client, prefix)).every((e) => e.who === 'fresh'));
        assert.equal(r.notice, undefined);
      } finally {
        await fresh.close(2000);
      }
    } finally {
      await m.close();
      await stale.close(2000);
      fs.rmSync(other, { recursive: true, force: true });
    }
  });
});
