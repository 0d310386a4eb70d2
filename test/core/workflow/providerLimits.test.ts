/**
 * Provider limits in the engine, on the fake clock: one admission scheduler for every run,
 * fair between runs and critical path first within one; a 429 slows the whole provider and,
 * under limits, does not use the step's attempts (up to MAX_RATE_LIMIT_REQUEUES); waiting for
 * admission pauses the step's timeout, and cancellation or the run's timeout end it at once;
 * the answer's usage corrects the token budget.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock } from '../../../core/clock.js';
import { PromptError } from '../../../core/errors.js';
import { MAX_RATE_LIMIT_REQUEUES } from '../../../core/workflow/admission.js';
import { ExecutorRegistry, type StepExecutionRequest } from '../../../core/workflow/executors.js';
import { createMockExecutor, mock } from '../../../core/workflow/mockExecutor.js';
import type { WorkflowEngine } from '../../../core/workflow/engine.js';
import { ScriptedExecutor, composition, finish, loadRules, makeEngine, stepOf, trace, type Behaviour } from './helpers.js';

/** A workspace whose provider `llm` (type `scripted`) has `limits`, and whose compositions are `compositions`. */
function rules(limits: string, compositions: string) {
  return loadRules(`version: 1\nproviders:\n  llm:\n    type: scripted\n${limits}compositions:\n${compositions}`);
}

interface Call {
  run: string;
  step: string;
  attempt: number;
  at: number;
}

/** An engine whose provider calls are answered by `script` (10 ms each unless it says otherwise). */
function setup(limits: string, compositions: string, script: (req: StepExecutionRequest, n: number) => Behaviour = () => ({}), opts: { policy?: 'critical-path' | 'first-ready' } = {}) {
  const clock = new FakeClock();
  const calls: Call[] = [];
  const model = new ScriptedExecutor(
    clock,
    (_step, _attempt, req) => {
      calls.push({ run: req.runId, step: req.stepId, attempt: req.attempt, at: clock.now() });
      return script(req, calls.length);
    },
    'scripted',
  );
  const r = rules(limits, compositions);
  const env = makeEngine({
    clock,
    providers: r.providers,
    executors: new ExecutorRegistry([model, new ScriptedExecutor(clock, () => ({ delayMs: 0 }))]),
    ...(opts.policy ? { schedulingPolicy: opts.policy } : {}),
  });
  const start = (name: string, ctx: Record<string, unknown> = {}) => env.engine.execute(composition(r, name), r.defaults, ctx);
  return { ...env, model, calls, start };
}

const fan = (n: number) => `    steps:\n${Array.from({ length: n }, (_, i) => `      - { id: s${i}, template: t/s${i}, model: llm }\n`).join('')}`;

async function settle(clock: FakeClock, runs: { done: Promise<unknown> }[]) {
  let left = runs.length;
  for (const r of runs) void r.done.then(() => left--);
  for (let i = 0; i < 10_000 && left > 0; i++) await clock.runAll(1);
  await Promise.all(runs.map((r) => r.done));
}

const admissionOf = (engine: WorkflowEngine) => engine.getMetrics().providers.llm!.admission;

describe('provider limits in runs', () => {
  test('max_concurrency holds across runs, and the runs take turns', async () => {
    const { clock, model, calls, start, engine } = setup('    max_concurrency: 2\n', `  fan:\n${fan(6)}`);
    const runs = [start('fan'), start('fan'), start('fan')];
    await clock.advance(0);
    assert.deepEqual(admissionOf(engine), { ...admissionOf(engine), queued: 16, inFlight: 2 });
    await settle(clock, runs);
    assert.equal(model.maxActive, 2, 'never more than 2 calls at once, whatever the runs');
    for (const r of runs) assert.equal((await r.done).status, 'succeeded');
    // The first run's first two calls found the slots free; after them the runs are served in turn.
    assert.deepEqual(calls.slice(0, 8).map((c) => c.run), ['run-1', 'run-1', 'run-1', 'run-2', 'run-3', 'run-1', 'run-2', 'run-3']);
    assert.equal(clock.now(), 90, '18 calls of 10 ms on 2 slots');
    const m = admissionOf(engine);
    assert.equal(m.admitted, 18);
    assert.equal(m.queued + m.inFlight, 0);
    assert.equal(m.waitMs.count, 18);
    assert.equal(m.waitMs.max, 80);
  });

  test('within a run, the critical path goes first (first-ready for comparison)', async () => {
    const comp = `  mixed:\n    steps:\n      - { id: x, template: t/x, model: llm }\n      - { id: y, template: t/y, model: llm }\n      - { id: z, template: t/z, model: llm }\n      - { id: a, template: t/a, model: llm }\n      - { id: b, template: t/b, model: llm, depends_on: [a] }\n      - { id: c, template: t/c, model: llm, depends_on: [b] }\n`;
    const cp = setup('    max_concurrency: 1\n', comp);
    await settle(cp.clock, [cp.start('mixed')]);
    // b and c wait behind the calls already queued when they become ready, and go before those of equal or shorter paths.
    assert.deepEqual(cp.calls.map((c) => c.step), ['a', 'x', 'b', 'y', 'z', 'c']);
    const fr = setup('    max_concurrency: 1\n', comp, undefined, { policy: 'first-ready' });
    await settle(fr.clock, [fr.start('mixed')]);
    assert.deepEqual(fr.calls.map((c) => c.step), ['x', 'y', 'z', 'a', 'b', 'c']);
  });

  test('under limits, a 429 pauses the whole provider and is sent again first, without using an attempt', async () => {
    const comp = `  one:\n    steps:\n      - { id: ask, template: t/ask, model: llm }\n`;
    const { clock, calls, start, engine, events } = setup('    max_concurrency: 4\n', comp, (_req, n) => (n === 1 ? { error: new PromptError('provider_error', 'slow down', { status: 429, retryAfterMs: 2000 }) } : {}));
    const first = start('one');
    await clock.advance(100);
    const second = start('one');
    await settle(clock, [first, second]);
    assert.deepEqual(calls.map((c) => `${c.run}:${c.attempt}@${c.at}`), ['run-1:1@0', 'run-1:1@2010', 'run-2:1@2010']);
    const r = await first.done;
    assert.equal(stepOf(r, 'ask').status, 'succeeded');
    assert.equal(stepOf(r, 'ask').attempts, 1, 'the 429 did not use an attempt');
    assert.deepEqual(stepOf(r, 'ask').errors, []);
    assert.ok(!trace(events).some((e) => e.startsWith('step.retrying')), 'no retry: the same attempt was sent again');
    const m = engine.getMetrics().providers.llm!;
    assert.equal(m.admission.requeued, 1);
    assert.equal(m.admission.pauses, 1);
    assert.equal(m.failuresByStatus['429'], 1);
  });

  test(`under limits, the ${MAX_RATE_LIMIT_REQUEUES + 1}th 429 in a row is the attempt's failure, and the retry policy decides`, async () => {
    const comp = `  one:\n    steps:\n      - { id: ask, template: t/ask, model: llm, retry: { max_attempts: 2, initial_interval_ms: 100 } }\n`;
    const { clock, calls, start, events } = setup('    requests_per_minute: 6000\n', comp, () => ({ delayMs: 0, error: new PromptError('provider_error', 'quota', { status: 429 }) }));
    const run = start('one');
    await settle(clock, [run]);
    const r = await run.done;
    const per = MAX_RATE_LIMIT_REQUEUES + 1;
    assert.equal(calls.length, 2 * per);
    assert.deepEqual(calls.map((c) => c.attempt), [...Array(per).fill(1), ...Array(per).fill(2)]);
    assert.equal(stepOf(r, 'ask').status, 'failed');
    assert.equal(stepOf(r, 'ask').attempts, 2);
    assert.equal(stepOf(r, 'ask').errors.length, 2);
    assert.deepEqual(trace(events).filter((e) => e.startsWith('step.retrying')), ['step.retrying ask 1 100']);
    // Without Retry-After the paused provider waited 1, 2, 4, 8, 16 s between the refused calls.
    assert.deepEqual(calls.slice(0, per).map((c) => c.at), [0, 1000, 3000, 7000, 15000, 31000]);
  });

  test('without limits a 429 is the attempt\'s failure as before, and still holds back the other runs\' calls for its Retry-After', async () => {
    const comp = `  one:\n    steps:\n      - { id: ask, template: t/ask, model: llm, retry: { max_attempts: 2 } }\n`;
    const { clock, calls, start } = setup('', comp, (_req, n) => (n === 1 ? { error: new PromptError('provider_error', 'slow down', { status: 429, retryAfterMs: 1000 }) } : {}));
    const first = start('one');
    await clock.advance(100);
    const second = start('one');
    await settle(clock, [first, second]);
    assert.deepEqual(calls.map((c) => `${c.run}:${c.attempt}@${c.at}`), ['run-1:1@0', 'run-2:1@1010', 'run-1:2@1010']);
    assert.equal(stepOf(await first.done, 'ask').attempts, 2);
  });

  test('a 429 whose pause would outlast the run\'s timeout is the attempt\'s failure at once', async () => {
    const comp = `  one:\n    timeout_ms: 1500\n    steps:\n      - { id: ask, template: t/ask, model: llm }\n`;
    const { clock, calls, start } = setup('    max_concurrency: 1\n', comp, () => ({ error: new PromptError('provider_error', 'slow down', { status: 429, retryAfterMs: 5000 }) }));
    const run = start('one');
    await settle(clock, [run]);
    const r = await run.done;
    assert.equal(calls.length, 1);
    assert.equal(r.status, 'failed');
    assert.equal(stepOf(r, 'ask').errors[0]!.status, 429);
    assert.equal(r.durationMs, 10);
  });

  test('cancelling a run, or its timeout, ends its waiting calls at once and frees the queue', async () => {
    const hold = `  hold:\n    steps:\n      - { id: long, template: t/long, model: llm }\n`;
    const waits = `  waits:\n    timeout_ms: 300\n    steps:\n      - { id: w, template: t/w, model: llm }\n`;
    const { clock, start, engine, calls } = setup('    max_concurrency: 1\n', hold + waits + `  cancelled:\n${fan(3)}`, (req) => (req.stepId === 'long' ? { delayMs: 10_000 } : {}));
    const holder = start('hold');
    const timed = start('waits');
    const cancelled = start('cancelled');
    await clock.advance(50);
    assert.equal(admissionOf(engine).queued, 4);
    cancelled.cancel('no longer needed');
    await clock.advance(0);
    const c = await cancelled.done;
    assert.equal(c.status, 'cancelled');
    assert.equal(c.durationMs, 50);
    assert.equal(admissionOf(engine).queued, 1);
    await clock.advance(250);
    const t = await timed.done;
    assert.equal(t.status, 'timed_out');
    assert.equal(t.durationMs, 300);
    assert.equal(admissionOf(engine).queued, 0);
    await finish(clock, holder);
    assert.deepEqual(calls.map((x) => x.step), ['long'], 'no call of a stopped run was ever sent');
    assert.deepEqual(admissionOf(engine), { ...admissionOf(engine), queued: 0, inFlight: 0 });
  });

  test('waiting for admission does not count against the step\'s or the provider\'s timeout_ms', async () => {
    const comp = `  hold:\n    steps:\n      - { id: long, template: t/long, model: llm }\n  quick:\n    steps:\n      - { id: q, template: t/q, model: llm, timeout_ms: 50 }\n`;
    const { clock, start, calls } = setup('    max_concurrency: 1\n    timeout_ms: 40\n', comp, (req) => (req.stepId === 'long' ? { delayMs: 30 } : { delayMs: 20 }));
    const holder = start('hold');
    const runs = [holder, ...Array.from({ length: 5 }, () => start('quick'))];
    await settle(clock, runs);
    for (const r of runs) assert.equal((await r.done).status, 'succeeded');
    assert.deepEqual(calls.map((c) => c.at), [0, 30, 50, 70, 90, 110]);
  });

  test('tokens_per_minute: estimated from the prompt, corrected by the usage the answer reports', async () => {
    const clock = new FakeClock();
    const r = loadRules(`version: 1\nproviders:\n  llm:\n    type: openai-compatible\n    base_url: http://127.0.0.1:9/v1\n    model: m\n    tokens_per_minute: 6000\ncompositions:\n  three:\n${fan(3)}`);
    const model = createMockExecutor({ otherwise: mock.reply('ok', { usage: 50 }) });
    const seen: number[] = [];
    const spy = { name: model.name, execute: (req: StepExecutionRequest) => (seen.push(clock.now()), model.execute(req)) };
    const { engine } = makeEngine({ clock, providers: r.providers, executors: new ExecutorRegistry([spy, new ScriptedExecutor(clock, () => ({ delayMs: 0 }))]), templates: { 't/s0': 'x'.repeat(400), 't/s1': 'x'.repeat(400), 't/s2': 'x'.repeat(400) } });
    const run = engine.execute(composition(r, 'three'), r.defaults, {});
    await finish(clock, run);
    assert.equal((await run.done).status, 'succeeded');
    // 100 tokens estimated at 10 ms a token; each answer says 50: the next call moves up by 500 ms.
    assert.deepEqual(seen, [0, 500, 1000]);
    assert.deepEqual(engine.getMetrics().providers.llm!.admission.tokens, { reported: 150, estimated: 0 });
  });
});
