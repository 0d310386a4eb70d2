/**
 * Runs started from the editor on the configured back end: with `promptManager.run.backend`
 * `bullmq`, `promptManager/runWorkflow` runs on the workers of the Redis and answers as it does
 * in-process (progress notifications from the run's events, the final status); Redis out of
 * reach refuses runs (saying why) and leaves renders alone; an untrusted workspace runs
 * in-process whatever the settings say.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createWorkflowWorker, type WorkflowWorker } from '../../core/manager/workflowWorker.js';
import { RenderRequest, RunWorkflowRequest, SetTrustNotification, StepProgressNotification, type StepProgressParams } from '../../protocol/protocol.js';
import { redisMissingReason, startRedis, type TestRedis } from '../helpers/redisServer.js';
import { LspClient, writeFiles } from './lsp.js';

const unavailable = redisMissingReason();
if (unavailable) console.log(`# the editor's distributed runs are not tested: ${unavailable}`);

describe('runs from the editor on the BullMQ back end', { skip: unavailable ?? false }, () => {
  let redis: TestRedis;
  let dir: string;
  let worker: WorkflowWorker;
  let jobs = 0;

  before(async () => {
    redis = await startRedis();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-lsp-dist-'));
    writeFiles(dir, {
      'composition_rules.yaml': 'version: 1\ncompositions:\n  c:\n    steps:\n      - { id: a, template: a }\n      - { id: b, template: b, depends_on: [a] }\n',
      'templates/a.hbs': 'A for {{name}}',
      'templates/b.hbs': 'B after {{steps.a.output}}',
    });
    worker = await createWorkflowWorker({ root: dir, connection: { url: redis.url }, managerOptions: { watch: false }, onJob: (kind) => void (kind === 'step' && jobs++) });
  });
  after(async () => {
    await worker?.close(2000);
    await redis?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a run goes to the workers, with its progress and final status as in-process; untrusted, it runs in the server', async () => {
    const c = await LspClient.start({ folders: [dir], settings: { run: { backend: 'bullmq', redisUrl: redis.url } } });
    try {
      const events: StepProgressParams[] = [];
      const d = c.conn.onNotification(StepProgressNotification, (p) => void events.push(p));
      const r = await c.conn.sendRequest(RunWorkflowRequest, { composition: 'c', context: { name: 'ann' }, runId: 'editor-1' });
      d.dispose();
      assert.ok(r.ok, JSON.stringify(r));
      assert.equal(r.status.status, 'succeeded');
      assert.equal(r.status.output, 'B after A for ann');
      assert.equal(jobs, 2, 'both steps ran on the worker');
      assert.deepEqual(
        events.map((e) => `${e.event.type} ${e.event.stepId ?? ''}`.trim()),
        ['workflow.started', 'step.started a', 'step.finished a', 'step.started b', 'step.finished b', 'workflow.finished'],
      );
      await c.conn.sendNotification(SetTrustNotification, { trusted: false });
      const local = await c.conn.sendRequest(RunWorkflowRequest, { composition: 'c', context: { name: 'bo' }, runId: 'editor-2' });
      assert.ok(local.ok && local.status.status === 'succeeded', JSON.stringify(local));
      assert.equal(jobs, 2, 'an untrusted workspace runs nothing on the workers');
    } finally {
      await c.stop();
    }
  });

  test('Redis out of reach: runs are refused with the reason, renders go on', async () => {
    const c = await LspClient.start({ folders: [dir], settings: { run: { backend: 'bullmq', redisUrl: 'redis://127.0.0.1:1' } } });
    try {
      const r = await c.conn.sendRequest(RunWorkflowRequest, { composition: 'c', context: { name: 'ann' } });
      assert.ok(!r.ok);
      assert.match(r.error.message, /cannot connect to Redis at redis:\/\/127\.0\.0\.1:1/);
      const render = await c.conn.sendRequest(RenderRequest, { template: 'a', context: { name: 'ann' } });
      assert.ok(render.ok && render.text === 'A for ann', JSON.stringify(render));
    } finally {
      await c.stop();
    }
  });
});
