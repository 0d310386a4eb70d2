/**
 * What the server tells an editor about runs and their contexts, over real LSP: a run whose
 * model step fell back because no API key is set says so (`fallbacks`, kind `missing_key`, the
 * variable to set), a refused run says it was refused, `maxParallel` lowers the composition's
 * `max_parallel` and never raises it, health names the failure, and
 * `promptManager/contextRequirements` says what a context must hold.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { ContextRequirementsRequest, HealthRequest, RunWorkflowRequest } from '../../protocol/protocol.js';
import { EXAMPLES } from '../helpers/paths.js';
import { copyFixture, LspClient } from './lsp.js';

let c: LspClient;
const contextOf = (name: string) => JSON.parse(fs.readFileSync(path.join(EXAMPLES, 'contexts', name), 'utf8')) as Record<string, unknown>;

before(async () => {
  // The provider of the examples reads PROMPTMANAGER_API_KEY: the server must not find it.
  delete process.env.PROMPTMANAGER_API_KEY;
  c = await LspClient.start({ folders: [copyFixture()] });
});
after(async () => {
  await c.stop();
});

test('a run whose model step fell back for want of an API key: succeeded, with the fallback, its cause and the variable to set', async () => {
  const r = await c.conn.sendRequest(RunWorkflowRequest, { composition: 'reply_drafter', context: contextOf('reply_drafter.json'), runId: 'no-key' });
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.status.status, 'succeeded');
  assert.deepEqual(r.status.fallbacks, [
    {
      step: 'draft',
      code: 'provider_error',
      cause: 'provider "local" reads its API key from the environment variable PROMPTMANAGER_API_KEY, which is not set',
      kind: 'missing_key',
      provider: 'local',
      apiKeyEnv: 'PROMPTMANAGER_API_KEY',
    },
  ]);
  const h = await c.conn.sendRequest(HealthRequest, {});
  assert.ok(h.ok);
  const reason = h.health.components.providers!.reason;
  assert.match(reason, /\(the last: API key not set\)/);
  assert.doesNotMatch(reason, /none|\(\d+x [^)]*\(/, `no "none" and no nested parentheses: ${reason}`);
});

test('a run the engine refuses (a required input missing) is ok, failed and refused; one the server refuses is not ok', async () => {
  const r = await c.conn.sendRequest(RunWorkflowRequest, { composition: 'complete_analysis', context: {}, runId: 'refused-1' });
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.status.status, 'failed');
  assert.equal(r.status.refused, true);
  assert.equal(r.status.error?.code, 'missing_context');
  assert.ok(r.status.steps.every((s) => s.attempts === 0));
  const ran = await c.conn.sendRequest(RunWorkflowRequest, { composition: 'complete_analysis', context: contextOf('complete_analysis.json'), runId: 'ran-1' });
  assert.ok(ran.ok && ran.status.refused === undefined && ran.status.fallbacks === undefined, JSON.stringify(ran.ok && ran.status));
  // As a service that requires user_id, which this context lacks: the server refuses before the engine.
  const denied = await c.conn.sendRequest(RunWorkflowRequest, { composition: 'complete_analysis', context: { document: { title: 't', text: 'x' } }, service: 'analysis_service', runId: 'refused-2' });
  assert.ok(!denied.ok);
  assert.equal(denied.error.code, 'missing_context');
});

test("maxParallel lowers the composition's max_parallel, never raises it; 0 is the composition's; a bad value is refused", async () => {
  const ctx = contextOf('complete_analysis.json');
  const run = async (maxParallel: number | undefined, runId: string) => {
    const r = await c.conn.sendRequest(RunWorkflowRequest, { composition: 'complete_analysis', context: ctx, runId, ...(maxParallel !== undefined ? { maxParallel } : {}) });
    return r;
  };
  const one = await run(1, 'mp-1');
  assert.ok(one.ok && one.status.status === 'succeeded');
  assert.equal(one.status.maxParallel, 1, 'the setting applies');
  const high = await run(8, 'mp-8');
  assert.ok(high.ok);
  assert.equal(high.status.maxParallel, 3, "complete_analysis says max_parallel: 3: the setting cannot raise it");
  const zero = await run(0, 'mp-0');
  assert.ok(zero.ok);
  assert.equal(zero.status.maxParallel, 3);
  const bad = await run(-2, 'mp-bad');
  assert.ok(!bad.ok);
  assert.match(bad.error.message, /maxParallel must be a whole number from 1 up/);
});

test('contextRequirements: what a template, a composition or a service needs, and what is optional', async () => {
  // quick_summary reads document in mustaches; the preamble reads locale only in {{#if}}.
  const t = await c.conn.sendRequest(ContextRequirementsRequest, { template: 'analysis/quick_summary' });
  assert.deepEqual(t, { ok: true, required: ['document'], optional: ['locale'] });
  const asService = await c.conn.sendRequest(ContextRequirementsRequest, { template: 'analysis/quick_summary', service: 'analysis_service' });
  assert.ok(asService.ok);
  assert.deepEqual(asService.required, ['document', 'user_id']);
  assert.ok(asService.optional.includes('locale') && !asService.optional.includes('document'));
  const comp = await c.conn.sendRequest(ContextRequirementsRequest, { composition: 'complete_analysis' });
  assert.deepEqual(comp, { ok: true, required: ['document'], optional: ['focus_areas', 'locale', 'user_experience_level'] });
  const drafter = await c.conn.sendRequest(ContextRequirementsRequest, { composition: 'reply_drafter', service: 'drafting_service' });
  assert.ok(drafter.ok);
  assert.deepEqual(drafter.required, ['message', 'user_id']);
  for (const [params, code] of [
    [{ template: 'nope/none' }, 'unknown_template'],
    [{ composition: 'nope' }, 'unknown_composition'],
    [{ composition: 'complete_analysis', service: 'nope' }, 'unknown_service'],
  ] as const) {
    const r = await c.conn.sendRequest(ContextRequirementsRequest, params);
    assert.ok(!r.ok && r.error.code === code, JSON.stringify(r));
  }
  await assert.rejects(c.conn.sendRequest(ContextRequirementsRequest, { template: 'analysis/quick_summary', composition: 'complete_analysis' }), /not both/);
});
