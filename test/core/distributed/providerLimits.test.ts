/**
 * A provider's limits, as composition_rules.yaml's `providers:` sets them, hold across every
 * worker of the distributed back end: two workers (each its own BullMQ workers and Redis
 * connections) share one redis-server of the test's own. `max_concurrency` and
 * `requests_per_minute` are the provider queue's global concurrency and rate limit,
 * `tokens_per_minute` a time kept in Redis and corrected by the answer's usage, and a 429 with
 * `Retry-After` pauses the provider for every worker, the refused call sent back without using
 * one of the step's attempts (as in-process: README "Provider limits and alerts").
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PromptManager } from '../../../core/manager/promptManager.js';
import { createWorkflowWorker, type WorkflowWorker } from '../../../core/manager/workflowWorker.js';
import type { StepExecutor } from '../../../core/workflow/executors.js';
import { PromptError } from '../../../core/errors.js';
import { redisMissingReason, startRedis, type TestRedis } from '../../helpers/redisServer.js';

const unavailable = redisMissingReason();
if (unavailable) console.log(`# the distributed provider-limit tests are skipped: ${unavailable}`);

/** composition_rules.yaml with one provider `llm` whose settings are `limits` (YAML flow-map entries), and `steps` parallel steps calling it. */
function rules(limits: string, steps: number): string {
  return `version: 1
providers:
  llm: { type: mockllm${limits ? `, ${limits}` : ''} }
compositions:
  burst:
    fail_fast: false
    steps:
${Array.from({ length: steps }, (_, i) => `      - { id: s${i}, template: ask, model: llm }\n`).join('')}`;
}

interface Call {
  start: number;
  end: number;
  worker: number;
}

test('on the bullmq back end a wrong run limit is refused as in-process, before connecting', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-limits-'));
  try {
    fs.mkdirSync(path.join(dir, 'templates'));
    fs.writeFileSync(path.join(dir, 'composition_rules.yaml'), rules('max_concurrency: 2', 1));
    fs.writeFileSync(path.join(dir, 'templates', 'ask.hbs'), 'question {{n}}');
    // No Redis listens on this port: the limits are checked first.
    const backend = { type: 'bullmq' as const, connection: { url: 'redis://127.0.0.1:9' } };
    await assert.rejects(PromptManager.create({ root: dir, watch: false, workflow: { backend, maxConcurrentRuns: 0 } }), /maxConcurrentRuns must be a whole number from 1 up, not 0/);
    await assert.rejects(PromptManager.create({ root: dir, watch: false, workflow: { backend, maxConcurrentRuns: 2, maxQueuedRuns: -1 } }), /maxQueuedRuns must be a whole number from 0 up, not -1/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe('provider limits across workers', { skip: unavailable ?? false }, () => {
  let redis: TestRedis;
  const dirs: string[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  /**
   * Two workers of 4 jobs each, whose mock model takes `ms` (or fails as `fail` says for the
   * n-th call, counted across both workers) and reports `usage` tokens; one run of `burst`.
   */
  async function run(prefix: string, yaml: string, ms: number, opts: { fail?: (call: number) => PromptError | undefined; usage?: number } = {}) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-limits-'));
    dirs.push(dir);
    fs.mkdirSync(path.join(dir, 'templates'));
    fs.writeFileSync(path.join(dir, 'composition_rules.yaml'), yaml);
    fs.writeFileSync(path.join(dir, 'templates', 'ask.hbs'), 'question {{n}}');
    let active = 0;
    let maxActive = 0;
    const calls: Call[] = [];
    const mock = (worker: number): StepExecutor => ({
      name: 'mockllm',
      async execute(req) {
        const call: Call = { start: Date.now(), end: 0, worker };
        calls.push(call);
        const n = calls.length;
        maxActive = Math.max(maxActive, ++active);
        await new Promise((r) => setTimeout(r, ms));
        active--;
        call.end = Date.now();
        const e = opts.fail?.(n);
        if (e) throw e;
        if (opts.usage !== undefined) req.reportUsage?.({ totalTokens: opts.usage });
        return `answer to ${req.prompt}`;
      },
    });
    const workers: WorkflowWorker[] = [];
    for (let i = 0; i < 2; i++) {
      workers.push(await createWorkflowWorker({ root: dir, connection: { url: redis.url }, prefix, concurrency: 4, executors: [mock(i)], managerOptions: { watch: false } }));
    }
    const m = await PromptManager.create({ root: dir, watch: false, workflow: { backend: { type: 'bullmq', connection: { url: redis.url }, prefix }, executors: [mock(-1)] } });
    try {
      const r = await m.executeWorkflow('burst', { n: 1 });
      return { r, maxActive, calls: calls.sort((a, b) => a.start - b.start) };
    } finally {
      await m.close();
      for (const w of workers) await w.close(2000);
    }
  }

  test('max_concurrency: never more calls in flight than the provider allows, whatever the workers could take', async () => {
    const { r, maxActive, calls } = await run('conc', rules('max_concurrency: 2', 8), 150);
    assert.equal(r.status, 'succeeded');
    assert.equal(maxActive, 2, `8 workers' slots, 2 calls at most (saw ${maxActive})`);
    assert.ok(calls.every((c) => c.worker >= 0), 'the workers made every call, the starting process none');
    const free = await run('free', rules('', 8), 150);
    assert.ok(free.maxActive > 2, `without the limit the two workers run more at once (${free.maxActive})`);
  });

  test('requests_per_minute: starts are spaced evenly across the workers, never in a burst', async () => {
    // 40 a minute: one every 1.5 s (a window BullMQ would take from a worker's own limiter, were one set).
    const { r, calls } = await run('rate', rules('requests_per_minute: 40', 4), 10);
    assert.equal(r.status, 'succeeded');
    const starts = calls.map((c) => c.start);
    for (let i = 0; i + 1 < starts.length; i++) assert.ok(starts[i + 1]! - starts[i]! >= 1400, `two calls ${starts[i + 1]! - starts[i]!} ms apart, at most 40 a minute allows 1,500`);
  });

  test("tokens_per_minute: the answer's usage corrects the estimate for the calls after it, on every worker", async () => {
    // 600 tokens a minute: 100 ms a token. "question 1" is estimated at 3 tokens (300 ms); the
    // answers say 10 (1 s): the calls are spaced by what the answers said.
    const { r, calls } = await run('tokens', rules('tokens_per_minute: 600', 4), 10, { usage: 10 });
    assert.equal(r.status, 'succeeded');
    const span = calls.at(-1)!.start - calls[0]!.start;
    assert.ok(span >= 2700, `4 calls of 10 reported tokens at 600 a minute take 3 s or more (estimates alone: 0.9 s), took ${span} ms`);
  });

  test('a 429 with Retry-After pauses the provider for every worker; the refused call goes again without using an attempt', async () => {
    const tooMany = (call: number) => (call === 1 ? new PromptError('provider_error', 'slow down', { status: 429, retryAfterMs: 1500 }) : undefined);
    const { r, calls } = await run('throttle', rules('max_concurrency: 2', 6), 20, { fail: tooMany });
    assert.equal(r.status, 'succeeded', 'the step that met the 429 has no retry policy, and succeeded all the same: the 429 used no attempt');
    assert.ok(r.steps.every((s) => s.attempts === 1 && s.errors.length === 0), JSON.stringify(r.steps.map((s) => [s.id, s.attempts, s.errors.length])));
    const refusedAt = calls[0]!.end;
    const later = calls.filter((c) => c.start > refusedAt);
    assert.equal(later.length + calls.filter((c) => c.start <= refusedAt).length, 7, '6 steps, one of them called twice');
    for (const c of later) assert.ok(c.start - refusedAt >= 1400, `worker ${c.worker} started a call ${c.start - refusedAt} ms after the 429, within its Retry-After of 1,500 ms`);
  });
});
