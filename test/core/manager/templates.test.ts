import { test } from 'node:test';
import assert from 'node:assert/strict';
import Handlebars from 'handlebars';
import { createTesting } from '../../../core/manager/factory.js';
import { PromptError } from '../../../core/errors.js';
import { COMPOSITION_RULES, CONTEXT, SERVICE_MAPPINGS, TEMPLATES } from './fixtures.js';

test('each template compiles once per content version', async () => {
  const m = await createTesting({ templates: TEMPLATES, serviceMappings: SERVICE_MAPPINGS, compositionRules: COMPOSITION_RULES });
  assert.equal(m.compilations, 0, 'compilation is lazy');
  for (let i = 0; i < 50; i++) await m.render('chat/greeting', { user_id: 'u' + i });
  assert.equal(m.compilations, 1);
  // summary includes common/preamble as a partial: two templates compiled, once each
  for (let i = 0; i < 10; i++) await m.render('analysis/summary', CONTEXT);
  assert.equal(m.compilations, 3);
  assert.equal(m.getMetrics().templatesCompiled, 3);
  assert.equal(m.getTemplateInfo('chat/greeting').compiled, true);
  assert.equal(m.getTemplateInfo('chat/reply').compiled, false);
  await m.close();
});

test('every template is a partial by its name', async () => {
  const m = await createTesting({ templates: { 'a/b': 'B={{x}}', top: '[{{> a/b}}]' } });
  assert.equal((await m.render('top', { x: 1 })).text, '[B=1]');
  await m.close();
});

test('prompts are not HTML-escaped', async () => {
  const m = await createTesting({ templates: { t: '{{x}}' } });
  assert.equal((await m.render('t', { x: '<b> & "q"' })).text, '<b> & "q"');
  await m.close();
});

test('missing variable in strict mode: missing_context naming variable, template and line', async () => {
  const m = await createTesting({ templates: TEMPLATES });
  await assert.rejects(m.render('analysis/summary', { user_id: 'u', document: {} }), (e: unknown) => {
    assert.ok(e instanceof PromptError);
    assert.equal(e.code, 'missing_context');
    assert.equal(e.template, 'analysis/summary');
    assert.equal(e.variable, 'document.title');
    assert.equal(e.location?.line, 3);
    assert.match(e.location?.file ?? '', /analysis[/\\]summary\.hbs$/);
    assert.match(e.message, /"document\.title".*analysis\/summary.*line 3/);
    return true;
  });
  await m.close();
});

test('a variable missing inside a partial names the partial', async () => {
  const m = await createTesting({ templates: { inner: 'line one\n{{who}}', outer: 'x {{> inner}}' } });
  await assert.rejects(m.render('outer', {}), (e: unknown) => {
    assert.ok(e instanceof PromptError);
    assert.equal(e.code, 'missing_context');
    assert.equal(e.template, 'inner');
    assert.equal(e.variable, 'who');
    assert.equal(e.location?.line, 2);
    assert.match(e.message, /partial of outer/);
    return true;
  });
  await m.close();
});

test('strict off renders a missing variable as empty', async () => {
  const m = await createTesting({ templates: { t: '[{{missing}}]' }, strict: false });
  assert.equal((await m.render('t', {})).text, '[]');
  await m.close();
});

test('optional values tested by #if do not fail in strict mode', async () => {
  const m = await createTesting({ templates: { t: '{{#if locale}}L={{locale}}{{else}}none{{/if}}' } });
  assert.equal((await m.render('t', {})).text, 'none');
  await m.close();
});

test('prototype access stays disabled', async () => {
  const m = await createTesting({ templates: { t: '[{{constructor.name}}]' }, strict: false });
  assert.equal((await m.render('t', {})).text, '[]');
  await m.close();
});

test('a throwing helper is a template_error', async () => {
  const m = await createTesting({
    templates: { t: 'a {{boom x}}' },
    helpers: {
      boom: () => {
        throw new Error('kaput');
      },
    },
  });
  await assert.rejects(m.render('t', { x: 1 }), (e: unknown) => e instanceof PromptError && e.code === 'template_error' && /kaput/.test(e.message));
  await m.close();
});

test('helpers and partials stay in the manager: the global Handlebars and other managers are untouched', async () => {
  const a = await createTesting({ templates: { shared: 'A' }, helpers: { only_a: () => 'yes' } });
  const b = await createTesting({ templates: { shared: 'B', t: '{{> shared}}' } });
  assert.equal((await b.render('t', {})).text, 'B');
  assert.equal(Handlebars.partials['shared'], undefined);
  assert.equal(Handlebars.helpers['only_a'], undefined);
  await a.close();
  await b.close();
});

test('unknown template', async () => {
  const m = await createTesting({ templates: { t: 'x' } });
  await assert.rejects(m.render('nope', {}), (e: unknown) => e instanceof PromptError && e.code === 'unknown_template');
  await m.close();
});
