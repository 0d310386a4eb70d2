/**
 * `missing_context` whatever is missing: a parent missing
 * under a helper argument, a block or a block parameter (`{{#if user.name}}`, `{{#each
 * doc.items}}`, `{{upper user.name}}`, `{{#with a.b}}`, `{{lookup user.profile "x"}}`), and a key
 * missing on an object without a prototype (a context built with Object.create(null), the
 * workflow engine's own `steps`) used to fail as `template_error` ("Cannot read properties of
 * undefined", "Cannot convert object to primitive value"). Each is now `missing_context` naming
 * the variable, the template and the line, so a service fallback `on: [missing_context]` answers
 * and a step's `non_retryable: [missing_context]` stops its retries.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTesting } from '../../../core/manager/factory.js';
import { PromptError } from '../../../core/errors.js';

function isMissing(e: unknown, template: string, variable: string, line: number): true {
  assert.ok(e instanceof PromptError, `expected a PromptError, got ${String(e)}`);
  assert.equal(e.code, 'missing_context', e.message);
  assert.equal(e.template, template);
  assert.equal(e.variable, variable, e.message);
  assert.equal(e.location?.line, line, e.message);
  assert.match(e.location?.file ?? '', new RegExp(`${template}\\.hbs$`));
  assert.equal(e.message, `Missing context variable "${variable}" in template ${template} at line ${line}`);
  return true;
}

const nullProto = (entries: Record<string, unknown> = {}) => Object.assign(Object.create(null) as Record<string, unknown>, entries);

test('manager.render: a missing parent anywhere in a path is missing_context naming it', async () => {
  const cases: [template: string, source: string, context: Record<string, unknown>, variable: string, line: number][] = [
    ['if', 'Hello.\n{{#if user.name}}Hi {{user.name}}{{/if}}', {}, 'user', 2],
    ['unless', '{{#unless user.name}}anonymous{{/unless}}', {}, 'user', 1],
    ['each', 'Items:\n\n{{#each doc.items}}- {{this}}\n{{/each}}', {}, 'doc', 3],
    ['helper', 'Name: {{upper user.name}}', {}, 'user', 1],
    ['with', '{{#with a.b}}{{c}}{{/with}}', {}, 'a', 1],
    ['lookup', '{{lookup user.profile "name"}}', {}, 'user', 1],
    ['subexpression', '{{json (default user.name "x")}}', {}, 'user', 1],
    ['deep', '{{#if a.b.c.d}}x{{/if}}', { a: { b: {} } }, 'a.b.c', 1],
    ['plain', '{{user.name}}', {}, 'user', 1],
    ['plain-null', '{{user.name}}', { user: null }, 'user', 1],
    ['block-param', '{{#each items as |item|}}{{item.a.b}}{{/each}}', { items: [{}] }, 'item.a', 1],
    ['data', '{{#if @root.user.name}}x{{/if}}', {}, '@root.user', 1],
    ['null-proto-key', '{{user.name}}', { user: nullProto() }, 'user.name', 1],
    ['null-proto-root', '{{title}}', nullProto(), 'title', 1],
    ['null-proto-parent', '{{#if user.profile.name}}x{{/if}}', { user: nullProto() }, 'user.profile', 1],
  ];
  const m = await createTesting({ templates: Object.fromEntries(cases.map(([t, source]) => [t, source])) });
  try {
    for (const [template, , context, variable, line] of cases) {
      await assert.rejects(m.render(template, context), (e) => isMissing(e, template, variable, line), template);
    }
    // What is there still renders; a missing last segment of an argument is only undefined.
    assert.equal((await m.render('if', { user: {} })).text, 'Hello.\n');
    assert.equal((await m.render('if', { user: { name: 'Ada' } })).text, 'Hello.\nHi Ada');
    assert.equal((await m.render('each', { doc: { items: ['a'] } })).text, 'Items:\n\n- a\n');
    assert.equal((await m.render('helper', { user: { name: 'ada' } })).text, 'Name: ADA');
    assert.equal((await m.render('lookup', { user: { profile: { name: 'P' } } })).text, 'P');
    assert.equal((await m.render('null-proto-key', { user: nullProto({ name: 'N' }) })).text, 'N');
    assert.equal((await m.render('deep', { a: { b: { c: {} } } })).text, '');
    // Counted under its code.
    assert.equal(m.getMetrics().templates['if']!.errors['missing_context'], 1);
    assert.equal(m.getMetrics().templates['if']!.errors['template_error'], undefined);
  } finally {
    await m.close();
  }
});

test('a missing parent inside a partial names the partial and its line', async () => {
  const m = await createTesting({ templates: { inner: 'one\ntwo {{#if doc.title}}T{{/if}}', outer: 'x {{> inner}}' } });
  try {
    await assert.rejects(m.render('outer', {}), (e: unknown) => {
      assert.ok(e instanceof PromptError && e.code === 'missing_context', String(e));
      assert.equal(e.template, 'inner');
      assert.equal(e.variable, 'doc');
      assert.equal(e.location?.line, 2);
      assert.match(e.message, /partial of outer/);
      return true;
    });
  } finally {
    await m.close();
  }
});

test('a service fallback on: [missing_context] answers a missing parent', async () => {
  const m = await createTesting({
    templates: { greet: '{{#if user.name}}Hello {{user.name}}{{else}}Hello{{/if}}', generic: 'Hello there' },
    serviceMappings: { services: { chat: { primary_templates: ['greet'], fallback: { template: 'generic', on: ['missing_context'] } } } },
  });
  try {
    const r = await m.render('greet', {}, { serviceName: 'chat' });
    assert.equal(r.text, 'Hello there');
    assert.equal(r.fallbackFor?.code, 'missing_context');
    assert.match(r.fallbackFor?.message ?? '', /Missing context variable "user" in template greet at line 1/);
    assert.equal((await m.render('greet', { user: { name: 'Ada' } }, { serviceName: 'chat' })).text, 'Hello Ada');
  } finally {
    await m.close();
  }
});

test('a workflow step: missing_context for a missing parent and for a key missing on `steps`; non_retryable stops the retries', async () => {
  const retry = { max_attempts: 3, initial_interval_ms: 1, non_retryable: ['missing_context'] };
  const m = await createTesting({
    templates: {
      profile: '{{#if user.name}}Profile of {{user.name}}{{/if}}',
      // `later` is not a dependency (a warning, undeclared-step-read): not in `steps` when this runs.
      early: 'Before: {{steps.later}}',
      hello: 'hello',
    },
    compositionRules: {
      compositions: {
        parent: { steps: [{ id: 'p', template: 'profile', retry }] },
        own: { steps: [{ id: 'e', template: 'early', retry }, { id: 'later', template: 'hello', depends_on: ['e'] }] },
      },
    },
  });
  try {
    const parent = await m.executeWorkflow('parent', {});
    const p = parent.steps.find((s) => s.id === 'p')!;
    assert.equal(p.status, 'failed');
    assert.equal(p.attempts, 1, 'not retried');
    assert.equal(p.errors[0]?.code, 'missing_context', String(p.errors[0]?.message));
    assert.match(String(p.errors[0]?.message), /Missing context variable "user" in template profile at line 1/);
    // A context without a prototype: the same.
    const np = await m.executeWorkflow('parent', { user: nullProto() });
    assert.equal(np.steps[0]!.status, 'succeeded', JSON.stringify(np.steps[0]!.errors));

    const own = await m.executeWorkflow('own', {});
    const e = own.steps.find((s) => s.id === 'e')!;
    assert.equal(e.status, 'failed');
    assert.equal(e.attempts, 1, 'not retried');
    assert.equal(e.errors[0]?.code, 'missing_context', String(e.errors[0]?.message));
    assert.match(String(e.errors[0]?.message), /Missing context variable "steps\.later" in template early at line 1/);
    assert.doesNotMatch(String(e.errors[0]?.message), /primitive/);
  } finally {
    await m.close();
  }
});

test('an object without a prototype written as text reads like any object, not as a TypeError', async () => {
  const m = await createTesting({
    templates: { write: 'x {{user}} y', alone: '{{user}}', each: '{{#each user}}{{@key}}={{this}};{{/each}}', dump: 'Steps: {{steps}}', hello: 'hi' },
    compositionRules: { compositions: { c: { steps: [{ id: 'a', template: 'hello' }, { id: 'b', template: 'dump', depends_on: ['a'] }] } } },
  });
  try {
    const user = nullProto({ name: 'n' });
    assert.equal((await m.render('write', { user })).text, 'x [object Object] y');
    assert.equal((await m.render('write', { user: { name: 'n' } })).text, 'x [object Object] y');
    assert.equal((await m.render('alone', { user })).text, '[object Object]');
    assert.equal((await m.render('each', { user })).text, 'name=n;');
    // The workflow engine's `steps` has no prototype.
    const r = await m.executeWorkflow('c', {});
    assert.equal(r.status, 'succeeded', JSON.stringify(r.steps.map((s) => s.errors)));
    assert.equal((r.outputs as Record<string, unknown>)['b'], 'Steps: [object Object]');
  } finally {
    await m.close();
  }
});
