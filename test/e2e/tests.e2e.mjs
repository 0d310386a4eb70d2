// Prompt tests in VS Code's Testing view, end to end: the packaged .vsix in a real VS Code
// (code-server) in headless Chromium, on a small prompt workspace written here (a template, a
// composition with a model step, prompt_tests.yaml with a golden file). As a user would: open
// the Testing view, see the tree, run a test and see it pass (in the tree and in the editor's
// gutter), change the template so that a snapshot no longer matches, run again and open the
// failure's peek to see the expected and actual text side by side; see the history in a
// test's description, a test typed into the file appear in the tree, a test run five times
// report its pass rate, "Run and Update Snapshots" accept the new text, and in the test file
// completion offer a composition's steps and an unknown step be an error as you type. Then, in a
// second window with Workspace Trust on (Restricted Mode), "Run with Live Model": VS Code asks
// for trust before any test runs; refused, nothing reaches the model; trusted, the server hears
// it and the live test calls a local model server.
// Screenshots: test-results/tests-*.png.
//
// Alone (after `npm run package`): node --test test/e2e/tests.e2e.mjs

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startModelServer } from './support.mjs';
import {
  completionItems,
  fillInputBox,
  formatProblems,
  goToLine,
  launch,
  makeTempDir,
  openFile,
  pressInEditor,
  pressKeys,
  projectVsix,
  runCommand,
  screenshot,
  selectQuickPickItem,
  typeInEditor,
  waitFor,
  waitForOutput,
  waitForProblems,
  withFailureShot,
} from './harness.mjs';

const CHANNEL = 'PromptManager';

const RULES = (baseUrl) => `version: 1
providers:
  local:
    type: openai-compatible
    base_url: ${baseUrl}
    model: tiny
compositions:
  reply_drafter:
    inputs: { required: [message] }
    steps:
      - id: brief
        template: reply/brief
      - id: draft
        template: reply/draft
        model: local
        depends_on: [brief]
`;
const MAPPINGS = `version: 1
services:
  greeting_service:
    primary_templates: [greet]
  drafting_service:
    compositions: [reply_drafter]
`;
const TESTS = `version: 1
tests:
  greets_ada:
    template: greet
    service: greeting_service
    context: { name: Ada }
    expect:
      - contains: Ada
  greets_bob:
    template: greet
    context: { name: Bob }
    expect:
      - contains: Bob
      - snapshot: true
  drafts_a_reply:
    composition: reply_drafter
    context: { message: Wrong invoice }
    mocks:
      draft: Dear Priya, sorry about the invoice.
    expect:
      - step: draft
        status: succeeded
      - regex: '^Dear Priya'
  drafts_live:
    composition: reply_drafter
    context: { message: Wrong invoice }
    live: true
    expect:
      - contains: thank you for your message
`;

/** The workspace, its provider at `baseUrl` (by default a closed port: only live runs would call it). */
function promptWorkspace(baseUrl = 'http://127.0.0.1:9/v1') {
  const folder = makeTempDir('pm-e2e-tests-');
  const files = {
    'composition_rules.yaml': RULES(baseUrl),
    'service_mappings.yaml': MAPPINGS,
    'templates/greet.hbs': 'Hello {{name}}.',
    'templates/reply/brief.hbs': 'Brief for {{message}}.',
    'templates/reply/draft.hbs': 'Draft a reply from {{steps.brief.output}}.',
    'prompt_tests.yaml': TESTS,
    'prompt_tests/__snapshots__/greets_bob/output.txt': 'Hello Bob.',
  };
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(folder, rel)), { recursive: true });
    fs.writeFileSync(path.join(folder, rel), text);
  }
  return folder;
}

// ------------------------------------------------------------------ the Testing view, read from the screen

const ROWS = '.test-explorer .monaco-list-row';

/** The Test Explorer's rows: label, description, state (from the state icon) and aria label. */
async function testRows(page) {
  return page.locator(ROWS).evaluateAll((rows) =>
    rows
      .filter((r) => r.getClientRects().length > 0)
      .map((r) => {
        const labelEl = r.querySelector('.label');
        const description = labelEl?.querySelector('.description')?.textContent?.trim() ?? '';
        const label = (labelEl?.firstChild?.textContent ?? labelEl?.textContent ?? '').trim();
        const state = /codicon-testing-([a-z]+)-icon/.exec(r.querySelector('.computed-state')?.className ?? '')?.[1] ?? '';
        return { label, description, state, aria: r.getAttribute('aria-label') ?? '', text: r.textContent.trim() };
      }),
  );
}

const fmtRows = (rows) => rows.map((r) => `${r.text} [${r.state}]`).join(' | ') || '(no rows)';

/** The row whose text starts with `label` (a test's row shows its name, then its description). */
function row(page, label) {
  return page.locator(ROWS).filter({ has: page.locator('.label', { hasText: new RegExp(`^\\s*${label}`) }) }).first();
}

async function rowOf(page, label) {
  return (await testRows(page)).find((r) => r.text.startsWith(label));
}

async function waitForRow(page, label, pred = () => true, what = `a row "${label}"`, timeoutMs = 30_000) {
  let rows = [];
  await withFailureShot(page, `row ${label}`, () => waitFor(
    async () => {
      rows = await testRows(page);
      const r = rows.find((x) => x.text.startsWith(label));
      return r && pred(r) ? r : false;
    },
    { timeoutMs, message: () => `the Test Explorer to show ${what}; it showed: ${fmtRows(rows)}` },
  ));
  return rowOf(page, label);
}

/** Opens the Testing view (as a user: the command palette) and expands the test file. */
async function showTestExplorer(page) {
  await runCommand(page, 'Testing: Focus on Test Explorer View');
  await waitForRow(page, 'prompt_tests.yaml', () => true, 'the test file', 60_000);
  const file = row(page, 'prompt_tests.yaml');
  if ((await file.getAttribute('aria-expanded')) === 'false') await file.locator('.monaco-tl-twistie').click();
  await waitForRow(page, 'greets_ada');
}

/** Hovers a test's row and clicks its "Run Test" button. */
async function runFromRow(page, label) {
  await withFailureShot(page, `run ${label}`, async () => {
    const r = row(page, label);
    await r.hover();
    await r.locator('.action-label[aria-label="Run Test"]').click();
  });
}

/** Right-click on a test's row → "Execute Using Profile..." → the profile. */
async function runWithProfile(page, label, profile) {
  await withFailureShot(page, `profile ${profile}`, async () => {
    const quickInput = () => page.locator('.quick-input-widget').filter({ visible: true }).count();
    await waitFor(
      async () => {
        if (await quickInput()) return true;
        const item = page.locator('.monaco-menu .action-item', { hasText: 'Execute Using Profile...' }).filter({ visible: true }).first();
        if (!(await item.count())) await row(page, label).click({ button: 'right' });
        await item.waitFor({ state: 'visible', timeout: 5000 });
        await item.hover();
        await item.click();
        // A loaded machine takes seconds to open it: right-clicking again too soon would open a second one.
        await waitFor(quickInput, { timeoutMs: 10_000, message: 'the profile picker' }).catch(() => false);
        return (await quickInput()) > 0;
      },
      { timeoutMs: 20_000, intervalMs: 500, message: `the context menu of ${label} to open the profile picker` },
    );
  });
  await selectQuickPickItem(page, profile);
}

/** The gutter's test icons of the active editor, by line (1-based): `passed`, `failed`, `unset`... */
async function gutterIcons(page) {
  const editor = page.locator('.editor-group-container.active .monaco-editor').filter({ visible: true }).first();
  return editor.evaluate((ed) => {
    const lineHeight = parseFloat(ed.querySelector('.view-line')?.style.height || '19') || 19;
    const scrollTop = ed.querySelector('.lines-content')?.style.top ? -parseFloat(ed.querySelector('.lines-content').style.top) : 0;
    const out = {};
    for (const g of ed.querySelectorAll('.testing-run-glyph')) {
      const top = parseFloat(g.style.top || g.parentElement?.style.top || '0');
      const state = /codicon-testing-([a-z]+)-icon/.exec(g.className)?.[1] ?? '';
      out[Math.round((top + scrollTop) / lineHeight) + 1] = state;
    }
    return out;
  });
}

/** 1-based number of the first line of `text` matching `re`. */
function lineOf(text, re) {
  const i = text.split('\n').findIndex((l) => re.test(l));
  assert.ok(i >= 0, `no line matches ${re}`);
  return i + 1;
}

describe('Prompt tests in the Testing view (code-server)', { timeout: 15 * 60_000 }, () => {
  let vs;
  let page;
  let folder;

  before(async () => {
    folder = promptWorkspace();
    const t0 = Date.now();
    vs = await launch({ vsix: projectVsix(), folder });
    page = vs.page;
    process.stderr.write(`[tests.e2e] code-server + workbench ready in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  });

  after(async () => {
    if (vs) await vs.close();
  });

  test('the Testing view lists the tests under their file, each saying what it runs', async () => {
    await openFile(page, 'prompt_tests.yaml');
    await showTestExplorer(page);
    const rows = await testRows(page);
    assert.deepEqual(
      rows.map((r) => r.label).filter((t) => t !== 'prompt_tests.yaml'),
      ['greets_ada', 'greets_bob', 'drafts_a_reply', 'drafts_live'],
      fmtRows(rows),
    );
    assert.match((await rowOf(page, 'greets_ada')).text, /template greet as greeting_service/);
    assert.match((await rowOf(page, 'drafts_a_reply')).text, /composition reply_drafter/);
    assert.match((await rowOf(page, 'drafts_live')).text, /live · composition reply_drafter/);
    assert.ok(rows.every((r) => r.state === 'unset'), fmtRows(rows));
    await screenshot(page, 'tests-01-tree');
  });

  test('a test run from the view passes: its icon in the tree and in the gutter of the test file', async () => {
    await runFromRow(page, 'greets_ada');
    await waitForRow(page, 'greets_ada', (r) => r.state === 'passed', 'greets_ada passed');
    // The composition test, its model step answered by its mock.
    await runFromRow(page, 'drafts_a_reply');
    await waitForRow(page, 'drafts_a_reply', (r) => r.state === 'passed', 'drafts_a_reply passed');
    assert.equal((await rowOf(page, 'greets_bob')).state, 'unset', 'only the tests that ran have a result');
    await openFile(page, 'prompt_tests.yaml');
    let icons = {};
    await waitFor(
      async () => {
        icons = await gutterIcons(page);
        return icons[lineOf(TESTS, /^  greets_ada:/)] === 'passed' && icons[lineOf(TESTS, /^  drafts_a_reply:/)] === 'passed';
      },
      { timeoutMs: 15_000, message: () => `passed icons in the gutter at the two tests' lines; the gutter showed ${JSON.stringify(icons)}` },
    );
    // A test that has not run has the gutter's run button.
    assert.equal(icons[lineOf(TESTS, /^  greets_bob:/)], 'run', JSON.stringify(icons));
    await waitForOutput(page, CHANNEL, /Prompt tests: .*1 test: 1 passed, 0 failed/);
    await screenshot(page, 'tests-02-passed');
  });

  test('a snapshot that no longer matches fails at its line, and the peek shows the expected and the actual text', async () => {
    await runFromRow(page, 'greets_bob');
    await waitForRow(page, 'greets_bob', (r) => r.state === 'passed', 'greets_bob passed (its golden file matches)');
    // The user rewords the template, and saves it.
    await openFile(page, 'templates/greet.hbs');
    await goToLine(page, 1, 1);
    await pressInEditor(page, 'Shift+Control+ArrowRight');
    await typeInEditor(page, 'Hi');
    await pressInEditor(page, 'Control+S');
    await waitFor(() => fs.readFileSync(path.join(folder, 'templates/greet.hbs'), 'utf8') === 'Hi {{name}}.', { timeoutMs: 10_000, message: 'the template saved as "Hi {{name}}."' });
    await openFile(page, 'prompt_tests.yaml');
    await runFromRow(page, 'greets_bob');
    await waitForRow(page, 'greets_bob', (r) => r.state === 'failed', 'greets_bob failed');
    // The failure is shown at the snapshot assertion's line, in the editor.
    const inline = page.locator('.editor-group-container.active .test-error-content-widget').filter({ hasText: 'Hi Bob.' }).first();
    await inline.waitFor({ state: 'visible', timeout: 15_000 });
    assert.match(await inline.textContent(), /Hi Bob\. != Hello Bob\./);
    const icons = await gutterIcons(page);
    assert.equal(icons[lineOf(TESTS, /^  greets_bob:/)], 'failed', JSON.stringify(icons));
    // The user clicks the message: the peek opens, with the golden text and the new one side by side.
    await inline.click();
    const peek = page.locator('.test-output-peek').filter({ visible: true }).first();
    await peek.waitFor({ state: 'visible', timeout: 15_000 });
    const diff = peek.locator('.monaco-diff-editor').first();
    await diff.waitFor({ state: 'visible', timeout: 15_000 });
    await waitFor(
      async () => {
        const original = await diff.locator('.original-in-monaco-diff-editor .view-lines').textContent();
        const modified = await diff.locator('.modified-in-monaco-diff-editor .view-lines').textContent();
        return original?.replace(/\u00a0/g, ' ').includes('Hello Bob.') && modified?.replace(/\u00a0/g, ' ').includes('Hi Bob.');
      },
      { timeoutMs: 15_000, message: 'the diff to show "Hello Bob." (expected) and "Hi Bob." (actual)' },
    );
    assert.match(await peek.locator('.peekview-title').textContent(), /snapshot/);
    await screenshot(page, 'tests-03-snapshot-diff');
    await page.keyboard.press('Escape');
    // The history: one pass, then this failure.
    await waitForRow(page, 'greets_bob', (r) => /failed in 1 of the last 2 runs/.test(r.text), 'greets_bob "failed in 1 of the last 2 runs"');
  });

  test('Rerun Failed Tests, then Run and Update Snapshots accepts the new text', async () => {
    await runCommand(page, 'Test: Rerun Failed Tests');
    await waitForRow(page, 'greets_bob', (r) => /failed in 2 of the last 3 runs/.test(r.text), 'greets_bob failed again');
    await runWithProfile(page, 'greets_bob', 'Run and Update Snapshots');
    await waitForRow(page, 'greets_bob', (r) => r.state === 'passed', 'greets_bob passed after updating its snapshot');
    assert.equal(fs.readFileSync(path.join(folder, 'prompt_tests/__snapshots__/greets_bob/output.txt'), 'utf8'), 'Hi Bob.');
    await screenshot(page, 'tests-04-snapshot-updated');
  });

  test('a test typed into the file appears in the tree before it is saved, and runs', async () => {
    await openFile(page, 'prompt_tests.yaml');
    await pressInEditor(page, 'Control+End');
    await typeInEditor(page, '  greets_cleo:\n    template: greet\n    context: { name: Cleo }\n    expect:\n      - equals: Hi Cleo.\n', { paste: true });
    await waitForRow(page, 'greets_cleo', () => true, 'the new test greets_cleo');
    await runFromRow(page, 'greets_cleo');
    await waitForRow(page, 'greets_cleo', (r) => r.state === 'passed', 'greets_cleo passed');
    await screenshot(page, 'tests-05-typed-test');
  });

  test('Run N Times: each test reports how many of its runs passed', async () => {
    await runWithProfile(page, 'drafts_a_reply', 'Run N Times…');
    // The profile picker closes, then the extension's input box opens: type only into the latter.
    const box = page.locator('.quick-input-widget').filter({ visible: true }).filter({ has: page.locator('.quick-input-title', { hasText: 'Run N Times' }) });
    await withFailureShot(page, 'Run N Times input box', () => box.first().waitFor({ state: 'visible', timeout: 15_000 }));
    await fillInputBox(page, '5');
    await withFailureShot(page, 'Run N Times input box closed', () => box.first().waitFor({ state: 'hidden', timeout: 10_000 }));
    await waitForOutput(page, CHANNEL, /Prompt tests: drafts_a_reply passed: passed 5 of 5 runs \(100%; 100% required\)/);
    // In the Testing view too: the test's description keeps its pass rate until it runs again.
    await waitForRow(page, 'drafts_a_reply', (r) => r.state === 'passed' && /pass rate 100% \(5 of 5\)/.test(r.text), 'drafts_a_reply passed, "pass rate 100% (5 of 5)"');
    await screenshot(page, 'tests-06-run-5-times');
  });

  test('in the test file, completion offers the composition\'s steps, and an unknown step is an error as you type', async () => {
    await openFile(page, 'prompt_tests.yaml');
    await pressInEditor(page, 'Control+End');
    await typeInEditor(page, '  drafts_with_a_typo:\n    composition: reply_drafter\n    context: { message: Hi }\n    mocks:\n      draft: Dear you.\n    expect:\n      - step: ', { paste: true });
    let items = [];
    await waitFor(
      async () => {
        items = await completionItems(page).catch(() => []);
        return items.includes('brief') && items.includes('draft');
      },
      { timeoutMs: 20_000, message: () => `completions after "- step: " to list the steps brief and draft; they listed: ${items.join(', ') || '(nothing)'}` },
    );
    await screenshot(page, 'tests-07-step-completions');
    await pressKeys(page, 'Escape');
    await typeInEditor(page, 'drafter');
    await pressKeys(page, 'Escape');
    await typeInEditor(page, '\n        status: succeeded\n', { paste: true });
    // Unsaved: the Problems panel shows the server's diagnostic of the buffer, at the step's line.
    const typed = `${TESTS}  greets_cleo:\n    template: greet\n    context: { name: Cleo }\n    expect:\n      - equals: Hi Cleo.\n  drafts_with_a_typo:\n    composition: reply_drafter\n    context: { message: Hi }\n    mocks:\n      draft: Dear you.\n    expect:\n      - step: drafter\n`;
    const line = lineOf(typed, /- step: drafter/);
    const entries = await waitForProblems(page, (es) => es.some((e) => e.file === 'prompt_tests.yaml' && e.code === 'unknown-step' && e.severity === 'error'), {
      timeoutMs: 30_000,
      description: 'an unknown-step error in prompt_tests.yaml',
    });
    const e = entries.find((x) => x.file === 'prompt_tests.yaml' && x.code === 'unknown-step');
    assert.equal(e.line, line, formatProblems(entries));
    assert.match(e.message, /drafter/);
    // The Testing view lists the new test, and below it why it cannot run as written.
    await waitForRow(page, 'drafts_with_a_typo', () => true, 'the typed test drafts_with_a_typo');
    await waitForRow(page, `line ${line}: unknown-step`, () => true, `the test's error "line ${line}: unknown-step ..." below it`);
    await screenshot(page, 'tests-08-unknown-step');
  });
});

describe('Prompt tests in an untrusted workspace (Restricted Mode)', { timeout: 10 * 60_000 }, () => {
  let vs;
  let page;
  let model;

  before(async () => {
    model = await startModelServer();
    vs = await launch({ vsix: projectVsix(), folder: promptWorkspace(model.url), workspaceTrust: true });
    page = vs.page;
  });

  after(async () => {
    if (vs) await vs.close();
    if (model) await model.close();
  });

  /** The trust dialog VS Code shows before any test runs in Restricted Mode; clicks `button`. */
  async function answerTrustDialog(button) {
    const dialog = page.locator('.monaco-dialog-box').filter({ visible: true }).first();
    await withFailureShot(page, 'trust dialog', () => dialog.waitFor({ state: 'visible', timeout: 15_000 }));
    assert.match(await dialog.textContent(), /Running tests may execute code in your workspace/);
    await screenshot(page, `tests-09-trust-dialog-${button.split(' ')[0].toLowerCase()}`);
    await dialog.locator('.monaco-button', { hasText: button }).first().click();
    await dialog.waitFor({ state: 'hidden', timeout: 10_000 });
  }

  test('a live run is refused until the workspace is trusted, then calls the model', async () => {
    await openFile(page, 'prompt_tests.yaml');
    await showTestExplorer(page);
    // VS Code asks for trust before it runs any test; the user says no: nothing runs.
    await runWithProfile(page, 'drafts_live', 'Run with Live Model');
    await answerTrustDialog('Cancel');
    assert.equal((await rowOf(page, 'drafts_live')).state, 'unset');
    assert.equal(model.requests.length, 0, 'no prompt reached the model');
    // Then trusts the folder: the server hears it, and the live test calls the model.
    await runWithProfile(page, 'drafts_live', 'Run with Live Model');
    await answerTrustDialog('Trust Folder & Continue');
    await waitForRow(page, 'drafts_live', (r) => r.state === 'passed', 'drafts_live passed against the model server');
    assert.equal(model.requests.length, 1);
    await waitForOutput(page, CHANNEL, /Prompt tests: .*1 test \(live\): 1 passed, 0 failed/);
    await screenshot(page, 'tests-10-live-run-trusted');
  });
});
