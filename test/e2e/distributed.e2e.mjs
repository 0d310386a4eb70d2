// Runs started from VS Code on the BullMQ back end, end to end in a real VS Code (code-server),
// on a copy of examples/ whose provider `local` is a model server of the test's own:
//   - the test starts its own redis-server (test/helpers/redisServer.ts) and a worker with the
//     real CLI (`node dist/cli.js worker --log-jobs`), which alone has the provider's API key;
//   - the user's settings say `promptManager.run.backend: bullmq` and where Redis is; a run from
//     the palette shows live progress in the output channel and the graph (the model step
//     running while the model has not answered, then succeeded), its result, and says it ran
//     on BullMQ at that Redis;
//   - the worker's own log names the run's steps, and the model's request carried the worker's
//     key: the steps ran there, not in the language server (which has no key: there the model
//     step would fall back);
//   - a run started with the graph's Run button and cancelled from its progress notification
//     ends cancelled in the output channel and the graph, and the worker stops its model call.
// Where redis-server is missing, the tests print that they are skipped and why (CI installs it).
// Screenshots: test-results/distributed-*.png.
//
// Alone (after `npm run package`): node --test test/e2e/distributed.e2e.mjs

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { examplesCopy, launch, notifications, openFile, outputChannelText, projectVsix, quickPickItems, runCommand, screenshot, selectQuickPickItem, waitFor, waitForOutput, webviewFrame, webviewTexts } from './harness.mjs';
import { pointProviderAt, REPLY_MARKER, startModelServer, waitForToast } from './support.mjs';
import { redisServer, startWorker } from './workers.mjs';

const CHANNEL = 'PromptManager';
const WORKER_KEY = 'e2e-key-only-the-worker-has';
const END_RE = /^=== End of run \S+( \((interrupted|refused)\))? ===$/gm;
const countEnds = (t) => (t.match(END_RE) ?? []).length;

const { redisMissingReason, startRedis } = await redisServer();
const unavailable = redisMissingReason();
if (unavailable) console.log(`# the distributed runs from VS Code are not tested end to end (skipped): ${unavailable}`);

/** The test's copy may wait on its model for as long as the test looks at the screen: longer time limits, each replaced where the examples have it. */
function patientReplyDrafter(rules) {
  const swaps = [
    [/^(\s+timeout_ms: )45000$/m, '600000'], // provider local
    [/^(\s+timeout_ms: )120000$/m, '900000'], // reply_drafter
    [/^(\s+timeout_ms: )40000$/m, '600000'], // its step draft
  ];
  for (const [re, v] of swaps) {
    if (!re.test(rules)) throw new Error(`composition_rules.yaml of the examples no longer has ${re}: update the test`);
    rules = rules.replace(re, `$1${v}`);
  }
  return rules;
}

/** The part of the output channel from the last run's header on. */
const lastRun = (text) => text.slice(text.lastIndexOf('=== Run '));

/**
 * Runs reply_drafter as drafting_service with contexts/reply_drafter.json, from the palette (Run
 * Workflow) or with the Run button of its graph (on screen); returns the run's id from its header.
 */
async function startReplyDrafter(page, from) {
  const before = await outputChannelText(page, CHANNEL);
  const headers = (before.match(/^=== Run /gm) ?? []).length;
  if (from === 'graph') await webviewFrame(page).locator('#btn-run').click();
  else {
    await runCommand(page, 'PromptManager: Run Workflow');
    await selectQuickPickItem(page, 'reply_drafter');
  }
  await waitFor(async () => (await quickPickItems(page).catch(() => [])).some((i) => i.label === 'drafting_service'), { timeoutMs: 20_000, message: 'the service picker' });
  await selectQuickPickItem(page, 'drafting_service');
  await waitFor(async () => (await quickPickItems(page).catch(() => [])).some((i) => i.label === 'reply_drafter.json'), { timeoutMs: 20_000, message: 'the context picker' });
  await selectQuickPickItem(page, 'reply_drafter.json');
  const text = await waitForOutput(page, CHANNEL, (t) => (t.match(/^=== Run /gm) ?? []).length > headers, { timeoutMs: 30_000 });
  return /^=== Run (vscode-\S+): reply_drafter/m.exec(lastRun(text))[1];
}

/** The graph on screen: its run line, and each step's status ('' for a step not run). */
async function graphState(page) {
  const [run] = await webviewTexts(page, '#run', { timeoutMs: 10_000 });
  const steps = await webviewFrame(page)
    .locator('svg g[data-step]')
    .evaluateAll((gs) => gs.map((g) => [g.getAttribute('data-step'), (g.querySelector('.step-status')?.textContent ?? '').trim()]));
  return { run, steps: Object.fromEntries(steps) };
}

async function waitForGraph(page, expected, what) {
  let seen;
  await waitFor(
    async () => {
      seen = await graphState(page);
      return Object.entries(expected.steps).every(([id, s]) => seen.steps[id] === s) && expected.run.test(seen.run);
    },
    { timeoutMs: 60_000, intervalMs: 500, message: () => `the graph to show ${what}; it showed ${JSON.stringify(seen)}` },
  );
}

describe('runs from VS Code on the BullMQ back end (code-server)', { skip: unavailable ?? false, timeout: 15 * 60_000 }, () => {
  let redis;
  let model;
  let worker;
  let vs;
  let page;
  let where;

  before(async () => {
    const t0 = Date.now();
    redis = await startRedis();
    where = `on BullMQ at ${redis.url} (prefix promptmanager)`;
    model = await startModelServer({ slowMs: 10 * 60_000 });
    const folder = examplesCopy();
    const rulesFile = path.join(folder, 'composition_rules.yaml');
    fs.writeFileSync(rulesFile, patientReplyDrafter(pointProviderAt(fs.readFileSync(rulesFile, 'utf8'), model.url)));
    // The worker alone has the provider's key.
    worker = await startWorker({ dir: folder, redisUrl: redis.url, env: { PROMPTMANAGER_API_KEY: WORKER_KEY } });
    vs = await launch({
      vsix: projectVsix(),
      folder,
      // What a user sets, where VS Code reads settings of scope machine in a remote window such
      // as code-server's: the Settings editor's "Remote" tab (in the user settings, it ignores them).
      machineSettings: { 'promptManager.run.backend': 'bullmq', 'promptManager.run.redisUrl': redis.url },
      env: { PROMPTMANAGER_API_KEY: '', PROMPTMANAGER_REDIS_URL: '' },
    });
    page = vs.page;
    process.stderr.write(`[distributed.e2e] redis-server, worker, code-server + workbench ready in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    await runCommand(page, 'View: Close Primary Side Bar');
    await openFile(page, 'composition_rules.yaml');
    await waitForOutput(page, CHANNEL, /language server started in/, { timeoutMs: 60_000 });
  });

  after(async () => {
    // Each stops whatever happened to the others.
    await vs?.close().catch(() => {});
    const exit = await worker?.stop().catch((e) => e);
    if (worker && process.env.PROMPTMANAGER_E2E_DEBUG) process.stderr.write(`[distributed.e2e] worker exited ${JSON.stringify(exit)}; its log:\n${worker.log()}\n`);
    await model?.close().catch(() => {});
    await redis?.stop().catch(() => {});
  });

  test('a run from the palette executes on the worker: live progress, its result, "on BullMQ" in the run panel', async () => {
    model.mode = 'slow'; // the model answers when the test says
    await runCommand(page, 'PromptManager: Show Workflow Graph');
    await selectQuickPickItem(page, 'reply_drafter');
    await waitForGraph(page, { steps: { brief: '', draft: '' }, run: /^not run yet$/ }, 'the composition before any run');

    const runId = await startReplyDrafter(page, 'palette');
    // Live: brief ran and succeeded, draft is running, waiting for the model the worker called.
    const live = lastRun(
      await waitForOutput(page, CHANNEL, (t) => /^\S+ {2}draft +running +attempt 1$/m.test(lastRun(t)), { timeoutMs: 60_000 }),
    );
    assert.ok(live.includes(`(workflow)  started     2 steps  max parallel 4  run ${runId}  ${where}`), `the run's start says where it runs:\n${live}`);
    assert.match(live, /^\S+ {2}brief +running +attempt 1\n\S+ {2}brief +succeeded +attempt 1 /m);
    assert.doesNotMatch(live, /=== End of run/);
    await waitFor(() => model.pending === 1, { timeoutMs: 30_000, message: () => `the model to be waiting on one request; it has ${model.pending}; the run's output:\n${live}` });
    await waitForGraph(page, { steps: { brief: 'succeeded', draft: 'running' }, run: new RegExp(`^run ${runId} on BullMQ: running$`) }, 'brief succeeded, draft running');
    await screenshot(page, 'distributed-01-running-on-bullmq');

    // The model answers: the run ends, succeeded, with the model's reply.
    const endsBefore = countEnds(await outputChannelText(page, CHANNEL));
    model.answerPending();
    const done = lastRun(await waitForOutput(page, CHANNEL, (t) => countEnds(t) > endsBefore, { timeoutMs: 60_000 }));
    assert.match(done, new RegExp(`^Run ${runId} of reply_drafter \\(service drafting_service\\): succeeded in .+ ${where.replace(/[.()]/g, '\\$&')}$`, 'm'));
    assert.match(done, /^\S+ {2}draft +succeeded +attempt 1 /m);
    assert.match(done, /^draft +succeeded +1 /m);
    assert.match(done, new RegExp(`^Output:\\n${REPLY_MARKER}: thank you for your message`, 'm'));
    await waitForGraph(page, { steps: { brief: 'succeeded', draft: 'succeeded' }, run: new RegExp(`^last run ${runId} on BullMQ: succeeded in `) }, 'both steps succeeded');
    await screenshot(page, 'distributed-02-succeeded-on-bullmq');

    // The worker ran the steps: its log names them, and the model's request carried its key.
    await waitFor(() => worker.log().includes(`run ${runId} (reply_drafter): step draft done`), { timeoutMs: 20_000, message: () => `the worker's log to name the run's steps; it said:\n${worker.log()}` });
    const lines = worker.log().split('\n').filter((l) => l.includes(`run ${runId} `));
    // (The run's start job and its first step's job are taken by two of the worker's slots at once.)
    assert.ok(lines.includes(`promptmanager worker: run ${runId} (reply_drafter): started`), lines.join('\n'));
    assert.deepEqual(
      lines.filter((l) => / step /.test(l)),
      [`promptmanager worker: run ${runId} (reply_drafter): step brief done`, `promptmanager worker: run ${runId} (reply_drafter): step draft done`],
    );
    assert.equal(lines.length, 3, lines.join('\n'));
    assert.equal(model.requests.length, 1);
    assert.equal(model.requests[0].authorization, `Bearer ${WORKER_KEY}`);
  });

  test("a distributed run started from the graph's Run button and cancelled from its progress notification ends cancelled; the worker stops its step", async () => {
    model.mode = 'slow';
    const runId = await startReplyDrafter(page, 'graph');
    const live = lastRun(await waitForOutput(page, CHANNEL, (t) => /^\S+ {2}draft +running +attempt 1$/m.test(lastRun(t)), { timeoutMs: 60_000 }));
    await waitFor(() => model.pending === 1, { timeoutMs: 30_000, message: () => `the model to be waiting on the worker's request; it has ${model.pending}; the run's output:\n${live}` });
    const endsBefore = countEnds(await outputChannelText(page, CHANNEL));

    const progress = await waitForToast(page, /^PromptManager: reply_drafter.*step \d of 2/);
    assert.ok(progress.buttons.includes('Cancel'), `the progress notification offers Cancel: ${progress.buttons.join(', ')}`);
    await screenshot(page, 'distributed-03-before-cancel');
    await progress.click('Cancel');

    const done = lastRun(await waitForOutput(page, CHANNEL, (t) => countEnds(t) > endsBefore, { timeoutMs: 60_000 }));
    assert.match(done, new RegExp(`^Cancelling run ${runId}…$`, 'm'));
    assert.match(done, new RegExp(`^Run ${runId} of reply_drafter \\(service drafting_service\\): cancelled in .+ ${where.replace(/[.()]/g, '\\$&')}$`, 'm'));
    assert.match(done, /^\S+ {2}\(workflow\) +cancelled /m);
    assert.match(done, /^brief +succeeded +1 /m);
    assert.match(done, /^draft +cancelled +1 /m);
    await waitForGraph(page, { steps: { brief: 'succeeded', draft: 'cancelled' }, run: new RegExp(`^last run ${runId} on BullMQ: cancelled`) }, 'draft cancelled');
    let shown = [];
    await waitFor(
      async () => {
        shown = await notifications(page);
        return !shown.some((n) => /reply_drafter.*step \d of 2/.test(n));
      },
      { timeoutMs: 20_000, message: () => `the progress notification to close; notifications: ${shown.join(' | ')}` },
    );
    await screenshot(page, 'distributed-04-cancelled');

    // On the worker: the step's attempt was stopped, and its call to the model with it.
    await waitFor(() => worker.log().includes(`run ${runId} (reply_drafter): step draft stopped: its run has ended`), {
      timeoutMs: 30_000,
      message: () => `the worker's log to say it stopped draft; it said:\n${worker.log()}`,
    });
    await waitFor(() => model.pending === 0, { timeoutMs: 30_000, message: () => `the worker to abort its model call; the model still has ${model.pending} waiting` });
    assert.doesNotMatch(worker.log(), new RegExp(`run ${runId} \\(reply_drafter\\): step draft done`));
  });
});
