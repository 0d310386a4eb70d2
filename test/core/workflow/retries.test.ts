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

  test('non_retryable codes and provider 4xx are not retried; 429 honours Retry-After', async () => {
    const rules = loadRules(`version: 1
compositions:
  c:
    fail_fast: false
    steps:
      - { id: listed, template: t/a, retry: { max_attempts: 3, initial_interval_ms: 50, non_retryable: [template_error] } }
      - { id: unlisted, template: t/a, retry: { max_attempts: 2, initial_interval_ms: 50, non_retryable: [missing_context] } }
      - { id: http401, template: t/a, retry: { max_attempts: 3, initial_interval_ms: 50 } }
      - { id: http429, template: t/a, retry: { max_attempts: 3, initial_interval_ms: 50 } }
      - { id: http503, template: t/a, retry: { max_attempts: 3, initial_interval_ms: 50 } }
`);
    const clock = new FakeClock();
    const executor = new ScriptedExecutor(clock, (id, attempt) => {
      switch (id) {
        case 'listed':
          return { error: fail('template_error') };
        case 'unlisted':
          return { error: fail('template_error') };
        case 'http401':
          return { error: fail('provider_error', { status: 401 }) };
        case 'http429':
          return attempt === 1 ? { error: fail('provider_error', { status: 429, retryAfterMs: 2000 }) } : {};
        default:
          return attempt === 1 ? { error: fail('provider_error', { status: 503, retryAfterMs: 7000 }) } : {};
      }
    });
    const { engine, events } = makeEngine({ clock, executor });
    const r = await finish(clock, engine.execute(composition(rules, 'c'), rules.defaults, {}));
    assert.equal(stepOf(r, 'listed').attempts, 1);
    assert.equal(stepOf(r, 'unlisted').attempts, 2);
    assert.equal(stepOf(r, 'http401').attempts, 1);
    assert.equal(stepOf(r, 'http429').attempts, 2);
    assert.equal(stepOf(r, 'http429').status, 'succeeded');
    const waits = Object.fromEntries(events.filter((e) => e.type === 'step.retrying').map((e) => [e.type === 'step.retrying' && e.stepId, e.type === 'step.retrying' && e.waitMs]));
    assert.deepEqual(waits, { unlisted: 50, http429: 2000, http503: 7000 });
    assert.equal(executor.calls.find((c) => c.stepId === 'http429' && c.attempt === 2)!.start, 2010);
    assert.equal(r.status, 'partial');
  });

  test('a render error in the template goes through the retry policy too', async () => {
    const rules = one('        retry: { max_attempts: 2, initial_interval_ms: 5, non_retryable: [missing_context] }\n');
    const clock = new FakeClock();
    const { engine, executor } = makeEngine({ clock, templates: { 't/a': 'Hello {{name}}' } });
    const r = await finish(clock, engine.execute(composition(rules, 'c'), rules.defaults, {}));
    assert.equal(executor.calls.length, 0);
    const a = stepOf(r, 'a');
    assert.equal(a.attempts, 1);
    assert.equal(a.errors[0]!.code, 'missing_context');
    assert.equal(a.errors[0]!.variable, 'name');
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

  test('the signal handed to the executor is aborted with the timeout error', async () => {
    const rules = one('        timeout_ms: 30\n');
    const clock = new FakeClock();
    let reason: unknown;
    const executor = new ScriptedExecutor(clock, (_id, _a, req) => {
      req.signal.addEventListener('abort', () => (reason = req.signal.reason));
      return { delayMs: 100 };
    });
    const { engine } = makeEngine({ clock, executor });
    const r = await finish(clock, engine.execute(composition(rules, 'c'), rules.defaults, {}));
    assert.equal(r.status, 'failed');
    assert.ok(reason instanceof PromptError && reason.code === 'timeout');
    assert.equal(stepOf(r, 'a').finishedAt, 30);
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
  const rules = loadRules(`version: 1
compositions:
  c:
    steps:
      - { id: a, template: t/a }
      - { id: b, template: t/b, depends_on: [a] }
      - { id: x, template: t/x, depends_on: [a] }
      - { id: z, template: t/z, depends_on: [b, x] }
`);

  test('cancel mid-run: running steps get the abort, nothing new starts, finished outputs stay', async () => {
    const clock = new FakeClock();
    const executor = new ScriptedExecutor(clock, (id) => ({ delayMs: id === 'b' ? 30 : 10 }));
    const { engine, events } = makeEngine({ clock, executor });
    const run = engine.execute(composition(rules, 'c'), rules.defaults, {});
    await clock.advance(25); // a done at 10, x done at 20, b running until 40
    assert.equal(engine.cancel(run.id, 'user pressed stop'), true);
    const r = await run.done;
    assert.equal(r.status, 'cancelled');
    assert.equal(r.error!.code, 'cancelled');
    assert.equal(r.error!.message, 'user pressed stop');
    assert.deepEqual(r.steps.map((s) => s.status), ['succeeded', 'cancelled', 'succeeded', 'cancelled']);
    assert.deepEqual(r.outputs, { a: 'out:a', x: 'out:x' });
    assert.equal(executor.calls.find((c) => c.stepId === 'b')!.outcome, 'aborted');
    await clock.advance(1000);
    assert.equal(executor.calls.length, 3, 'no step started after the cancel');
    assert.equal(trace(events).at(-1), 'workflow.finished cancelled');
    assert.equal(engine.getStatus(run.id)!.status, 'cancelled');
  });

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

  test('an already aborted signal cancels before anything runs', async () => {
    const { engine, executor } = makeEngine();
    const r = await engine.execute(composition(rules, 'c'), rules.defaults, {}, { signal: AbortSignal.abort() }).done;
    assert.equal(r.status, 'cancelled');
    assert.equal(executor.calls.length, 0);
  });
});

describe('fallbacks', () => {
  const rules = loadRules(`version: 1
compositions:
  c:
    output: "{{steps.v.output}} / {{steps.t.output}} / {{steps.broken.status}}"
    fail_fast: false
    steps:
      - { id: v, template: t/v, fallback: { value: "literal output" } }
      - { id: t, template: t/t, fallback: { template: analysis/lite }, context: { topic: "{{topic}}" } }
      - { id: broken, template: t/b, fallback: { template: missing/lite } }
      - { id: after, template: t/after, depends_on: [t], context: { seen: "{{steps.t.status}}={{steps.t.output}}" } }
`);

  test('a value or template fallback gives the output and the status fallback; a failing fallback fails', async () => {
    const clock = new FakeClock();
    const executor = new ScriptedExecutor(clock, (id) => (id === 'after' ? {} : { error: fail('provider_error', { status: 500 }) }));
    const { engine, host } = makeEngine({ clock, executor, templates: { 'analysis/lite': 'lite on {{topic}}' } });
    const r = await finish(clock, engine.execute(composition(rules, 'c'), rules.defaults, { topic: 'tea' }));
    assert.equal(stepOf(r, 'v').status, 'fallback');
    assert.equal(stepOf(r, 'v').output, 'literal output');
    assert.equal(stepOf(r, 't').status, 'fallback');
    assert.equal(stepOf(r, 't').output, 'lite on tea');
    assert.equal(stepOf(r, 'broken').status, 'failed');
    assert.deepEqual(stepOf(r, 'broken').errors.map((e) => e.code), ['provider_error', 'unknown_template']);
    assert.equal(executor.calls.find((c) => c.stepId === 'after')!.context.seen, 'fallback=lite on tea');
    assert.ok(host.rendered.some((x) => x.name === 'analysis/lite'));
    assert.equal(r.status, 'partial', 'broken failed');
    assert.equal(r.output, 'literal output / lite on tea / failed');
    const m = engine.getMetrics().compositions.c!;
    assert.equal(m.fallbacks, 2);
    assert.equal(m.steps.t!.fallbacks, 1);
  });

  test('only fallbacks and when-skips: the run succeeds', async () => {
    const rr = one('        fallback: { value: "x" }\n');
    const clock = new FakeClock();
    const executor = new ScriptedExecutor(clock, () => ({ error: fail('timeout') }));
    const { engine } = makeEngine({ clock, executor });
    const r = await finish(clock, engine.execute(composition(rr, 'c'), rr.defaults, {}));
    assert.equal(r.status, 'succeeded');
    assert.equal(r.output, 'x');
  });

  test('an output that does not render fails the run but keeps the step outputs', async () => {
    const rr = one('', '    output: "{{nothing_here}}"\n');
    const { engine, clock } = makeEngine();
    const r = await finish(clock, engine.execute(composition(rr, 'c'), rr.defaults, {}));
    assert.equal(r.status, 'failed');
    assert.equal(r.error!.code, 'missing_context');
    assert.deepEqual(r.outputs, { a: 'out:a' });
  });
});
