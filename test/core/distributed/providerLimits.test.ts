/**
 * A provider's limits hold across every worker of the distributed back end: `max_concurrency`
 * (BullMQ's global concurrency of the provider's queue) and `requests_per_minute` (its global
 * rate limit), with two workers in this process sharing one Redis.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PromptManager } from '../../../core/manager/promptManager.js';
import { createWorkflowWorker, type WorkflowWorker } from '../../../core/manager/workflowWorker.js';
import type { StepExecutor } from '../../../core/workflow/executors.js';
import type { ProviderOverrides } from '../../../core/manager/engineWorkflowPort.js';
import { PromptError } from '../../../core/errors.js';
import { redisMissingReason, startRedis, type TestRedis } from '../../helpers/redisServer.js';

const unavailable = redisMissingReason();
if (unavailable) console.log(`# the distributed provider-limit tests are skipped: ${unavailable}`);

const STEPS = 8;
const RULES = `version: 1
providers:
  llm: { type: mockllm }
compositions:
  burst:
    steps:
${Array.from({ length: STEPS }, (_, i) => `      - { id: s${i}, template: ask, model: llm }\n`).join('')}  burst_on:
    fail_fast: false
    steps:
${Array.from({ length: 3 }, (_, i) => `      - { id: s${i}, template: ask, model: llm }\n`).join('')}`;

describe('provider limits across workers', { skip: unavailable ?? false }, () => {
  let redis: TestRedis;
  let dir: string;
  before(async () => {
    redis = await startRedis();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-limits-'));
    fs.mkdirSync(path.join(dir, 'templates'));
    fs.writeFileSync(path.join(dir, 'composition_rules.yaml'), RULES);
    fs.writeFileSync(path.join(dir, 'templates', 'ask.hbs'), 'question {{n}}');
  });
  after(async () => {
    await redis?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Two workers of 4 jobs each, a mock model that takes `ms` (or fails as `fail` says), and what it saw. */
  async function run(prefix: string, limits: ProviderOverrides[string], ms: number, fail?: (call: number) => PromptError | undefined, composition = 'burst') {
    let active = 0;
    let maxActive = 0;
    const starts: number[] = [];
    const mock: StepExecutor = {
      name: 'mockllm',
      async execute(req) {
        starts.push(Date.now());
        const call = starts.length;
        maxActive = Math.max(maxActive, ++active);
        await new Promise((r) => setTimeout(r, ms));
        active--;
        const e = fail?.(call);
        if (e) throw e;
        return `answer to ${req.prompt}`;
      },
    };
    const workers: WorkflowWorker[] = [];
    for (let i = 0; i < 2; i++) {
      workers.push(await createWorkflowWorker({ root: dir, connection: { url: redis.url }, prefix, concurrency: 4, executors: [mock], providerOverrides: { llm: limits }, managerOptions: { watch: false } }));
    }
    const m = await PromptManager.create({ root: dir, watch: false, workflow: { backend: { type: 'bullmq', connection: { url: redis.url }, prefix }, executors: [mock] } });
    try {
      const r = await m.executeWorkflow(composition, { n: 1 });
      return { r, maxActive, starts };
    } finally {
      await m.close();
      for (const w of workers) await w.close(2000);
    }
  }

  test('max_concurrency: never more calls in flight than the provider allows, whatever the workers could take', async () => {
    const { r, maxActive } = await run('conc', { maxConcurrency: 2 }, 150);
    assert.equal(r.status, 'succeeded');
    assert.equal(maxActive, 2, `8 workers' slots, 2 calls at most (saw ${maxActive})`);
    const free = await run('free', {}, 150);
    assert.ok(free.maxActive > 2, `without the limit the two workers run more at once (${free.maxActive})`);
  });

  test('requests_per_minute: starts are spread out across the workers', async () => {
    // 120 a minute: 2 a second.
    const { r, starts: unsorted } = await run('rate', { requestsPerMinute: 120 }, 10);
    const starts = unsorted.sort((a, b) => a - b);
    assert.equal(r.status, 'succeeded');
    // BullMQ counts in fixed windows: two windows' worth can meet at a boundary, never more.
    for (let i = 0; i + 4 < starts.length; i++) assert.ok(starts[i + 4]! - starts[i]! >= 900, `5 calls within ${starts[i + 4]! - starts[i]!} ms`);
    assert.ok(starts.at(-1)! - starts[0]! >= 2700, `8 calls at 2 a second take 3 s or more, took ${starts.at(-1)! - starts[0]!} ms`);
  });

  test('a 429 pauses the provider for every worker until its Retry-After', async () => {
    const { r, starts } = await run('throttle', { maxConcurrency: 1 }, 20, (call) => (call === 1 ? new PromptError('provider_error', 'slow down', { status: 429, retryAfterMs: 1500 }) : undefined), 'burst_on');
    assert.equal(r.status, 'partial', 'the step that met the 429 has no retry policy: it failed');
    assert.ok(starts[1]! - starts[0]! >= 1400, `the next call started ${starts[1]! - starts[0]!} ms after the 429, within its Retry-After of 1,500 ms`);
  });
});
