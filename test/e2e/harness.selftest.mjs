// The harness's own test: a throwaway extension (./smoke-extension.mjs), packaged on the fly,
// in a real VS Code (code-server) in headless Chromium; every check reads the screen.
// Run: node --test test/e2e/harness.selftest.mjs   (screenshots in test-results/selftest-*.png)

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  completionItems,
  fillInputBox,
  editorText,
  launch,
  makeTempDir,
  notifications,
  openFile,
  outputChannels,
  outputChannelText,
  pressInEditor,
  pressKeys,
  problemsPanelEntries,
  quickInputInfo,
  quickPickItems,
  runCommand,
  screenshot,
  selectQuickPickItem,
  statusBarItems,
  typeInEditor,
  waitFor,
  waitForOutput,
  waitForProblems,
  webviewTexts,
} from './harness.mjs';
import { buildSmokeVsix } from './smoke-extension.mjs';

const RULES = 'name: demo\nsteps:\n  - id: a\n  - id: b\n';
const MANY = Array.from({ length: 80 }, (_, i) => `key${i + 1}: ${i % 2 ? 'cycle' : 'fine'}`).join('\n') + '\n';

/** Ctrl+Z (a few times at most: typing makes several undo stops) until the editor shows `text`. */
async function undoUntil(page, text) {
  await waitFor(
    async () => {
      await pressInEditor(page, 'Control+Z');
      return (await editorText(page)) === text;
    },
    { timeoutMs: 10_000, intervalMs: 100, message: 'undo to bring back the original text' },
  );
}

describe('e2e harness self-test (smoke extension in code-server)', { timeout: 10 * 60_000 }, () => {
  let tmp;
  let vs; // { server, page, close, consoleErrors }
  let page;

  before(async () => {
    tmp = makeTempDir('pm-e2e-selftest-');
    const vsix = buildSmokeVsix(tmp);
    const ws = path.join(tmp, 'workspace');
    fs.mkdirSync(path.join(ws, 'config'), { recursive: true });
    fs.mkdirSync(path.join(ws, 'other', 'config'), { recursive: true });
    fs.writeFileSync(path.join(ws, 'config', 'rules.yaml'), RULES);
    fs.writeFileSync(path.join(ws, 'other', 'config', 'rules.yaml'), 'name: decoy\n');
    fs.writeFileSync(path.join(ws, 'notes.txt'), 'not yaml\n');
    fs.writeFileSync(path.join(ws, 'many.yaml'), MANY);
    const t0 = Date.now();
    vs = await launch({ vsix, folder: ws });
    page = vs.page;
    process.stderr.write(`[selftest] code-server + workbench ready in ${((Date.now() - t0) / 1000).toFixed(1)} s at ${vs.server.url}\n`);
    await screenshot(page, 'selftest-01-workbench');
  });

  after(async () => {
    if (vs) await vs.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('a command run from the palette writes to its output channel', async () => {
    await runCommand(page, 'Smoke: Hello');
    const text = await waitForOutput(page, 'Smoke', 'hello from smoke');
    assert.match(text, /^smoke activated$/m);
    assert.match(text, /^hello from smoke$/m);
    assert.ok((await outputChannels(page)).includes('Smoke'));
    await screenshot(page, 'selftest-02-output-smoke');
  });

  test('opening a YAML file shows the extension diagnostic in the Problems panel', async () => {
    await openFile(page, 'config/rules.yaml');
    assert.equal(await editorText(page), RULES);
    const entries = await waitForProblems(page, (es) => es.some((e) => e.code === 'smoke-seen'), { description: 'the smoke-seen warning' });
    const seen = entries.find((e) => e.code === 'smoke-seen');
    assert.deepEqual(
      { file: seen.file, severity: seen.severity, message: seen.message, source: seen.source, line: seen.line, column: seen.column },
      { file: 'rules.yaml', severity: 'warning', message: 'smoke: yaml file seen', source: 'smoke', line: 1, column: 1 },
    );
    assert.match(seen.path, /config\/rules\.yaml$/);
    assert.ok(!seen.path.includes('other'), 'Quick Open picked the right rules.yaml');
    await screenshot(page, 'selftest-03-problems');
  });

  test('typing adds an error; undo clears it', async () => {
    await pressInEditor(page, 'Control+End');
    await typeInEditor(page, 'cycle: yes');
    let entries = await waitForProblems(page, (es) => es.some((e) => e.code === 'smoke-cycle'), { description: 'the smoke-cycle error' });
    const cycle = entries.find((e) => e.code === 'smoke-cycle');
    assert.equal(cycle.severity, 'error');
    assert.equal(cycle.line, 5);
    assert.equal(cycle.message, 'smoke: cycle found');
    await screenshot(page, 'selftest-04-typed-error');

    await undoUntil(page, RULES);
    entries = await waitForProblems(page, (es) => !es.some((e) => e.code === 'smoke-cycle') && es.some((e) => e.code === 'smoke-seen'), {
      description: 'no smoke-cycle error after undo',
    });
    assert.equal(entries.length, 1);
    await screenshot(page, 'selftest-05-undone');
  });

  test('pasting multi-line text keeps it as is', async () => {
    await pressInEditor(page, 'Control+End');
    await typeInEditor(page, '  - id: c\n    needs: [a]\n', { paste: true });
    assert.equal(await editorText(page), `${RULES}  - id: c\n    needs: [a]\n`);
    await undoUntil(page, RULES);
  });

  test('the suggest widget lists the completion items', async () => {
    await pressInEditor(page, 'Control+End');
    const items = await completionItems(page);
    assert.ok(items.includes('smokeAlpha') && items.includes('smokeBeta'), `completions: ${items.join(', ')}`);
    const detailed = await completionItems(page, { trigger: false, detailed: true });
    assert.equal(detailed.find((i) => i.label === 'smokeAlpha').kind, 'Value');
    await screenshot(page, 'selftest-06-completions');
    await pressKeys(page, 'Escape');
  });

  test('a quick pick shows its items and a choice goes through', async () => {
    await runCommand(page, 'Smoke: Pick a Fruit');
    const items = await quickPickItems(page);
    assert.deepEqual(
      items.map((i) => [i.label, i.description]),
      [
        ['apple', 'red'],
        ['banana', 'yellow'],
        ['cherry', 'dark red'],
      ],
    );
    assert.equal(items[0].detail, 'a fruit that keeps doctors away');
    assert.equal((await quickInputInfo(page)).placeholder, 'Pick a fruit');
    await screenshot(page, 'selftest-07-quickpick');
    await selectQuickPickItem(page, 'banana');
    await waitForOutput(page, 'Smoke', 'picked banana');
  });

  test('an input box takes typed text; a notification is read', async () => {
    await runCommand(page, 'Smoke: Ask for JSON');
    // The command shows its input box once the palette has closed.
    let info = null;
    await waitFor(
      async () => {
        info = await quickInputInfo(page);
        return info?.placeholder === '{"name": "value"}';
      },
      { timeoutMs: 10_000, message: () => `the input box of Smoke: Ask for JSON; the quick input showed ${JSON.stringify(info)}` },
    );
    assert.match(info.message, /Context as JSON/);
    await fillInputBox(page, '{"topic": "x", "tone": "dry"}');
    await waitForOutput(page, 'Smoke', 'asked: keys topic,tone');
    await runCommand(page, 'Smoke: Warn');
    await waitFor(async () => (await notifications(page)).includes('Smoke server crashed; restarting it.'), {
      timeoutMs: 10_000,
      message: 'the warning toast',
    }).catch(() => {}); // on a busy machine the toast may already have hidden itself
    await screenshot(page, 'selftest-08-notification');
    assert.ok((await notifications(page, { all: true })).includes('Smoke server crashed; restarting it.'), 'the warning is in the notification center');
  });

  test('a long output channel is read whole (it is virtualized on screen)', async () => {
    await runCommand(page, 'Smoke: Many Lines');
    const text = await waitForOutput(page, 'Smoke', /line 150 of many x{250}/);
    const lines = text.split('\n').filter((l) => l.startsWith('line '));
    assert.equal(lines.length, 150);
    assert.equal(lines[0], 'line 1 of many ');
    await screenshot(page, 'selftest-09-long-output');
  });

  test('long editors and long Problems lists are read whole (they are virtualized on screen)', async () => {
    await openFile(page, 'many.yaml');
    assert.equal(await editorText(page), MANY);
    const entries = await waitForProblems(page, (es) => es.filter((e) => e.file === 'many.yaml').length === 41, { description: '41 problems in many.yaml' });
    const cycles = entries.filter((e) => e.file === 'many.yaml' && e.code === 'smoke-cycle');
    assert.deepEqual(
      cycles.map((e) => e.line),
      Array.from({ length: 40 }, (_, i) => 2 * i + 2),
    );
    await screenshot(page, 'selftest-10-many-problems');
    // the cursor did not move while reading: typing lands on line 1
    await typeInEditor(page, '# top\n');
    assert.ok((await editorText(page)).startsWith('# top\nkey1: fine\n'));
    await undoUntil(page, MANY);
  });

  test('a webview is read through its frames', async () => {
    await runCommand(page, 'Smoke: Show Webview');
    const nodes = await webviewTexts(page, 'svg text');
    assert.deepEqual(nodes, ['node-a', 'node-b']);
    await screenshot(page, 'selftest-11-webview');
  });

  test('an unknown command fails with what the palette showed', async () => {
    const err = await runCommand(page, 'Smoke: No Such Command', { timeoutMs: 3000 }).then(
      () => null,
      (e) => e,
    );
    assert.match(String(err?.message), /command palette to list a command titled "Smoke: No Such Command"; it listed: .*"Smoke: Hello"/);
    assert.ok(err.pmScreenshot && fs.existsSync(err.pmScreenshot), 'a failing helper saves a screenshot');
    fs.rmSync(err.pmScreenshot); // an expected failure: keep test-results/ for real ones
    await pressKeys(page, 'Escape');
    assert.ok((await statusBarItems(page)).length > 0);
  });
});
