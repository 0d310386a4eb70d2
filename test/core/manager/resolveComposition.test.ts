import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTesting } from '../../../core/manager/factory.js';
import { resolveComposition } from '../../../core/workflow/resolve.js';

const RULES = `version: 1
defaults:
  max_parallel: 4
  fail_fast: true
  step_timeout_ms: 30000
  retry: { max_attempts: 1, initial_interval_ms: 100 }
compositions:
  c:
    max_parallel: 2
    fail_fast: false
    steps:
      - id: a
        template: t/a
        retry: { max_attempts: 3 }
        context: { tone: formal, n: 1 }
      - id: b
        template: t/b
        depends_on: [a]
        timeout_ms: 5000
        fallback: { value: "n/a" }
    overrides:
      states:
        draft: { max_parallel: 1, steps: { b: { skip: true }, a: { context: { tone: casual } } } }
      experience_levels:
        beginner: { fail_fast: true, steps: { a: { template: t/simple, retry: { initial_interval_ms: 50 } } } }
`;

async function def() {
  const m = await createTesting({ templates: { 't/a': 'a', 't/b': 'b', 't/simple': 's' }, compositionRules: RULES });
  const snap = m.snapshot;
  await m.close();
  return { def: snap.compositions.get('c')!, defaults: snap.runDefaults };
}

test('defaults, then the composition and step', async () => {
  const { def: d, defaults } = await def();
  const r = resolveComposition(d, defaults, {});
  assert.equal(r.maxParallel, 2);
  assert.equal(r.failFast, false);
  assert.deepEqual(r.appliedOverrides, {});
  const [a, b] = r.steps;
  assert.deepEqual(a!.retry, { maxAttempts: 3, initialIntervalMs: 100, backoffCoefficient: 2, maxIntervalMs: 10_000, nonRetryable: [] });
  assert.equal(a!.timeoutMs, 30_000);
  assert.deepEqual(a!.context, { tone: 'formal', n: 1 });
  assert.equal(b!.timeoutMs, 5000);
  assert.deepEqual(b!.dependsOn, ['a']);
  assert.deepEqual(b!.fallback, { value: 'n/a' });
  assert.equal(b!.skip, false);
});

test('state override, then experience-level override, each later one winning', async () => {
  const { def: d, defaults } = await def();
  const r = resolveComposition(d, defaults, { state: 'draft', user_experience_level: 'beginner' });
  assert.deepEqual(r.appliedOverrides, { state: 'draft', experienceLevel: 'beginner' });
  assert.equal(r.maxParallel, 1);
  assert.equal(r.failFast, true);
  const [a, b] = r.steps;
  assert.equal(a!.template, 't/simple');
  assert.deepEqual(a!.context, { tone: 'casual', n: 1 });
  assert.equal(a!.retry.initialIntervalMs, 50);
  assert.equal(a!.retry.maxIntervalMs, 5000, 'the cap follows the initial interval that applies');
  assert.equal(a!.retry.maxAttempts, 3);
  assert.equal(b!.skip, true);
});

test('an unknown state or level selects nothing; built-in defaults without a defaults block', async () => {
  const { def: d } = await def();
  const r = resolveComposition(d, {}, { state: 'published', user_experience_level: { not: 'a string' } });
  assert.deepEqual(r.appliedOverrides, {});
  assert.equal(r.steps[1]!.retry.maxAttempts, 1);
  assert.equal(r.steps[1]!.retry.initialIntervalMs, 1000);
  assert.equal(r.steps[0]!.timeoutMs, undefined);
});
