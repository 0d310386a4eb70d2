/**
 * Names from the workspace are keys like any other in metrics: a template
 * named `__proto__` (a valid file name) set the prototype of the metrics JSON instead of adding
 * its series, and vanished from the JSON and from Prometheus; names such as `constructor` read
 * Object.prototype's members where a series was missing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTesting } from '../../../core/manager/factory.js';
import { PromptEnabledService } from '../../../core/manager/promptEnabledService.js';

/** An object literal cannot hold `__proto__` as a plain key: define it. */
function withProto<T>(entries: Record<string, T>, proto: T): Record<string, T> {
  return Object.defineProperty({ ...entries }, '__proto__', { value: proto, enumerable: true, writable: true, configurable: true });
}

test('a template named __proto__ or constructor has its own series in JSON and Prometheus metrics', async () => {
  const m = await createTesting({
    templates: withProto({ constructor: 'C {{x}}', toString: 'T' }, 'P {{x}}'),
    serviceMappings: { services: { constructor: { templates: ['__proto__', 'constructor'] }, valueOf: { templates: ['toString'] } } },
  });
  try {
    assert.equal((await m.render('__proto__', { x: 1 })).text, 'P 1');
    assert.equal((await m.render('__proto__', { x: 2 }, { serviceName: 'constructor' })).text, 'P 2');
    assert.equal((await m.render('constructor', { x: 3 }, { serviceName: 'constructor' })).text, 'C 3');
    await assert.rejects(m.render('__proto__', {}), { code: 'missing_context' });
    assert.equal((await m.render('toString', {})).text, 'T');

    const json = JSON.parse(JSON.stringify(m.getMetrics())) as { templates: Record<string, { renders: number; errors: Record<string, number> }>; services: Record<string, { renders: number }> };
    assert.deepEqual(Object.keys(json.templates).sort(), ['__proto__', 'constructor', 'toString']);
    assert.equal(json.templates['__proto__']!.renders, 2);
    assert.equal(json.templates['__proto__']!.errors['missing_context'], 1);
    assert.equal(json.services['constructor']!.renders, 2);

    const live = m.getMetrics();
    assert.equal(Object.getPrototypeOf(live.templates), null);
    assert.equal(Object.getOwnPropertyDescriptor(live.templates, '__proto__')?.value.renders, 2);
    assert.equal(live.templates['hasOwnProperty'], undefined, 'no inherited member reads as a series');

    const text = m.getMetrics({ format: 'prometheus' });
    assert.match(text, /^promptmanager_template_renders_total\{template="__proto__"\} 2$/m);
    assert.match(text, /^promptmanager_template_render_errors_total\{template="__proto__",code="missing_context"\} 1$/m);
    assert.match(text, /^promptmanager_service_renders_total\{service="constructor"\} 2$/m);

    // A service without renders reads as empty stats, not as Object.prototype.valueOf.
    const svc = new PromptEnabledService({ promptManager: m, serviceName: 'valueOf' });
    assert.equal(svc.getRenderStats().renders, 0);
  } finally {
    await m.close();
  }
});

test('workflow metrics: a step __proto__ and a composition constructor have their own entries', async () => {
  const m = await createTesting({
    templates: { t: 'hello {{x}}' },
    compositionRules: {
      compositions: {
        constructor: { steps: [{ id: '__proto__', template: 't' }] },
      },
    },
  });
  try {
    const r = await m.executeWorkflow('constructor', { x: 1 });
    assert.equal(r.status, 'succeeded', JSON.stringify(r.steps.map((s) => s.errors)));
    assert.equal(Object.getOwnPropertyDescriptor(r.outputs, '__proto__')?.value, 'hello 1');
    const wm = JSON.parse(JSON.stringify(m.getWorkflowMetrics())) as { compositions: Record<string, { total: number; steps: Record<string, unknown> }> };
    assert.deepEqual(Object.keys(wm.compositions), ['constructor']);
    assert.equal(wm.compositions['constructor']!.total, 1);
    assert.deepEqual(Object.keys(wm.compositions['constructor']!.steps), ['__proto__']);
    const json = JSON.parse(JSON.stringify(m.getMetrics())) as { compositions: Record<string, { runs: number }> };
    assert.equal(json.compositions['constructor']!.runs, 1);
    assert.match(m.getMetrics({ format: 'prometheus' }), /^promptmanager_composition_workflow_runs_total\{composition="constructor",status="succeeded"\} 1$/m);
  } finally {
    await m.close();
  }
});
