/**
 * The preview document's header (client/previewText.ts): what was rendered and how, what the
 * context lacks and what a run would do, the service's fallback and why, errors elsewhere; and
 * no header at all for a template that rendered as it is.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HEADER_RULE, previewDocument, previewHeader, previewNotes, type PreviewOk } from '../../client/previewText.js';

const base: PreviewOk = { ok: true, text: 'Hello', templateUsed: 't', missing: [], errorsElsewhere: 0, fromCache: false, durationMs: 1 };
const subject = { template: 't', contextLabel: 'contexts/a.json' };

test('a template that rendered as it is: the document is the prompt, no header', () => {
  assert.deepEqual(previewHeader(subject, base), []);
  assert.equal(previewDocument(subject, base), 'Hello');
  assert.deepEqual(previewNotes(base), []);
});

test('missing values: listed, with the strict result beside them', () => {
  const r: PreviewOk = {
    ...base,
    text: 'at most ⟨max_words⟩ words',
    templateUsed: 'analysis/summary',
    missing: ['max_words', 'steps.extract.output'],
    strictError: { code: 'missing_context', message: 'Missing context variable "max_words" in template analysis/summary at line 3', variable: 'max_words' },
  };
  const s = { template: 'analysis/summary', contextLabel: 'contexts/a.json' };
  assert.equal(
    previewDocument(s, r),
    [
      'Preview of analysis/summary with contexts/a.json',
      'Missing from the context, shown as ⟨…⟩: max_words, steps.extract.output',
      'A render would fail: missing_context: Missing context variable "max_words" in template analysis/summary at line 3',
      HEADER_RULE,
      'at most ⟨max_words⟩ words',
    ].join('\n'),
  );
  assert.deepEqual(previewNotes(r), ['2 missing (max_words, steps.extract.output)', 'strict: missing_context']);
});

test('the service\'s fallback: which template answered, and why', () => {
  const r: PreviewOk = { ...base, text: 'Sorry.', templateUsed: 'common/apology', fallbackFor: { template: 'analysis/summary', code: 'missing_context', message: 'Missing ...', variable: 'max_words' } };
  const header = previewHeader({ template: 'analysis/summary', service: 'analysis_service', contextLabel: 'typed JSON' }, r);
  assert.deepEqual(header, [
    'Preview of analysis/summary as analysis_service with typed JSON',
    'Answered by the fallback template common/apology because analysis/summary failed: missing_context max_words',
  ]);
  const noVariable: PreviewOk = { ...r, fallbackFor: { template: 'x', code: 'template_error', message: 'Template x failed to render: boom\nmore' } };
  assert.match(previewHeader({ template: 'x', contextLabel: 'c' }, noVariable)[1]!, /because x failed: template_error: Template x failed to render: boom$/);
});

test('a step: how the run would render it, where each steps.<id> came from, errors elsewhere', () => {
  const r: PreviewOk = {
    ...base,
    text: 'Summary of ⟨steps.extract.output: not run yet⟩',
    templateUsed: 'analysis/summary_simple',
    errorsElsewhere: 3,
    step: {
      composition: 'complete_analysis',
      step: 'summary',
      appliedOverrides: { experienceLevel: 'beginner' },
      dependencies: [
        { step: 'extract', source: 'placeholder', reason: 'not run yet' },
        { step: 'prior', source: 'run', runId: 'r-1', status: 'succeeded' },
      ],
      skip: 'when',
      model: 'local',
    },
  };
  const lines = previewHeader({ template: 'analysis/summary', composition: 'complete_analysis', step: 'summary', contextLabel: 'contexts/complete_analysis.json' }, r);
  assert.deepEqual(lines, [
    'Preview of step summary of complete_analysis (template analysis/summary_simple) with contexts/complete_analysis.json, as a run would render it',
    'Overrides applied: experience level beginner',
    'A run would skip this step: its `when` is false for this context',
    'steps.extract: placeholder ⟨steps.extract.output: …⟩, not run yet',
    'steps.prior: from run r-1 (succeeded)',
    'A run sends this prompt to the provider local; the preview sends nothing',
    '3 errors elsewhere in the workspace (not in what this preview uses: see Problems)',
  ]);
  assert.deepEqual(previewNotes(r), ['1 placeholder', '3 errors elsewhere']);
  // A step always says how it was rendered, even with nothing else to say.
  const plain: PreviewOk = { ...base, step: { composition: 'c', step: 's', appliedOverrides: {}, dependencies: [] } };
  assert.equal(previewDocument({ template: 't', composition: 'c', step: 's', contextLabel: 'x' }, plain), `Preview of step s of c (template t) with x, as a run would render it\n${HEADER_RULE}\nHello`);
});
