// Workspace trust end to end (package.json: capabilities.untrustedWorkspaces "limited"): a copy
// of examples/ opened in an untrusted window (Restricted Mode) of a real VS Code (code-server
// with Workspace Trust on). Diagnostics, completions, previews and runs that call no model work;
// a run whose steps call a model provider is refused with a message saying why and what to do,
// and no step runs (the model server the provider points at sees no request). Its own
// code-server, so the trusted sessions of the other files are unaffected. Screenshots:
// test-results/trust-*.png.
//
// Alone (after `npm run package`): node --test test/e2e/trust.e2e.mjs

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  completionItems,
  editorText,
  examplesCopy,
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
  statusBarItems,
  typeInEditor,
  waitFor,
  waitForOutput,
  waitForProblems,
} from './harness.mjs';
import { pointProviderAt, startModelServer, waitForToast } from './support.mjs';

const CHANNEL = 'PromptManager';

/** 1-based number of the first line of `text` matching `re`. */
function lineOf(text, re) {
  const i = text.split('\n').findIndex((l) => re.test(l));
  assert.ok(i >= 0, `no line matches ${re}`);
  return i + 1;
}

/** The lines that hold something (texts are compared without their blank lines). */
const filled = (text) => text.split('\n').filter((l) => l.trim()).join('\n');

/** Where `shown` parts from `expected`, for an error message: the first line that differs. */
function firstDifference(shown, expected) {
  const a = shown.split('\n');
  const b = expected.split('\n');
  const i = a.findIndex((l, k) => l !== b[k]);
  if (i < 0) return `${a.length} lines where ${b.length} were expected`;
  return `at line ${i + 1} of what holds something: ${JSON.stringify(a[i])} where ${JSON.stringify(b[i] ?? '(the end)')} was expected`;
}

/** The number in the PromptManager status bar item ("PromptManager 2"), or undefined. */
async function statusErrorCount(page) {
  const item = (await statusBarItems(page)).find((t) => /PromptManager \d+/.test(t));
  return item ? Number(/PromptManager (\d+)/.exec(item)[1]) : undefined;
}

/** Palette → Run Workflow → composition → service → context, as a user picks them. */
async function startRun(page, composition, service, context) {
  await runCommand(page, 'PromptManager: Run Workflow');
  await selectQuickPickItem(page, composition);
  await waitFor(async () => (await quickPickItems(page).catch(() => [])).some((i) => i.label === service), { timeoutMs: 10_000, message: `the service picker to offer ${service}` });
  await selectQuickPickItem(page, service);
  await waitFor(async () => (await quickPickItems(page).catch(() => [])).some((i) => i.label === context), { timeoutMs: 10_000, message: `the context picker to offer ${context}` });
  await selectQuickPickItem(page, context);
}

describe('PromptManager in an untrusted workspace (Restricted Mode)', { timeout: 12 * 60_000 }, () => {
  let vs;
  let page;
  let folder;
  let rulesText;
  let model;

  before(async () => {
    model = await startModelServer();
    folder = examplesCopy();
    const rulesFile = path.join(folder, 'composition_rules.yaml');
    rulesText = pointProviderAt(fs.readFileSync(rulesFile, 'utf8'), model.url);
    fs.writeFileSync(rulesFile, rulesText);
    const t0 = Date.now();
    vs = await launch({ vsix: projectVsix(), folder, workspaceTrust: true });
    page = vs.page;
    process.stderr.write(`[trust.e2e] code-server (workspace trust on) + workbench ready in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  });

  after(async () => {
    if (vs) await vs.close();
    if (model) await model.close();
  });

  test('the window is in Restricted Mode and the extension runs its language server there', async () => {
    await waitFor(async () => (await statusBarItems(page)).some((t) => /Restricted Mode/.test(t)), {
      timeoutMs: 20_000,
      message: async () => `the status bar to say "Restricted Mode"; it showed: ${(await statusBarItems(page)).join(' | ')}`,
    });
    await openFile(page, 'composition_rules.yaml');
    await waitFor(async () => (await statusErrorCount(page)) !== undefined, {
      timeoutMs: 30_000,
      message: async () => `the PromptManager status bar item with an error count; the status bar showed: ${(await statusBarItems(page)).join(' | ')}`,
    });
    await waitForOutput(page, CHANNEL, /language server started in/, { timeoutMs: 30_000 });
    await screenshot(page, 'trust-01-restricted-mode');
  });

  test('diagnostics and completions work: a bad template name is an error in Problems and the status bar', async () => {
    await openFile(page, 'composition_rules.yaml');
    const before = await statusErrorCount(page);
    const line = lineOf(rulesText, /^\s+template: analysis\/extract$/);
    await goToLine(page, line, 1);
    await pressInEditor(page, 'End');
    await typeInEditor(page, '_no_such_template');
    const entries = await waitForProblems(
      page,
      (es) => es.some((e) => e.file === 'composition_rules.yaml' && e.code === 'unknown-template' && /analysis\/extract_no_such_template/.test(e.message)),
      { timeoutMs: 30_000, description: 'an unknown-template error for analysis/extract_no_such_template' },
    );
    const err = entries.find((e) => e.code === 'unknown-template' && /extract_no_such_template/.test(e.message));
    assert.equal(err.severity, 'error');
    assert.equal(err.line, line);
    await waitFor(async () => (await statusErrorCount(page)) === before + 1, {
      timeoutMs: 15_000,
      message: async () => `the status bar count to go from ${before} to ${before + 1}; it showed: ${(await statusBarItems(page)).join(' | ')}`,
    });
    await screenshot(page, 'trust-02-problems');

    // Completions: the template names after `template: `.
    await goToLine(page, line, 1);
    await pressInEditor(page, 'Shift+End');
    await typeInEditor(page, '        template: ');
    let items = [];
    await waitFor(
      async () => {
        items = await completionItems(page).catch(() => []);
        return items.includes('analysis/extract') && items.includes('analysis/summary');
      },
      { timeoutMs: 20_000, message: () => `completions after "template: " to list template names; they listed: ${items.join(', ') || '(nothing)'}` },
    );
    await screenshot(page, 'trust-03-completions');
    await pressKeys(page, 'Escape');
    await runCommand(page, 'File: Revert File');
    let shown = '';
    await waitFor(
      async () => {
        shown = await editorText(page);
        return filled(shown) === filled(rulesText);
      },
      { timeoutMs: 15_000, message: () => `composition_rules.yaml to be reverted; the editor showed ${firstDifference(filled(shown), filled(rulesText))}` },
    );
    await waitForProblems(page, (es) => !es.some((e) => e.code === 'unknown-template' && /extract_no_such_template/.test(e.message)), {
      timeoutMs: 30_000,
      description: 'no unknown-template error after reverting',
    });
  });

  test('Preview Render works', async () => {
    await runCommand(page, 'PromptManager: Preview Render');
    await selectQuickPickItem(page, 'analysis/quick_summary');
    await waitFor(async () => (await quickPickItems(page).catch(() => [])).some((i) => i.label === 'analysis_service.json'), {
      timeoutMs: 15_000,
      message: 'the context picker to list contexts/analysis_service.json',
    });
    await selectQuickPickItem(page, 'analysis_service.json');
    let text = '';
    await waitFor(
      async () => {
        text = await editorText(page).catch(() => '');
        return text.includes('Summarise the document "Q1 Operations Report"');
      },
      { timeoutMs: 30_000, message: () => `the preview to show the rendered prompt; the active editor showed:\n${text.slice(0, 400)}` },
    );
    assert.match(text, /^You are the writing and analysis assistant inside Inkwell/);
    assert.match(text, /Write your answer in the language and conventions of the locale `en-GB`\./);
    await screenshot(page, 'trust-04-preview');
    await waitForOutput(page, CHANNEL, /render analysis\/quick_summary with contexts\/analysis_service\.json: /);
    await pressKeys(page, 'Control+1');
  });

  test('Run Workflow on a composition whose step calls a model provider is refused, and no step runs', async () => {
    await startRun(page, 'reply_drafter', 'drafting_service', 'reply_drafter.json');
    const refused = /PromptManager: reply_drafter was not run: this workspace is not trusted, and step draft \(local\) would send prompts to a model provider\. Trust the workspace to run it/;
    // An error on screen that says why and offers the way out.
    const toast = await waitForToast(page, refused, { timeoutMs: 20_000 });
    assert.deepEqual(toast.buttons, ['Manage Workspace Trust']);
    await screenshot(page, 'trust-05-run-refused');
    const out = await outputChannelText(page, CHANNEL);
    assert.match(out, refused, 'the refusal is in the output channel too');
    assert.doesNotMatch(out, /=== Run \S+: reply_drafter/, 'no run of reply_drafter started');
    assert.doesNotMatch(out, /^\d\d:\d\d:\d\d\.\d{3} {2}(brief|draft) /m, 'no step of reply_drafter ran');
    assert.equal(model.requests.length, 0, 'the model provider received no request');
    assert.ok(!(await statusBarItems(page)).some((t) => /reply_drafter/.test(t)), 'no run in progress in the status bar');
    await screenshot(page, 'trust-06-refusal-output');
  });

  test('a run that calls no model provider still runs in Restricted Mode', async () => {
    await startRun(page, 'complete_analysis', 'No service', 'complete_analysis.json');
    const text = await waitForOutput(page, CHANNEL, /=== End of run \S+ ===/, { timeoutMs: 90_000 });
    const run = text.slice(text.lastIndexOf('=== Run '));
    assert.match(run, /^=== Run vscode-\S+: complete_analysis /m);
    for (const step of ['extract', 'summary', 'critique', 'risks', 'report']) assert.match(run, new RegExp(`^${step} +succeeded +1 `, 'm'), `${step} succeeded`);
    assert.match(run, /^Run vscode-\S+ of complete_analysis: succeeded in /m);
    assert.equal(model.requests.length, 0, 'still no request to the model provider');
    await screenshot(page, 'trust-07-run-without-provider');
  });
});
