/**
 * A limit on concurrent runs, with a queue: a run past `maxConcurrentRuns` is `pending` with a
 * `workflow.queued` event, starts when a run ends (first come, first served), can be read and
 * cancelled while it waits; its timeout counts from its start; a full queue refuses with
 * `limit_exceeded`. On the fake clock, in the engine and through the manager.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock } from '../../../core/clock.js';
import { isPromptError } from '../../../core/errors.js';
import { createTesting } from '../../../core/manager/factory.js';
import { createMockExecutor, mock } from '../../../core/workflow/mockExecutor.js';
import { composition, finish, loadRules, makeEngine, trace } from './helpers.js';

const RULES = loadRules(`version: 1
compositions:
  two:
    steps:
      - { id: a, template: t/a }
      - { id: b, template: t/b, depends_on: [a] }
  timed:
    timeout_ms: 50
    steps:
      - { id: a, template: t/a }
`);

function setup(limits: { maxConcurrentRuns?: number; maxQueuedRuns?: number }) {
  const env = makeEngine(limits);
  const start = (name = 'two') => env.engine.execute(composition(RULES, name), RULES.defaults, {});
  return { ...env, start };
}

describe('concurrent runs', () => {
  test('past maxConcurrentRuns a run waits, pending with an event, and starts first come first served', async () => {
    const { engine, clock, start, events } = setup({ maxConcurrentRuns: 2, maxQueuedRuns: 5 });
    const runs = [start(), start(), start(), start()];
    assert.deepEqual(runs.map((r) => r.status().status), ['running', 'running', 'pending', 'pending']);
    assert.deepEqual(runs[3]!.status().steps.map((s) => s.status), ['pending', 'pending']);
    assert.deepEqual(engine.runQueue(), { running: 2, queued: 2, refused: 0, maxConcurrentRuns: 2, maxQueuedRuns: 5 });
    assert.deepEqual(engine.listRuns().map((r) => r.status), ['running', 'running', 'pending', 'pending']);
    const of = (id: string) => trace(events.filter((e) => e.runId === id));
    assert.deepEqual(of('run-3'), ['workflow.queued 1']);
    assert.deepEqual(of('run-4'), ['workflow.queued 2']);
    await clock.advance(15);
    assert.equal(engine.getStatus('run-3')!.queuedMs, 15);
    for (const r of runs) await finish(clock, r);
    // Two at a time: runs 1 and 2 take 20 ms (two steps of 10), then runs 3 and 4.
    const results = await Promise.all(runs.map((r) => r.done));
    assert.deepEqual(results.map((r) => r.status), ['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    assert.deepEqual(results.map((r) => r.queuedMs), [undefined, undefined, 20, 20]);
    assert.deepEqual(results.map((r) => r.durationMs), [20, 20, 40, 40]);
    assert.deepEqual(of('run-3'), ['workflow.queued 1', 'workflow.started', 'step.started a', 'step.finished a succeeded', 'step.started b', 'step.finished b succeeded', 'workflow.finished succeeded']);
    assert.deepEqual(engine.runQueue(), { running: 0, queued: 0, refused: 0, maxConcurrentRuns: 2, maxQueuedRuns: 5 });
  });

  test('a full queue refuses at once with limit_exceeded, saying the limits', () => {
    const { start, engine } = setup({ maxConcurrentRuns: 1, maxQueuedRuns: 1 });
    start();
    start();
    assert.throws(
      () => start(),
      (e: unknown) => isPromptError(e) && e.code === 'limit_exceeded' && /1 runs are running \(maxConcurrentRuns 1\) and 1 are waiting \(maxQueuedRuns 1\)/.test(e.message),
    );
    assert.equal(engine.runQueue().refused, 1);
    const none = setup({ maxConcurrentRuns: 1, maxQueuedRuns: 0 });
    none.start();
    assert.throws(() => none.start(), /limit_exceeded|maxQueuedRuns 0/);
  });

  test('a waiting run can be cancelled: it ends at once, steps cancelled, and never starts', async () => {
    const { engine, clock, start, events, executor } = setup({ maxConcurrentRuns: 1 });
    const first = start();
    const waiting = start();
    await clock.advance(5);
    assert.equal(engine.cancel(waiting.id, 'not needed'), true);
    const r = await waiting.done;
    assert.equal(r.status, 'cancelled');
    assert.equal(r.queuedMs, 5);
    assert.deepEqual(r.steps.map((s) => s.status), ['cancelled', 'cancelled']);
    assert.deepEqual(trace(events.filter((e) => e.runId === waiting.id)), ['workflow.queued 1', 'workflow.finished cancelled']);
    await finish(clock, first);
    assert.equal(executor.calls.length, 2, 'only the first run\'s steps ran');
    assert.deepEqual(engine.runQueue().queued, 0);
  });

  test('a run\'s timeout counts from its start, not from when it was queued', async () => {
    const { clock, start } = setup({ maxConcurrentRuns: 1 });
    const before = [start('two'), start('two'), start('two')];
    const timed = start('timed');
    for (const r of [...before, timed]) await finish(clock, r);
    const r = await timed.done;
    assert.equal(r.status, 'succeeded', 'waited 60 ms in the queue, then ran 10 ms of its 50');
    assert.equal(r.queuedMs, 60);
    assert.equal(r.durationMs, 70);
  });

  test('the limits are checked', () => {
    assert.throws(() => makeEngine({ maxConcurrentRuns: 0 }), /maxConcurrentRuns must be a whole number from 1 up, not 0/);
    assert.throws(() => makeEngine({ maxQueuedRuns: -1 }), /maxQueuedRuns must be a whole number from 0 up/);
  });

  test('through the manager: startWorkflow queues, getWorkflowStatus and cancelWorkflow work on a queued run, a full queue rejects', async () => {
    const clock = new FakeClock();
    const model = createMockExecutor({ otherwise: mock.reply('done', { delayMs: 100 }) });
    const pm = await createTesting({
      clock,
      templates: { ask: 'Ask {{q}}' },
      compositionRules: {
        providers: { llm: { type: 'openai-compatible', base_url: 'http://127.0.0.1:9/v1', model: 'm' } },
        compositions: { ask: { steps: [{ id: 'ask', template: 'ask', model: 'llm' }] } },
      },
      workflow: { executors: [model], maxConcurrentRuns: 1, maxQueuedRuns: 1 },
    });
    const first = await pm.startWorkflow('ask', { q: '1' });
    const second = await pm.startWorkflow('ask', { q: '2' });
    assert.equal(pm.getWorkflowStatus(second.id)!.status, 'pending');
    await assert.rejects(pm.startWorkflow('ask', { q: '3' }), (e: unknown) => isPromptError(e) && e.code === 'limit_exceeded');
    assert.equal(pm.cancelWorkflow(second.id, 'changed my mind'), true);
    assert.equal((await second.done).status, 'cancelled');
    const third = await pm.startWorkflow('ask', { q: '3' });
    assert.equal(pm.getWorkflowStatus(third.id)!.status, 'pending');
    await clock.advance(100);
    assert.equal((await first.done).status, 'succeeded');
    await clock.advance(0);
    assert.equal(pm.getWorkflowStatus(third.id)!.status, 'running');
    await clock.advance(100);
    assert.equal((await third.done).output, 'done');
    assert.deepEqual(model.calls.map((c) => c.prompt), ['Ask 1', 'Ask 3']);
    await pm.close();
  });
});
