// Runs whose steps call a model provider, end to end in a real VS Code (code-server), on a copy
// of examples/ whose provider `local` points at a model server this test starts on 127.0.0.1
// (test/e2e/support.mjs):
//   - an API key set with "PromptManager: Set Provider API Key" (an input box, SecretStorage)
//     reaches the provider, and a canary key never shows in any output: output channels,
//     notifications, Show Health, Show Metrics, run summaries, error messages, the log files;
//   - the language server's process killed during a run started from the editor: the client
//     says the run was interrupted and what to do, its progress ends, and after the automatic
//     restart the next run completes.
// Screenshots: test-results/provider-*.png.
//
// Alone (after `npm run package`): node --test test/e2e/provider.e2e.mjs

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  editorText,
  examplesCopy,
  fillInputBox,
  launch,
  notifications,
  openFile,
  outputChannels,
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
} from './harness.mjs';
import { pointProviderAt, REPLY_MARKER, serverPids, startModelServer, waitForToast } from './support.mjs';

const CHANNEL = 'PromptManager';
const KEY_ENV = 'PROMPTMANAGER_API_KEY';
const CANARY_HEX = crypto.randomBytes(16).toString('hex');
const CANARY = `sk-e2e-canary-${CANARY_HEX}`;
/** The canary and pieces of it: a key cut short in a message is a leak too. */
const CANARY_PIECES = [CANARY, CANARY_HEX.slice(0, 12), CANARY_HEX.slice(-12)];

/** Where the canary shows in `text` (a few characters around each hit), [] when nowhere. */
function canaryHits(text) {
  const hits = [];
  for (const piece of CANARY_PIECES) {
    for (let i = text.indexOf(piece); i >= 0; i = text.indexOf(piece, i + 1)) hits.push(text.slice(Math.max(0, i - 60), i + piece.length + 20).replace(/\s+/g, ' '));
  }
  return hits;
}

function assertNoCanary(where, text) {
  const hits = canaryHits(text);
  assert.deepEqual(hits, [], `the API key (canary) shows in ${where}:\n  ${hits.join('\n  ')}`);
}

// A composition added to the test's copy: one provider step, no retry, no fallback, so that a
// provider error fails the run (and reaches the failure notification).
const PROBE = `
  # Added by test/e2e/provider.e2e.mjs: one model step without fallback.
  provider_probe:
    description: One model step, no retry and no fallback
    inputs:
      required: [message]
      optional: [locale, tone, sender_name, document]
    steps:
      - id: ask
        template: drafting/brief
        model: local
        retry: { max_attempts: 1 }
    output: "{{{steps.ask.output}}}"
`;

const END_RE = /^=== End of run \S+( \(interrupted\))? ===$/gm;
const countEnds = (t) => (t.match(END_RE) ?? []).length;

/** Palette → Run Workflow → composition → service (when asked) → context, as a user picks them. */
async function startRun(page, composition, service, context) {
  await runCommand(page, 'PromptManager: Run Workflow');
  await selectQuickPickItem(page, composition);
  if (service) {
    await waitFor(async () => (await quickPickItems(page).catch(() => [])).some((i) => i.label === service), { timeoutMs: 20_000, message: `the service picker to offer ${service}` });
    await selectQuickPickItem(page, service);
  }
  await waitFor(async () => (await quickPickItems(page).catch(() => [])).some((i) => i.label === context), { timeoutMs: 20_000, message: `the context picker to offer ${context}` });
  await selectQuickPickItem(page, context);
}

/** Starts a run and waits for its end in the output channel; returns the run's part of the channel. */
async function runToEnd(page, composition, service, context, { timeoutMs = 90_000 } = {}) {
  const before = countEnds(await outputChannelText(page, CHANNEL));
  await startRun(page, composition, service, context);
  const text = await waitForOutput(page, CHANNEL, (t) => countEnds(t) > before, { timeoutMs });
  return text.slice(text.lastIndexOf('=== Run '));
}

/** The step's row of the run summary table: [status, attempts, duration, output / last error]. */
function summaryRow(run, step) {
  const m = new RegExp(`^${step} +(\\S+(?: \\(\\S+\\))?) +(\\d+) +([\\d.]+ (?:ms|s)) +(.*)$`, 'm').exec(run);
  assert.ok(m, `the summary table has a row for ${step}:\n${run}`);
  return { status: m[1], attempts: Number(m[2]), duration: m[3], last: m[4] };
}

/** Every *.log file under `dir` (the output channels, the extension host and server logs). */
function logFiles(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && e.name.endsWith('.log')) out.push(p);
    }
  };
  walk(dir);
  return out;
}

describe('Provider runs in VS Code: the API key canary, and a server killed during a run', { timeout: 15 * 60_000 }, () => {
  let vs;
  let page;
  let model;

  before(async () => {
    model = await startModelServer({ slowMs: 25_000 });
    const folder = examplesCopy();
    const rulesFile = path.join(folder, 'composition_rules.yaml');
    fs.writeFileSync(rulesFile, pointProviderAt(fs.readFileSync(rulesFile, 'utf8'), model.url).replace(/\n*$/, '\n') + PROBE);
    const t0 = Date.now();
    vs = await launch({ vsix: projectVsix(), folder });
    page = vs.page;
    process.stderr.write(`[provider.e2e] code-server + workbench ready in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    await openFile(page, 'composition_rules.yaml');
    await waitForOutput(page, CHANNEL, /language server started in/, { timeoutMs: 30_000 });
  });

  after(async () => {
    if (vs) await vs.close();
    if (model) await model.close();
  });

  test('Set Provider API Key takes the key in a password box, and a run sends it to the provider', async () => {
    await runCommand(page, 'PromptManager: Set Provider API Key');
    const items = await quickPickItems(page);
    const item = items.find((i) => i.label === KEY_ENV);
    assert.ok(item, `the picker offers ${KEY_ENV}; it offered: ${items.map((i) => i.label).join(', ')}`);
    assert.match(item.description, /provider local/);
    await selectQuickPickItem(page, KEY_ENV);
    await waitFor(async () => /API key for PROMPTMANAGER_API_KEY/.test((await quickInputInfo(page))?.title ?? ''), { timeoutMs: 10_000, message: 'the input box for the key' });
    assert.equal(await page.locator('.quick-input-widget .quick-input-box input').filter({ visible: true }).first().getAttribute('type'), 'password', 'the key is typed in a password box');
    await fillInputBox(page, CANARY);
    let shown = [];
    await waitFor(
      async () => {
        shown = await notifications(page);
        return shown.some((n) => /The key for PROMPTMANAGER_API_KEY is stored\. The language server restarted to use it\./.test(n));
      },
      { timeoutMs: 30_000, message: () => `a notification that the key is stored; notifications: ${shown.join(' | ') || '(none)'}` },
    );
    await screenshot(page, 'provider-01-key-stored');

    const run = await runToEnd(page, 'reply_drafter', 'drafting_service', 'reply_drafter.json');
    assert.match(run, /^Run vscode-\S+ of reply_drafter \(service drafting_service\): succeeded in /m);
    assert.equal(summaryRow(run, 'brief').status, 'succeeded');
    const draft = summaryRow(run, 'draft');
    assert.equal(draft.status, 'succeeded');
    assert.equal(draft.attempts, 1);
    assert.match(run.slice(run.indexOf('\nOutput:\n')), new RegExp(`^${REPLY_MARKER}: thank you for your message`, 'm'), 'the final output is the model reply');
    const got = model.requests.filter((r) => r.mode === 'ok');
    assert.equal(got.length, 1, 'the model server received the draft step');
    assert.equal(got[0].authorization, `Bearer ${CANARY}`, 'the provider received the key set in VS Code');
    await screenshot(page, 'provider-02-run-with-key');
  });

  test('provider errors that echo the key are reported (output, notification) without it', async () => {
    model.mode = 'fail';
    const n0 = model.requests.length;
    // A step without fallback: the run fails, and says why.
    const probe = await runToEnd(page, 'provider_probe', null, 'reply_drafter.json');
    assert.match(probe, /^Run vscode-\S+ of provider_probe: failed in /m);
    const ask = summaryRow(probe, 'ask');
    assert.equal(ask.status, 'failed');
    assert.match(ask.last, /provider_error: provider "local" answered 500/);
    assert.match(probe, /answered 500 Internal Server Error: upstream refused the request carrying authorization: Bearer \*\*\*/, 'the error quotes the provider, with the key masked');
    let shown = [];
    await waitFor(
      async () => {
        shown = await notifications(page, { all: true });
        return shown.some((n) => /^PromptManager: provider_probe failed in .+: ask failed: provider "local" answered 500/.test(n));
      },
      { timeoutMs: 20_000, message: () => `a notification that provider_probe failed; notifications: ${shown.join(' | ') || '(none)'}` },
    );
    await screenshot(page, 'provider-03-provider-error');

    // A step with retries and a fallback: each failed attempt is printed, then the fallback.
    const drafter = await runToEnd(page, 'reply_drafter', 'drafting_service', 'reply_drafter.json');
    assert.match(drafter, /^\d\d:\d\d:\d\d\.\d{3} {2}draft +retrying +attempt 1 failed .*answered 500/m);
    const draft = summaryRow(drafter, 'draft');
    assert.equal(draft.status, 'fallback');
    assert.equal(draft.attempts, 3);
    const failed = model.requests.slice(n0);
    assert.equal(failed.length, 4, 'one request for provider_probe, three attempts of draft');
    for (const r of failed) assert.equal(r.authorization, `Bearer ${CANARY}`, 'the failing requests carried the key (which the server echoed back)');
    model.mode = 'ok';
  });

  test('the language server killed during a run: the client says the run was interrupted, and the next run works after the restart', async () => {
    const pids = serverPids(vs.server.extensionsDir);
    assert.equal(pids.length, 1, `one language server process; found ${pids.join(', ') || 'none'}`);
    const n0 = model.requests.length;
    model.mode = 'slow';
    await startRun(page, 'reply_drafter', 'drafting_service', 'reply_drafter.json');
    // The run is at its model step: the provider has the request and holds it.
    await waitFor(() => model.pending === 1 && model.requests.length === n0 + 1, { timeoutMs: 60_000, message: 'the draft step to send its request to the (slow) model server' });
    const progressRe = /reply_drafter.*step \d of 2/;
    let shown = [];
    await waitFor(
      async () => {
        shown = await notifications(page);
        return shown.some((n) => progressRe.test(n));
      },
      { timeoutMs: 10_000, message: () => `the run's progress notification; notifications: ${shown.join(' | ') || '(none)'}` },
    );
    await screenshot(page, 'provider-04-run-in-progress');
    process.kill(pids[0], 'SIGKILL');

    // The user is told, on screen, what happened and what to do (an error with actions stays until dismissed).
    const toast = await waitForToast(
      page,
      /^PromptManager: the run of reply_drafter was interrupted because the language server stopped unexpectedly\. It is being restarted: run the workflow again\.$/,
    );
    assert.deepEqual(toast.buttons, ['Run Again', 'Show Output']);
    const text = await waitForOutput(page, CHANNEL, /=== End of run \S+ \(interrupted\) ===/, { timeoutMs: 20_000 });
    await screenshot(page, 'provider-05-run-interrupted');
    const run = text.slice(text.lastIndexOf('=== Run '));
    assert.match(run, /^Run vscode-\S+ of reply_drafter was interrupted: the language server stopped unexpectedly while the run was under way, so the run has no result\.$/m);
    assert.match(run, /^Steps that did not finish: draft \(running\)\.$/m);
    assert.match(run, /^It is being restarted: run the workflow again\.$/m);
    assert.match(run, /^\d\d:\d\d:\d\d\.\d{3} {2}brief +succeeded /m, 'the step that finished before is still listed');
    assert.doesNotMatch(run, /^\d\d:\d\d:\d\d\.\d{3} {2}draft +(succeeded|failed|fallback) /m, 'draft never finished');
    // The progress notification and the status bar's run indicator are gone.
    await waitFor(async () => !(await notifications(page)).some((n) => progressRe.test(n)), {
      timeoutMs: 10_000,
      message: async () => `the progress notification to end; notifications: ${(await notifications(page)).join(' | ')}`,
    });
    await waitFor(async () => !(await statusBarItems(page)).some((t) => /reply_drafter/.test(t)), {
      timeoutMs: 10_000,
      message: async () => `the status bar to stop showing the run; it showed: ${(await statusBarItems(page)).join(' | ')}`,
    });
    await waitFor(() => serverPids(vs.server.extensionsDir).some((p) => p !== pids[0]), { timeoutMs: 30_000, message: 'a new language server process' });

    // "Run Again" on the notification: the same composition and service, only the context is asked.
    model.mode = 'ok';
    const ends = countEnds(await outputChannelText(page, CHANNEL));
    await toast.click('Run Again');
    await waitFor(async () => (await quickPickItems(page).catch(() => [])).some((i) => i.label === 'reply_drafter.json'), { timeoutMs: 20_000, message: 'the context picker after Run Again' });
    await selectQuickPickItem(page, 'reply_drafter.json');
    const all = await waitForOutput(page, CHANNEL, (t) => countEnds(t) > ends, { timeoutMs: 90_000 });
    const again = all.slice(all.lastIndexOf('=== Run '));
    assert.match(again, /^Run vscode-\S+ of reply_drafter \(service drafting_service\): succeeded in /m);
    for (const step of ['brief', 'draft']) {
      assert.match(again, new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3}  ${step} +running +attempt 1$`, 'm'), `${step} started`);
      assert.match(again, new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3}  ${step} +succeeded +attempt 1  `, 'm'), `${step} succeeded`);
      assert.equal(summaryRow(again, step).status, 'succeeded');
    }
    assert.match(again.slice(again.indexOf('\nOutput:\n')), new RegExp(`^${REPLY_MARKER}: thank you for your message`, 'm'));
    assert.equal(model.requests.length, n0 + 2, 'the interrupted draft request, then the new run');
    assert.equal(model.requests.at(-1).authorization, `Bearer ${CANARY}`, 'the restarted server still has the key');
    await screenshot(page, 'provider-06-run-after-restart');
    const center = await notifications(page, { all: true });
    assert.ok(
      center.some((n) => /language server stopped unexpectedly and was restarted/.test(n)),
      `the restart was announced too; notifications: ${center.join(' | ')}`,
    );
  });

  test('the API key (a canary) appears in no output: channels, notifications, health, metrics, logs', async () => {
    // Every run above sent the canary to the model server, which echoed it back in replies and errors.
    assert.ok(model.requests.length >= 6 && model.requests.every((r) => r.authorization === `Bearer ${CANARY}`), 'the provider received the canary on every request');

    await runCommand(page, 'PromptManager: Show Health');
    let shown = [];
    await waitFor(
      async () => {
        shown = await notifications(page, { all: true });
        return shown.some((n) => /^PromptManager: \S+ is (healthy|degraded|unhealthy)/.test(n));
      },
      { timeoutMs: 20_000, message: () => `the health notification; notifications: ${shown.join(' | ') || '(none)'}` },
    );
    await waitForOutput(page, CHANNEL, /^Health of \S+: /m);

    // The report (a Markdown preview) and the JSON it is made from.
    await runCommand(page, 'PromptManager: Show Metrics');
    let report = '';
    await waitFor(
      async () => {
        report = await webviewFrame(page).locator('body').innerText({ timeout: 2000 }).catch(() => '');
        return /PromptManager metrics/.test(report) && /Model providers/.test(report);
      },
      { timeoutMs: 20_000, message: () => `the metrics report; the webview showed:\n${report.slice(0, 300)}` },
    );
    assertNoCanary('the Show Metrics report', report);
    await runCommand(page, 'PromptManager: Show Metrics as JSON');
    let metrics = '';
    await waitFor(
      async () => {
        metrics = await editorText(page).catch(() => '');
        return /"workflowEngine"/.test(metrics);
      },
      { timeoutMs: 20_000, message: () => `the metrics document; the active editor showed:\n${metrics.slice(0, 300)}` },
    );
    assert.match(metrics, /"workflowEngine"/);
    await screenshot(page, 'provider-07-metrics');
    assertNoCanary('the Show Metrics as JSON document', metrics);

    const channels = (await outputChannels(page)).filter((c) => /PromptManager/.test(c));
    assert.ok(channels.includes(CHANNEL), `the Output panel lists the PromptManager channel; it listed: ${channels.join(', ')}`);
    const texts = {};
    for (const c of channels) {
      texts[c] = await outputChannelText(page, c);
      assertNoCanary(`the "${c}" output channel`, texts[c]);
    }
    // What was read is the real thing: the runs' summaries, the model's replies, the errors, the health report.
    const main = texts[CHANNEL];
    assert.ok(main.includes(`${REPLY_MARKER}: thank you`), 'the channel read holds the model replies');
    assert.match(main, /Bearer \*\*\*/, 'the echoed key shows masked');
    assert.match(main, /answered 500/);
    assert.match(main, /interrupted/);
    assert.match(main, /^Health of \S+: /m);
    await screenshot(page, 'provider-08-output');

    const all = await notifications(page, { all: true });
    assert.ok(
      all.some((n) => /PromptManager: provider_probe failed in /.test(n)),
      `the notifications read include the failure; they were: ${all.join(' | ')}`,
    );
    assertNoCanary('the notifications', all.join('\n'));
    assertNoCanary('the status bar', (await statusBarItems(page)).join('\n'));

    // Everything written to disk as logs: output channels, the extension host's and code-server's logs.
    const files = logFiles(vs.server.tmpDir);
    assert.ok(files.length > 0, `log files under ${vs.server.tmpDir}`);
    assert.ok(
      files.some((f) => fs.readFileSync(f, 'utf8').includes(`${REPLY_MARKER}: thank you`)),
      `the output channel's log file is among the files searched: ${files.map((f) => path.relative(vs.server.tmpDir, f)).join(', ')}`,
    );
    for (const f of files) assertNoCanary(path.relative(vs.server.tmpDir, f), fs.readFileSync(f, 'utf8'));
    await pressKeys(page, 'Control+1');
  });
});
