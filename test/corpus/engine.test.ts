/**
 * The bad-input corpus through the engine (PromptManager): a workspace with errors is refused
 * with one `invalid_configuration` error naming the diagnostic codes; one that loads answers
 * its renders and workflow runs, and a hostile template (a partial that includes itself, an
 * output of gigabytes) fails with `limit_exceeded`, never a stack overflow or an exhausted
 * heap; one that burns CPU without writing (nested `each` blocks, a huge list) fails with
 * `render_budget_exceeded` within 2 s. Nothing throws anything but a PromptError, and no
 * global prototype changes.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PromptManager } from '../../core/manager/promptManager.js';
import { PromptError } from '../../core/errors.js';
import { DEFAULT_SEVERITY } from '../../core/model/diagnostics.js';
import type { WorkflowResult } from '../../core/workflow/types.js';
import { corpusCases, nestedLists, OUTSIDE_SECRET, silentList, writeCorpus, type WrittenCorpus } from './cases.js';
import { assertPrototypesIntact, HANG_GUARD_MS, RENDER_STOP_MS, snapshotPrototypes, timed, timingReport } from './support.js';

const cases = corpusCases();
let corpus: WrittenCorpus;
const times: { name: string; ms: number }[] = [];

before(() => {
  corpus = writeCorpus(cases);
});
after(() => corpus.remove());

function describe(e: unknown): string {
  return e instanceof PromptError ? `[${e.code}] ${e.message.slice(0, 300)}` : (e as Error)?.stack ?? String(e);
}

for (const c of cases) {
  test(`corpus/engine: ${c.name}`, async (t) => {
    const dir = corpus.dirs.get(c.name);
    if (!dir) return t.skip('symbolic links are not available here');
    const protos = snapshotPrototypes();
    const refused = c.codes.some((code) => DEFAULT_SEVERITY[code] === 'error');
    const created = await timed(() => PromptManager.create({ root: dir, watch: false }));
    times.push({ name: `${c.name} (load)`, ms: created.ms });
    t.diagnostic(`load ${created.ms.toFixed(0)} ms`);
    assert.ok(created.ms < HANG_GUARD_MS, `loading took ${created.ms.toFixed(0)} ms`);
    if (refused) {
      assert.ok(created.error instanceof PromptError, `expected a refusal, got ${created.error ? describe(created.error) : 'a loaded manager'}`);
      assert.equal(created.error.code, 'invalid_configuration');
      for (const code of c.codes) assert.match(created.error.message, new RegExp(`\\b${code}\\b`), `the refusal does not name ${code}`);
      assert.ok(!created.error.message.includes(OUTSIDE_SECRET));
      assertPrototypesIntact(protos, c.name);
      return;
    }
    if (created.error) assert.fail(`the workspace should load: ${describe(created.error)}`);
    const m = created.value as PromptManager;
    try {
      if (c.render) {
        const { template, context, code, text } = c.render;
        const r = await timed(() => m.render(template, context));
        times.push({ name: `${c.name} (render)`, ms: r.ms });
        t.diagnostic(`render ${r.ms.toFixed(0)} ms`);
        assert.ok(r.ms < HANG_GUARD_MS, `the render took ${r.ms.toFixed(0)} ms`);
        if (code) {
          assert.ok(r.error instanceof PromptError, `expected ${code}, got ${r.error ? describe(r.error) : 'a render'}`);
          assert.equal(r.error.code, code, describe(r.error));
          assert.doesNotMatch(r.error.message, /call stack|heap|Invalid string length/i);
          if (code === 'render_budget_exceeded') {
            assert.ok(r.ms < RENDER_STOP_MS, `the budget stopped the render after ${r.ms.toFixed(0)} ms, not within ${RENDER_STOP_MS} ms`);
            assert.equal(r.error.template, template);
            assert.match(r.error.message, /maxRenderWork/);
          }
        } else {
          if (r.error) assert.fail(`the render failed: ${describe(r.error)}`);
          const problem = text?.(r.value!.text);
          assert.equal(problem, undefined, problem);
        }

        // The same template as a workflow step: the run ends, with the step's error code.
        const comp = m.snapshot.compositions.has('c') ? 'c' : undefined;
        if (comp) {
          const run = await timed(() => m.executeWorkflow(comp, context));
          t.diagnostic(`run ${run.ms.toFixed(0)} ms`);
          assert.ok(run.ms < (code === 'render_budget_exceeded' ? RENDER_STOP_MS : HANG_GUARD_MS), `the run took ${run.ms.toFixed(0)} ms`);
          if (run.error) assert.fail(`executeWorkflow threw: ${describe(run.error)}`);
          const result = run.value as WorkflowResult;
          const step = result.steps.find((s) => s.template === template);
          assert.ok(step, `no step renders ${template}`);
          if (code) {
            assert.equal(step.status, 'failed');
            assert.equal(step.errors[0]?.code, code);
            assert.notEqual(result.status, 'succeeded');
          } else {
            assert.equal(step.status, 'succeeded', JSON.stringify(step.errors));
          }
        }
      }
      // Whatever is loaded, nothing outside the templates root is among the templates.
      for (const name of m.listTemplates()) {
        const r = await m.render(name, { name: 'n', items: [], big: '' }).catch((e: unknown) => e);
        if (r instanceof PromptError) continue;
        if (r instanceof Error) assert.fail(`render of ${name} threw a non-PromptError: ${r.stack}`);
        assert.ok(!(r as { text: string }).text.includes(OUTSIDE_SECRET), `template ${name} rendered a file outside the root`);
      }
      assert.ok(['healthy', 'degraded', 'unhealthy'].includes(m.healthCheck().status));
    } finally {
      await m.close();
    }
    assertPrototypesIntact(protos, c.name);
  });
}

test('corpus/engine: a render after a hostile one still works (no state left behind)', async () => {
  const dir = corpus.dirs.get('tpl-mutual-partials')!;
  const m = await PromptManager.create({ root: dir, watch: false, limits: { maxPartialDepth: 8 } });
  try {
    await assert.rejects(m.render('a', { name: 'x' }), (e: unknown) => e instanceof PromptError && e.code === 'limit_exceeded' && /8 levels/.test(e.message));
    // b alone is the same loop; a fresh render starts at depth 0 each time.
    for (let i = 0; i < 3; i++) await assert.rejects(m.render('b', { name: 'y' }), (e: unknown) => e instanceof PromptError && e.code === 'limit_exceeded');
  } finally {
    await m.close();
  }
  const huge = corpus.dirs.get('tpl-huge-output')!;
  const small = await PromptManager.create({ root: huge, watch: false, limits: { maxRenderOutputChars: 1000 } });
  try {
    await assert.rejects(small.render('boom', { name: 'x', items: [1, 2], big: 'y'.repeat(600) }), (e: unknown) => e instanceof PromptError && e.code === 'limit_exceeded');
    assert.equal((await small.render('boom', { name: 'x', items: [1, 2], big: 'y'.repeat(400) })).text.length, 801);
  } finally {
    await small.close();
  }
  // The work budget: a stopped render leaves nothing behind, whatever the next one is.
  for (const [name, template, hostile, fine] of [
    ['tpl-nested-each', 'nested', nestedLists(2000), nestedLists(20)],
    ['tpl-huge-each-silent', 'silent', silentList(5_000_000), silentList(50_000)],
  ] as const) {
    const b = await PromptManager.create({ root: corpus.dirs.get(name)!, watch: false });
    try {
      for (let i = 0; i < 2; i++) {
        await assert.rejects(b.render(template, hostile), (e: unknown) => e instanceof PromptError && e.code === 'render_budget_exceeded');
        // 8,000 and 50,000 iterations: well inside the budget, and the counters started again at 0.
        assert.ok((await b.render(template, fine)).text.length > 0);
      }
    } finally {
      await b.close();
    }
  }
});

test('corpus/engine: timings', (t) => {
  t.diagnostic(timingReport(times));
});
