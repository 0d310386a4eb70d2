import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PromptManager } from '../../../core/manager/promptManager.js';
import { createTesting } from '../../../core/manager/factory.js';
import { ConfigurationError } from '../../../core/manager/configError.js';
import { PromptError } from '../../../core/errors.js';
import type { WorkflowExecuteOptions } from '../../../core/manager/workflowPort.js';
import { COMPOSITION_RULES, CONTEXT, SERVICE_MAPPINGS, TEMPLATES, removeDir, writeWorkspace } from './fixtures.js';

async function testing() {
  return createTesting({ templates: TEMPLATES, serviceMappings: SERVICE_MAPPINGS, compositionRules: COMPOSITION_RULES });
}

test('render without a service: any template (backward compatible)', async () => {
  const m = await testing();
  const r = await m.render('common/apology', { user_id: 'u' });
  assert.equal(r.text, 'Sorry u, the prompt could not be prepared.');
  assert.equal(r.template, 'common/apology');
  assert.equal(r.fromCache, false);
  assert.equal(typeof r.durationMs, 'number');
  await m.close();
});

test('render with a service: allowed templates render', async () => {
  const m = await testing();
  const r = await m.render('analysis/summary', CONTEXT, { serviceName: 'analysis_service' });
  assert.match(r.text, /You are a careful assistant\.\nSummarise for u1:\nQuarterly report\n- a\n- b\n/);
  // a template of one of its compositions is allowed too
  assert.equal((await m.render('analysis/extract', CONTEXT, { serviceName: 'analysis_service' })).text, 'Extract facts from Quarterly report');
  await m.close();
});

test('access denied: a template the service does not list', async () => {
  const m = await testing();
  await assert.rejects(m.render('chat/greeting', CONTEXT, { serviceName: 'analysis_service' }), (e: unknown) => {
    assert.ok(e instanceof PromptError);
    assert.equal(e.code, 'access_denied');
    assert.equal(e.service, 'analysis_service');
    assert.equal(e.template, 'chat/greeting');
    return true;
  });
  await assert.rejects(m.render('chat/greeting', CONTEXT, { serviceName: 'ghost' }), (e: unknown) => e instanceof PromptError && e.code === 'access_denied' && /Unknown service "ghost"/.test(e.message));
  assert.equal(m.getMetrics().services['analysis_service']!.errors['access_denied'], 1);
  await m.close();
});

test('required context missing: missing_context naming the keys (no fallback listed for chat_service)', async () => {
  const m = await testing();
  await assert.rejects(m.render('chat/greeting', {}, { serviceName: 'chat_service' }), (e: unknown) => {
    assert.ok(e instanceof PromptError);
    assert.equal(e.code, 'missing_context');
    assert.equal(e.variable, 'user_id');
    assert.match(e.message, /"user_id"/);
    return true;
  });
  await m.close();
});

test('fallback template answers a missing_context of the requested template', async () => {
  const m = await testing();
  const r = await m.render('analysis/summary', { user_id: 'u9', document: {} }, { serviceName: 'analysis_service' });
  assert.equal(r.template, 'common/apology');
  assert.equal(r.text, 'Sorry u9, the prompt could not be prepared.');
  assert.equal(r.fallbackFor?.template, 'analysis/summary');
  assert.equal(r.fallbackFor?.code, 'missing_context');
  const s = m.getMetrics().services['analysis_service']!;
  assert.equal(s.fallbacks, 1);
  assert.equal(s.errors['missing_context'], 1);
  // access_denied is not in `on`: no fallback
  await assert.rejects(m.render('chat/reply', CONTEXT, { serviceName: 'analysis_service' }), { code: 'access_denied' });
  await m.close();
});

test('a failing fallback reports both failures under the original code', async () => {
  const m = await testing();
  // no user_id: the required-context check fails, then the fallback itself misses user_id
  await assert.rejects(m.render('analysis/summary', { document: { title: 't' } }, { serviceName: 'analysis_service' }), (e: unknown) => {
    assert.ok(e instanceof PromptError);
    assert.equal(e.code, 'missing_context');
    assert.match(e.message, /fallback template common\/apology also failed/);
    return true;
  });
  await m.close();
});

test('renderBatch: request order, per-request outcome, bounded concurrency', async () => {
  const m = await testing();
  const requests = [
    { templateName: 'chat/greeting', context: { user_id: 'a' } },
    { templateName: 'nope', context: {} },
    { templateName: 'chat/greeting', context: { user_id: 'b' }, serviceName: 'chat_service' },
  ];
  const out = await m.renderBatch(requests, { concurrency: 2 });
  assert.equal(out.length, 3);
  assert.ok(out[0]!.ok && out[0]!.result.text === 'Hello a');
  assert.ok(!out[1]!.ok && out[1]!.error.code === 'unknown_template');
  assert.ok(out[2]!.ok && out[2]!.result.text === 'Hello b');
  await m.close();
});

test('listTemplates, listCompositions, getTemplateInfo, validateContext', async () => {
  const m = await testing();
  assert.deepEqual(m.listTemplates(), Object.keys(TEMPLATES).sort());
  assert.deepEqual(m.listTemplates({ serviceName: 'analysis_service' }), ['analysis/extract', 'analysis/summary', 'common/apology', 'common/preamble']);
  assert.deepEqual(m.listCompositions(), ['complete_analysis']);
  assert.deepEqual(m.listCompositions({ serviceName: 'chat_service' }), []);
  const info = m.getTemplateInfo('analysis/summary');
  assert.match(info.file, /templates[/\\]analysis[/\\]summary\.hbs$/);
  assert.deepEqual(info.partials, ['common/preamble']);
  assert.ok(info.variables.includes('document') && info.variables.includes('user_id'));
  assert.deepEqual(info.usedBy, { services: ['analysis_service'], compositions: ['complete_analysis'] });
  assert.deepEqual(m.validateContext('analysis_service', { user_id: 'u' }), { valid: false, missing: ['document'] });
  assert.throws(() => m.getTemplateInfo('nope'), { code: 'unknown_template' });
  await m.close();
});

test('a workspace with errors fails to load with one error listing file:line:col code message', async () => {
  const dir = writeWorkspace({
    'service_mappings.yaml': SERVICE_MAPPINGS.replace('primary_templates: [analysis/summary]', 'primary_templates: [analysis/missing]'),
    'templates/broken.hbs': 'x {{#if a}} never closed',
  });
  try {
    await assert.rejects(PromptManager.create({ root: dir }), (e: unknown) => {
      assert.ok(e instanceof ConfigurationError);
      assert.ok(e instanceof PromptError);
      assert.equal(e.code, 'invalid_configuration');
      assert.ok(e.diagnostics.length >= 2);
      const sm = path.join(dir, 'service_mappings.yaml');
      assert.ok(e.message.includes(`${sm}:5:25 unknown-template`), e.message);
      assert.match(e.message, /broken\.hbs:\d+:\d+ template-syntax /);
      for (const d of e.diagnostics) assert.ok(e.message.includes(`${d.file}:${d.range.start.line + 1}:${d.range.start.character + 1} ${d.code} ${d.message}`));
      return true;
    });
  } finally {
    removeDir(dir);
  }
});

test('reload(): a valid change swaps atomically; an invalid one keeps the last good and emits configRejected', async () => {
  const dir = writeWorkspace();
  const m = await PromptManager.create({ root: dir, cache: { mode: 'on', maxEntries: 100, maxBytes: 1e6 } });
  try {
    const rejected: unknown[] = [];
    m.events.on('configRejected', (e) => rejected.push(e));
    await m.render('analysis/summary', CONTEXT);
    assert.equal((await m.render('analysis/summary', CONTEXT)).fromCache, true);
    await m.render('chat/greeting', { user_id: 'x' });
    const before = m.snapshot;

    fs.writeFileSync(path.join(dir, 'templates/common/preamble.hbs'), 'You are terse.\n');
    const r = m.reload();
    assert.equal(r.status, 'reloaded');
    assert.deepEqual(r.changedTemplates, ['common/preamble']);
    assert.equal(m.snapshot.generation, before.generation + 1);
    // the template using the changed partial lost its cached rendering; others kept theirs
    const after = await m.render('analysis/summary', CONTEXT);
    assert.equal(after.fromCache, false);
    assert.match(after.text, /^You are terse\./);
    assert.equal((await m.render('chat/greeting', { user_id: 'x' })).fromCache, true);
    // the old snapshot still renders its own partials (a render or run under way is not disturbed)
    assert.match(m.renderForWorkflow('analysis/summary', CONTEXT, { snapshot: before }).text, /^You are a careful assistant\./);

    fs.writeFileSync(path.join(dir, 'composition_rules.yaml'), COMPOSITION_RULES.replace('template: analysis/extract', 'template: analysis/nowhere'));
    const bad = m.reload();
    assert.equal(bad.status, 'rejected');
    assert.equal(bad.error?.code, 'invalid_configuration');
    assert.equal(rejected.length, 1);
    assert.equal(m.snapshot.generation, before.generation + 1, 'last good configuration kept');
    assert.match((await m.render('analysis/summary', CONTEXT)).text, /^You are terse\./);
    const h = m.healthCheck();
    assert.equal(h.status, 'degraded');
    assert.equal(h.components.config.status, 'degraded');
    assert.match(h.components.config.reason, /rejected.*unknown-template/);

    fs.writeFileSync(path.join(dir, 'composition_rules.yaml'), COMPOSITION_RULES);
    assert.equal(m.reload().status, 'reloaded');
    assert.equal(m.healthCheck().components.config.status, 'healthy');
    assert.equal(m.reload().status, 'unchanged');
    const outcomes = m.getMetrics().config.outcomes;
    assert.deepEqual(outcomes, { loaded: 1, reloaded: 2, rejected: 1, unchanged: 1 });
  } finally {
    await m.close();
    removeDir(dir);
  }
});

test('executeWorkflow delegates to an attached engine with a pinned snapshot', async () => {
  const m = await testing();
  let seen: WorkflowExecuteOptions | undefined;
  m.attachWorkflowEngine({
    async execute(name, context, options) {
      seen = options;
      const text = options.render('analysis/extract', context).text;
      const viaHost = await options.host.renderTemplate('analysis/extract', context, { signal: new AbortController().signal });
      return { status: 'succeeded', name, text, viaHost, inline: options.host.renderString('{{document.title}}!', context) };
    },
  });
  const out = (await m.executeWorkflow('complete_analysis', CONTEXT, { serviceName: 'analysis_service' })) as unknown as Record<string, unknown>;
  assert.deepEqual(out, { status: 'succeeded', name: 'complete_analysis', text: 'Extract facts from Quarterly report', viaHost: 'Extract facts from Quarterly report', inline: 'Quarterly report!' });
  assert.equal(seen?.serviceName, 'analysis_service');
  assert.equal(seen?.workflowId, 'run-1');
  assert.equal(seen?.snapshot, m.snapshot);
  await assert.rejects(m.executeWorkflow('complete_analysis', CONTEXT, { serviceName: 'chat_service' }), { code: 'access_denied' });
  await assert.rejects(m.executeWorkflow('complete_analysis', { document: 'd' }, { serviceName: 'analysis_service' }), { code: 'missing_context' });
  await assert.rejects(m.executeWorkflow('nope', CONTEXT), { code: 'unknown_composition' });
  const w = m.getMetrics().compositions['complete_analysis']!;
  assert.equal(w.statuses['succeeded'], 1);
  const ac = new AbortController();
  ac.abort();
  assert.throws(() => m.renderForWorkflow('analysis/extract', CONTEXT, { signal: ac.signal }), { code: 'cancelled' });
  await m.close();
});

test('resolveComposition through the manager applies defaults and overrides', async () => {
  const m = await testing();
  const r = m.resolveComposition('complete_analysis', {});
  assert.equal(r.maxParallel, 4);
  assert.equal(r.steps[0]!.retry.maxAttempts, 2);
  assert.equal(r.steps[0]!.retry.maxIntervalMs, 10_000);
  await m.close();
});

test('metrics: JSON and Prometheus text', async () => {
  const m = await testing();
  for (let i = 0; i < 5; i++) await m.render('chat/greeting', { user_id: 'u' }, { serviceName: 'chat_service' });
  await m.render('chat/greeting', {}).catch(() => undefined);
  const j = m.getMetrics();
  assert.equal(j.templates['chat/greeting']!.renders, 5);
  assert.equal(j.templates['chat/greeting']!.errors['missing_context'], 1);
  assert.equal(j.services['chat_service']!.renders, 5);
  assert.equal(j.services['chat_service']!.latencyMs.count, 5);
  assert.equal(j.config.outcomes['loaded'], 1);
  const text = m.getMetrics({ format: 'prometheus' });
  assert.match(text, /^# HELP promptmanager_template_renders_total /m);
  // The folded series of names the configuration does not define says what it is.
  await m.render('no/such_template', {}).catch(() => undefined);
  const withUnknown = m.getMetrics({ format: 'prometheus' });
  assert.match(withUnknown, /^promptmanager_template_renders_total\{template="\(unknown\)"\} 0$/m);
  assert.match(withUnknown, /^# HELP promptmanager_template_renders_total Renders by template; template="\(unknown\)" counts requests for names the configuration does not define\.$/m);
  assert.match(text, /^# TYPE promptmanager_template_renders_total counter$/m);
  assert.match(text, /^promptmanager_template_renders_total\{template="chat\/greeting"\} 5$/m);
  assert.match(text, /^promptmanager_template_render_errors_total\{template="chat\/greeting",code="missing_context"\} 1$/m);
  assert.match(text, /^promptmanager_service_render_duration_seconds\{service="chat_service",quantile="0\.95"\} [0-9.e-]+$/m);
  assert.match(text, /^promptmanager_service_render_duration_seconds_count\{service="chat_service"\} 5$/m);
  assert.match(text, /^promptmanager_config_loads_total\{outcome="loaded"\} 1$/m);
  // every sample line is `name{labels} value`
  for (const line of text.trim().split('\n')) if (!line.startsWith('#')) assert.match(line, /^[a-z_]+(\{[^}]*\})? [-+0-9.eInfNa]+$/, line);
  await m.close();
});

test('health: healthy, then degraded by a missed p95 target and hit rate, unhealthy when every template is broken', async () => {
  const { ManualClock } = await import('./fixtures.js');
  const clock = new ManualClock();
  const m = await createTesting({
    templates: TEMPLATES,
    serviceMappings: SERVICE_MAPPINGS,
    compositionRules: COMPOSITION_RULES,
    clock,
    // A hit-rate target is judged only where the cache is on (see the next test for off).
    cache: { mode: 'on' },
  });
  assert.equal(m.healthCheck().status, 'healthy');
  for (const c of Object.values(m.healthCheck().components)) assert.equal(c.status, 'healthy');
  // 30 renders of 25 ms each: every second clock reading is 25 ms later than the one before
  const realNow = clock.now;
  let calls = 0;
  clock.now = () => (calls++ % 2 === 0 ? clock.t : (clock.t += 25));
  for (let i = 0; i < 30; i++) await m.render('analysis/summary', { ...CONTEXT, user_id: `u${i}` }, { serviceName: 'analysis_service' });
  clock.now = realNow;
  const h = m.healthCheck();
  assert.equal(h.status, 'degraded');
  assert.equal(h.components.templates.status, 'degraded');
  assert.match(h.components.templates.reason, /analysis_service render p95 25\.0 ms exceeds its target 20\.0 ms/);
  assert.equal(h.components.cache.status, 'degraded');
  assert.match(h.components.cache.reason, /analysis_service cache hit rate 0\.00 is below its target 0\.5 \(30 cached lookups\)/);
  await m.close();

  // Handlebars parses `{{> p a b}}` but refuses to compile it: the validator (which parses)
  // lets it through, the engine marks the template broken at its first use.
  const some = await createTesting({ templates: { good: 'ok', bad: '{{> good a b}}' } });
  await assert.rejects(some.render('bad', {}), { code: 'template_error' });
  const hs = some.healthCheck();
  assert.equal(hs.status, 'degraded');
  assert.match(hs.components.templates.reason, /template bad is broken: Unsupported number of partial arguments/);
  await some.close();
  const all = await createTesting({ templates: { only: '{{> only a b}}' } });
  await assert.rejects(all.render('only', {}), { code: 'template_error' });
  assert.equal(all.healthCheck().status, 'unhealthy');
  assert.equal(all.healthCheck().components.templates.status, 'unhealthy');
  await all.close();
});

test('health: workflow engine and providers components', async () => {
  const m = await createTesting({
    templates: TEMPLATES,
    compositionRules: COMPOSITION_RULES.replace('compositions:', 'providers:\n  local:\n    type: openai-compatible\n    base_url: http://127.0.0.1:1/v1\n    model: m\n    api_key_env: PM_TEST_SURELY_UNSET_KEY\ncompositions:').replace(
      'template: analysis/summary',
      'template: analysis/summary\n        model: local',
    ),
  });
  const h = m.healthCheck();
  assert.equal(h.components.providers.status, 'degraded');
  assert.match(h.components.providers.reason, /provider local: API key PM_TEST_SURELY_UNSET_KEY is not set in process\.env, so its model steps will fail/);
  m.attachWorkflowEngine({ execute: async () => ({}), health: () => ({ status: 'unhealthy', reason: 'scheduler stopped' }) });
  const h2 = m.healthCheck();
  assert.equal(h2.status, 'unhealthy');
  assert.equal(h2.components.workflows.reason, 'scheduler stopped');
  await m.close();
});
