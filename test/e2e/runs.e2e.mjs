// Runs, contexts, the graph, health and metrics, end to end in a real VS Code (code-server) on a
// copy of examples/, as a user sees them, in a window 900 px wide (two editor columns of ~420 px):
//   - a run whose model step falls back because no API key is set says "succeeded with
//     fallbacks", a warning names the cause and offers "Set Provider API Key", which asks for
//     that very key; the progress notification closes; the promptManager.run.maxParallel setting
//     applies;
//   - the context picker marks the samples that lack what the composition (as the service)
//     requires, and offers "Last used" only for the same composition;
//   - a run refused by the server, or by the engine, shows as refused with its reason, its
//     steps "not run", in the output, a notification and the graph;
//   - the graph fits a 420 px column (fit to view, readable text), and zooms and pans with
//     the buttons, the keyboard and Ctrl+wheel;
//   - Show Health names the failure ("API key not set", never "none"); Show Metrics opens a
//     readable report, with the JSON one button away.
// Screenshots: test-results/runs-*.png.
//
// Alone (after `npm run package`): node --test test/e2e/runs.e2e.mjs

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  closeQuickInput,
  editorText,
  examplesCopy,
  launch,
  notifications,
  openFile,
  outputChannelText,
  pressKeys,
  projectVsix,
  quickInputInfo,
  quickPickItems,
  runCommand,
  screenshot,
  selectQuickPickItem,
  statusBarItems,
  waitFor,
  waitForOutput,
  webviewFrame,
  webviewTexts,
} from './harness.mjs';
import { waitForToast } from './support.mjs';

const CHANNEL = 'PromptManager';
const STEPS = ['extract', 'summary', 'critique', 'risks', 'report'];
const END_RE = /^=== End of run \S+( \((interrupted|refused)\))? ===$/gm;
const countEnds = (t) => (t.match(END_RE) ?? []).length;
/** The progress notification of a run: "PromptManager: <composition>" with "step k of n". */
const progressOf = (composition) => new RegExp(`${composition}.*step \\d+ of \\d+`);

/** Palette → Run Workflow → composition → service (when asked) → context; returns the context picker's items. */
async function startRun(page, composition, service, context) {
  await runCommand(page, 'PromptManager: Run Workflow');
  await selectQuickPickItem(page, composition);
  if (service !== undefined) {
    await waitFor(async () => (await quickPickItems(page).catch(() => [])).some((i) => i.label === service), { timeoutMs: 20_000, message: `the service picker to offer ${service}` });
    await selectQuickPickItem(page, service);
  }
  let items = [];
  await waitFor(
    async () => {
      items = await quickPickItems(page).catch(() => []);
      return items.some((i) => i.label === context);
    },
    { timeoutMs: 20_000, message: () => `the context picker to offer ${context}; it offered ${items.map((i) => i.label).join(', ')}` },
  );
  return items;
}

/** Starts a run and waits for its end in the output channel; returns the run's part of the channel. */
async function runToEnd(page, composition, service, context, { timeoutMs = 120_000, pick } = {}) {
  const before = countEnds(await outputChannelText(page, CHANNEL));
  const items = await startRun(page, composition, service, context);
  if (pick) await pick(items);
  await selectQuickPickItem(page, context);
  const text = await waitForOutput(page, CHANNEL, (t) => countEnds(t) > before, { timeoutMs });
  return text.slice(text.lastIndexOf('=== Run '));
}

async function noProgressLeft(page, composition) {
  let shown = [];
  await waitFor(
    async () => {
      shown = await notifications(page);
      return !shown.some((n) => progressOf(composition).test(n));
    },
    { timeoutMs: 20_000, message: () => `the run's progress notification to close; notifications: ${shown.join(' | ')}` },
  );
}

/** The graph webview's geometry, read in its own document. */
async function graphGeometry(page) {
  return webviewFrame(page)
    .locator('#graph')
    .evaluate((host) => {
      const svg = host.querySelector('svg');
      const view = svg.viewBox.baseVal;
      const box = svg.getBoundingClientRect();
      const scale = box.width / view.width;
      const ids = [...svg.querySelectorAll('.node .step-id')];
      const fonts = ids.map((t) => parseFloat(getComputedStyle(t).fontSize) * scale);
      const nodes = [...svg.querySelectorAll('.node rect')].map((r) => r.getBoundingClientRect()).map((r) => ({ left: r.left, right: r.right, top: r.top, bottom: r.bottom }));
      return {
        viewportWidth: document.documentElement.clientWidth,
        viewportHeight: document.documentElement.clientHeight,
        svg: { left: box.left, right: box.right, width: box.width },
        scale,
        dataScale: Number(host.getAttribute('data-scale')),
        direction: host.getAttribute('data-direction'),
        minFont: Math.min(...fonts),
        nodes,
        zoomText: document.getElementById('zoom').textContent,
      };
    });
}

describe('Runs, contexts, the graph, health and metrics in VS Code (code-server)', { timeout: 20 * 60_000 }, () => {
  let vs;
  let page;

  before(async () => {
    const folder = examplesCopy();
    const t0 = Date.now();
    // Two editor columns of ~420 px each; the run setting that can only lower max_parallel.
    vs = await launch({ vsix: projectVsix(), folder, viewport: { width: 900, height: 900 }, settings: { 'promptManager.run.maxParallel': 1 } });
    page = vs.page;
    process.stderr.write(`[runs.e2e] code-server + workbench ready in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    await runCommand(page, 'View: Close Primary Side Bar');
    await openFile(page, 'composition_rules.yaml');
    await waitForOutput(page, CHANNEL, /language server started in/, { timeoutMs: 60_000 });
  });

  after(async () => {
    if (vs) await vs.close();
  });

  test('a run whose model step fell back for want of an API key: "succeeded with fallbacks", a warning naming the cause, a button that asks for that key', async () => {
    const before = countEnds(await outputChannelText(page, CHANNEL));
    await startRun(page, 'reply_drafter', 'drafting_service', 'reply_drafter.json');
    await selectQuickPickItem(page, 'reply_drafter.json');
    // The warning hides itself after 12 s, the status bar message after 10 s: they are read as
    // the run ends, the output channel after.
    const toast = await waitForToast(page, /^PromptManager: reply_drafter succeeded with fallbacks in .+: draft fell back: the API key of provider local is not set \(PROMPTMANAGER_API_KEY\)$/);
    assert.deepEqual(toast.buttons, ['Set Provider API Key', 'Show Output']);
    let bar = [];
    await waitFor(
      async () => {
        bar = await statusBarItems(page);
        return bar.some((t) => /PromptManager: reply_drafter succeeded with fallbacks/.test(t));
      },
      { timeoutMs: 5000, intervalMs: 100, message: () => `the status bar to say it too; it showed: ${bar.join(' | ')}` },
    );
    await screenshot(page, 'runs-01-fallback-warning');

    await toast.click('Set Provider API Key');
    let info = null;
    await waitFor(
      async () => {
        info = await quickInputInfo(page);
        return /API key for PROMPTMANAGER_API_KEY/.test(info?.title ?? '');
      },
      { timeoutMs: 15_000, message: () => `the input box for PROMPTMANAGER_API_KEY; the quick input showed ${JSON.stringify(info)}` },
    );
    assert.equal(await page.locator('.quick-input-widget .quick-input-box input').filter({ visible: true }).first().getAttribute('type'), 'password');
    await screenshot(page, 'runs-02-set-key-asked');
    await closeQuickInput(page);
    await noProgressLeft(page, 'reply_drafter');

    const text = await waitForOutput(page, CHANNEL, (t) => countEnds(t) > before, { timeoutMs: 120_000 });
    const run = text.slice(text.lastIndexOf('=== Run '));
    assert.match(run, /^Run vscode-\S+ of reply_drafter \(service drafting_service\): succeeded with fallbacks in /m);
    assert.match(run, /^Fallbacks:\n {2}draft fell back: the API key of provider local is not set \(PROMPTMANAGER_API_KEY\)$/m);
    assert.match(run, /^draft +fallback +1 /m);
    // promptManager.run.maxParallel = 1 lowers the defaults' max_parallel of 4.
    assert.match(run, /\(workflow\) +started +2 steps {2}max parallel 1 /);
  });

  test('the context picker marks what lacks the required context, and offers "Last used" only for the same composition; a refused run says why', async () => {
    // complete_analysis as analysis_service requires user_id (the service) and document (its input).
    const before = countEnds(await outputChannelText(page, CHANNEL));
    const items = await startRun(page, 'complete_analysis', 'analysis_service', 'classification_service.json');
    const files = items.filter((i) => /\.json$/.test(i.label));
    const byName = Object.fromEntries(files.map((i) => [i.label, i]));
    assert.match(byName['classification_service.json'].description, /lacks: user_id$/);
    assert.match(byName['reply_drafter.json'].description, /lacks: document$/);
    assert.match(byName['complete_analysis.json'].description, /^recommended: named after the composition/);
    assert.doesNotMatch(byName['analysis_service.json'].description, /lacks/);
    const at = (n) => files.indexOf(byName[n]);
    assert.ok(at('complete_analysis.json') === 0 && at('analysis_service.json') < at('classification_service.json'), `the fitting ones first: ${files.map((i) => i.label).join(', ')}`);
    assert.ok(!items.some((i) => /Last used/.test(i.label)), `reply_drafter's context is not offered for complete_analysis: ${items.map((i) => i.label).join(', ')}`);
    await screenshot(page, 'runs-03-context-lacks');
    await selectQuickPickItem(page, 'classification_service.json');

    // The server refuses it: refused, with its reason, and the progress closes.
    const toast = await waitForToast(page, /^PromptManager: complete_analysis was refused: .*user_id/);
    assert.deepEqual(toast.buttons, ['Show Output']);
    const text = await waitForOutput(page, CHANNEL, (t) => countEnds(t) > before, { timeoutMs: 30_000 });
    assert.match(text, /^Run vscode-\S+ of complete_analysis was refused: missing_context: .*user_id/m);
    await noProgressLeft(page, 'complete_analysis');
    await screenshot(page, 'runs-04-refused-by-the-server');

    // The same composition again: its last context comes first; for reply_drafter, reply_drafter's.
    await pressKeys(page, 'Escape');
    const again = await startRun(page, 'reply_drafter', 'drafting_service', 'reply_drafter.json');
    assert.match(again[0].label, /Last used: contexts\/reply_drafter\.json$/);
    await closeQuickInput(page);
  });

  test('a run the engine refuses, then the graph: refused, steps "not run", fitted to a 420 px column, zoom and pan', async () => {
    // No service, the empty context: the engine refuses it (document is a required input).
    const run = await runToEnd(page, 'complete_analysis', 'No service', 'Empty context {}', {
      pick: (items) => assert.match(items.find((i) => /Empty context/.test(i.label)).description, /lacks: document/),
    });
    assert.match(run, /^Run vscode-\S+ of complete_analysis: refused: composition "complete_analysis" needs the input "document"$/m);
    for (const s of STEPS) assert.match(run, new RegExp(`^${s} +not run +0 `, 'm'));
    assert.doesNotMatch(run, /cancelled/);
    await waitForToast(page, /^PromptManager: complete_analysis was refused: composition "complete_analysis" needs the input "document"$/);
    await noProgressLeft(page, 'complete_analysis');

    await runCommand(page, 'PromptManager: Show Workflow Graph');
    await selectQuickPickItem(page, 'complete_analysis');
    const statuses = await webviewTexts(page, 'svg .node .step-status');
    assert.deepEqual(statuses, STEPS.map(() => 'not run'));
    const [runLine] = await webviewTexts(page, '#run');
    assert.match(runLine, /^last run vscode-\S+: refused: composition "complete_analysis" needs the input "document"$/);

    // The column: ~420 px (the window is 900 px wide, split in two).
    const iframe = page.locator('iframe.webview.ready').filter({ visible: true }).first();
    const width = async () => (await iframe.boundingBox())?.width ?? 0;
    for (let i = 0; i < 12 && Math.abs((await width()) - 420) > 15; i++) {
      await runCommand(page, (await width()) > 420 ? 'View: Decrease Current View Width' : 'View: Increase Current View Width');
    }
    const w = await width();
    assert.ok(Math.abs(w - 420) <= 15, `the graph's column is ${w} px wide`);

    let g;
    await waitFor(
      async () => {
        g = await graphGeometry(page).catch(() => null);
        return g && g.direction === 'tb' && g.svg.width > 0;
      },
      { timeoutMs: 20_000, message: () => `the graph drawn top to bottom for the narrow column; it was ${JSON.stringify(g)}` },
    );
    await screenshot(page, 'runs-05-graph-420px');
    assert.ok(g.svg.left >= 0 && g.svg.right <= g.viewportWidth + 0.5, `the SVG fits the view's width: ${JSON.stringify(g.svg)} in ${g.viewportWidth}`);
    for (const n of g.nodes) assert.ok(n.left >= 0 && n.right <= g.viewportWidth + 0.5 && n.top >= 0 && n.bottom <= g.viewportHeight + 0.5, `every step is in view: ${JSON.stringify(n)} in ${g.viewportWidth}x${g.viewportHeight}`);
    assert.ok(g.minFont >= 10, `step names are drawn at ${g.minFont.toFixed(1)} px (scale ${g.scale.toFixed(2)})`);

    // Zoom and pan: the buttons, the keyboard, Ctrl+wheel; Fit brings it back.
    const frame = webviewFrame(page);
    const fitted = g.dataScale;
    await frame.locator('#btn-zoom-in').click();
    await waitFor(async () => (await graphGeometry(page)).dataScale > fitted * 1.2, { timeoutMs: 10_000, message: 'Zoom in to enlarge the drawing' });
    assert.match((await graphGeometry(page)).zoomText, /^\d+%$/);
    await frame.locator('#btn-fit').click();
    await waitFor(async () => Math.abs((await graphGeometry(page)).dataScale - fitted) < 0.01, { timeoutMs: 10_000, message: 'Fit to bring back the fitted scale' });
    await frame.locator('#graph').focus();
    await page.keyboard.press('Minus');
    await waitFor(async () => (await graphGeometry(page)).dataScale < fitted * 0.9, { timeoutMs: 10_000, message: 'the - key to zoom out' });
    await page.keyboard.press('Digit0');
    await waitFor(async () => Math.abs((await graphGeometry(page)).dataScale - fitted) < 0.01, { timeoutMs: 10_000, message: 'the 0 key to fit again' });
    const box = await frame.locator('#graph').boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 3);
    await page.keyboard.down('Control');
    await page.mouse.wheel(0, -300);
    await page.keyboard.up('Control');
    await waitFor(async () => (await graphGeometry(page)).dataScale > fitted * 1.2, { timeoutMs: 10_000, message: 'Ctrl+wheel to zoom in' });
    await screenshot(page, 'runs-06-graph-zoomed');
    const beforePan = await graphGeometry(page);
    await page.mouse.wheel(0, 120);
    await waitFor(async () => (await graphGeometry(page)).nodes[0].top < beforePan.nodes[0].top - 50, { timeoutMs: 10_000, message: 'the wheel to pan the drawing up' });
    await frame.locator('#btn-fit').click();
    // Tab reaches the steps (keyboard users): the first is focusable.
    assert.equal(await frame.locator('svg .node').first().getAttribute('tabindex'), '0');
    await runCommand(page, 'View: Close Editor');
    await pressKeys(page, 'Control+1');
  });

  test('Show Health names the failure of the provider; Show Metrics reads as a report, the JSON one button away', async () => {
    await runCommand(page, 'PromptManager: Show Health');
    let shown = [];
    await waitFor(
      async () => {
        shown = await notifications(page, { all: true });
        return shown.some((n) => /^PromptManager: \S+ is (healthy|degraded|unhealthy)/.test(n));
      },
      { timeoutMs: 20_000, message: () => `the health notification; notifications: ${shown.join(' | ') || '(none)'}` },
    );
    const health = await waitForOutput(page, CHANNEL, /providers +degraded +.*\n/, { timeoutMs: 20_000 });
    const providers = health.slice(health.lastIndexOf('Health of ')).split('\n').find((l) => /providers/.test(l));
    assert.match(providers, /the last call failed \(the last: API key not set\); 1 of 1 call failed in all \(1x API key not set\)/);
    assert.doesNotMatch(providers, /none/);

    await runCommand(page, 'PromptManager: Show Metrics');
    // The report opens in the Markdown preview: tables as tables, whatever the column's width.
    const rows = async () =>
      webviewFrame(page)
        .locator('body')
        .evaluate((b) => [...b.querySelectorAll('tr')].map((tr) => [...tr.children].map((c) => (c.textContent || '').trim())))
        .catch(() => []);
    let table = [];
    await waitFor(
      async () => {
        table = await rows();
        return table.some((r) => r[0] === 'local');
      },
      { timeoutMs: 30_000, message: () => `the metrics report's tables; rows seen: ${JSON.stringify(table).slice(0, 400)}` },
    );
    const [heading] = await webviewTexts(page, 'h1');
    assert.match(heading, /^PromptManager metrics: /);
    const local = table.find((r) => r[0] === 'local');
    assert.deepEqual(local.slice(0, 5), ['local', '1', '1', 'API key not set 1', '1']);
    const drafter = table.find((r) => r[0] === 'reply_drafter');
    assert.ok(drafter, 'a row for the composition');
    for (const r of table) for (const c of r) assert.doesNotMatch(c, /\d\.\d{4,}/, `no long floats: ${c}`);
    await screenshot(page, 'runs-07-metrics-report');

    // The JSON, on request.
    await runCommand(page, 'PromptManager: Show Metrics as JSON');
    let json = '';
    await waitFor(
      async () => {
        json = await editorText(page).catch(() => '');
        return /"workflowEngine"/.test(json);
      },
      { timeoutMs: 20_000, message: () => `the metrics as JSON; the active editor showed:\n${json.slice(0, 300)}` },
    );
    await screenshot(page, 'runs-08-metrics-json');
  });
});
