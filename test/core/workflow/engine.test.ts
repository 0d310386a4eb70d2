import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PromptError } from '../../../core/errors.js';
import type { WorkflowEvent } from '../../../core/workflow/types.js';
import { ScriptedExecutor, composition, finish, loadRules, makeEngine, stepOf, trace } from './helpers.js';
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

/** Checks, from the executor's records, that no step started before every dependency had ended. */
function assertDepsRespected(calls: ScriptedExecutor['calls'], deps: Record<string, string[]>) {
  for (const c of calls) {
    for (const d of deps[c.stepId] ?? []) {
      const dc = calls.filter((x) => x.stepId === d);
      assert.ok(dc.length > 0, `${c.stepId} started but its dependency ${d} never ran`);
      for (const x of dc) assert.ok(x.end !== undefined && x.end <= c.start, `${c.stepId} started at ${c.start} before ${d} ended at ${x.end}`);
    }
  }
}

describe('scheduling', () => {
  test('never more than max_parallel at once, and a step never starts before its dependencies', async () => {
    // A layered DAG of 24 steps with uneven durations.
    const steps: [string, string[], string[]?][] = [];
    const deps: Record<string, string[]> = {};
    for (let i = 0; i < 24; i++) {
      const d = i < 4 ? [] : [`s${i - 4}`, ...(i % 3 === 0 ? [`s${i - 3}`] : [])];
      steps.push([`s${i}`, d]);
      deps[`s${i}`] = d;
    }
    const rules = loadRules(yamlOf('wide', steps, ['max_parallel: 3']));
    const clock = new FakeClock();
    const executor = new ScriptedExecutor(clock, (id) => ({ delayMs: 5 + ((Number(id.slice(1)) * 7) % 13) }));
    const { engine, events } = makeEngine({ clock, executor });
    let running = 0;
    let maxRunning = 0;
    engine.on('step.started', () => (maxRunning = Math.max(maxRunning, ++running)));
    engine.on('step.finished', (e) => {
      if (e.attempts > 0) running--;
    });
    const run = engine.execute(composition(rules, 'wide'), rules.defaults, {});
    const result = await finish(clock, run);
    assert.equal(result.status, 'succeeded');
    assert.equal(executor.calls.length, 24);
    assert.equal(executor.maxActive, 3);
    assert.equal(maxRunning, 3);
    assertDepsRespected(executor.calls, deps);
    assert.equal(events.filter((e) => e.type === 'step.finished').length, 24);
  });

  test('diamond: both branches run together, the join sees both outputs', async () => {
    const rules = loadRules(
      yamlOf('diamond', [
        ['a', []],
        ['b', ['a']],
        ['c', ['a']],
        ['d', ['b', 'c'], ['context:', '  both: "{{steps.b.output}}|{{steps.c.output}}|{{steps.b.status}}|{{steps.c.attempts}}"']],
      ]),
    );
    const clock = new FakeClock();
    const executor = new ScriptedExecutor(clock, (id) => ({ delayMs: id === 'b' ? 30 : 10 }));
    const { engine } = makeEngine({ clock, executor });
    const result = await finish(clock, engine.execute(composition(rules, 'diamond'), rules.defaults, {}));
    const start = Object.fromEntries(executor.calls.map((c) => [c.stepId, c.start]));
    assert.deepEqual(start, { a: 0, b: 10, c: 10, d: 40 });
    const d = executor.calls.find((c) => c.stepId === 'd')!;
    assert.equal(d.context.both, 'out:b|out:c|succeeded|1');
    assert.equal(result.status, 'succeeded');
    // Default output: the leaf outputs.
    assert.equal(result.output, 'out:d');
    assert.equal(stepOf(result, 'b').durationMs, 30);
  });

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

describe('failures', () => {
  const failingA = (clock: FakeClock) =>
    new ScriptedExecutor(clock, (id) => (id === 'a' ? { delayMs: 10, error: new PromptError('template_error', 'boom') } : { delayMs: id === 'b' ? 30 : 10 }));
  const steps: [string, string[], string[]?][] = [['a', []], ['b', []], ['c', ['a']], ['d', []], ['e', ['c']]];

  test('fail_fast: true stops new steps, lets running ones finish, keeps their outputs', async () => {
    const rules = loadRules(yamlOf('ff', steps, ['max_parallel: 2', 'fail_fast: true']));
    const clock = new FakeClock();
    const executor = failingA(clock);
    const { engine, events } = makeEngine({ clock, executor });
    const r = await finish(clock, engine.execute(composition(rules, 'ff'), rules.defaults, {}));
    assert.equal(r.status, 'failed');
    assert.deepEqual(executor.calls.map((c) => c.stepId), ['a', 'b']);
    assert.equal(stepOf(r, 'a').status, 'failed');
    assert.equal(stepOf(r, 'b').status, 'succeeded');
    assert.equal(stepOf(r, 'b').finishedAt, 30, 'b ran to its end after the failure');
    assert.deepEqual(r.outputs, { b: 'out:b' });
    assert.equal(stepOf(r, 'c').status, 'skipped');
    assert.equal(stepOf(r, 'c').skipReason, 'upstream');
    assert.equal(stepOf(r, 'e').skipReason, 'upstream', 'the skip passes on');
    assert.equal(stepOf(r, 'd').status, 'cancelled');
    assert.equal(r.output, null);
    assert.deepEqual(trace(events), [
      'workflow.started',
      'step.started a',
      'step.started b',
      'step.finished a failed',
      'step.finished c skipped',
      'step.finished e skipped',
      'step.finished b succeeded',
      'step.finished d cancelled',
      'workflow.finished failed',
    ]);
  });

  test('fail_fast: false runs independent branches to the end: partial', async () => {
    const rules = loadRules(yamlOf('nf', steps, ['max_parallel: 2', 'fail_fast: false']));
    const clock = new FakeClock();
    const executor = failingA(clock);
    const { engine } = makeEngine({ clock, executor });
    const r = await finish(clock, engine.execute(composition(rules, 'nf'), rules.defaults, {}));
    assert.equal(r.status, 'partial');
    assert.deepEqual(executor.calls.map((c) => c.stepId).sort(), ['a', 'b', 'd']);
    assert.equal(stepOf(r, 'd').status, 'succeeded');
    assert.equal(stepOf(r, 'c').skipReason, 'upstream');
    assert.equal(stepOf(r, 'e').skipReason, 'upstream');
    assert.deepEqual(r.outputs, { b: 'out:b', d: 'out:d' });
    // Leaves with output: b and d (c and e skipped).
    assert.equal(r.output, 'out:b\n\nout:d');
  });

  test('continue_on_error: dependents run and see the failure; the run is partial', async () => {
    const rules = loadRules(
      yamlOf('coe', [
        ['a', [], ['continue_on_error: true']],
        ['b', ['a'], ['context:', '  seen: "{{steps.a.status}}/{{steps.a.output}}/{{steps.a.attempts}}"']],
      ]),
    );
    const clock = new FakeClock();
    const { engine, executor } = makeEngine({ clock, executor: failingA(clock) });
    const r = await finish(clock, engine.execute(composition(rules, 'coe'), rules.defaults, {}));
    assert.equal(r.status, 'partial');
    assert.equal(stepOf(r, 'b').status, 'succeeded');
    assert.equal(executor.calls.find((c) => c.stepId === 'b')!.context.seen, 'failed//1');
    assert.equal(stepOf(r, 'a').errors[0]!.code, 'template_error');
  });
});

describe('when and skip', () => {
  const yaml = `version: 1
compositions:
  c:
    inputs: { required: [document], optional: [user_experience_level, state, tags] }
    steps:
      - id: extract
        template: t/extract
      - id: critique
        template: t/critique
        depends_on: [extract]
        when: { path: user_experience_level, not_equals: beginner }
      - id: tagged
        template: t/tagged
        when: { path: tags, exists: true }
      - id: level
        template: t/level
        when: { path: user_experience_level, in: [expert, intermediate] }
      - id: after
        template: t/after
        depends_on: [critique]
        when: { path: steps.extract.status, equals: succeeded }
        context:
          crit: "{{steps.critique.status}}:{{steps.critique.output}}"
    overrides:
      states:
        draft: { max_parallel: 1, steps: { extract: { skip: true } } }
`;
  test('a false when skips the step; dependents still run and see skipped/null', async () => {
    const rules = loadRules(yaml);
    const { engine, executor, clock } = makeEngine();
    const r = await finish(clock, engine.execute(composition(rules, 'c'), rules.defaults, { document: 'x', user_experience_level: 'beginner' }));
    assert.equal(r.status, 'succeeded');
    assert.equal(stepOf(r, 'critique').status, 'skipped');
    assert.equal(stepOf(r, 'critique').skipReason, 'when');
    assert.equal(stepOf(r, 'tagged').skipReason, 'when');
    assert.equal(stepOf(r, 'level').skipReason, 'when');
    assert.equal(stepOf(r, 'after').status, 'succeeded');
    assert.equal(executor.calls.find((c) => c.stepId === 'after')!.context.crit, 'skipped:');
  });

  test('true conditions run the steps', async () => {
    const rules = loadRules(yaml);
    const { engine, executor, clock } = makeEngine();
    const r = await finish(clock, engine.execute(composition(rules, 'c'), rules.defaults, { document: 'x', user_experience_level: 'expert', tags: ['a'] }));
    assert.deepEqual(executor.calls.map((c) => c.stepId).sort(), ['after', 'critique', 'extract', 'level', 'tagged']);
    assert.equal(r.status, 'succeeded');
  });

  test('an override skip counts as skipped and dependents run (state override)', async () => {
    const rules = loadRules(yaml);
    const { engine, executor, clock } = makeEngine();
    const r = await finish(clock, engine.execute(composition(rules, 'c'), rules.defaults, { document: 'x', state: 'draft', user_experience_level: 'expert' }));
    assert.equal(stepOf(r, 'extract').skipReason, 'override');
    assert.equal(stepOf(r, 'critique').status, 'succeeded');
    // `after` reads steps.extract.status == succeeded: false now.
    assert.equal(stepOf(r, 'after').skipReason, 'when');
    assert.equal(r.maxParallel, 1);
    assert.equal(executor.maxActive, 1);
    assert.deepEqual(r.appliedOverrides, { state: 'draft' });
    assert.equal(r.status, 'succeeded');
  });
});

describe('overrides in a run', () => {
  test('the experience-level override picks another template, and wins over the state override', async () => {
    const rules = loadRules(`version: 1
defaults: { max_parallel: 4 }
compositions:
  c:
    steps:
      - id: summary
        template: analysis/summary
    overrides:
      states:
        draft: { steps: { summary: { template: analysis/summary_draft } } }
      experience_levels:
        beginner: { steps: { summary: { template: analysis/summary_simple } } }
`);
    const { engine, host, clock } = makeEngine({ templates: { 'analysis/summary_simple': 'simple for {{who}}' } });
    const r = await finish(clock, engine.execute(composition(rules, 'c'), rules.defaults, { state: 'draft', user_experience_level: 'beginner', who: 'ann' }));
    assert.deepEqual(host.rendered.map((x) => x.name), ['analysis/summary_simple']);
    assert.equal(stepOf(r, 'summary').template, 'analysis/summary_simple');
    assert.equal(r.outputs.summary, 'out:summary');
    const r2 = await finish(clock, engine.execute(composition(rules, 'c'), rules.defaults, { state: 'draft' }));
    assert.equal(stepOf(r2, 'summary').template, 'analysis/summary_draft');
  });
});

describe('starting', () => {
  test('a missing required input: failed with missing_context, nothing runs', async () => {
    const rules = loadRules(`version: 1
compositions:
  c:
    inputs: { required: [document, user_id] }
    steps: [{ id: a, template: t/a }]
`);
    const { engine, executor, events } = makeEngine();
    const run = engine.execute(composition(rules, 'c'), rules.defaults, { user_id: 1 });
    const r = await run.done;
    assert.equal(r.status, 'failed');
    assert.equal(r.error!.code, 'missing_context');
    assert.equal(r.error!.variable, 'document');
    assert.equal(executor.calls.length, 0);
    assert.deepEqual(trace(events), ['workflow.finished failed']);
    assert.equal(engine.getStatus(run.id)!.status, 'failed');
  });

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

  test('a workflowId still running cannot be reused; a finished one can', async () => {
    const rules = loadRules(yamlOf('c', [['a', []]]));
    const { engine, clock } = makeEngine();
    const run = engine.execute(composition(rules, 'c'), rules.defaults, {}, { workflowId: 'mine' });
    assert.equal(run.id, 'mine');
    assert.throws(() => engine.execute(composition(rules, 'c'), rules.defaults, {}, { workflowId: 'mine' }), /still running/);
    await finish(clock, run);
    const again = engine.execute(composition(rules, 'c'), rules.defaults, {}, { workflowId: 'mine' });
    assert.equal((await finish(clock, again)).status, 'succeeded');
  });

  test('the caller max_parallel and the engine cap bound the run', async () => {
    const rules = loadRules(yamlOf('c', [['a', []], ['b', []], ['c', []], ['d', []]], ['max_parallel: 4']));
    const clock = new FakeClock();
    const { engine, executor } = makeEngine({ clock, maxParallel: 3 });
    const r = await finish(clock, engine.execute(composition(rules, 'c'), rules.defaults, {}, { maxParallel: 2 }));
    assert.equal(r.maxParallel, 2);
    assert.equal(executor.maxActive, 2);
    const r2 = await finish(clock, engine.execute(composition(rules, 'c'), rules.defaults, {}));
    assert.equal(r2.maxParallel, 3);
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

  test('events in order, on the engine and through the run iterator (even when iterated late)', async () => {
    const clock = new FakeClock();
    const executor = new ScriptedExecutor(clock, (id, attempt) => (id === 'b' && attempt === 1 ? { error: new PromptError('provider_error', 'flaky', { status: 503 }) } : {}));
    const { engine, events } = makeEngine({ clock, executor });
    const run = engine.execute(composition(rules, 'chain'), rules.defaults, {});
    const early: WorkflowEvent[] = [];
    const iterating = (async () => {
      for await (const e of run) early.push(e);
    })();
    await finish(clock, run);
    await iterating;
    const expected = [
      'workflow.started',
      'step.started a',
      'step.finished a succeeded',
      'step.started b',
      'step.retrying b 1 10',
      'step.finished b succeeded',
      'step.started c',
      'step.finished c succeeded',
      'workflow.finished succeeded',
    ];
    assert.deepEqual(trace(events), expected);
    assert.deepEqual(trace(early), expected);
    const late: WorkflowEvent[] = [];
    for await (const e of run) late.push(e);
    assert.deepEqual(trace(late), expected);
    const retrying = events.find((e) => e.type === 'step.retrying')!;
    assert.equal(retrying.type === 'step.retrying' && retrying.nextAttempt, 2);
    const fin = events.find((e) => e.type === 'step.finished' && e.stepId === 'b')!;
    assert.equal(fin.type === 'step.finished' && fin.attempts, 2);
    assert.equal(fin.type === 'step.finished' && fin.durationMs, 30);
    assert.ok(events.every((e) => e.runId === run.id && e.composition === 'chain'));
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
