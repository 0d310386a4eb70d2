import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveComposition } from '../../../core/workflow/resolve.js';
import { composition, loadRules } from './helpers.js';

const rules = loadRules(`version: 1
defaults:
  max_parallel: 4
  fail_fast: true
  step_timeout_ms: 30000
  timeout_ms: 90000
  retry: { max_attempts: 2, initial_interval_ms: 100 }
compositions:
  complete_analysis:
    inputs: { required: [document], optional: [locale] }
    max_parallel: 2
    fail_fast: false
    timeout_ms: 60000
    steps:
      - id: extract
        template: analysis/extract
        retry: { max_attempts: 3, backoff_coefficient: 3, non_retryable: [template_error] }
        timeout_ms: 10000
      - id: summary
        template: analysis/summary
        depends_on: [extract]
        context: { facts: "{{steps.extract.output}}", n: 3 }
      - id: critique
        template: analysis/critique
        depends_on: [extract]
        when: { path: user_experience_level, not_equals: beginner }
        continue_on_error: true
        fallback: { template: analysis/critique_lite }
    output: "{{steps.summary.output}}"
    overrides:
      states:
        draft:
          max_parallel: 1
          steps:
            critique: { skip: true }
            summary: { template: analysis/summary_draft, context: { n: 1 }, timeout_ms: 500 }
      experience_levels:
        beginner:
          fail_fast: true
          steps:
            summary: { template: analysis/summary_simple, retry: { max_attempts: 5 } }
`);
const def = composition(rules, 'complete_analysis');

test('defaults, then the composition, then the step', () => {
  const r = resolveComposition(def, rules.defaults, { document: 'd' });
  assert.equal(r.maxParallel, 2);
  assert.equal(r.failFast, false);
  assert.equal(r.timeoutMs, 60000);
  assert.equal(r.output, '{{steps.summary.output}}');
  assert.deepEqual(r.inputs, { required: ['document'], optional: ['locale'] });
  const [extract, summary, critique] = r.steps;
  assert.deepEqual(extract!.retry, { maxAttempts: 3, initialIntervalMs: 100, backoffCoefficient: 3, maxIntervalMs: 10000, nonRetryable: ['template_error'] });
  assert.equal(extract!.timeoutMs, 10000);
  assert.equal(summary!.timeoutMs, 30000, 'defaults.step_timeout_ms');
  assert.deepEqual(summary!.retry, { maxAttempts: 2, initialIntervalMs: 100, backoffCoefficient: 2, maxIntervalMs: 10000, nonRetryable: [] });
  assert.deepEqual(summary!.dependsOn, ['extract']);
  assert.deepEqual(summary!.context, { facts: '{{steps.extract.output}}', n: 3 });
  assert.deepEqual(critique!.when, { path: 'user_experience_level', notEquals: 'beginner' });
  assert.equal(critique!.continueOnError, true);
  assert.deepEqual(critique!.fallback, { template: 'analysis/critique_lite' });
  assert.equal(critique!.skip, false);
  assert.deepEqual(r.appliedOverrides, {});
});

test('the state override', () => {
  const r = resolveComposition(def, rules.defaults, { state: 'draft' });
  assert.equal(r.maxParallel, 1);
  assert.equal(r.failFast, false);
  const [, summary, critique] = r.steps;
  assert.equal(critique!.skip, true);
  assert.equal(summary!.template, 'analysis/summary_draft');
  assert.equal(summary!.timeoutMs, 500);
  assert.deepEqual(summary!.context, { facts: '{{steps.extract.output}}', n: 1 }, 'context merges key by key');
  assert.deepEqual(r.appliedOverrides, { state: 'draft' });
});

test('the experience-level override wins over the state override', () => {
  const r = resolveComposition(def, rules.defaults, { state: 'draft', user_experience_level: 'beginner' });
  assert.equal(r.maxParallel, 1, 'from the state: the level does not set it');
  assert.equal(r.failFast, true, 'from the level');
  const summary = r.steps[1]!;
  assert.equal(summary.template, 'analysis/summary_simple');
  assert.equal(summary.retry.maxAttempts, 5);
  assert.equal(summary.timeoutMs, 500, 'the state still applies where the level is silent');
  assert.deepEqual(r.appliedOverrides, { state: 'draft', experienceLevel: 'beginner' });
});

test('an unknown state or a non-scalar selects nothing', () => {
  assert.deepEqual(resolveComposition(def, rules.defaults, { state: 'final' }).appliedOverrides, {});
  assert.deepEqual(resolveComposition(def, rules.defaults, { state: { a: 1 } }).appliedOverrides, {});
});

test('without any settings: unbounded parallelism, fail_fast, one attempt, Temporal intervals', () => {
  const r2 = loadRules('version: 1\ncompositions:\n  c:\n    steps: [{ id: a, template: t }]\n');
  const r = resolveComposition(composition(r2, 'c'), r2.defaults, {});
  assert.equal(r.maxParallel, Infinity);
  assert.equal(r.failFast, true);
  assert.equal(r.timeoutMs, undefined);
  assert.deepEqual(r.steps[0]!.retry, { maxAttempts: 1, initialIntervalMs: 1000, backoffCoefficient: 2, maxIntervalMs: 100000, nonRetryable: [] });
  assert.equal(r.steps[0]!.timeoutMs, undefined);
});
