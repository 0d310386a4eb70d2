// Previews and the template side of diagnostics, end to end in a real VS Code (code-server in
// headless Chromium) on a copy of examples/: a step's Preview CodeLens (on its `template:` line)
// renders the step as a run would, with its own context and a placeholder for the step before
// it, logged once; a template previewed on its own shows markers and the strict result; a
// service's fallback says that it answered and why; an unsaved error in another composition
// stops neither a preview nor a run (they say it is there); an undeclared variable is shown in
// the template too; depends_on with nothing to add offers no words; did-you-mean; the workspace
// by its folder's name. Screenshots: test-results/preview-*.png.
//
// Alone (after `npm run package`): node --test test/e2e/preview.e2e.mjs

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  clickCodeLens,
  completionItems,
  editorText,
  examplesCopy,
  fillInputBox,
  goToLine,
  launch,
  openFile,
  outputChannelText,
  pressInEditor,
  pressKeys,
  projectVsix,
  quickPickItems,
  runCommand,
  screenshot,
  selectQuickPickItem,
  typeInEditor,
  waitFor,
  waitForOutput,
  waitForProblems,
} from './harness.mjs';

const CHANNEL = 'PromptManager';

/** 1-based number of the first line of `text` matching `re`. */
function lineOf(text, re) {
  const i = text.split('\n').findIndex((l) => re.test(l));
  assert.ok(i >= 0, `no line matches ${re}`);
  return i + 1;
}

/** The lines that hold something (texts are compared without their blank lines). */
const filled = (text) => text.split('\n').filter((l) => l.trim()).join('\n');

/** Ctrl+Z until the editor shows `text` again. */
async function undoUntil(page, text) {
  await waitFor(
    async () => {
      await pressInEditor(page, 'Control+Z');
      return filled(await editorText(page)) === filled(text);
    },
    { timeoutMs: 45_000, intervalMs: 100, message: 'undo to bring back the original text' },
  );
}

/** Clicks the `Preview` CodeLens that sits right above the editor line matching `lineRe`. */
const clickPreviewLens = (page, lineRe) => clickCodeLens(page, 'Preview', lineRe);

const END_RE = /^=== End of run \S+( \((interrupted|refused)\))? ===$/gm;
const countEnds = (t) => (t.match(END_RE) ?? []).length;

/** The active editor's text once it holds `pattern` (the preview opens beside and takes the focus). */
async function previewText(page, pattern, what) {
  let text = '';
  await waitFor(
    async () => {
      text = await editorText(page).catch(() => '');
      return pattern.test(text);
    },
    { timeoutMs: 30_000, message: () => `the preview to show ${what}; the active editor showed:\n${text.slice(0, 600)}` },
  );
  return text;
}

describe('PromptManager previews and template-side diagnostics in VS Code (code-server)', { timeout: 15 * 60_000 }, () => {
  let vs;
  let page;
  let folder;
  let rulesText;

  before(async () => {
    folder = examplesCopy();
    rulesText = fs.readFileSync(path.join(folder, 'composition_rules.yaml'), 'utf8');
    vs = await launch({ vsix: projectVsix(), folder });
    page = vs.page;
  });

  after(async () => {
    if (vs) await vs.close();
  });

  test('a step\'s Preview CodeLens, on its template: line, renders the step as a run would: its context, a placeholder, logged once', async () => {
    await openFile(page, 'composition_rules.yaml');
    await goToLine(page, lineOf(rulesText, /^\s+template: analysis\/summary$/), 1);
    await clickPreviewLens(page, /^\s+template: analysis\/summary$/);
    // The context for the run, then the state and experience level (complete_analysis has overrides).
    await waitFor(async () => (await quickPickItems(page).catch(() => [])).some((i) => i.label === 'complete_analysis.json'), { timeoutMs: 15_000, message: 'the context picker' });
    await selectQuickPickItem(page, 'complete_analysis.json');
    await waitFor(async () => (await quickPickItems(page).catch(() => [])).some((i) => /experience level: beginner/.test(i.label)), { timeoutMs: 15_000, message: 'the overrides picker' });
    await screenshot(page, 'preview-01-overrides-picker');
    await selectQuickPickItem(page, /As the context says/);
    const text = await previewText(page, /at most 200 words/, 'the summary step with its max_words');
    assert.match(text, /^Preview of step summary of complete_analysis \(template analysis\/summary\) with contexts\/complete_analysis\.json, as a run would render it$/m);
    assert.match(text, /^steps\.extract: placeholder ⟨steps\.extract\.output: …⟩, not run yet$/m);
    assert.match(text, /^⟨steps\.extract\.output: not run yet⟩$/m);
    assert.match(text, /Master Services Agreement - Northwind Logistics/);
    assert.doesNotMatch(text, /would fail/);
    await screenshot(page, 'preview-02-step-preview');
    // One render, one line in the output channel: counted once something logged later is there
    // (the requests VS Code makes for the new document come before it).
    await waitForOutput(page, CHANNEL, /render step summary of complete_analysis with contexts\/complete_analysis\.json: .*1 placeholder/);
    await runCommand(page, 'PromptManager: Validate Workspace');
    const out = await waitForOutput(page, CHANNEL, /Validation of 1 prompt workspace:/, { timeoutMs: 20_000 });
    assert.equal(out.match(/render step summary of complete_analysis with /g).length, 1, `the preview is logged once:\n${out}`);
    await screenshot(page, 'preview-03-logged-once');
  });

  test('the beginner override previews the simple template with its own max_words', async () => {
    await pressKeys(page, 'Control+1');
    await openFile(page, 'composition_rules.yaml');
    await goToLine(page, lineOf(rulesText, /^\s+template: analysis\/summary$/), 1);
    await clickPreviewLens(page, /^\s+template: analysis\/summary$/);
    await waitFor(async () => (await quickPickItems(page).catch(() => [])).some((i) => i.label === 'complete_analysis.json'), { timeoutMs: 15_000, message: 'the context picker' });
    await selectQuickPickItem(page, 'complete_analysis.json');
    await waitFor(async () => (await quickPickItems(page).catch(() => [])).some((i) => /experience level: beginner/.test(i.label)), { timeoutMs: 15_000, message: 'the overrides picker' });
    await selectQuickPickItem(page, 'experience level: beginner');
    const text = await previewText(page, /template analysis\/summary_simple/, 'the beginner variant');
    assert.match(text, /^Overrides applied: experience level beginner$/m);
    assert.match(text, /120/);
    await screenshot(page, 'preview-04-step-override');
  });

  test('a template on its own: the missing values as markers, listed, and what a run would do', async () => {
    await pressKeys(page, 'Control+1');
    await runCommand(page, 'PromptManager: Preview Render');
    await selectQuickPickItem(page, 'analysis/summary');
    await waitFor(async () => (await quickPickItems(page).catch(() => [])).some((i) => i.label === 'complete_analysis.json'), { timeoutMs: 15_000, message: 'the context picker' });
    await selectQuickPickItem(page, 'complete_analysis.json');
    const text = await previewText(page, /at most ⟨max_words⟩ words/, 'the template with a marker for max_words');
    assert.match(text, /^Preview of analysis\/summary with contexts\/complete_analysis\.json$/m);
    assert.match(text, /^Missing from the context, shown as ⟨…⟩: max_words, steps\.extract\.output$/m);
    assert.match(text, /^A render would fail: missing_context: Missing context variable "max_words" in template analysis\/summary at line 3$/m);
    assert.match(text, /⟨steps\.extract\.output⟩/);
    await screenshot(page, 'preview-05-template-markers');
  });

  test('a preview as a service whose fallback answers says so, and why', async () => {
    await pressKeys(page, 'Control+1');
    await runCommand(page, 'PromptManager: Preview Render');
    await selectQuickPickItem(page, /Filter by service/, { filter: false });
    await selectQuickPickItem(page, 'analysis_service');
    await waitFor(async () => (await quickPickItems(page).catch(() => [])).some((i) => i.label === 'analysis/quick_summary'), { timeoutMs: 15_000, message: 'the templates of analysis_service' });
    await selectQuickPickItem(page, 'analysis/quick_summary');
    await waitFor(async () => (await quickPickItems(page).catch(() => [])).some((i) => /Type a JSON context/.test(i.label)), { timeoutMs: 15_000, message: 'the context picker' });
    await selectQuickPickItem(page, /Type a JSON context/, { filter: false });
    await fillInputBox(page, '{"user_id": "u-7"}');
    const text = await previewText(page, /Answered by the fallback/, 'the fallback named in the header');
    assert.match(text, /^Preview of analysis\/quick_summary as analysis_service with typed JSON$/m);
    assert.match(text, /^Answered by the fallback template common\/apology because analysis\/quick_summary failed: missing_context document$/m);
    await screenshot(page, 'preview-06-fallback');
  });

  test('an unsaved error in another composition: previews and runs go on, and say that it is there', async () => {
    await pressKeys(page, 'Control+1');
    await openFile(page, 'composition_rules.yaml');
    // A typo in grounded_answer, not saved.
    const line = lineOf(rulesText, /^\s+depends_on: \[passages\]$/);
    await goToLine(page, line, 1);
    await pressInEditor(page, 'End', 'ArrowLeft', 'ArrowLeft');
    await typeInEditor(page, 'zz');
    await waitForProblems(page, (es) => es.some((e) => e.code === 'unknown-step' && /passazzges|passagzzes|passagezzs|passageszz/.test(e.message)), {
      timeoutMs: 30_000,
      description: 'an unknown-step error for the typo',
    });
    await screenshot(page, 'preview-07-typo');
    await goToLine(page, lineOf(rulesText, /^\s+template: analysis\/summary$/), 1);
    await clickPreviewLens(page, /^\s+template: analysis\/summary$/);
    await waitFor(async () => (await quickPickItems(page).catch(() => [])).some((i) => i.label === 'complete_analysis.json'), { timeoutMs: 15_000, message: 'the context picker' });
    await selectQuickPickItem(page, 'complete_analysis.json');
    await waitFor(async () => (await quickPickItems(page).catch(() => [])).some((i) => /As the context says/.test(i.label)), { timeoutMs: 15_000, message: 'the overrides picker' });
    await selectQuickPickItem(page, /As the context says/);
    const text = await previewText(page, /^1 error elsewhere in the workspace/m, 'the preview, with the error elsewhere mentioned');
    assert.match(text, /at most 200 words/);
    await screenshot(page, 'preview-08-preview-despite-typo');

    // A run of complete_analysis goes on too, and its output says the error is there.
    await pressKeys(page, 'Control+1');
    await runCommand(page, 'PromptManager: Run Workflow');
    await selectQuickPickItem(page, 'complete_analysis');
    await waitFor(async () => (await quickPickItems(page).catch(() => [])).some((i) => i.label === 'No service'), { timeoutMs: 10_000, message: 'the service picker' });
    await selectQuickPickItem(page, 'No service');
    await waitFor(async () => (await quickPickItems(page).catch(() => [])).some((i) => i.label === 'complete_analysis.json'), { timeoutMs: 10_000, message: 'the context picker' });
    await selectQuickPickItem(page, 'complete_analysis.json');
    const out = await waitForOutput(page, CHANNEL, /=== End of run /, { timeoutMs: 90_000 });
    const run = out.slice(out.lastIndexOf('=== Run '));
    assert.match(run, /^Run vscode-\S+ of complete_analysis: succeeded in /m);
    assert.match(run, /^Note: 1 error elsewhere in the workspace \(not in what this run uses: see Problems\)\.$/m);
    await screenshot(page, 'preview-09-run-despite-typo');

    // Back to the (modified) composition_rules.yaml in the first group, and undo.
    await pressKeys(page, 'Control+1');
    await undoUntil(page, rulesText);
    await waitForProblems(page, (es) => !es.some((e) => e.code === 'unknown-step'), { timeoutMs: 30_000, description: 'no unknown-step error after undo' });
  });

  test('after the run, the step preview takes the previous step\'s output from it', async () => {
    // A run of complete_analysis of its own, from the Run CodeLens over the composition.
    await pressKeys(page, 'Control+1');
    await openFile(page, 'composition_rules.yaml');
    const ends = countEnds(await outputChannelText(page, CHANNEL));
    await goToLine(page, lineOf(rulesText, /^ {2}complete_analysis:$/), 1);
    await clickCodeLens(page, 'Run', /^ {2}complete_analysis:$/);
    await waitFor(async () => (await quickPickItems(page).catch(() => [])).some((i) => i.label === 'No service'), { timeoutMs: 15_000, message: 'the service picker' });
    await selectQuickPickItem(page, 'No service');
    await waitFor(async () => (await quickPickItems(page).catch(() => [])).some((i) => i.label === 'complete_analysis.json'), { timeoutMs: 15_000, message: 'the context picker of the run' });
    await selectQuickPickItem(page, 'complete_analysis.json');
    const out = await waitForOutput(page, CHANNEL, (t) => countEnds(t) > ends, { timeoutMs: 90_000 });
    assert.match(out.slice(out.lastIndexOf('=== Run ')), /^Run (vscode-\S+) of complete_analysis: succeeded in /m);

    await pressKeys(page, 'Control+1');
    await goToLine(page, lineOf(rulesText, /^\s+template: analysis\/summary$/), 1);
    await clickPreviewLens(page, /^\s+template: analysis\/summary$/);
    await waitFor(async () => (await quickPickItems(page).catch(() => [])).some((i) => i.label === 'complete_analysis.json'), { timeoutMs: 15_000, message: 'the context picker' });
    await selectQuickPickItem(page, 'complete_analysis.json');
    await waitFor(async () => (await quickPickItems(page).catch(() => [])).some((i) => /As the context says/.test(i.label)), { timeoutMs: 15_000, message: 'the overrides picker' });
    await selectQuickPickItem(page, /As the context says/);
    const runId = /^Run (vscode-\S+) of complete_analysis: succeeded in /m.exec(out.slice(out.lastIndexOf('=== Run ')))[1];
    const text = await previewText(page, new RegExp(`^steps\\.extract: from run ${runId} \\(succeeded\\)$`, 'm'), `the extract output of run ${runId}`);
    assert.doesNotMatch(text, /not run yet/);
    await screenshot(page, 'preview-10-step-from-last-run');
  });

  test('an undeclared variable is shown in the template too, at the variable, pointing at the YAML', async () => {
    await pressKeys(page, 'Control+1');
    await openFile(page, 'composition_rules.yaml');
    // The summary step without its `context: { max_words: 200 }` (unsaved).
    const ctxLine = lineOf(rulesText, /^\s+max_words: 200$/);
    await goToLine(page, ctxLine - 1, 1);
    await pressInEditor(page, 'Shift+ArrowDown', 'Shift+ArrowDown', 'Delete');
    const entries = await waitForProblems(page, (es) => es.some((e) => e.file === 'summary.hbs' && e.code === 'undeclared-variable'), {
      timeoutMs: 30_000,
      description: 'undeclared-variable in analysis/summary.hbs',
    });
    const yaml = entries.filter((e) => e.file === 'composition_rules.yaml' && e.code === 'undeclared-variable' && /'max_words'/.test(e.message));
    assert.equal(yaml.length, 1, 'the warning stays on the step\'s template: value');
    assert.equal(yaml[0].severity, 'warning');
    const inTemplate = entries.filter((e) => e.file === 'summary.hbs' && e.code === 'undeclared-variable');
    assert.equal(inTemplate.length, 1);
    assert.equal(inTemplate[0].line, 3);
    assert.match(inTemplate[0].message, /^'max_words' is read here, but step 'summary' of composition 'complete_analysis' renders this template without it/);
    assert.ok((inTemplate[0].related ?? []).some((r) => /composition_rules\.yaml/.test(r)), `the YAML reference as related information: ${JSON.stringify(inTemplate[0])}`);
    await screenshot(page, 'preview-11-template-side-warning');
    await pressKeys(page, 'Control+1');
    await undoUntil(page, rulesText);
    await waitForProblems(page, (es) => !es.some((e) => e.code === 'undeclared-variable'), { timeoutMs: 30_000, description: 'no undeclared-variable after undo' });
  });

  test('depends_on with no step left to add offers no words; a misspelt template suggests the one it extends', async () => {
    await pressKeys(page, 'Control+1');
    await openFile(page, 'composition_rules.yaml');
    // extract, the first step, which every other step of complete_analysis runs after.
    const line = lineOf(rulesText, /^\s+template: analysis\/extract$/);
    await goToLine(page, line, 1);
    await pressInEditor(page, 'End');
    await typeInEditor(page, '\n        depends_on: []', { paste: true });
    await pressInEditor(page, 'ArrowLeft');
    let items = [];
    await waitFor(
      async () => {
        items = await completionItems(page).catch(() => []);
        return items.length > 0;
      },
      { timeoutMs: 20_000, message: () => `the suggestion list in depends_on; it listed ${items.join(', ') || 'nothing'}` },
    );
    assert.deepEqual(items, ['(no step to add)'], `no step, and none of the file's words: ${items.join(', ')}`);
    await screenshot(page, 'preview-12-depends-on-nothing-to-add');
    await pressKeys(page, 'Escape');
    await runCommand(page, 'File: Revert File');
    await waitFor(async () => filled(await editorText(page)) === filled(rulesText), { timeoutMs: 15_000, message: 'composition_rules.yaml to be reverted' });

    const summaryLine = lineOf(rulesText, /^\s+template: analysis\/summary$/);
    await goToLine(page, summaryLine, 1);
    await pressInEditor(page, 'End');
    await typeInEditor(page, '_nope');
    const entries = await waitForProblems(page, (es) => es.some((e) => e.code === 'unknown-template' && /summary_nope/.test(e.message)), {
      timeoutMs: 30_000,
      description: 'unknown-template for analysis/summary_nope',
    });
    assert.match(entries.find((e) => e.code === 'unknown-template').message, /did you mean 'analysis\/summary'\?/);
    await screenshot(page, 'preview-13-did-you-mean');
    await runCommand(page, 'File: Revert File');
    await waitFor(async () => filled(await editorText(page)) === filled(rulesText), { timeoutMs: 15_000, message: 'composition_rules.yaml to be reverted' });
  });

  test('messages call the workspace by its folder\'s name', async () => {
    await runCommand(page, 'PromptManager: Validate Workspace');
    const name = path.basename(folder);
    const out = await waitForOutput(page, CHANNEL, new RegExp(`Validation of 1 prompt workspace:\\n {2}${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} +0 errors`), { timeoutMs: 20_000 });
    assert.doesNotMatch(out, /^ {2}\. +\d+ error/m);
  });
});
