/**
 * promptManager/preview over real LSP, and what a workspace with errors still renders and runs:
 * a step previewed as the run would render it (its inputs, its own context, the overrides the
 * context selects, the last run's outputs or placeholders), a template previewed with markers
 * for what the context lacks and the strict result beside it, the service's fallback named with
 * its cause, and errors elsewhere in the workspace that no longer stop previews and runs.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { PreviewRequest, RenderRequest, RunWorkflowRequest, type PreviewResult } from '../../protocol/protocol.js';
import { EXAMPLES } from '../helpers/paths.js';
import { copyFixture, LspClient } from './lsp.js';

let c: LspClient;
let dir: string;
const context = JSON.parse(fs.readFileSync(path.join(EXAMPLES, 'contexts/complete_analysis.json'), 'utf8')) as Record<string, unknown>;

before(async () => {
  dir = copyFixture();
  c = await LspClient.start({ folders: [dir] });
});
after(async () => {
  await c.stop();
});

function ok(r: PreviewResult): Extract<PreviewResult, { ok: true }> {
  assert.ok(r.ok, JSON.stringify(r));
  return r;
}

test('a step renders as the run would: its inputs, its own context, placeholders for steps not run yet', async () => {
  const r = ok(await c.conn.sendRequest(PreviewRequest, { composition: 'complete_analysis', step: 'summary', context }));
  assert.equal(r.templateUsed, 'analysis/summary');
  // The step's `context: { max_words: 200 }`, which no context file holds.
  assert.match(r.text, /in at most 200 words/);
  assert.match(r.text, /Master Services Agreement - Northwind Logistics/);
  assert.match(r.text, /⟨steps\.extract\.output: not run yet⟩/);
  assert.deepEqual(r.missing, []);
  assert.equal(r.strictError, undefined);
  assert.deepEqual(r.step?.dependencies, [{ step: 'extract', source: 'placeholder', reason: 'not run yet' }]);
  assert.deepEqual(r.step?.appliedOverrides, {});
  assert.equal(r.errorsElsewhere, 0);
});

test('the experience level override picks another template and context value', async () => {
  const r = ok(await c.conn.sendRequest(PreviewRequest, { composition: 'complete_analysis', step: 'summary', context: { ...context, user_experience_level: 'beginner' } }));
  assert.equal(r.templateUsed, 'analysis/summary_simple');
  assert.deepEqual(r.step?.appliedOverrides, { experienceLevel: 'beginner' });
  assert.match(r.text, /120/);
  assert.doesNotMatch(r.text, /\b200\b/);
  // critique's `when` is false for a beginner: the run would skip it.
  const critique = ok(await c.conn.sendRequest(PreviewRequest, { composition: 'complete_analysis', step: 'critique', context: { ...context, user_experience_level: 'beginner' } }));
  assert.equal(critique.step?.skip, 'when');
});

test('after a run, the dependencies come from its outputs', async () => {
  const run = await c.conn.sendRequest(RunWorkflowRequest, { composition: 'complete_analysis', context, runId: 'preview-run-1' });
  assert.ok(run.ok && run.status.status === 'succeeded', JSON.stringify(run));
  const r = ok(await c.conn.sendRequest(PreviewRequest, { composition: 'complete_analysis', step: 'report', context }));
  assert.deepEqual(
    r.step?.dependencies.map((d) => [d.step, d.source, d.runId, d.status]),
    ['extract', 'summary', 'critique', 'risks'].map((s) => [s, 'run', 'preview-run-1', 'succeeded']),
  );
  const summaryOutput = String(run.status.outputs.summary);
  assert.ok(r.text.includes(summaryOutput.slice(0, 200)), 'the report shows the summary the run produced');
  assert.doesNotMatch(r.text, /not run yet/);
});

test('a template on its own: markers where the context lacks a value, the strict result beside it', async () => {
  const r = ok(await c.conn.sendRequest(PreviewRequest, { template: 'analysis/summary', context }));
  assert.match(r.text, /in at most ⟨max_words⟩ words/);
  assert.match(r.text, /⟨steps\.extract\.output⟩/);
  assert.match(r.text, /Master Services Agreement/, 'the rest is rendered');
  assert.deepEqual(r.missing, ['max_words', 'steps.extract.output']);
  assert.equal(r.strictError?.code, 'missing_context');
  assert.equal(r.strictError?.variable, 'max_words');
  // The plain render says what a run would: it fails.
  const strict = await c.conn.sendRequest(RenderRequest, { template: 'analysis/summary', context });
  assert.ok(!strict.ok && strict.error.code === 'missing_context');
});

test('as a service whose fallback answers: the fallback and why', async () => {
  const r = ok(await c.conn.sendRequest(PreviewRequest, { template: 'analysis/quick_summary', context: { user_id: 'u-1' }, service: 'analysis_service' }));
  assert.equal(r.templateUsed, 'common/apology');
  assert.equal(r.fallbackFor?.template, 'analysis/quick_summary');
  assert.equal(r.fallbackFor?.code, 'missing_context');
  assert.equal(r.fallbackFor?.variable, 'document');
});

test('a preview names no template, or a step the composition does not have: a clear refusal', async () => {
  const none = await c.conn.sendRequest(PreviewRequest, { context: {} });
  assert.ok(!none.ok && none.error.code === 'invalid_configuration' && /template/.test(none.error.message));
  const step = await c.conn.sendRequest(PreviewRequest, { composition: 'complete_analysis', step: 'nope', context });
  assert.ok(!step.ok && /has no step "nope"/.test(step.error.message), JSON.stringify(step));
});

test('an error in another composition stops neither previews nor runs; an error in what they use does', async () => {
  const rules = path.join(dir, 'composition_rules.yaml');
  const good = fs.readFileSync(rules, 'utf8');
  await c.open(rules, good);
  // An unsaved typo in grounded_answer: a dependency on a step it does not have.
  const broken = good.replace('        depends_on: [passages]\n', '        depends_on: [pasages]\n');
  assert.notEqual(broken, good);
  await c.change(rules, broken);
  await c.diagnosticsOf(rules, (ds) => ds.some((d) => d.code === 'unknown-step'), 10_000);
  try {
    const step = ok(await c.conn.sendRequest(PreviewRequest, { composition: 'complete_analysis', step: 'summary', context }));
    assert.equal(step.errorsElsewhere, 1);
    assert.match(step.text, /in at most 200 words/);
    const tpl = ok(await c.conn.sendRequest(PreviewRequest, { template: 'analysis/quick_summary', context }));
    assert.equal(tpl.errorsElsewhere, 1);
    const render = await c.conn.sendRequest(RenderRequest, { template: 'analysis/quick_summary', context });
    assert.ok(render.ok && render.errorsElsewhere === 1, JSON.stringify(render));
    const run = await c.conn.sendRequest(RunWorkflowRequest, { composition: 'complete_analysis', context, runId: 'preview-run-2' });
    assert.ok(run.ok && run.status.status === 'succeeded' && run.errorsElsewhere === 1, JSON.stringify(run).slice(0, 500));

    // What uses the broken composition is refused, naming the error.
    const refused = await c.conn.sendRequest(RunWorkflowRequest, { composition: 'grounded_answer', context: { ...context, question: 'q' }, runId: 'preview-run-3' });
    assert.ok(!refused.ok, JSON.stringify(refused).slice(0, 300));
    assert.equal(refused.error.code, 'invalid_configuration');
    assert.match(refused.error.message, /Composition grounded_answer uses parts of the prompt workspace .* with 1 error/);
    assert.match(refused.error.message, /unknown-step .*pasages/);
    const stepRefused = await c.conn.sendRequest(PreviewRequest, { composition: 'grounded_answer', step: 'answer', context });
    assert.ok(!stepRefused.ok && stepRefused.error.code === 'invalid_configuration');
    // Another step of the same composition does not use the broken one.
    const other = ok(await c.conn.sendRequest(PreviewRequest, { composition: 'grounded_answer', step: 'passages', context: { ...context, question: 'q' } }));
    assert.equal(other.errorsElsewhere, 1);

    // A syntax error in a partial stops what includes it, and only that.
    const preamble = path.join(dir, 'templates', 'common', 'preamble.hbs');
    const preambleText = fs.readFileSync(preamble, 'utf8');
    await c.open(preamble, preambleText);
    await c.change(preamble, preambleText + '{{#if}}');
    await c.diagnosticsOf(preamble, (ds) => ds.some((d) => d.code === 'template-syntax'), 10_000);
    const viaPartial = await c.conn.sendRequest(PreviewRequest, { template: 'analysis/quick_summary', context });
    assert.ok(!viaPartial.ok && viaPartial.error.code === 'invalid_configuration' && /template-syntax/.test(viaPartial.error.message), JSON.stringify(viaPartial).slice(0, 300));
    const apology = ok(await c.conn.sendRequest(PreviewRequest, { template: 'common/apology', context }));
    // The unknown step, the partial's syntax error, and its reference in classification_service's templates.
    assert.equal(apology.errorsElsewhere, 3);
    await c.change(preamble, preambleText);
    await c.close(preamble);
  } finally {
    await c.change(rules, good);
    await c.close(rules);
  }
  const fixed = ok(await c.conn.sendRequest(PreviewRequest, { composition: 'grounded_answer', step: 'answer', context: { ...context, question: 'q' } }));
  assert.equal(fixed.errorsElsewhere, 0);
});
