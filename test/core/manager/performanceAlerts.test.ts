/**
 * `performanceAlert` events: a service whose p95 passes its target over the window is
 * reported once with the figures, and once more when it recovers below 90% of the target
 * (hysteresis); the window slides, few samples are not judged, and a listener's failure does
 * not fail a render. Render times come from a clock the template itself moves; run times from
 * the fake clock.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../../core/clock.js';
import { createTesting } from '../../../core/manager/factory.js';
import type { PerformanceAlert } from '../../../core/manager/performanceAlerts.js';
import { createMockExecutor, mock } from '../../../core/workflow/mockExecutor.js';

const WALL = 1_700_000_000_000;

/** A clock that moves only when told: the `spend` helper moves it during a render. */
function steppingClock() {
  const clock = {
    t: 0,
    now: () => clock.t,
    wallNow: () => WALL + clock.t,
    setTimeout: (fn: () => void, ms: number): unknown => setTimeout(fn, ms).unref(),
    clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout),
  };
  return clock;
}

const MAPPINGS = `version: 1
services:
  chat:
    primary_templates: [hello]
    performance_targets: { render_p95_ms: 10, workflow_p95_ms: 500 }
`;
const WITH_RUNS = MAPPINGS.replace('    primary_templates: [hello]\n', '    primary_templates: [hello]\n    compositions: [ask]\n');

test('render_p95_ms: fires once over the target, recovers once below 90% of it', async () => {
  const clock = steppingClock();
  const alerts: PerformanceAlert[] = [];
  const pm = await createTesting({
    clock,
    templates: { hello: '{{spend cost}}Hello' },
    serviceMappings: MAPPINGS,
    helpers: { spend: (ms: number) => ((clock.t += ms), '') },
    alerts: { windowMs: 60_000, minSamples: 5, evaluateEveryMs: 1000 },
  });
  pm.events.on('performanceAlert', (a: PerformanceAlert) => alerts.push(a));
  const renders = async (n: number, cost: number) => {
    for (let i = 0; i < n; i++) {
      clock.t += 1000;
      await pm.render('hello', { cost }, { serviceName: 'chat' });
    }
  };
  await renders(4, 30);
  assert.equal(alerts.length, 0, 'four samples are fewer than minSamples: not judged');
  // A minute later those have left the window.
  clock.t += 60_000;
  await renders(20, 2);
  assert.equal(alerts.length, 0, 'fast renders: under the target');
  await renders(10, 30);
  assert.equal(alerts.length, 1, 'fired once, at the second slow render (2 of 22 samples put the p95 over the target)');
  const { p95, ...fired } = alerts[0]!;
  // At the second slow render: 4 renders of 1,030 ms, a minute, 20 of 1,002, 2 of 1,030.
  assert.deepEqual(fired, { service: 'chat', metric: 'render_p95_ms', state: 'firing', target: 10, windowMs: 60_000, samples: 22, time: WALL + 4 * 1030 + 60_000 + 20 * 1002 + 2 * 1030 });
  assert.ok(p95 > 25 && p95 <= 30, String(p95));
  assert.deepEqual(pm.getPerformanceAlerts().map((a) => `${a.service} ${a.metric} ${a.state} ${a.samples}`), ['chat render_p95_ms firing 30']);
  await renders(30, 30);
  assert.equal(alerts.length, 1, 'still over the target: no second event');
  // A minute later the slow renders have left the window; 9.5 ms is under the target but not under 90% of it.
  clock.t += 60_000;
  await renders(30, 9.5);
  assert.equal(alerts.length, 1, 'hysteresis: 9.5 ms does not recover a 10 ms target');
  clock.t += 60_000;
  await renders(10, 4);
  assert.equal(alerts.length, 2);
  const { time: _time, ...recovered } = alerts[1]!;
  assert.deepEqual(recovered, { service: 'chat', metric: 'render_p95_ms', state: 'recovered', p95: 4, target: 10, windowMs: 60_000, samples: 5 });
  assert.deepEqual(pm.getPerformanceAlerts(), []);
  await pm.close();
});

test('workflow_p95_ms: slow runs of the service fire, fast ones recover; a throwing listener changes nothing', async () => {
  const clock = new FakeClock(WALL);
  let delay = 1000;
  const model = createMockExecutor({ respond: () => mock.reply('ok', { delayMs: delay }) });
  const pm = await createTesting({
    clock,
    templates: { hello: 'Hello', ask: 'Ask' },
    serviceMappings: WITH_RUNS,
    compositionRules: {
      providers: { llm: { type: 'openai-compatible', base_url: 'http://127.0.0.1:9/v1', model: 'm' } },
      compositions: { ask: { steps: [{ id: 'ask', template: 'ask', model: 'llm' }] } },
    },
    workflow: { executors: [model] },
    alerts: { windowMs: 10_000, minSamples: 3, evaluateEveryMs: 0 },
  });
  const alerts: string[] = [];
  pm.events.on('performanceAlert', (a: PerformanceAlert) => alerts.push(`${a.metric} ${a.state} p95=${Math.round(a.p95)} target=${a.target} samples=${a.samples}`));
  pm.events.on('performanceAlert', () => {
    throw new Error('a broken dashboard');
  });
  const run = async () => {
    const r = pm.executeWorkflow('ask', {}, { serviceName: 'chat' });
    await clock.advance(delay);
    assert.equal((await r).status, 'succeeded');
  };
  for (let i = 0; i < 3; i++) await run();
  assert.deepEqual(alerts, ['workflow_p95_ms firing p95=1000 target=500 samples=3']);
  await clock.advance(10_000);
  delay = 100;
  for (let i = 0; i < 3; i++) await run();
  assert.deepEqual(alerts, ['workflow_p95_ms firing p95=1000 target=500 samples=3', 'workflow_p95_ms recovered p95=100 target=500 samples=3']);
  await pm.close();
});

test('alerts: false keeps no window and emits nothing; bad options are refused', async () => {
  const clock = steppingClock();
  const pm = await createTesting({ clock, templates: { hello: '{{spend 50}}Hello' }, serviceMappings: MAPPINGS, helpers: { spend: (ms: number) => ((clock.t += ms), '') }, alerts: false });
  let n = 0;
  pm.events.on('performanceAlert', () => n++);
  for (let i = 0; i < 40; i++) await pm.render('hello', {}, { serviceName: 'chat' });
  assert.equal(n, 0);
  assert.deepEqual(pm.getPerformanceAlerts(), []);
  await pm.close();
  await assert.rejects(createTesting({ templates: { hello: 'x' }, alerts: { recoverRatio: 1.5 } }), /recoverRatio must be more than 0 and at most 1/);
});
