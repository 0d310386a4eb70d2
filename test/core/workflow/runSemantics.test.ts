/**
 * The contract's run semantics (docs/config-format.md, "Run semantics"), one suite run against
 * every workflow back end through the manager's API: the in-process engine on the fake clock,
 * and the BullMQ back end on a redis-server of its own (skipped, saying why, where the machine
 * has none; .ci/run installs it). What only one engine has (its scheduling policy option, its
 * history bound, exact fake-clock times) is tested in engine.test.ts and retries.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PromptError } from '../../../core/errors.js';
import type { StepFinishedEvent, WorkflowEvent } from '../../../core/workflow/types.js';
import { HARNESSES, type Env, type Setup } from './backends.js';
import { stepOf, trace } from './helpers.js';

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

const fail = (code: ConstructorParameters<typeof PromptError>[0], details: ConstructorParameters<typeof PromptError>[2] = {}) => new PromptError(code, `${code}!`, details);

/** From the executor's records: no step started before every dependency had ended. */
function assertDepsRespected(env: Env, deps: Record<string, string[]>) {
  const calls = env.executor.calls;
  for (const c of calls) {
    for (const d of deps[c.stepId] ?? []) {
      const dc = calls.filter((x) => x.stepId === d);
      assert.ok(dc.length > 0, `${c.stepId} started but its dependency ${d} never ran`);
      for (const x of dc) assert.ok(x.end !== undefined && x.end <= c.start, `${c.stepId} started at ${c.start} before ${d} ended at ${x.end}`);
    }
  }
}

const finishedOf = (events: WorkflowEvent[], runId: string) => events.filter((e): e is StepFinishedEvent => e.type === 'step.finished' && e.runId === runId);

for (const make of HARNESSES) {
  const h = make();
  if (h.unavailable) console.log(`# the ${h.name} run-semantics suite is skipped: ${h.unavailable}`);
  describe(`run semantics on the ${h.name} back end`, { skip: h.unavailable ?? false }, () => {
    before(() => h.before());
    after(() => h.after());

    /** Opens an environment for one test and closes it after, whatever happens. */
    async function withEnv(setup: Setup, body: (env: Env) => Promise<void>): Promise<void> {
      const env = await h.open(setup);
      try {
        await body(env);
      } finally {
        await env.close();
      }
    }

    describe('scheduling', () => {
      test('never more than max_parallel at once, and a step never starts before its dependencies', async () => {
        const steps: [string, string[], string[]?][] = [];
        const deps: Record<string, string[]> = {};
        for (let i = 0; i < 16; i++) {
          const d = i < 4 ? [] : [`s${i - 4}`, ...(i % 3 === 0 ? [`s${i - 3}`] : [])];
          steps.push([`s${i}`, d]);
          deps[`s${i}`] = d;
        }
        await withEnv({ yaml: yamlOf('wide', steps, ['max_parallel: 3']), script: (id) => ({ delayMs: 2 + ((Number(id.slice(1)) * 7) % 5) }) }, async (env) => {
          const run = await env.start('wide');
          const r = await env.finish(run);
          assert.equal(r.status, 'succeeded');
          assert.equal(env.executor.calls.length, 16);
          assert.ok(env.executor.maxActive <= 3, `at most 3 at once, saw ${env.executor.maxActive}`);
          assertDepsRespected(env, deps);
          assert.equal(finishedOf(env.events, run.id).length, 16);
        });
      });

      test('diamond: the join sees both branches, by status, output and attempts; the default output is the leaves', async () => {
        const yaml = yamlOf('diamond', [
          ['a', []],
          ['b', ['a']],
          ['c', ['a']],
          ['d', ['b', 'c'], ['context:', '  both: "{{steps.b.output}}|{{steps.c.output}}|{{steps.b.status}}|{{steps.c.attempts}}"']],
        ]);
        await withEnv({ yaml }, async (env) => {
          const r = await env.finish(await env.start('diamond'));
          assert.equal(r.status, 'succeeded');
          assert.equal(env.executor.calls.find((c) => c.stepId === 'd')!.context.both, 'out:b|out:c|succeeded|1');
          assert.equal(r.output, 'out:d');
          assertDepsRespected(env, { b: ['a'], c: ['a'], d: ['b', 'c'] });
        });
      });

      test('fan-out/fan-in with max_parallel 2: the join runs once, after all, and the output template reads the steps', async () => {
        const fan = ['f1', 'f2', 'f3', 'f4', 'f5', 'f6'];
        const yaml = yamlOf('fan', [['root', []], ...fan.map((f) => [f, ['root']] as [string, string[]]), ['join', fan]], ['max_parallel: 2', 'output: "{{steps.join.output}} after {{steps.f6.output}}"']);
        await withEnv({ yaml }, async (env) => {
          const r = await env.finish(await env.start('fan'));
          assert.equal(env.executor.calls.filter((c) => c.stepId === 'join').length, 1);
          assert.ok(env.executor.maxActive <= 2);
          assertDepsRespected(env, { join: fan, ...Object.fromEntries(fan.map((f) => [f, ['root']])) });
          assert.equal(r.output, 'out:join after out:f6');
        });
      });

      test('with one slot, the step on the longest remaining path starts first', async () => {
        await withEnv({ yaml: yamlOf('prio', [['b', []], ['a', []], ['a2', ['a']], ['a3', ['a2']]], ['max_parallel: 1']) }, async (env) => {
          await env.finish(await env.start('prio'));
          assert.deepEqual(env.executor.calls.map((c) => c.stepId), ['a', 'a2', 'b', 'a3']);
        });
      });
    });

    describe('failures', () => {
      const failingA = (id: string) => (id === 'a' ? { delayMs: 10, error: new PromptError('template_error', 'boom') } : { delayMs: id === 'b' ? 30 : 10 });
      const steps: [string, string[], string[]?][] = [['a', []], ['b', []], ['c', ['a']], ['d', []], ['e', ['c']]];

      test('fail_fast: true stops new steps, lets running ones finish, keeps their outputs', async () => {
        await withEnv({ yaml: yamlOf('ff', steps, ['max_parallel: 2', 'fail_fast: true']), script: failingA }, async (env) => {
          const run = await env.start('ff');
          const r = await env.finish(run);
          assert.equal(r.status, 'failed');
          assert.deepEqual(env.executor.calls.map((c) => c.stepId).sort(), ['a', 'b']);
          assert.equal(stepOf(r, 'a').status, 'failed');
          assert.equal(stepOf(r, 'b').status, 'succeeded', 'b ran to its end after the failure');
          assert.deepEqual(r.outputs, { b: 'out:b' });
          assert.equal(stepOf(r, 'c').skipReason, 'upstream');
          assert.equal(stepOf(r, 'e').skipReason, 'upstream', 'the skip passes on');
          assert.equal(stepOf(r, 'd').status, 'cancelled');
          assert.equal(r.output, null);
          assert.deepEqual(
            trace(env.events.filter((e) => e.runId === run.id)).filter((t) => !t.startsWith('step.started')),
            ['workflow.started', 'step.finished a failed', 'step.finished c skipped', 'step.finished e skipped', 'step.finished b succeeded', 'step.finished d cancelled', 'workflow.finished failed'],
          );
        });
      });

      test('fail_fast: false runs independent branches to the end: partial, with the leaves that have an output', async () => {
        await withEnv({ yaml: yamlOf('nf', steps, ['max_parallel: 2', 'fail_fast: false']), script: failingA }, async (env) => {
          const r = await env.finish(await env.start('nf'));
          assert.equal(r.status, 'partial');
          assert.deepEqual(env.executor.calls.map((c) => c.stepId).sort(), ['a', 'b', 'd']);
          assert.equal(stepOf(r, 'c').skipReason, 'upstream');
          assert.equal(stepOf(r, 'e').skipReason, 'upstream');
          assert.deepEqual(r.outputs, { b: 'out:b', d: 'out:d' });
          assert.equal(r.output, 'out:b\n\nout:d');
        });
      });

      test('continue_on_error: dependents run and see the failure; the run is partial', async () => {
        const yaml = yamlOf('coe', [
          ['a', [], ['continue_on_error: true']],
          ['b', ['a'], ['context:', '  seen: "{{steps.a.status}}/{{steps.a.output}}/{{steps.a.attempts}}"']],
        ]);
        await withEnv({ yaml, script: failingA }, async (env) => {
          const r = await env.finish(await env.start('coe'));
          assert.equal(r.status, 'partial');
          assert.equal(stepOf(r, 'b').status, 'succeeded');
          assert.equal(env.executor.calls.find((c) => c.stepId === 'b')!.context.seen, 'failed//1');
          assert.equal(stepOf(r, 'a').errors[0]!.code, 'template_error');
        });
      });
    });

    describe('when, skip and overrides', () => {
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
        depends_on: [critique, extract]
        when: { path: steps.extract.status, equals: succeeded }
        context:
          crit: "{{steps.critique.status}}:{{steps.critique.output}}"
    overrides:
      states:
        draft: { max_parallel: 1, steps: { extract: { skip: true } } }
`;
      test('a false when skips the step; dependents still run and see skipped/null', async () => {
        await withEnv({ yaml }, async (env) => {
          const r = await env.finish(await env.start('c', { document: 'x', user_experience_level: 'beginner' }));
          assert.equal(r.status, 'succeeded');
          assert.equal(stepOf(r, 'critique').skipReason, 'when');
          assert.equal(stepOf(r, 'tagged').skipReason, 'when');
          assert.equal(stepOf(r, 'level').skipReason, 'when');
          assert.equal(stepOf(r, 'after').status, 'succeeded');
          assert.equal(env.executor.calls.find((c) => c.stepId === 'after')!.context.crit, 'skipped:');
        });
      });

      test('true conditions run the steps', async () => {
        await withEnv({ yaml }, async (env) => {
          const r = await env.finish(await env.start('c', { document: 'x', user_experience_level: 'expert', tags: ['a'] }));
          assert.deepEqual(env.executor.calls.map((c) => c.stepId).sort(), ['after', 'critique', 'extract', 'level', 'tagged']);
          assert.equal(r.status, 'succeeded');
        });
      });

      test('an override skip counts as skipped and dependents run (state override), and its max_parallel holds', async () => {
        await withEnv({ yaml }, async (env) => {
          const r = await env.finish(await env.start('c', { document: 'x', state: 'draft', user_experience_level: 'expert' }));
          assert.equal(stepOf(r, 'extract').skipReason, 'override');
          assert.equal(stepOf(r, 'critique').status, 'succeeded');
          assert.equal(stepOf(r, 'after').skipReason, 'when');
          assert.equal(r.maxParallel, 1);
          assert.equal(env.executor.maxActive, 1);
          assert.deepEqual(r.appliedOverrides, { state: 'draft' });
          assert.equal(r.status, 'succeeded');
        });
      });

      test('the experience-level override picks another template, and wins over the state override', async () => {
        const rules = `version: 1
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
`;
        await withEnv({ yaml: rules, templates: { 'analysis/summary_simple': 'simple for {{who}}' } }, async (env) => {
          const r = await env.finish(await env.start('c', { state: 'draft', user_experience_level: 'beginner', who: 'ann' }));
          assert.equal(stepOf(r, 'summary').template, 'analysis/summary_simple');
          assert.equal(env.executor.calls[0]!.prompt, 'simple for ann');
          const r2 = await env.finish(await env.start('c', { state: 'draft' }));
          assert.equal(stepOf(r2, 'summary').template, 'analysis/summary_draft');
        });
      });
    });

    describe('starting', () => {
      test('a missing required input: failed with missing_context, nothing runs, the status says so', async () => {
        const yaml = `version: 1
compositions:
  c:
    inputs: { required: [document, user_id] }
    steps: [{ id: a, template: t/a }]
`;
        await withEnv({ yaml }, async (env) => {
          const run = await env.start('c', { user_id: 1 });
          const r = await env.finish(run);
          assert.equal(r.status, 'failed');
          assert.equal(r.error!.code, 'missing_context');
          assert.equal(r.error!.variable, 'document');
          assert.equal(env.executor.calls.length, 0);
          assert.deepEqual(trace(env.events), ['workflow.finished failed']);
          assert.equal((await env.status(run.id))!.status, 'failed');
        });
      });

      test('an untrusted workspace refuses provider steps before any runs', async () => {
        const yaml = `version: 1
providers:
  local: { type: openai-compatible, base_url: "http://127.0.0.1:1/v1", model: m }
compositions:
  c:
    steps: [{ id: a, template: t/a, model: local }]
`;
        await withEnv({ yaml, trusted: false }, async (env) => {
          const r = await env.finish(await env.start('c'));
          assert.equal(r.error!.code, 'access_denied');
          assert.equal(env.executor.calls.length, 0);
        });
      });

      test('a run id still running cannot be reused; a finished one can', async () => {
        await withEnv({ yaml: yamlOf('c', [['a', []]]) }, async (env) => {
          const run = await env.start('c', {}, { workflowId: 'mine' });
          assert.equal(run.id, 'mine');
          await assert.rejects(env.start('c', {}, { workflowId: 'mine' }), /still running/);
          await env.finish(run);
          assert.equal((await env.finish(await env.start('c', {}, { workflowId: 'mine' }))).status, 'succeeded');
        });
      });

      test("the caller's max_parallel and the manager's cap bound the run", async () => {
        await withEnv({ yaml: yamlOf('c', [['a', []], ['b', []], ['c', []], ['d', []]], ['max_parallel: 4']), maxParallel: 3 }, async (env) => {
          const r = await env.finish(await env.start('c', {}, { maxParallel: 2 }));
          assert.equal(r.maxParallel, 2);
          assert.ok(env.executor.maxActive <= 2);
          const r2 = await env.finish(await env.start('c'));
          assert.equal(r2.maxParallel, 3);
        });
      });
    });

    describe('status and events', () => {
      const yaml = yamlOf('chain', [['a', []], ['b', ['a'], ['retry: { max_attempts: 2, initial_interval_ms: 10 }']], ['c', ['b']]], ['output: "{{steps.c.output}}!"']);
      const flaky = (id: string, attempt: number) => (id === 'b' && attempt === 1 ? { error: fail('provider_error', { status: 503 }) } : {});

      test('status by id during and after the run, with every step, attempt, error and output', async () => {
        await withEnv({ yaml, script: flaky }, async (env) => {
          const run = await env.start('chain');
          const early = await env.status(run.id);
          assert.equal(early!.status, 'running');
          await env.until(() => env.events.some((e) => e.type === 'step.retrying'), 'b fails once');
          const mid = (await env.status(run.id))!;
          assert.deepEqual(mid.steps.map((x) => x.status), ['succeeded', 'running', 'pending']);
          assert.equal(mid.outputs.a, 'out:a');
          assert.equal(mid.steps[1]!.errors[0]!.status, 503);
          const r = await env.finish(run);
          assert.equal(r.output, 'out:c!');
          const later = (await env.status(run.id))!;
          assert.deepEqual(later.steps.map((x) => [x.id, x.status, x.attempts]), [
            ['a', 'succeeded', 1],
            ['b', 'succeeded', 2],
            ['c', 'succeeded', 1],
          ]);
          for (const s of later.steps) assert.equal(s.finishedAt! - s.startedAt!, s.durationMs);
          assert.equal(later.finishedAt! - later.startedAt, later.durationMs);
          assert.ok(later.steps[1]!.startedAt! >= later.steps[0]!.finishedAt!);
          assert.equal(await env.manager.cancelWorkflow(run.id), false, 'an ended run cannot be cancelled');
        });
      });

      test('events in order, on the manager and through the run iterator, even when iterated late', async () => {
        await withEnv({ yaml, script: flaky }, async (env) => {
          const run = await env.start('chain');
          const early: WorkflowEvent[] = [];
          const iterating = (async () => {
            for await (const e of run) early.push(e);
          })();
          await env.finish(run);
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
          assert.deepEqual(trace(env.events), expected);
          assert.deepEqual(trace(early), expected);
          const late: WorkflowEvent[] = [];
          for await (const e of run) late.push(e);
          assert.deepEqual(trace(late), expected);
          const fin = env.events.find((e): e is StepFinishedEvent => e.type === 'step.finished' && e.stepId === 'b')!;
          assert.equal(fin.attempts, 2);
          assert.ok(env.events.every((e) => e.runId === run.id && e.composition === 'chain'));
          for (let i = 1; i < env.events.length; i++) assert.ok(env.events[i]!.time >= env.events[i - 1]!.time, 'events never go back in time');
        });
      });
    });

    describe('retries', () => {
      test('waits min(initial * coefficient^(n-1), max) between attempts; a 4xx and a non_retryable code are not retried; Retry-After wins', async () => {
        const yaml = `version: 1
compositions:
  c:
    fail_fast: false
    steps:
      - { id: a, template: t/a, retry: { max_attempts: 4, initial_interval_ms: 10, backoff_coefficient: 3, max_interval_ms: 50 } }
      - { id: bad, template: t/bad, retry: { max_attempts: 3 } }
      - { id: nr, template: t/nr, retry: { max_attempts: 3, non_retryable: [timeout] } }
      - { id: limited, template: t/limited, retry: { max_attempts: 2, initial_interval_ms: 10 } }
`;
        const script = (id: string, attempt: number) => {
          if (id === 'a') return attempt < 4 ? { error: fail('provider_error', { status: 500 }) } : { output: 'ok' };
          if (id === 'bad') return { error: fail('provider_error', { status: 400 }) };
          if (id === 'nr') return { error: fail('timeout') };
          return attempt === 1 ? { error: fail('provider_error', { status: 429, retryAfterMs: 40 }) } : {};
        };
        await withEnv({ yaml, script }, async (env) => {
          const r = await env.finish(await env.start('c'));
          const waits = (id: string) => env.events.filter((e) => e.type === 'step.retrying' && e.stepId === id).map((e) => e.type === 'step.retrying' && e.waitMs);
          assert.deepEqual(waits('a'), [10, 30, 50]);
          assert.equal(stepOf(r, 'a').attempts, 4);
          assert.equal(stepOf(r, 'a').errors.length, 3);
          assert.equal(stepOf(r, 'a').output, 'ok');
          assert.equal(stepOf(r, 'bad').attempts, 1);
          assert.equal(stepOf(r, 'nr').attempts, 1);
          assert.deepEqual(waits('limited'), [40]);
          const la = env.executor.calls.filter((c) => c.stepId === 'limited');
          assert.ok(la[1]!.start - la[0]!.end! >= 40, `the second attempt waited ${la[1]!.start - la[0]!.end!} ms`);
          assert.equal(r.status, 'partial');
        });
      });

      test('a render error in the template goes through the retry policy too', async () => {
        const yaml = `version: 1
compositions:
  c:
    steps:
      - { id: a, template: t/needs, retry: { max_attempts: 3, initial_interval_ms: 10, non_retryable: [missing_context] } }
`;
        await withEnv({ yaml, templates: { 't/needs': 'Hi {{name}}' } }, async (env) => {
          const r = await env.finish(await env.start('c'));
          const a = stepOf(r, 'a');
          assert.equal(a.attempts, 1);
          assert.equal(a.errors[0]!.code, 'missing_context');
          assert.equal(env.executor.calls.length, 0);
        });
      });
    });

    describe('timeouts', () => {
      test('a per-attempt timeout aborts the attempt (its signal says timeout), and the retry succeeds', async () => {
        const yaml = `version: 1
compositions:
  c:
    steps:
      - { id: a, template: t/a, timeout_ms: ${50 * h.scale}, retry: { max_attempts: 2, initial_interval_ms: 10 } }
`;
        let reason: unknown;
        const script = (_id: string, attempt: number, req: { signal: AbortSignal }) => {
          if (attempt === 1) {
            req.signal.addEventListener('abort', () => (reason = req.signal.reason));
            return { delayMs: 100 };
          }
          return { delayMs: 5, output: 'fresh' };
        };
        await withEnv({ yaml, script }, async (env) => {
          const r = await env.finish(await env.start('c'));
          const a = stepOf(r, 'a');
          assert.equal(a.status, 'succeeded');
          assert.equal(a.output, 'fresh');
          assert.equal(a.errors[0]!.code, 'timeout');
          assert.ok(reason instanceof PromptError && reason.code === 'timeout');
          assert.equal(env.executor.calls[0]!.outcome, 'aborted');
        });
      });

      test('the run timeout ends the run timed_out, fails the running step, cancels the rest, keeps finished outputs', async () => {
        const yaml = `version: 1
compositions:
  c:
    timeout_ms: ${100 * h.scale}
    steps:
      - { id: a, template: t/a }
      - { id: b, template: t/b, depends_on: [a] }
      - { id: c, template: t/c, depends_on: [b] }
`;
        await withEnv({ yaml, script: (id) => (id === 'a' ? { delayMs: 20 } : { delayMs: 400 }) }, async (env) => {
          const run = await env.start('c');
          const r = await env.finish(run);
          assert.equal(r.status, 'timed_out');
          assert.equal(r.error!.code, 'timeout');
          assert.deepEqual(r.outputs, { a: 'out:a' });
          assert.equal(stepOf(r, 'b').status, 'failed');
          assert.equal(stepOf(r, 'b').errors[0]!.code, 'timeout');
          assert.equal(stepOf(r, 'c').status, 'cancelled');
          assert.deepEqual(trace(env.events).slice(-3), ['step.finished b failed', 'step.finished c cancelled', 'workflow.finished timed_out']);
          assert.ok(r.durationMs! >= 100 * h.scale - 1);
        });
      });
    });

    describe('cancellation', () => {
      const yaml = `version: 1
compositions:
  c:
    steps:
      - { id: a, template: t/a }
      - { id: b, template: t/b, depends_on: [a] }
      - { id: x, template: t/x, depends_on: [a] }
      - { id: z, template: t/z, depends_on: [b, x] }
`;
      test('cancel mid-run: the running step gets the abort, nothing new starts, finished outputs stay', async () => {
        await withEnv({ yaml, script: (id) => ({ delayMs: id === 'b' ? 1000 : 10 }) }, async (env) => {
          const run = await env.start('c');
          await env.until(() => env.events.some((e) => e.type === 'step.finished' && e.stepId === 'x'), 'x finishes');
          assert.equal(await env.manager.cancelWorkflow(run.id, 'user pressed stop'), true);
          const r = await env.finish(run);
          assert.equal(r.status, 'cancelled');
          assert.equal(r.error!.code, 'cancelled');
          assert.equal(r.error!.message, 'user pressed stop');
          assert.deepEqual(r.steps.map((s) => s.status), ['succeeded', 'cancelled', 'succeeded', 'cancelled']);
          assert.deepEqual(r.outputs, { a: 'out:a', x: 'out:x' });
          await env.until(() => env.executor.calls.find((c) => c.stepId === 'b')?.outcome === 'aborted', 'b sees the abort');
          await env.wait(50);
          assert.equal(env.executor.calls.length, 3, 'no step started after the cancel');
          assert.equal(trace(env.events).at(-1), 'workflow.finished cancelled');
          assert.equal((await env.status(run.id))!.status, 'cancelled');
        });
      });

      test("the caller's AbortSignal cancels the run, also during a retry wait; an aborted one before anything runs", async () => {
        const retrying = `version: 1
compositions:
  c:
    steps:
      - { id: a, template: t/a, retry: { max_attempts: 5, initial_interval_ms: 60000 } }
`;
        await withEnv({ yaml: retrying, script: () => ({ error: fail('provider_error', { status: 500 }) }) }, async (env) => {
          const ac = new AbortController();
          const run = await env.start('c', {}, { signal: ac.signal });
          await env.until(() => env.events.some((e) => e.type === 'step.retrying'), 'the first attempt fails');
          ac.abort();
          const r = await env.finish(run);
          assert.equal(r.status, 'cancelled');
          assert.equal(stepOf(r, 'a').attempts, 1);
          const r2 = await env.finish(await env.start('c', {}, { signal: AbortSignal.abort() }));
          assert.equal(r2.status, 'cancelled');
          assert.equal(env.executor.calls.length, 1);
        });
      });
    });

    describe('fallbacks and the output', () => {
      const yaml = `version: 1
compositions:
  c:
    output: "{{steps.v.output}} / {{steps.t.output}} / {{steps.broken.status}}"
    fail_fast: false
    steps:
      - { id: v, template: t/v, fallback: { value: "literal output" } }
      - { id: t, template: t/t, fallback: { template: analysis/lite }, context: { topic: "{{topic}}" } }
      - { id: broken, template: t/b, fallback: { template: analysis/broken } }
      - { id: after, template: t/after, depends_on: [t], context: { seen: "{{steps.t.status}}={{steps.t.output}}" } }
`;
      test('a value or template fallback gives the output and the status fallback; a failing fallback fails', async () => {
        const script = (id: string) => (id === 'after' ? {} : { error: fail('provider_error', { status: 500 }) });
        await withEnv({ yaml, script, templates: { 'analysis/lite': 'lite on {{topic}}', 'analysis/broken': 'needs {{nowhere}}' } }, async (env) => {
          const r = await env.finish(await env.start('c', { topic: 'tea' }));
          assert.equal(stepOf(r, 'v').status, 'fallback');
          assert.equal(stepOf(r, 'v').output, 'literal output');
          assert.equal(stepOf(r, 't').output, 'lite on tea');
          assert.equal(stepOf(r, 'broken').status, 'failed');
          assert.deepEqual(stepOf(r, 'broken').errors.map((e) => e.code), ['provider_error', 'missing_context']);
          assert.equal(env.executor.calls.find((c) => c.stepId === 'after')!.context.seen, 'fallback=lite on tea');
          assert.equal(r.status, 'partial', 'broken failed');
          assert.equal(r.output, 'literal output / lite on tea / failed');
        });
      });

      test('the status says why each step fell back: its last error, and for a provider call the kind of failure and the provider', async () => {
        const rules = `version: 1
providers:
  llm: { type: render }
compositions:
  c:
    steps:
      - { id: call, template: t/call, model: llm, fallback: { value: "offline" } }
      - { id: local, template: t/local, fallback: { value: "plain" } }
      - { id: fine, template: t/fine }
`;
        const script = (id: string) => (id === 'call' ? { error: fail('provider_error', { status: 503 }) } : id === 'local' ? { error: fail('template_error') } : {});
        await withEnv({ yaml: rules, script }, async (env) => {
          const r = await env.finish(await env.start('c'));
          assert.equal(r.status, 'succeeded');
          assert.deepEqual(r.fallbacks, [
            { step: 'call', code: 'provider_error', cause: 'provider_error!', kind: 'server_error', provider: 'llm' },
            { step: 'local', code: 'template_error', cause: 'template_error!' },
          ]);
          assert.deepEqual((await env.status(r.id))!.fallbacks, r.fallbacks, 'and so does the status read afterwards');
        });
      });

      test('an output that does not render fails the run but keeps the step outputs', async () => {
        await withEnv({ yaml: yamlOf('c', [['a', []]], ['output: "{{nothing_here}}"']) }, async (env) => {
          const r = await env.finish(await env.start('c'));
          assert.equal(r.status, 'failed');
          assert.equal(r.error!.code, 'missing_context');
          assert.deepEqual(r.outputs, { a: 'out:a' });
        });
      });
    });
  });
}
