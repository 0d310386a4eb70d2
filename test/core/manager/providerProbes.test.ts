/**
 * Active provider probes on the fake clock: off by default; on an interval they feed the
 * providers component of health (degraded at a failed probe, unhealthy after three in a row,
 * healthy again at the next answer, a warning when the model is not listed); a probe newer than
 * a failed call clears it; never in an untrusted workspace; not while the provider is busy; a
 * hung probe ends at its timeout; close stops them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../../core/clock.js';
import { createTesting } from '../../../core/manager/factory.js';
import type { MockResponder, MockScript } from '../../../core/workflow/mockExecutor.js';
import { createMockExecutor, mock } from '../../../core/workflow/mockExecutor.js';

const RULES = {
  providers: { llm: { type: 'openai-compatible', base_url: 'http://127.0.0.1:9/v1', model: 'm' } },
  compositions: { ask: { steps: [{ id: 'ask', template: 'ask', model: 'llm' }] } },
};

async function setup(probes: MockScript | undefined, opts: { answer?: MockScript; respond?: MockResponder; probeSettings?: false } = {}) {
  const clock = new FakeClock();
  const model = createMockExecutor({ ...(opts.respond ? { respond: opts.respond } : { otherwise: opts.answer ?? 'ok' }), ...(probes !== undefined ? { probes } : {}) });
  const pm = await createTesting({
    clock,
    templates: { ask: 'Ask' },
    compositionRules: RULES,
    workflow: { executors: [model], ...(opts.probeSettings === false ? {} : { probes: { intervalMs: 60_000, timeoutMs: 5_000 } }) },
  });
  const providers = () => pm.healthCheck().components.providers;
  return { clock, model, pm, providers };
}

test('probes feed health: degraded at a failure, unhealthy after three in a row, healthy at the next answer', async () => {
  const { clock, model, pm, providers } = await setup([mock.reply({ detail: '3 models listed' }), mock.down(), mock.down(), mock.down(), mock.reply({})]);
  await clock.advance(0);
  assert.deepEqual(model.probeCalls, [0]);
  assert.deepEqual(providers(), { status: 'healthy', reason: 'provider llm: no API key, probe ok (3 models listed)' });
  await clock.advance(60_000);
  assert.deepEqual(providers(), { status: 'degraded', reason: 'provider llm: no API key, the last probe failed (connection refused)' });
  await clock.advance(60_000);
  assert.equal(providers().status, 'degraded');
  await clock.advance(60_000);
  assert.deepEqual(providers(), { status: 'unhealthy', reason: 'provider llm: no API key, the last 3 probes failed (connection refused)' });
  assert.equal(pm.healthCheck().status, 'unhealthy');
  await clock.advance(60_000);
  assert.deepEqual(providers(), { status: 'healthy', reason: 'provider llm: no API key, probe ok' });
  assert.deepEqual(model.probeCalls, [0, 60_000, 120_000, 180_000, 240_000]);
  await pm.close();
  await clock.advance(600_000);
  assert.equal(model.probeCalls.length, 5, 'close stops the probes');
});

test('a warning (a model the provider does not list) degrades; a hung probe fails at its timeout', async () => {
  const { clock, pm, providers } = await setup([mock.reply({ warning: 'model m is not among the 2 models GET /models lists' }), mock.hang()]);
  await clock.advance(0);
  assert.deepEqual(providers(), { status: 'degraded', reason: 'provider llm: no API key, probe answered, but model m is not among the 2 models GET /models lists' });
  await clock.advance(60_000);
  assert.equal(providers().status, 'degraded', 'still the warning: the hung probe has not ended');
  await clock.advance(5_000);
  assert.deepEqual(providers(), { status: 'degraded', reason: 'provider llm: no API key, the last probe failed (timed out)' });
  await pm.close();
});

test('a probe newer than failed calls clears them; calls newer than a failed probe judge instead', async () => {
  let down = true;
  const { clock, pm, providers } = await setup([mock.reply({}), mock.reply({}), mock.down()], { respond: () => (down ? mock.down() : mock.reply('ok')) });
  await clock.advance(0);
  assert.equal((await pm.executeWorkflow('ask')).status, 'failed');
  assert.deepEqual(providers(), {
    status: 'degraded',
    reason: 'provider llm: no API key, probe ok (before the last call), the last call failed (the last: connection refused); 1 of 1 call failed in all (1x connection refused)',
  });
  await clock.advance(60_000);
  assert.deepEqual(providers(), {
    status: 'healthy',
    reason: 'provider llm: no API key, probe ok, the last call failed (the last: connection refused), and a probe since answered; 1 of 1 call failed in all (1x connection refused)',
  });
  await clock.advance(60_000);
  assert.match(providers().reason, /the last probe failed \(connection refused\)/);
  assert.equal(providers().status, 'degraded');
  down = false;
  assert.equal((await pm.executeWorkflow('ask')).status, 'succeeded');
  assert.deepEqual(providers(), {
    status: 'healthy',
    reason: 'provider llm: no API key, the last probe failed (connection refused) (before the last call), 2 calls, the last succeeded; 1 of 2 calls failed in all (1x connection refused)',
  });
  await pm.close();
});

test('never in an untrusted workspace; not while the provider is busy; off by default', async () => {
  const { clock, model, pm } = await setup(mock.reply({}), { answer: mock.reply('slow', { delayMs: 59_000 }) });
  pm.setTrusted(false);
  await clock.advance(125_000);
  assert.deepEqual(model.probeCalls, [], 'untrusted: no probe at 0, 60 and 120 s');
  pm.setTrusted(true);
  const run = await pm.startWorkflow('ask');
  await clock.advance(60_000);
  assert.equal((await run.done).status, 'succeeded');
  assert.deepEqual(model.probeCalls, [], 'a call in flight at 180 s: no probe');
  await clock.advance(60_000);
  assert.deepEqual(model.probeCalls, [240_000]);
  await pm.close();
  const off = await setup(mock.reply({}), { probeSettings: false });
  await off.clock.advance(600_000);
  assert.deepEqual(off.model.probeCalls, []);
  await off.pm.close();
  await assert.rejects(createTesting({ templates: { ask: 'Ask' }, workflow: { probes: { intervalMs: 10 } } }), /intervalMs must be a number of milliseconds from 1000/);
});
