/**
 * Previews: a template rendered with a marker for each value the context lacks (the strict
 * error beside it), the service's fallback named with its cause, and one step of a composition
 * rendered as the run would render it (its own context, its overrides, the last run's outputs
 * or placeholders). The lenient render runs the strict compiled code: a strict render is not
 * changed by it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTesting } from '../../../core/manager/factory.js';
import { PromptError } from '../../../core/errors.js';
import type { WorkflowStatus } from '../../../core/workflow/types.js';

test('previewTemplate: every missing value becomes a marker, listed once, beside the strict error', async () => {
  const m = await createTesting({
    templates: {
      page: 'Title: {{doc.title}}\n{{#if user.name}}Hi {{user.name}}{{else}}Hi you{{/if}}\n{{#each items}}- {{name}}\n{{/each}}{{upper who}}|{{> tail}}',
      tail: 'by {{author}} in {{steps.extract.output}}',
    },
  });
  try {
    const p = m.previewTemplate('page', { items: [{ name: 'a' }, {}, {}] });
    assert.equal(p.text, 'Title: ⟨doc.title⟩\nHi you\n- a\n- ⟨name⟩\n- ⟨name⟩\n|by ⟨author⟩ in ⟨steps.extract.output⟩');
    // A value only read under a missing parent (`user` of an {{#if}}) is undefined there, and listed all
    // the same, as strict mode fails on it; a helper's argument that is only undefined (`who`) is not.
    assert.deepEqual(p.missing, ['doc.title', 'user.name', 'name', 'author', 'steps.extract.output']);
    assert.ok(p.strictError instanceof PromptError);
    assert.equal(p.strictError.code, 'missing_context');
    assert.equal(p.strictError.variable, 'doc');
    assert.equal(p.template, 'page');
    // The strict render is what it was: the same error, and no marker leaks into it.
    await assert.rejects(m.render('page', {}), (e: unknown) => e instanceof PromptError && e.code === 'missing_context' && e.message === p.strictError!.message);
    const full = m.previewTemplate('page', { doc: { title: 'T' }, user: { name: 'U' }, items: [], who: 'w', author: 'A', steps: { extract: { output: 'E' } } });
    assert.equal(full.text, 'Title: T\nHi U\nW|by A in E');
    assert.deepEqual(full.missing, []);
    assert.equal(full.strictError, undefined);
  } finally {
    await m.close();
  }
});

test('previewTemplate: other errors are the answer, as for render', async () => {
  const m = await createTesting({ templates: { bad: '{{#each x}}{{/each}}{{undefinedHelper 1}}' } });
  try {
    assert.throws(() => m.previewTemplate('nope', {}), (e: unknown) => e instanceof PromptError && e.code === 'unknown_template');
    assert.throws(() => m.previewTemplate('bad', { x: [] }), (e: unknown) => e instanceof PromptError && e.code === 'template_error');
  } finally {
    await m.close();
  }
});

test('previewTemplate as a service: the fallback that answered, and why', async () => {
  const m = await createTesting({
    templates: { summary: 'Summary in {{max_words}} words', sorry: 'Sorry.' },
    serviceMappings: { services: { s: { primary_templates: ['summary'], fallback: { template: 'sorry', on: ['missing_context'] } } } },
  });
  try {
    const p = m.previewTemplate('summary', {}, { serviceName: 's' });
    assert.equal(p.text, 'Sorry.');
    assert.equal(p.template, 'sorry');
    assert.deepEqual(p.fallbackFor && [p.fallbackFor.template, p.fallbackFor.code, p.fallbackFor.variable], ['summary', 'missing_context', 'max_words']);
    assert.equal(p.strictError, undefined, 'the service answers: its render does not fail');
  } finally {
    await m.close();
  }
});

const RULES = {
  compositions: {
    flow: {
      inputs: { required: ['doc'], optional: ['state', 'user_experience_level'] },
      steps: [
        { id: 'extract', template: 'extract' },
        { id: 'check', template: 'extract', depends_on: ['extract'], when: { path: 'user_experience_level', not_equals: 'beginner' } },
        { id: 'summary', template: 'summary', depends_on: ['extract'], context: { max_words: 200, title: '{{doc}} ({{steps.extract.status}})' } },
        { id: 'report', template: 'report', depends_on: ['summary', 'check'] },
      ],
      overrides: {
        states: { draft: { steps: { report: { skip: true } } } },
        experience_levels: { beginner: { steps: { summary: { template: 'simple', context: { max_words: 50 } } } } },
      },
    },
  },
};
const TEMPLATES = {
  extract: 'Extract {{doc}}',
  summary: '{{title}}: at most {{max_words}} words of {{steps.extract.output}}',
  simple: 'Simply, in {{max_words}} words: {{steps.extract.output}}',
  report: '{{steps.summary.output}} / {{steps.check.output}} / {{tone}}',
};

test('previewStep: the inputs, the step\'s own context rendered as the run renders it, placeholders for steps not run', async () => {
  const m = await createTesting({ templates: TEMPLATES, compositionRules: RULES });
  try {
    const p = m.previewStep('flow', 'summary', { doc: 'D' });
    assert.equal(p.text, 'D (pending): at most 200 words of ⟨steps.extract.output: not run yet⟩');
    assert.equal(p.template, 'summary');
    assert.deepEqual(p.dependencies, [{ step: 'extract', source: 'placeholder', reason: 'not run yet' }]);
    assert.deepEqual(p.missing, []);
    assert.equal(p.strictError, undefined);
    // The experience level's override: another template and another context value.
    const b = m.previewStep('flow', 'summary', { doc: 'D', user_experience_level: 'beginner' });
    assert.equal(b.template, 'simple');
    assert.equal(b.text, 'Simply, in 50 words: ⟨steps.extract.output: not run yet⟩');
    assert.deepEqual(b.appliedOverrides, { experienceLevel: 'beginner' });
    // What the run would skip, and why.
    assert.equal(m.previewStep('flow', 'report', { doc: 'D', state: 'draft' }).skip, 'override');
    assert.equal(m.previewStep('flow', 'check', { doc: 'D', user_experience_level: 'beginner' }).skip, 'when');
    assert.equal(m.previewStep('flow', 'check', { doc: 'D' }).skip, undefined);
  } finally {
    await m.close();
  }
});

test('previewStep: a missing input or value is a marker, with what the run would say', async () => {
  const m = await createTesting({ templates: TEMPLATES, compositionRules: RULES });
  try {
    const p = m.previewStep('flow', 'report', {});
    // The run would be refused for its required input; the step's template lacks `tone` too.
    assert.equal(p.strictError?.code, 'missing_context');
    assert.equal(p.strictError?.variable, 'doc');
    assert.match(p.text, / \/ ⟨tone⟩$/);
    assert.deepEqual(p.missing, ['tone']);
    // Transitive dependencies, in declaration order.
    assert.deepEqual(p.dependencies.map((d) => d.step), ['extract', 'check', 'summary']);
    assert.throws(() => m.previewStep('flow', 'nope', {}), (e: unknown) => e instanceof PromptError && /has no step "nope"/.test(e.message));
    assert.throws(() => m.previewStep('nope', 'x', {}), (e: unknown) => e instanceof PromptError && e.code === 'unknown_composition');
  } finally {
    await m.close();
  }
});

test('previewStep: the last run gives the dependencies\' outputs; a step it left without one is a placeholder that says why', async () => {
  const m = await createTesting({ templates: TEMPLATES, compositionRules: RULES });
  try {
    const run = await m.executeWorkflow('flow', { doc: 'D', tone: 'dry' });
    assert.equal(run.status, 'succeeded');
    // By default, the manager's own last run of the composition.
    const p = m.previewStep('flow', 'summary', { doc: 'D' });
    assert.equal(p.text, 'D (succeeded): at most 200 words of Extract D');
    assert.deepEqual(p.dependencies, [{ step: 'extract', source: 'run', runId: run.id, status: 'succeeded' }]);
    // A given run where extract failed.
    const failed: WorkflowStatus = { ...run, id: 'r-2', steps: run.steps.map((s) => (s.id === 'extract' ? { ...s, status: 'failed', output: null } : s)) };
    const q = m.previewStep('flow', 'summary', { doc: 'D' }, { lastRun: failed });
    assert.equal(q.text, 'D (failed): at most 200 words of ⟨steps.extract.output: no output in run r-2 (failed)⟩');
    assert.deepEqual(q.dependencies, [{ step: 'extract', source: 'placeholder', runId: 'r-2', status: 'failed', reason: 'no output in run r-2 (failed)' }]);
  } finally {
    await m.close();
  }
});

test('previewStep as a service: it must list the composition; its required context is the strict error', async () => {
  const m = await createTesting({
    templates: TEMPLATES,
    compositionRules: RULES,
    serviceMappings: { services: { s: { compositions: ['flow'], context_requirements: { required: ['user_id'] } }, other: { templates: ['extract'] } } },
  });
  try {
    const p = m.previewStep('flow', 'summary', { doc: 'D' }, { serviceName: 's' });
    assert.match(p.text, /at most 200 words/);
    assert.equal(p.strictError?.code, 'missing_context');
    assert.equal(p.strictError?.variable, 'user_id');
    assert.throws(() => m.previewStep('flow', 'summary', { doc: 'D' }, { serviceName: 'other' }), (e: unknown) => e instanceof PromptError && e.code === 'access_denied');
  } finally {
    await m.close();
  }
});
