/** examples/prompt_tests.yaml: it uses every assertion kind, and every test passes (the live one is skipped offline). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ASSERTION_KINDS } from '../../../core/model/testTypes.js';
import { runPromptTests } from '../../../core/testing/runner.js';
import { validateWorkspace } from '../../../core/validate/validateWorkspace.js';
import { EXAMPLES } from '../../helpers/paths.js';

test('the examples use every assertion kind, and pass offline (the live test skipped, with why)', async () => {
  const v = validateWorkspace(EXAMPLES);
  assert.equal(v.errorCount + v.warningCount, 0, v.diagnostics.map((d) => d.message).join('\n'));
  const kinds = new Set(v.promptTests.flatMap((f) => f.tests.flatMap((t) => t.expect.map((a) => a.kind))));
  assert.deepEqual([...ASSERTION_KINDS].filter((k) => !kinds.has(k)), []);
  const report = await runPromptTests({ root: EXAMPLES, validation: v, history: false, updateSnapshots: 'none' });
  for (const r of report.results) if (r.outcome === 'failed') assert.fail(`${r.id}: ${r.reason ?? ''} ${r.assertions.filter((a) => !a.passed).map((a) => `${a.label}: ${a.message}`).join('; ')}`);
  assert.deepEqual(report.results.filter((r) => r.outcome === 'skipped').map((r) => r.id), ['reply_drafter_live']);
  assert.ok(report.summary.passed >= 7);
});
