/**
 * The in-process engine's own: its scheduling policies and learned durations, the refusals a
 * composition built in code can meet, its history, listeners, metrics and fake-clock times.
 * The run semantics both back ends share are in runSemantics.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PromptError } from '../../../core/errors.js';
import { ScriptedExecutor, composition, finish, loadRules, makeEngine } from './helpers.js';
import { FakeClock } from '../../../core/clock.js';

/** A composition YAML from `[id, deps, extra YAML lines]`. */
function yamlOf(name: string, steps: [string, string[], string[]?][], head: string[] = []): string {
  const lines = ['version: 1', 'compositions:', `  ${name}:`, ...head.map((h) => `    ${h}`), '    steps:'];
  for (const [id, deps, extra] of steps) {
    lines.push(`      - id: ${id}`, `        template: t/${id}`);
    if (deps.length) lines.push(`        depends_on: [${deps.join(', ')}]`);
    for (const e of extra ?? []) lines.push(`        ${e}`);
  }
  return lines.join('\n') + '\n';
}

describe('scheduling', () => {
  test('fan-out/fan-in with max_parallel 2 runs in waves and joins once', async () => {
    const fan = ['f1', 'f2', 'f3', 'f4', 'f5', 'f6'];
    const rules = loadRules(
      yamlOf('fan', [['root', []], ...fan.map((f) => [f, ['root']] as [string, string[]]), ['join', fan]], ['max_parallel: 2', 'output: "{{steps.join.output}} after {{steps.f6.output}}"']),
    );
    const clock = new FakeClock();
    const executor = new ScriptedExecutor(clock);
    const { engine } = makeEngine({ clock, executor });
    const result = await finish(clock, engine.execute(composition(rules, 'fan'), rules.defaults, {}));
    const starts = executor.calls.map((c) => `${c.stepId}@${c.start}`);
    assert.deepEqual(starts, ['root@0', 'f1@10', 'f2@10', 'f3@20', 'f4@20', 'f5@30', 'f6@30', 'join@40']);
    assert.equal(executor.maxActive, 2);
    assert.equal(result.output, 'out:join after out:f6');
  });

  test('when several steps are ready, the one on the longest remaining path starts first', async () => {
    const yaml = yamlOf('prio', [['b', []], ['a', []], ['a2', ['a']], ['a3', ['a2']]], ['max_parallel: 1']);
    const rules = loadRules(yaml);
    const order = async (policy: 'critical-path' | 'first-ready') => {
      const clock = new FakeClock();
      const executor = new ScriptedExecutor(clock);
      const { engine } = makeEngine({ clock, executor, schedulingPolicy: policy });
      await finish(clock, engine.execute(composition(rules, 'prio'), rules.defaults, {}));
      return executor.calls.map((c) => c.stepId);
    };
    assert.deepEqual(await order('critical-path'), ['a', 'a2', 'b', 'a3']);
    assert.deepEqual(await order('first-ready'), ['b', 'a', 'a2', 'a3']);
  });

  test('learned step durations weigh the remaining path', async () => {
    // Two chains of two steps: equal by count, so the first run goes by declaration order.
    // Then x2 turns out slow, and the second run starts the x chain first.
    const rules = loadRules(yamlOf('w', [['y', []], ['y2', ['y']], ['x', []], ['x2', ['x']]], ['max_parallel: 1']));
    const clock = new FakeClock();
    const executor = new ScriptedExecutor(clock, (id) => ({ delayMs: id === 'x2' ? 100 : 10 }));
    const { engine } = makeEngine({ clock, executor });
    await finish(clock, engine.execute(composition(rules, 'w'), rules.defaults, {}));
    assert.deepEqual(executor.calls.map((c) => c.stepId), ['y', 'x', 'y2', 'x2']);
    executor.calls.length = 0;
    // Second run: x's path weighs 110 ms against y's 20 ms, so x goes first.
    await finish(clock, engine.execute(composition(rules, 'w'), rules.defaults, {}));
    assert.deepEqual(executor.calls.map((c) => c.stepId), ['x', 'x2', 'y', 'y2']);
  });
});

describe('starting', () => {
  test('a cycle or an unknown dependency refuses the run with invalid_configuration', async () => {
    const rules = loadRules(yamlOf('cyc', [['a', ['c']], ['b', ['a']], ['c', ['b']], ['d', ['nope']]]));
    const { engine } = makeEngine();
    const r = await engine.execute(composition(rules, 'cyc'), rules.defaults, {}).done;
    assert.equal(r.status, 'failed');
    assert.equal(r.error!.code, 'invalid_configuration');
    assert.match(String(r.error!.message), /"nope"/);
    assert.match(String(r.error!.message), /cycle: (a|b|c) -> (a|b|c) -> (a|b|c) -> \1/);
  });

  test('an untrusted workspace refuses provider steps; an unknown provider is invalid', async () => {
    const rules = loadRules(`version: 1
providers:
  local: { type: openai-compatible, base_url: "http://127.0.0.1:1/v1", model: m }
compositions:
  c:
    steps: [{ id: a, template: t/a, model: local }]
  d:
    steps: [{ id: a, template: t/a, model: other }]
`);
    const untrusted = makeEngine({ trusted: false, providers: rules.providers }).engine;
    const r = await untrusted.execute(composition(rules, 'c'), rules.defaults, {}).done;
    assert.equal(r.error!.code, 'access_denied');
    const trusted = makeEngine({ providers: rules.providers }).engine;
    const r2 = await trusted.execute(composition(rules, 'd'), rules.defaults, {}).done;
    assert.equal(r2.error!.code, 'invalid_configuration');
    assert.match(String(r2.error!.message), /"other"/);
  });

});

describe('status, history and events', () => {
  const rules = loadRules(yamlOf('chain', [['a', []], ['b', ['a'], ['retry: { max_attempts: 2, initial_interval_ms: 10 }']], ['c', ['b']]], ['output: "{{steps.c.output}}!"']));

  test('status by id during and after the run', async () => {
    const clock = new FakeClock();
    const executor = new ScriptedExecutor(clock, (id, attempt) => (id === 'b' && attempt === 1 ? { error: new PromptError('provider_error', 'flaky', { status: 500 }) } : {}));
    const { engine } = makeEngine({ clock, executor });
    const run = engine.execute(composition(rules, 'chain'), rules.defaults, {});
    let s = engine.getStatus(run.id)!;
    assert.equal(s.status, 'running');
    assert.deepEqual(s.steps.map((x) => x.status), ['running', 'pending', 'pending']);
    await clock.advance(12);
    s = engine.getStatus(run.id)!;
    assert.deepEqual(s.steps.map((x) => x.status), ['succeeded', 'running', 'pending']);
    assert.equal(s.steps[0]!.output, 'out:a');
    assert.equal(s.outputs.a, 'out:a');
    assert.equal(s.steps[1]!.startedAt, 10);
    await clock.advance(10); // b attempt 1 failed at 20, waiting 10
    s = run.status();
    assert.equal(s.steps[1]!.attempts, 1);
    assert.equal(s.steps[1]!.errors[0]!.code, 'provider_error');
    assert.equal(s.steps[1]!.errors[0]!.status, 500);
    const r = await finish(clock, run);
    assert.equal(r.status, 'succeeded');
    assert.equal(r.output, 'out:c!');
    const after = engine.getStatus(run.id)!;
    assert.deepEqual(after.steps.map((x) => [x.id, x.status, x.attempts, x.startedAt, x.finishedAt, x.durationMs]), [
      ['a', 'succeeded', 1, 0, 10, 10],
      ['b', 'succeeded', 2, 10, 40, 30],
      ['c', 'succeeded', 1, 40, 50, 10],
    ]);
    assert.equal(after.durationMs, 50);
    assert.equal(engine.cancel(run.id), false, 'an ended run cannot be cancelled');
  });

  test('history keeps the last N finished runs', async () => {
    const { engine, clock } = makeEngine({ historyLimit: 2 });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const run = engine.execute(composition(rules, 'chain'), rules.defaults, {});
      ids.push(run.id);
      await finish(clock, run);
    }
    assert.equal(engine.getStatus(ids[0]!), undefined);
    assert.equal(engine.getStatus(ids[1]!)!.status, 'succeeded');
    assert.equal(engine.getStatus(ids[2]!)!.status, 'succeeded');
    assert.equal(engine.historySize, 2);
    assert.deepEqual(engine.listRuns().map((r) => r.id), ids.slice(1));
  });

  test('a listener that throws does not break the run', async () => {
    const { engine, clock } = makeEngine();
    engine.on('step.started', () => {
      throw new Error('listener bug');
    });
    const r = await finish(clock, engine.execute(composition(rules, 'chain'), rules.defaults, {}));
    assert.equal(r.status, 'succeeded');
  });

  test('metrics per composition and step', async () => {
    const clock = new FakeClock();
    const executor = new ScriptedExecutor(clock, (id, attempt) => (id === 'b' && attempt === 1 ? { error: new PromptError('provider_error', 'x', { status: 500 }) } : {}));
    const { engine } = makeEngine({ clock, executor });
    await finish(clock, engine.execute(composition(rules, 'chain'), rules.defaults, {}));
    await finish(clock, engine.execute(composition(rules, 'chain'), rules.defaults, {}));
    const m = engine.getMetrics().compositions.chain!;
    assert.equal(m.runs.succeeded, 2);
    assert.equal(m.total, 2);
    assert.equal(m.retries, 2);
    assert.equal(m.steps.b!.retries, 2);
    assert.equal(m.steps.a!.durationMs.p50, 10);
    assert.equal(m.durationMs.p95, 50);
    assert.equal(engine.metrics.compositionP95('chain'), 50);
  });
});

describe('timestamps: wall clock for when, monotonic clock for how long', () => {
  const rules = loadRules(yamlOf('chain', [['a', []], ['b', ['a']], ['c', ['b']]], []));

  test('startedAt, finishedAt and event times are wall-clock epoch milliseconds; durations come from the monotonic clock', async () => {
    const wall = Date.UTC(2026, 11, 1, 9, 30);
    const clock = new FakeClock(wall);
    await clock.advance(99.09); // a monotonic clock reads anything at a run's start (performance.now())
    const { engine, events } = makeEngine({ clock });
    const run = engine.execute(composition(rules, 'chain'), rules.defaults, {});
    const r = await finish(clock, run);
    assert.equal(r.startedAt, wall + 99.09);
    assert.equal(new Date(r.startedAt).toISOString(), '2026-12-01T09:30:00.099Z');
    assert.equal(r.finishedAt! - r.startedAt, r.durationMs);
    assert.equal(r.durationMs, 30);
    assert.deepEqual(r.steps.map((s) => [s.startedAt! - r.startedAt, s.finishedAt! - r.startedAt, s.durationMs]), [
      [0, 10, 10],
      [10, 20, 10],
      [20, 30, 10],
    ]);
    assert.deepEqual(events.map((e) => e.time - r.startedAt), [0, 0, 10, 10, 20, 20, 30, 30]);
    assert.equal(engine.listRuns()[0]!.startedAt, r.startedAt);
  });
});
