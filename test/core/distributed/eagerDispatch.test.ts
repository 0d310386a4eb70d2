/**
 * Eager dispatch on the BullMQ back end: a job whose step makes a render-only step of its run
 * ready runs that step itself, at most `eagerSteps` in a row; provider steps always go through
 * their queue; an eager step's retry becomes a job that goes on counting attempts; a closing
 * worker leaves what follows to the queue. The run's outcome is the same as through the queue.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PromptManager } from '../../../core/manager/promptManager.js';
import { createWorkflowWorker, type WorkflowWorker } from '../../../core/manager/workflowWorker.js';
import { PromptError } from '../../../core/errors.js';
import type { StepExecutor } from '../../../core/workflow/executors.js';
import { redisMissingReason } from '../../helpers/redisServer.js';
import { redisWorkspace } from '../../helpers/distributedFixture.js';

const unavailable = redisMissingReason();
if (unavailable) console.log(`# the eager dispatch tests are skipped: ${unavailable}`);

const chain = (n: number, extra: (i: number) => string = () => '') =>
  Array.from({ length: n }, (_, i) => `      - { id: s${i}, template: step${i ? `, depends_on: [s${i - 1}]` : ''}${extra(i)} }`).join('\n');

const RULES = `version: 1
providers:
  llm: { type: mockllm }
compositions:
  chain:
    steps:
${chain(10)}
  mixed:
    steps:
      - { id: a, template: step }
      - { id: b, template: step, model: llm, depends_on: [a] }
      - { id: c, template: step, depends_on: [b] }
  flaky:
    steps:
      - { id: a, template: step }
      - { id: b, template: step, depends_on: [a], retry: { max_attempts: 3, initial_interval_ms: 10 } }
      - { id: c, template: step, depends_on: [b] }
`;

/** A step's id from its index: `s<i>` in `chain`, a, b, c in the others (the run ids start with the composition's name). */
function stepName(runId: string, i: number): string {
  return runId.startsWith('chain') ? `s${i}` : 'abc'[i]!;
}

interface Seen {
  step: string;
  outcome: string;
  eager: boolean;
  who: string;
}

describe('eager dispatch on the bullmq back end', { skip: unavailable ?? false }, () => {
  const fx = redisWorkspace('pm-eager-', RULES);
  let n = 0;

  const mockllm: StepExecutor = { name: 'mockllm', execute: async (req) => `model: ${req.prompt}` };

  async function setUp(opts: { eagerSteps?: number; executors?: StepExecutor[]; workers?: string[] } = {}) {
    const prefix = `eager${++n}`;
    const seen: Seen[] = [];
    const workers: WorkflowWorker[] = [];
    for (const who of opts.workers ?? ['w']) {
      workers.push(
        await createWorkflowWorker({
          root: fx.dir,
          connection: { url: fx.redis.url },
          prefix,
          executors: [mockllm, ...(opts.executors ?? [])],
          ...(opts.eagerSteps !== undefined ? { eagerSteps: opts.eagerSteps } : {}),
          managerOptions: { watch: false },
          onJob: (kind, outcome, job) => void (kind === 'step' && seen.push({ step: stepName(job.runId, job.step!), outcome, eager: job.eager === true, who })),
        }),
      );
    }
    const m = await PromptManager.create({ root: fx.dir, watch: false, workflow: { backend: { type: 'bullmq', connection: { url: fx.redis.url }, prefix }, executors: [mockllm] } });
    return {
      seen,
      m,
      workers,
      async close() {
        await m.close();
        for (const w of workers) await w.close(2000);
      },
    };
  }

  test('a chain of render-only steps runs eagerly, at most eagerSteps in a row, then takes its turn through the queue', async () => {
    const t = await setUp({ eagerSteps: 4 });
    try {
      const r = await t.m.executeWorkflow('chain', { name: 'x' }, { workflowId: `chain-${n}` });
      assert.equal(r.status, 'succeeded', JSON.stringify(r.error));
      assert.equal(Object.keys(r.outputs).length, 10);
      // The run's start job runs s0..s3 itself; s4 goes to the queue, and its job runs s5..s8;
      // s9 through the queue. Reported in the order they ended.
      assert.deepEqual(
        t.seen.map((s) => `${s.step}${s.eager ? '*' : ''}`),
        ['s0*', 's1*', 's2*', 's3*', 's4', 's5*', 's6*', 's7*', 's8*', 's9'],
      );
    } finally {
      await t.close();
    }
  });

  test('eagerSteps 0: every step is a job of its own, with the same result', async () => {
    const t = await setUp({ eagerSteps: 0 });
    try {
      const r = await t.m.executeWorkflow('chain', { name: 'x' }, { workflowId: `chain-${n}` });
      assert.equal(r.status, 'succeeded', JSON.stringify(r.error));
      assert.equal(t.seen.length, 10);
      assert.ok(t.seen.every((s) => !s.eager && s.outcome === 'done'));
    } finally {
      await t.close();
    }
  });

  test('a provider step is never run eagerly: it goes through its provider queue, where its limits hold', async () => {
    const t = await setUp();
    try {
      const r = await t.m.executeWorkflow('mixed', { name: 'x' }, { workflowId: `mixed-${n}` });
      assert.equal(r.status, 'succeeded', JSON.stringify(r.error));
      assert.equal(r.outputs.b, 'model: step of x');
      const b = t.seen.filter((s) => s.step === 'b');
      assert.deepEqual(b.map((s) => [s.eager, s.outcome]), [[false, 'done']]);
      // a ran in the run's start job; c, which b made ready, ran eagerly in b's job.
      assert.deepEqual(t.seen.filter((s) => s.step !== 'b').map((s) => `${s.step}${s.eager ? '*' : ''}`), ['a*', 'c*']);
    } finally {
      await t.close();
    }
  });

  test('an eager step that fails is retried as a job, its attempts counted on from the eager one', async () => {
    let calls = 0;
    const failOnce: StepExecutor = {
      name: 'render',
      execute: async (req) => {
        if (req.stepId === 'b' && ++calls === 1) throw new PromptError('provider_error', 'flaky once', {});
        return req.prompt;
      },
    };
    const t = await setUp({ executors: [failOnce] });
    try {
      const r = await t.m.executeWorkflow('flaky', { name: 'x' }, { workflowId: `flaky-${n}` });
      assert.equal(r.status, 'succeeded', JSON.stringify(r.error));
      const b = r.steps.find((s) => s.id === 'b')!;
      assert.equal(b.attempts, 2, 'the eager attempt and the job\'s are attempts 1 and 2');
      assert.equal(b.errors.length, 1);
      assert.match(String(b.errors[0]!.message), /flaky once/);
      assert.deepEqual(
        t.seen.filter((s) => s.step === 'b').map((s) => [s.eager, s.outcome]),
        [
          [true, 'retry'],
          [false, 'done'],
        ],
      );
    } finally {
      await t.close();
    }
  });

  test('a worker that is closing runs nothing more eagerly: what its step made ready goes to the queue, for another worker', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const bStarted = new Promise<void>((r) => (started = r));
    const slowB: StepExecutor = {
      name: 'render',
      execute: async (req) => {
        if (req.stepId === 's1' && req.context.name === 'closing') {
          started();
          await gate;
        }
        return req.prompt;
      },
    };
    const t = await setUp({ executors: [slowB], workers: ['first'] });
    try {
      const run = await t.m.startWorkflow('chain', { name: 'closing' }, { workflowId: `chain-${n}` });
      await bStarted;
      const closing = t.workers[0]!.close(20_000);
      const second = await createWorkflowWorker({
        root: fx.dir,
        connection: { url: fx.redis.url },
        prefix: `eager${n}`,
        managerOptions: { watch: false },
        onJob: (kind, outcome, job) => void (kind === 'step' && t.seen.push({ step: stepName(job.runId, job.step!), outcome, eager: job.eager === true, who: 'second' })),
      });
      release();
      const r = await run.done;
      await closing;
      await second.close(2000);
      assert.equal(r.status, 'succeeded', JSON.stringify(r.error));
      const first = t.seen.filter((s) => s.who === 'first').map((s) => `${s.step}${s.eager ? '*' : ''}`);
      assert.deepEqual(first, ['s0*', 's1*'], 'the closing worker finished its step and ran nothing after it');
      assert.ok(t.seen.some((s) => s.who === 'second' && s.step === 's2' && !s.eager), 's2 came to the other worker as a job');
      assert.equal(t.seen.filter((s) => s.step === 's9').length, 1);
    } finally {
      await t.m.close();
    }
  });
});
