/**
 * Durations and retry storms: every duration in the configuration is
 * bounded by the schema and by the engine; timers of any allowed length work; a wait that
 * cannot end in a usable answer fails the step at once, saying why; retries have a maximum
 * count, a minimum interval, and a bounded error list.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { ChainedTimer, FakeClock, MAX_TIMER_MS, systemClock, type TimerPrimitives } from '../../../core/clock.js';
import { PromptError } from '../../../core/errors.js';
import { validateWorkspace } from '../../../core/validate/validateWorkspace.js';
import { memoryFileSystem } from '../../../core/workspace/fileSystem.js';
import { MAX_ATTEMPTS, MAX_BACKOFF_COEFFICIENT, MAX_DURATION_MS, MAX_STEP_ERRORS, MIN_RETRY_INTERVAL_MS } from '../../../core/workflow/bounds.js';
import { WorkflowEngine } from '../../../core/workflow/engine.js';
import { ExecutorRegistry } from '../../../core/workflow/executors.js';
import { resolveComposition } from '../../../core/workflow/resolve.js';
import { REPO } from '../../helpers/paths.js';
import { composition, finish, loadRules, makeEngine, ScriptedExecutor, stepOf, TestHost } from './helpers.js';

const THIRTY_DAYS = 2_592_000_000;

describe('long timers', () => {
  test('a chained timer of 30 days re-arms at Node\'s limit and fires at 30 days, not before', () => {
    let now = 0;
    const armed: { ms: number; fn: () => void; cleared: boolean }[] = [];
    const timers: TimerPrimitives = {
      now: () => now,
      set: (fn, ms) => {
        assert.ok(ms <= MAX_TIMER_MS, `a Node timer of ${ms} ms would overflow`);
        const t = { ms, fn, cleared: false };
        armed.push(t);
        return t as unknown as NodeJS.Timeout;
      },
      clear: (t) => void ((t as unknown as { cleared: boolean }).cleared = true),
    };
    let fired = 0;
    new ChainedTimer(() => fired++, THIRTY_DAYS, timers);
    while (fired === 0) {
      const t = armed[armed.length - 1]!;
      now += t.ms;
      t.fn();
      assert.ok(armed.length < 10, 'it re-arms a few times, not forever');
    }
    assert.equal(now, THIRTY_DAYS);
    assert.deepEqual(armed.map((t) => t.ms), [MAX_TIMER_MS, THIRTY_DAYS - MAX_TIMER_MS]);
    // Cleared before it is due: it never fires.
    armed.length = 0;
    fired = 0;
    const c = new ChainedTimer(() => fired++, THIRTY_DAYS, timers);
    c.clear();
    assert.equal(armed[0]!.cleared, true);
  });

  test('systemClock: a 30-day timer does not fire at once (Node\'s own would, after 1 ms)', async () => {
    let fired = false;
    const h = systemClock.setTimeout(() => (fired = true), THIRTY_DAYS);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(fired, false);
    systemClock.clearTimeout(h);
    const inf = systemClock.setTimeout(() => (fired = true), Infinity);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(fired, false, 'Infinity never fires');
    systemClock.clearTimeout(inf);
  });

  test('a run with timeout_ms of 30 days on the real clock runs to its end (it timed out after milliseconds)', async () => {
    const rules = loadRules(`version: 1
compositions:
  c:
    timeout_ms: ${THIRTY_DAYS}
    steps:
      - { id: a, template: t/a, timeout_ms: ${THIRTY_DAYS} }
`);
    const slow = { name: 'render', execute: () => new Promise((r) => setTimeout(() => r('done'), 40)) };
    const engine = new WorkflowEngine({ host: new TestHost(), executors: new ExecutorRegistry([slow]) });
    const r = await engine.execute(composition(rules, 'c'), rules.defaults, {}).done;
    assert.equal(r.status, 'succeeded', JSON.stringify(r.error ?? r.steps[0]!.errors));
    assert.equal(r.output, 'done');
  });
});

// ------------------------------------------------------------------ the schema

const ROOT = path.resolve('/virtual/durations');

function schemaErrors(files: Record<string, string>): string[] {
  const fs2 = memoryFileSystem(Object.fromEntries(Object.entries({ 'templates/a.hbs': 'A', ...files }).map(([k, v]) => [path.join(ROOT, k), v])));
  return validateWorkspace(ROOT, { fs: fs2 }).diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code}: ${d.message}`);
}

/** composition_rules.yaml with one value placed at a duration site. */
const SITES: Record<string, (v: string) => string> = {
  'defaults.timeout_ms': (v) => `defaults: { timeout_ms: ${v} }\n`,
  'defaults.step_timeout_ms': (v) => `defaults: { step_timeout_ms: ${v} }\n`,
  'defaults.retry.initial_interval_ms': (v) => `defaults: { retry: { initial_interval_ms: ${v} } }\n`,
  'defaults.retry.max_interval_ms': (v) => `defaults: { retry: { max_interval_ms: ${v} } }\n`,
  'providers.p.timeout_ms': (v) => `providers:\n  p: { type: openai-compatible, base_url: "http://127.0.0.1:9/v1", model: m, timeout_ms: ${v} }\n`,
  'composition timeout_ms': (v) => `compositions:\n  c:\n    timeout_ms: ${v}\n    steps: [{ id: a, template: a }]\n`,
  'composition step_timeout_ms': (v) => `compositions:\n  c:\n    step_timeout_ms: ${v}\n    steps: [{ id: a, template: a }]\n`,
  'composition retry.max_interval_ms': (v) => `compositions:\n  c:\n    retry: { max_interval_ms: ${v} }\n    steps: [{ id: a, template: a }]\n`,
  'step timeout_ms': (v) => `compositions:\n  c:\n    steps: [{ id: a, template: a, timeout_ms: ${v} }]\n`,
  'step retry.initial_interval_ms': (v) => `compositions:\n  c:\n    steps: [{ id: a, template: a, retry: { initial_interval_ms: ${v} } }]\n`,
  'override timeout_ms': (v) => `compositions:\n  c:\n    steps: [{ id: a, template: a }]\n    overrides:\n      states: { busy: { timeout_ms: ${v} } }\n`,
  'step override timeout_ms': (v) => `compositions:\n  c:\n    steps: [{ id: a, template: a }]\n    overrides:\n      states: { busy: { steps: { a: { timeout_ms: ${v} } } } }\n`,
};

describe('the schema bounds every duration', () => {
  test('every duration site refuses 1e29, 1e400 and 30 days + 1 ms, and accepts 30 days', () => {
    const wrong: string[] = [];
    for (const [site, yaml] of Object.entries(SITES)) {
      for (const v of ['1e29', '1e400', String(THIRTY_DAYS + 1)]) {
        const errs = schemaErrors({ 'composition_rules.yaml': `version: 1\n${yaml(v)}` });
        if (!errs.some((e) => e.startsWith('schema:') && /at most 2592000000|to 2592000000/.test(e))) wrong.push(`${site} = ${v} passed: ${JSON.stringify(errs)}`);
      }
      const ok = schemaErrors({ 'composition_rules.yaml': `version: 1\n${yaml(String(THIRTY_DAYS))}` });
      if (ok.length) wrong.push(`${site} = 30 days refused: ${JSON.stringify(ok)}`);
    }
    for (const t of ['render_p95_ms', 'workflow_p95_ms']) {
      for (const v of ['1e29', '1e400']) {
        const errs = schemaErrors({ 'service_mappings.yaml': `version: 1\nservices:\n  s:\n    templates: [a]\n    performance_targets: { ${t}: ${v} }\n` });
        if (!errs.some((e) => e.startsWith('schema:'))) wrong.push(`service ${t} = ${v} passed`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  test('retry counts and factors are bounded too (12.9): max_attempts from 1 to 100, backoff_coefficient up to 100', () => {
    const at = (retry: string) => schemaErrors({ 'composition_rules.yaml': `version: 1\ncompositions:\n  c:\n    steps: [{ id: a, template: a, retry: ${retry} }]\n` });
    assert.match(at('{ max_attempts: 1000000000, initial_interval_ms: 0 }').join('\n'), /max_attempts.*from 1 to 100/);
    assert.deepEqual(at('{ max_attempts: 100, initial_interval_ms: 0 }'), []);
    assert.match(at('{ backoff_coefficient: 1e308 }').join('\n'), /backoff_coefficient.*from 1 to 100/);
  });

  test('the schema states the same maxima the engine enforces', () => {
    const schema = JSON.parse(fs.readFileSync(path.join(REPO, 'schemas', 'composition_rules.schema.json'), 'utf8'));
    const d = schema.definitions;
    const r = d.retryPolicy.properties;
    assert.equal(r.max_attempts.maximum, MAX_ATTEMPTS);
    assert.equal(r.backoff_coefficient.maximum, MAX_BACKOFF_COEFFICIENT);
    for (const x of [d.runTimeoutMs, d.stepTimeoutMs, r.initial_interval_ms, r.max_interval_ms, d.provider.properties.timeout_ms, d.runDefaults.properties.step_timeout_ms, d.composition.properties.step_timeout_ms]) {
      assert.equal(x.maximum, MAX_DURATION_MS);
    }
    assert.equal(MAX_DURATION_MS, THIRTY_DAYS);
  });
});

// ------------------------------------------------------------------ the engine

describe('the engine bounds what the schema does not see', () => {
  test('a composition built in code with 1e29 ms or 1e9 attempts is refused before any step runs', async () => {
    const rules = loadRules(`version: 1
compositions:
  c:
    steps: [{ id: a, template: t/a }]
`);
    const { engine, clock, executor } = makeEngine();
    const base = resolveComposition(composition(rules, 'c'), rules.defaults, {});
    const cases: [string, typeof base, RegExp][] = [
      ['run timeout', { ...base, timeoutMs: 1e29 }, /timeout_ms must be a whole number of milliseconds from 1 to 2592000000/],
      ['step timeout', { ...base, steps: [{ ...base.steps[0]!, timeoutMs: Infinity }] }, /step "a": timeout_ms/],
      ['attempts', { ...base, steps: [{ ...base.steps[0]!, retry: { ...base.steps[0]!.retry, maxAttempts: 1e9 } }] }, /max_attempts must be a whole number from 1 to 100/],
      ['interval', { ...base, steps: [{ ...base.steps[0]!, retry: { ...base.steps[0]!.retry, maxIntervalMs: 1e400 } }] }, /max_interval_ms/],
    ];
    for (const [what, c, message] of cases) {
      const r = await finish(clock, engine.executeResolved(c, {}));
      assert.equal(r.status, 'failed', what);
      assert.equal(r.error?.code, 'invalid_configuration', what);
      assert.match(String(r.error?.message), message, what);
    }
    assert.equal(executor.calls.length, 0);
  });
});

describe('retry waits and the run deadline', () => {
  const fail429 = (retryAfterMs?: number) => new PromptError('provider_error', 'slow down', { status: 429, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });

  function run(yamlRetry: string, script: (attempt: number) => PromptError | undefined, runTimeout = '') {
    const rules = loadRules(`version: 1
compositions:
  c:
${runTimeout}    steps:
      - { id: a, template: t/a, retry: ${yamlRetry} }
`);
    const clock = new FakeClock();
    const executor = new ScriptedExecutor(clock, (_id, attempt) => {
      const e = script(attempt);
      return e ? { error: e, delayMs: 10 } : { delayMs: 10 };
    });
    const { engine, events } = makeEngine({ clock, executor });
    return { clock, executor, events, run: engine.execute(composition(rules, 'c'), rules.defaults, {}) };
  }

  test('a Retry-After past maxRetryAfterMs (3,000,000 s, a date in 2099) fails the step at once, saying why', async () => {
    for (const ms of [3_000_000_000, Date.parse('2099-01-01T00:00:00Z') - Date.now()]) {
      const { clock, run: r, executor } = run('{ max_attempts: 3, initial_interval_ms: 100 }', () => fail429(ms));
      const res = await finish(clock, r);
      assert.equal(executor.calls.length, 1, 'no second attempt');
      assert.equal(stepOf(res, 'a').status, 'failed');
      assert.equal(stepOf(res, 'a').finishedAt, 10, 'failed at once, not after the wait');
      const err = stepOf(res, 'a').errors[0]!;
      assert.equal(err.code, 'provider_error');
      assert.equal(err.status, 429);
      assert.match(String(err.message), /slow down; not retried: the provider asked to wait [\d.]+ days \(Retry-After\), longer than the 10 min a step waits at most \(maxRetryAfterMs\)/);
    }
  });

  test('a wait that would end after the run\'s timeout_ms fails the step at once; a shorter one is honoured', async () => {
    const { clock, run: r, executor } = run('{ max_attempts: 3, initial_interval_ms: 100 }', () => fail429(5000), '    timeout_ms: 3000\n');
    const res = await finish(clock, r);
    assert.equal(executor.calls.length, 1);
    assert.equal(stepOf(res, 'a').finishedAt, 10);
    assert.equal(res.durationMs, 10);
    assert.equal(res.status, 'failed', 'the step failed; the run did not time out');
    assert.match(String(stepOf(res, 'a').errors[0]!.message), /not retried: the provider asked to wait 5 s \(Retry-After\), but the run's timeout_ms of 3000 ms ends in 2\.99 s|ends in 3 s/);
    // The same for the policy's own backoff.
    const b = run('{ max_attempts: 3, initial_interval_ms: 5000 }', () => new PromptError('provider_error', 'boom', { status: 500 }), '    timeout_ms: 3000\n');
    const rb = await finish(b.clock, b.run);
    assert.equal(b.executor.calls.length, 1);
    assert.match(String(stepOf(rb, 'a').errors[0]!.message), /boom; not retried: the next attempt would wait 5 s \(retry backoff\), but the run's timeout_ms of 3000 ms ends in/);
    // Within the deadline: waited as asked.
    const c = run('{ max_attempts: 3, initial_interval_ms: 100 }', (n) => (n === 1 ? fail429(1000) : undefined), '    timeout_ms: 3000\n');
    const rc = await finish(c.clock, c.run);
    assert.equal(rc.status, 'succeeded');
    assert.equal(c.executor.calls[1]!.start, 1010);
  });
});

describe('retry storms (12.9)', () => {
  test('initial_interval_ms: 0 waits the minimum interval between attempts', async () => {
    const rules = loadRules(`version: 1
compositions:
  c:
    steps:
      - { id: a, template: t/a, retry: { max_attempts: 5, initial_interval_ms: 0 } }
`);
    const clock = new FakeClock();
    const executor = new ScriptedExecutor(clock, () => ({ error: new PromptError('template_error', 'no'), delayMs: 0 }));
    const { engine, events } = makeEngine({ clock, executor });
    const r = await finish(clock, engine.execute(composition(rules, 'c'), rules.defaults, {}));
    assert.equal(stepOf(r, 'a').attempts, 5);
    assert.deepEqual(executor.calls.map((c) => c.start), [0, 10, 20, 30, 40]);
    assert.ok(events.every((e) => e.type !== 'step.retrying' || e.waitMs === MIN_RETRY_INTERVAL_MS));
    // A Retry-After of 0 waits the minimum too.
    const clock2 = new FakeClock();
    const z = new ScriptedExecutor(clock2, (_id, n) => (n === 1 ? { error: new PromptError('provider_error', 'x', { status: 503, retryAfterMs: 0 }), delayMs: 0 } : { delayMs: 0 }));
    const e2 = makeEngine({ clock: clock2, executor: z });
    const r2 = await finish(clock2, e2.engine.execute(composition(rules, 'c'), rules.defaults, {}));
    assert.equal(r2.status, 'succeeded');
    assert.deepEqual(z.calls.map((c) => c.start), [0, MIN_RETRY_INTERVAL_MS]);
  });

  test('a step retried 100 times keeps its first 5 and latest 5 errors, and counts the rest', async () => {
    const rules = loadRules(`version: 1
compositions:
  c:
    steps:
      - { id: a, template: t/a, retry: { max_attempts: 100, initial_interval_ms: 0 } }
`);
    const clock = new FakeClock();
    const executor = new ScriptedExecutor(clock, (_id, n) => ({ error: new PromptError('template_error', `attempt ${n} failed`), delayMs: 0 }));
    const { engine } = makeEngine({ clock, executor });
    const r = await finish(clock, engine.execute(composition(rules, 'c'), rules.defaults, {}));
    const a = stepOf(r, 'a');
    assert.equal(a.attempts, 100);
    assert.equal(a.errors.length, MAX_STEP_ERRORS);
    assert.equal(a.errorsDropped, 90);
    assert.deepEqual(a.errors.map((e) => e.message), [1, 2, 3, 4, 5, 96, 97, 98, 99, 100].map((n) => `attempt ${n} failed`));
  });
});
