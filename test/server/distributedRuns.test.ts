/**
 * Runs started from the editor on the configured back end: with `promptManager.run.backend`
 * `bullmq`, `promptManager/runWorkflow` runs on the workers of the Redis and answers as it does
 * in-process (progress notifications from the run's events, the final status), saying where it
 * ran (`backend`, in the result and with the first event); Redis out of
 * reach refuses runs (saying why) and leaves renders alone; an untrusted workspace runs
 * in-process whatever the settings say. Live prompt tests from the Testing view keep the model's
 * answers in that Redis.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createWorkflowWorker, type WorkflowWorker } from '../../core/manager/workflowWorker.js';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { RenderRequest, RunTestsRequest, RunWorkflowRequest, SetTrustNotification, StepProgressNotification, type StepProgressParams } from '../../protocol/protocol.js';
import { FILES, T } from '../core/testing/fixture.js';
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
      // The client is told where it ran: in the result, and with the run's first event.
      const where = { type: 'bullmq', redisUrl: redis.url, prefix: 'promptmanager' };
      assert.deepEqual(r.backend, where);
      assert.deepEqual(events[0]!.backend, where);
      assert.ok(events.slice(1).every((e) => e.backend === undefined), 'only the first event says it');
      assert.deepEqual(
        events.map((e) => `${e.event.type} ${e.event.stepId ?? ''}`.trim()),
        ['workflow.started', 'step.started a', 'step.finished a', 'step.started b', 'step.finished b', 'workflow.finished'],
      );
      await c.conn.sendNotification(SetTrustNotification, { trusted: false });
      const local = await c.conn.sendRequest(RunWorkflowRequest, { composition: 'c', context: { name: 'bo' }, runId: 'editor-2' });
      assert.ok(local.ok && local.status.status === 'succeeded', JSON.stringify(local));
      assert.deepEqual(local.backend, { type: 'in-process' });
      assert.equal(jobs, 2, 'an untrusted workspace runs nothing on the workers');
    } finally {
      await c.stop();
    }
  });

  test("live prompt tests keep the model's answers in the back end's Redis: a second run asks the provider for nothing", async () => {
    let requests = 0;
    const provider = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        requests++;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ choices: [{ message: { content: 'Dear Ada' } }] }));
      });
    });
    await new Promise<void>((r) => provider.listen(0, '127.0.0.1', r));
    const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-lsp-live-'));
    const client = new Redis(redis.url);
    writeFiles(ws, {
      ...FILES,
      'composition_rules.yaml': FILES['composition_rules.yaml']!.replace('http://127.0.0.1:9/v1', `http://127.0.0.1:${(provider.address() as AddressInfo).port}/v1`),
      'prompt_tests.yaml': T(`  live_reply:\n    composition: answer\n    context_file: contexts/ada.json\n    live: true\n    expect:\n      - step: reply\n        contains: Dear Ada\n`),
    });
    const c = await LspClient.start({ folders: [ws], settings: { run: { backend: 'bullmq', redisUrl: redis.url } } });
    try {
      for (let i = 0; i < 2; i++) {
        const r = await c.conn.sendRequest(RunTestsRequest, { live: true, runId: `live-${i}` });
        assert.ok(r.ok, JSON.stringify(r));
        assert.deepEqual(r.report.results.map((t) => [t.id, t.outcome]), [['live_reply', 'passed']]);
      }
      assert.equal(requests, 1, 'the second run answered from the cache');
      assert.equal((await client.keys('promptmanager:responses:*')).length, 1, 'kept in Redis');
      assert.equal(fs.existsSync(path.join(ws, '.promptmanager', 'responses')), false, 'not on disk');
    } finally {
      await c.stop();
      client.disconnect();
      await new Promise<void>((r) => provider.close(() => r()));
      fs.rmSync(ws, { recursive: true, force: true });
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
