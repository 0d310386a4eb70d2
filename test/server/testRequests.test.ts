/**
 * The prompt test requests over real LSP (protocol/testTypes.ts): listTests (ranges, labels,
 * errors, every workspace or one), testsChanged as you type, runTests (progress per test, a
 * pass, a failing snapshot with its expected and actual text at the assertion's line, a live
 * test skipped offline, repetitions and their pass rate, an unsaved buffer's test, a workspace
 * whose configuration has errors, a live run refused untrusted, cancellation, work-done
 * progress), testHistory.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { CancellationTokenSource, WorkDoneProgress, type WorkDoneProgressReport } from 'vscode-languageserver-protocol';
import {
  ListTestsRequest,
  RunTestsRequest,
  SetTrustNotification,
  TestHistoryRequest,
  TestProgressNotification,
  TestsChangedNotification,
  type TestProgressParams,
  type TestsChangedParams,
} from '../../protocol/protocol.js';
import { LspClient, uri, writeFiles } from './lsp.js';

const RULES = (baseUrl: string) => `version: 1
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
        retry: { max_attempts: 1 }
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
    context: { name: Ada }
    expect:
      - contains: Ada
      - snapshot: true
  greets_bob:
    description: The golden file says Robert
    template: greet
    context: { name: Bob }
    expect:
      - contains: Bob
      - snapshot: true
  drafts_a_reply:
    composition: reply_drafter
    service: drafting_service
    context: { message: Wrong invoice }
    mocks:
      draft: Dear Priya, sorry.
    expect:
      - step: draft
        status: succeeded
      - regex: '^Dear'
  drafts_live:
    composition: reply_drafter
    context: { message: Wrong invoice }
    live: true
    expect:
      - step: draft
        status: succeeded
`;

let modelServer: http.Server;
let baseUrl: string;
/** Requests the model server got, and how long it waits before answering. */
const model = { requests: 0, delayMs: 0 };

before(async () => {
  modelServer = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      model.requests++;
      const t = setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: 'Dear Priya, live.' }, finish_reason: 'stop' }] }));
      }, model.delayMs);
      res.on('close', () => clearTimeout(t));
    });
  });
  await new Promise<void>((r) => modelServer.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(modelServer.address() as { port: number }).port}/v1`;
});
after(() => {
  modelServer.closeAllConnections();
  modelServer.close();
});

function workspace(extra: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-testreq-'));
  writeFiles(dir, {
    'composition_rules.yaml': RULES(baseUrl),
    'service_mappings.yaml': MAPPINGS,
    'templates/greet.hbs': 'Hello {{name}}.',
    'templates/reply/brief.hbs': 'Brief for {{message}}.',
    'templates/reply/draft.hbs': 'Draft from {{steps.brief.output}}.',
    'prompt_tests.yaml': TESTS,
    'prompt_tests/__snapshots__/greets_ada/output.txt': 'Hello Ada.',
    'prompt_tests/__snapshots__/greets_bob/output.txt': 'Hello Robert.',
    ...extra,
  });
  return dir;
}

/** Polls `check` until it holds (the client's own `until` wakes only on the notifications it records). */
async function waitUntil(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A client that records the test notifications. */
async function start(folders: string[]): Promise<{ c: LspClient; progress: TestProgressParams[]; changed: TestsChangedParams[] }> {
  const c = await LspClient.start({ folders, debounceMs: 0 });
  const progress: TestProgressParams[] = [];
  const changed: TestsChangedParams[] = [];
  c.conn.onNotification(TestProgressNotification, (p) => void progress.push(p));
  c.conn.onNotification(TestsChangedNotification, (p) => void changed.push(p));
  return { c, progress, changed };
}

test('listTests: every test with its ranges and assertions, from every workspace or one; a test that cannot run says why', async () => {
  const dir = workspace({
    'prompt_tests/more/broken.yaml': 'version: 1\ntests:\n  renders_nothing:\n    template: nope\n    expect:\n      - contains: x\n',
    'prompt_tests/unparsable.yaml': 'version: 1\ntests:\n  half_typed: [\n',
  });
  const other = workspace();
  fs.writeFileSync(path.join(other, 'service_mappings.yaml'), 'version: 1\nservices:\n  s:\n    primary_templates: [missing]\n');
  const { c } = await start([dir, other]);
  try {
    const all = await c.conn.sendRequest(ListTestsRequest, {});
    assert.deepEqual(all.workspaces.map((w) => [w.workspace, w.tests.length, !!w.error]).sort(), [[uri(dir), 5, false], [uri(other), 4, true]].sort());
    const mine = (await c.conn.sendRequest(ListTestsRequest, { workspace: uri(path.join(dir, 'prompt_tests.yaml')) })).workspaces;
    assert.equal(mine.length, 1);
    const w = mine[0]!;
    assert.deepEqual(w.files, [uri(path.join(dir, 'prompt_tests.yaml')), uri(path.join(dir, 'prompt_tests/more/broken.yaml')), uri(path.join(dir, 'prompt_tests/unparsable.yaml'))]);
    // A file that does not parse has no test to carry its error: the workspace lists it, and a run of all its tests fails on it.
    assert.deepEqual(w.problems.map((p) => [p.uri, p.code]), [[uri(path.join(dir, 'prompt_tests/unparsable.yaml')), 'yaml-syntax']]);
    const whole = await c.conn.sendRequest(RunTestsRequest, { workspace: uri(dir) });
    assert.ok(whole.ok, JSON.stringify(whole));
    assert.deepEqual(whole.report.problems.map((p) => [p.uri, p.code, p.range.start.line]), [[uri(path.join(dir, 'prompt_tests/unparsable.yaml')), 'yaml-syntax', w.problems[0]!.range.start.line]]);
    const some = await c.conn.sendRequest(RunTestsRequest, { workspace: uri(dir), ids: ['greets_ada'] });
    assert.ok(some.ok && some.report.problems.length === 0);
    assert.deepEqual(w.tests.map((t) => t.id), ['greets_ada', 'greets_bob', 'drafts_a_reply', 'drafts_live', 'renders_nothing']);
    const bob = w.tests[1]!;
    assert.deepEqual([bob.uri, bob.kind, bob.target, bob.description, bob.live, bob.repeat, bob.passRate], [uri(path.join(dir, 'prompt_tests.yaml')), 'template', 'greet', 'The golden file says Robert', false, 1, 1]);
    assert.deepEqual(bob.range, { start: { line: 8, character: 2 }, end: { line: 8, character: 12 } });
    assert.deepEqual([bob.fullRange.start.line, bob.fullRange.end.line], [8, 14]);
    assert.deepEqual(bob.assertions.map((a) => [a.index, a.kind, a.range.start.line]), [[0, 'contains', 13], [1, 'snapshot', 14]]);
    assert.match(bob.assertions[0]!.label, /contains/);
    assert.equal(w.tests[3]!.live, true);
    assert.match(String(w.tests[4]!.error), /unknown-template/);
    assert.match(String(all.workspaces.find((x) => x.workspace === uri(other))!.error), /configuration has 1 error/);
  } finally {
    await c.stop();
  }
});

test('testsChanged as you type (a new test, an assertion edited in place, not a comment); the new test, only in the buffer, is listed and runs', async () => {
  const dir = workspace();
  const file = path.join(dir, 'prompt_tests.yaml');
  const { c, changed, progress } = await start([dir]);
  try {
    await c.open(file);
    // An edit that changes no test (a comment at the end) says nothing.
    await c.change(file, TESTS + '# a comment\n');
    await c.settle(150);
    assert.deepEqual(changed, []);
    await c.change(file, TESTS + '  greets_cleo:\n    template: greet\n    context: { name: Cleo }\n    expect:\n      - equals: Hello Cleo.\n');
    await waitUntil(() => changed.length > 0, 5000, 'testsChanged');
    assert.deepEqual(changed[0], { workspaces: [uri(dir)] });
    const list = await c.conn.sendRequest(ListTestsRequest, {});
    assert.ok(list.workspaces[0]!.tests.some((t) => t.id === 'greets_cleo'));
    const r = await c.conn.sendRequest(RunTestsRequest, { ids: ['greets_cleo'], runId: 'cleo' });
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.report.results.map((x) => [x.id, x.outcome]), [['greets_cleo', 'passed']]);
    assert.deepEqual(progress.filter((p) => p.runId === 'cleo').map((p) => p.event.type), ['run.started', 'test.started', 'test.repetition', 'test.finished']);
    // An edit in place that changes only an assertion's value changes its label and its range's end: the list changed.
    const before = changed.length;
    await c.change(file, TESTS + '  greets_cleo:\n    template: greet\n    context: { name: Cleo }\n    expect:\n      - equals: Hello Cleo!\n');
    await waitUntil(() => changed.length > before, 5000, 'testsChanged after an assertion\'s edit');
    const cleo = (await c.conn.sendRequest(ListTestsRequest, {})).workspaces[0]!.tests.find((t) => t.id === 'greets_cleo')!;
    assert.match(cleo.assertions[0]!.label, /Hello Cleo!/);
    assert.equal(cleo.fullRange.end.character, '      - equals: Hello Cleo!'.length);
  } finally {
    await c.stop();
  }
});

test('runTests: progress per test, a pass, a failing snapshot with its diff at its line, a live test skipped offline; repetitions; history', async () => {
  const dir = workspace();
  const { c, progress } = await start([dir]);
  try {
    const workDone: WorkDoneProgressReport[] = [];
    const kinds: string[] = [];
    const sub = c.conn.onProgress(WorkDoneProgress.type, 'tok-all', (p) => {
      kinds.push(p.kind);
      if (p.kind === 'report') workDone.push(p);
    });
    const r = await c.conn.sendRequest(RunTestsRequest, { runId: 'all', workDoneToken: 'tok-all' });
    sub.dispose();
    assert.ok(r.ok, JSON.stringify(r));
    // Work-done progress too, for any client: begin, "k of n" per finished test, end.
    assert.deepEqual([kinds[0], kinds.at(-1)], ['begin', 'end']);
    assert.deepEqual(workDone.map((p) => p.percentage), [25, 50, 75, 100]);
    assert.match(String(workDone[0]!.message), /^1 of 4: \w+ (passed|failed|skipped)$/);
    assert.equal(r.runId, 'all');
    const byId = new Map(r.report.results.map((x) => [x.id, x]));
    assert.deepEqual([...byId].map(([id, x]) => [id, x.outcome]), [['greets_ada', 'passed'], ['greets_bob', 'failed'], ['drafts_a_reply', 'passed'], ['drafts_live', 'skipped']]);
    assert.deepEqual(r.report.summary, { total: 4, passed: 2, failed: 1, skipped: 1 });
    assert.equal(r.report.workspace, uri(dir));
    const snap = byId.get('greets_bob')!.assertions.find((a) => a.kind === 'snapshot')!;
    assert.deepEqual([snap.passed, snap.expected, snap.actual, snap.range.start.line], [false, 'Hello Robert.', 'Hello Bob.', 14]);
    assert.deepEqual(snap.snapshot, { uri: uri(path.join(dir, 'prompt_tests/__snapshots__/greets_bob/output.txt')), status: 'mismatch' });
    assert.match(String(byId.get('drafts_live')!.reason), /live/);
    assert.equal(model.requests, 0, 'an offline run calls no model');
    // One notification per event, for this run, in order; the finished results are the report's.
    const events = progress.filter((p) => p.runId === 'all').map((p) => p.event);
    assert.equal(events[0]!.type, 'run.started');
    assert.deepEqual(events.filter((e) => e.type === 'test.finished').map((e) => (e.type === 'test.finished' ? e.result.id : '')).sort(), ['drafts_a_reply', 'drafts_live', 'greets_ada', 'greets_bob']);
    assert.ok(progress.every((p) => p.workspace === uri(dir)));

    // Three runs of one test: each reported, then the pass rate.
    const rep = await c.conn.sendRequest(RunTestsRequest, { ids: ['drafts_a_reply'], repeat: 3, runId: 'rep' });
    assert.ok(rep.ok);
    const only = rep.report.results[0]!;
    assert.deepEqual([only.repetitions.length, only.passRate, only.outcome], [3, 1, 'passed']);
    assert.deepEqual(progress.filter((p) => p.runId === 'rep' && p.event.type === 'test.repetition').map((p) => (p.event.type === 'test.repetition' ? `${p.event.result.repetition}/${p.event.of}` : '')), ['1/3', '2/3', '3/3']);
    await assert.rejects(c.conn.sendRequest(RunTestsRequest, { repeat: 0 }), /repeat must be a whole number/);

    // The history has both runs: greets_bob failed once, drafts_a_reply passed twice.
    const h = await c.conn.sendRequest(TestHistoryRequest, { ids: ['greets_bob', 'drafts_a_reply', 'never_ran'] });
    assert.equal(h.workspace, uri(dir));
    assert.deepEqual(h.tests.map((t) => [t.id, t.runs, t.passed, t.failed]), [['greets_bob', 1, 0, 1], ['drafts_a_reply', 2, 2, 0]]);
    const every = await c.conn.sendRequest(TestHistoryRequest, {});
    assert.deepEqual(every.tests.map((t) => t.id), ['drafts_a_reply', 'drafts_live', 'greets_ada', 'greets_bob']);
  } finally {
    await c.stop();
  }
});

test('runTests refuses what cannot run: a configuration with errors, a live run in an untrusted workspace', async () => {
  const dir = workspace();
  const { c } = await start([dir]);
  try {
    await c.conn.sendNotification(SetTrustNotification, { trusted: false });
    const refused = await c.conn.sendRequest(RunTestsRequest, { live: true, ids: ['drafts_live'] });
    assert.ok(!refused.ok);
    assert.equal(refused.error.code, 'access_denied');
    assert.match(refused.error.message, /not trusted/);
    assert.equal(model.requests, 0);
    // Offline runs work without trust.
    const offline = await c.conn.sendRequest(RunTestsRequest, { ids: ['greets_ada'] });
    assert.ok(offline.ok && offline.report.results[0]!.outcome === 'passed');
    await c.conn.sendNotification(SetTrustNotification, { trusted: true });

    const rules = path.join(dir, 'composition_rules.yaml');
    await c.open(rules);
    await c.change(rules, RULES(baseUrl).replace('template: reply/brief', 'template: reply/missing'));
    const bad = await c.conn.sendRequest(RunTestsRequest, {});
    assert.ok(!bad.ok);
    assert.equal(bad.error.code, 'invalid_configuration');
  } finally {
    await c.stop();
  }
});

test('a live run calls the provider, and cancelling the request stops it without waiting for the model', async () => {
  const dir = workspace();
  const { c, progress } = await start([dir]);
  try {
    model.requests = 0;
    model.delayMs = 0;
    const live = await c.conn.sendRequest(RunTestsRequest, { live: true, ids: ['drafts_live'], runId: 'live' });
    assert.ok(live.ok, JSON.stringify(live));
    assert.deepEqual(live.report.results.map((x) => [x.id, x.outcome]), [['drafts_live', 'passed']]);
    assert.equal(model.requests, 1);

    model.delayMs = 60_000;
    const src = new CancellationTokenSource();
    const t0 = Date.now();
    const pending = c.conn.sendRequest(RunTestsRequest, { live: true, ids: ['drafts_live'], runId: 'slow', repeat: 2, updateSnapshots: 'none' }, src.token);
    await waitUntil(() => progress.some((p) => p.runId === 'slow' && p.event.type === 'test.started') && model.requests >= 2, 10_000, 'the slow test to start');
    src.cancel();
    const r = await pending.catch((e: Error) => e);
    assert.ok(Date.now() - t0 < 30_000, 'the answer came before the model did');
    if (!(r instanceof Error)) {
      assert.ok(r.ok);
      assert.notEqual(r.report.results[0]!.outcome, 'passed');
    }
    await waitUntil(() => progress.some((p) => p.runId === 'slow' && p.event.type === 'test.finished'), 10_000, 'the cancelled test to finish');
  } finally {
    model.delayMs = 0;
    await c.stop();
  }
});
