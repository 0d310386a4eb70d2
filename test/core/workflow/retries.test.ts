import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock } from '../../../core/clock.js';
import { PromptError } from '../../../core/errors.js';
import { ScriptedExecutor, composition, finish, loadRules, makeEngine, stepOf, trace } from './helpers.js';

function one(stepYaml: string, head = ''): ReturnType<typeof loadRules> {
  return loadRules(`version: 1
compositions:
  c:
${head}    steps:
      - id: a
        template: t/a
${stepYaml}`);
}

const fail = (code: ConstructorParameters<typeof PromptError>[0], details: ConstructorParameters<typeof PromptError>[2] = {}) => new PromptError(code, `${code}!`, details);

describe('retries', () => {
  test('waits min(initial * coefficient^(n-1), max) between attempts', async () => {
    const rules = one('        retry: { max_attempts: 4, initial_interval_ms: 100, backoff_coefficient: 3, max_interval_ms: 500 }\n');
    const clock = new FakeClock();
    const executor = new ScriptedExecutor(clock, (_id, attempt) => (attempt < 4 ? { error: fail('provider_error', { status: 500 }) } : { output: 'ok' }));
    const { engine, events } = makeEngine({ clock, executor });
    const r = await finish(clock, engine.execute(composition(rules, 'c'), rules.defaults, {}));
    assert.equal(r.status, 'succeeded');
    assert.deepEqual(
      events.filter((e) => e.type === 'step.retrying').map((e) => e.type === 'step.retrying' && e.waitMs),
      [100, 300, 500],
    );
    // Each attempt takes 10 ms: 0-10, wait 100, 110-120, wait 300, 420-430, wait 500, 930-940.
    assert.deepEqual(executor.calls.map((c) => c.start), [0, 110, 420, 930]);
    const a = stepOf(r, 'a');
    assert.equal(a.attempts, 4);
    assert.equal(a.errors.length, 3);
    assert.equal(a.output, 'ok');
    assert.equal(a.durationMs, 940);
  });

  test('max_interval_ms defaults to 100 x initial_interval_ms; defaults and step retry merge field by field', async () => {
    const rules = loadRules(`version: 1
defaults:
  retry: { initial_interval_ms: 10, backoff_coefficient: 10 }
compositions:
  c:
    steps:
      - id: a
        template: t/a
        retry: { max_attempts: 5 }
`);
    const clock = new FakeClock();
    const executor = new ScriptedExecutor(clock, () => ({ error: fail('timeout') }));
    const { engine, events } = makeEngine({ clock, executor });
    const r = await finish(clock, engine.execute(composition(rules, 'c'), rules.defaults, {}));
    assert.deepEqual(
      events.filter((e) => e.type === 'step.retrying').map((e) => e.type === 'step.retrying' && e.waitMs),
      [10, 100, 1000, 1000],
    );
    assert.equal(r.status, 'failed');
    assert.equal(stepOf(r, 'a').attempts, 5);
  });
});

describe('timeouts', () => {
  test('a per-attempt timeout aborts the attempt, retries, and discards the late answer', async () => {
    const rules = one('        timeout_ms: 50\n        retry: { max_attempts: 2, initial_interval_ms: 10 }\n');
    const clock = new FakeClock();
    const executor = new ScriptedExecutor(clock, (_id, attempt) => (attempt === 1 ? { delayMs: 100, output: 'late', ignoreAbort: true } : { delayMs: 20, output: 'fresh' }));
    const { engine } = makeEngine({ clock, executor });
    const run = engine.execute(composition(rules, 'c'), rules.defaults, {});
    const r = await finish(clock, run);
    await clock.advance(200); // let the ignored first attempt answer late
    assert.equal(executor.lateResults, 1);
    const a = stepOf(engine.getStatus(run.id)!, 'a');
    assert.equal(a.status, 'succeeded');
    assert.equal(a.output, 'fresh');
    assert.equal(a.errors[0]!.code, 'timeout');
    assert.deepEqual(executor.calls.map((c) => [c.start, c.outcome]), [
      [0, 'aborted'],
      [60, 'ok'],
    ]);
    assert.equal(r.outputs.a, 'fresh');
    assert.equal(engine.getMetrics().compositions.c!.timeouts, 1);
  });

  test('the run timeout ends the run timed_out and keeps finished outputs', async () => {
    const rules = loadRules(`version: 1
compositions:
  c:
    timeout_ms: 100
    steps:
      - { id: a, template: t/a }
      - { id: b, template: t/b, depends_on: [a] }
      - { id: c, template: t/c, depends_on: [b] }
`);
    const clock = new FakeClock();
    const executor = new ScriptedExecutor(clock, (id) => (id === 'a' ? { delayMs: 50 } : { delayMs: 100, ignoreAbort: true }));
    const { engine, events } = makeEngine({ clock, executor });
    const run = engine.execute(composition(rules, 'c'), rules.defaults, {});
    const r = await finish(clock, run);
    assert.equal(r.status, 'timed_out');
    assert.equal(r.durationMs, 100);
    assert.equal(r.error!.code, 'timeout');
    assert.deepEqual(r.outputs, { a: 'out:a' });
    assert.equal(stepOf(r, 'b').status, 'failed');
    assert.equal(stepOf(r, 'b').errors[0]!.code, 'timeout');
    assert.equal(stepOf(r, 'c').status, 'cancelled');
    await clock.advance(100);
    assert.equal(executor.lateResults, 1);
    assert.equal(stepOf(engine.getStatus(run.id)!, 'b').output, null, 'the late answer is discarded');
    assert.deepEqual(trace(events).slice(-3), ['step.finished b failed', 'step.finished c cancelled', 'workflow.finished timed_out']);
    assert.equal(engine.getMetrics().compositions.c!.runs.timed_out, 1);
  });
});

describe('cancellation', () => {
  test("the caller's AbortSignal cancels the run, also during a retry wait", async () => {
    const clock = new FakeClock();
    const executor = new ScriptedExecutor(clock, () => ({ error: fail('provider_error', { status: 500 }) }));
    const { engine } = makeEngine({ clock, executor });
    const rr = one('        retry: { max_attempts: 5, initial_interval_ms: 1000 }\n');
    const ac = new AbortController();
    const run = engine.execute(composition(rr, 'c'), rr.defaults, {}, { signal: ac.signal });
    await clock.advance(20);
    assert.equal(clock.pending, 1, 'waiting for the retry');
    ac.abort();
    const r = await run.done;
    assert.equal(r.status, 'cancelled');
    assert.equal(stepOf(r, 'a').attempts, 1);
    assert.equal(clock.pending, 0, 'the retry timer is cleared');
  });
});

describe('fallbacks', () => {
  test('only fallbacks and when-skips: the run succeeds', async () => {
    const rr = one('        fallback: { value: "x" }\n');
    const clock = new FakeClock();
    const executor = new ScriptedExecutor(clock, () => ({ error: fail('timeout') }));
    const { engine } = makeEngine({ clock, executor });
    const r = await finish(clock, engine.execute(composition(rr, 'c'), rr.defaults, {}));
    assert.equal(r.status, 'succeeded');
    assert.equal(r.output, 'x');
  });
});
