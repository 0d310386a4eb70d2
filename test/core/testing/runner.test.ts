/**
 * The prompt test runner (core/testing/runner.ts) on a workspace on disk: every assertion
 * kind passing and failing (with a message that says what came, its source range, and
 * expected and actual for a diff), mocks with 429s, delays, failures and hangs on virtual time,
 * the implicit checks, live tests (skipped offline, run with `live`, repeated with a pass rate,
 * answered from the response cache the second time), snapshots in each mode, selection,
 * progress, cancellation and bounded concurrency.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { ConfigurationError } from '../../../core/manager/configError.js';
import { listPromptTests } from '../../../core/testing/listTests.js';
import { runPromptTests, type RunPromptTestsOptions } from '../../../core/testing/runner.js';
import type { PromptTestResult, TestProgressEvent } from '../../../core/testing/types.js';
import { validateWorkspace } from '../../../core/validate/validateWorkspace.js';
import type { StepExecutionRequest, StepExecutor } from '../../../core/workflow/executors.js';
import { MemoryResponseCacheStore, ResponseCache } from '../../../core/workflow/responseCache.js';
import { T, workspace } from './fixture.js';

function run(root: string, options: Partial<RunPromptTestsOptions> = {}) {
  return runPromptTests({ root, history: false, updateSnapshots: 'new', ...options });
}
function byId(results: PromptTestResult[], id: string): PromptTestResult {
  const r = results.find((x) => x.id === id);
  assert.ok(r, `no result for ${id}`);
  return r;
}
/** The failed assertions of a test: `[line (1-based), kind, message]`. */
function failures(r: PromptTestResult): [number, string | undefined, string][] {
  return r.assertions.filter((a) => !a.passed).map((a) => [a.range.start.line + 1, a.kind, a.message ?? '']);
}

const PASSING = T(`  greets:
    template: greet
    service: greeter
    context_file: contexts/ada.json
    expect:
      - equals: "Hello Ada!\\nYou have 3 new messages."
      - contains: [Ada, 3 new]
      - not_contains: ["{{", undefined]
      - regex: '^hello ada'
        flags: im
      - max_length: 35
      - max_tokens: 9
      - status: succeeded
      - snapshot: true
      - contains: ADA
        ignore_case: true
  missing_name_falls_back:
    template: greet
    service: greeter
    context: { topic: x }
    expect:
      - status: fallback
      - error: missing_context
      - equals: Sorry, something went wrong.
  missing_name_fails:
    template: greet
    context: {}
    expect:
      - status: failed
      - error: missing_context
  replies:
    composition: answer
    context_file: contexts/ada.json
    mocks:
      reply:
        - { status: 429, retry_after: 30 }
        - reply: "\`\`\`json\\n{ \\"text\\": \\"Hi Ada\\" }\\n\`\`\`"
          delay_ms: 500
    expect:
      - step: reply
        json_schema: { type: object, required: [text], properties: { text: { type: string, pattern: "^Hi" } } }
      - step: reply
        attempts: 2
      - step: reply
        status: succeeded
      - step: reply
        of: prompt
        contains: 'Brief for Ada: invoices'
      - step: brief
        snapshot: brief
      - regex: '^Wrapped: '
      - status: succeeded
  provider_down_falls_back:
    composition: answer
    context_file: contexts/ada.json
    mocks:
      reply: { down: true }
    expect:
      - step: reply
        status: fallback
      - step: reply
        error: provider_error
      - step: reply
        attempts: 3
      - equals: 'Wrapped: No reply today.'
`);

describe('the prompt test runner', () => {
  test('every assertion kind passes where it should, on virtual time (a 30 s Retry-After takes none)', async () => {
    const root = workspace(PASSING);
    const t0 = performance.now();
    const report = await run(root);
    const elapsed = performance.now() - t0;
    for (const r of report.results) assert.deepEqual(failures(r), [], `${r.id}: ${r.reason ?? ''}`);
    assert.deepEqual(report.summary, { total: 5, passed: 5, failed: 0, skipped: 0 });
    // The 429 asked for 30 s and the backoffs for more; a real wait would take over 30 s.
    assert.ok(elapsed < 20_000, `took ${elapsed} ms`);
    assert.deepEqual(
      report.snapshotsWritten.map((f) => path.relative(root, f).split(path.sep).join('/')),
      ['prompt_tests/__snapshots__/greets/output.txt', 'prompt_tests/__snapshots__/replies/brief.txt'],
    );
    assert.equal(fs.readFileSync(path.join(root, 'prompt_tests/__snapshots__/replies/brief.txt'), 'utf8'), 'Brief for Ada: invoices');
  });

  test('each kind fails with a message that says what came, on its own line, with expected and actual for a diff', async () => {
    const root = workspace(
      T(`  fails:
    template: greet
    context_file: contexts/ada.json
    expect:
      - equals: "Hello Bob!\\nYou have 3 new messages."
      - contains: [Ada, Bob, Cy]
      - not_contains: [messages]
      - regex: '^Bye'
      - json_schema: { type: object }
      - max_length: 10
      - max_tokens: 2
      - status: fallback
      - error: template_error
  step_fails:
    composition: answer
    context_file: contexts/ada.json
    mocks: { reply: '{"text": 5}' }
    expect:
      - step: reply
        json_schema: { type: object, properties: { text: { type: string } } }
      - step: reply
        attempts: 2
      - step: reply
        status: skipped
      - step: wrap
        error: timeout
`),
    );
    const report = await run(root);
    const f = failures(byId(report.results, 'fails'));
    assert.deepEqual(
      f.map(([line, kind]) => [line, kind]),
      [
        [7, 'equals'],
        [8, 'contains'],
        [9, 'not_contains'],
        [10, 'regex'],
        [11, 'json_schema'],
        [12, 'max_length'],
        [13, 'max_tokens'],
        [14, 'status'],
        [15, 'error'],
      ],
    );
    const msg = f.map(([, , m]) => m);
    assert.match(msg[0]!, /^the rendered text differs from the expected text at line 1, column 7$/);
    assert.match(msg[1]!, /^the rendered text does not contain "Bob", "Cy" \(it is 35 characters long and begins "Hello Ada!/);
    assert.match(msg[2]!, /^the rendered text contains "messages" \(line 2\)$/);
    assert.match(msg[3]!, /^the rendered text does not match \/\^Bye\/ /);
    assert.match(msg[4]!, /^the rendered text is not JSON: /);
    assert.match(msg[5]!, /^the rendered text has 35 characters, more than 10$/);
    assert.match(msg[6]!, /^the rendered text has about 9 tokens \(estimated\), more than 2$/);
    assert.match(msg[7]!, /^the rendered text ended 'succeeded', expected 'fallback'$/);
    assert.match(msg[8]!, /ended 'succeeded' without an error, expected it to fail with 'template_error'/);
    const eq = byId(report.results, 'fails').assertions.find((a) => a.kind === 'equals')!;
    assert.deepEqual([eq.expected, eq.actual], ['Hello Bob!\nYou have 3 new messages.', 'Hello Ada!\nYou have 3 new messages.']);
    assert.equal(eq.label, 'rendered text equals "Hello Bob!\\nYou have 3 new messages."');
    const s = failures(byId(report.results, 'step_fails')).map(([, , m]) => m);
    assert.match(s[0]!, /^step 'reply''s output does not match the JSON schema: \/text must be string$/);
    assert.match(s[1]!, /^step 'reply' made 1 attempt, expected 2$/);
    assert.match(s[2]!, /^step 'reply' ended 'succeeded', expected 'skipped'$/);
    assert.match(s[3]!, /^step 'wrap' ended 'succeeded' without an error/);
    assert.equal(report.summary.failed, 2);
  });

  test('without a status or error assertion, a failed render or a run that does not succeed fails the test, said at its name', async () => {
    const root = workspace(
      T(`  render_fails:
    template: greet
    context: {}
    expect:
      - contains: Hello
  run_fails:
    composition: gateway
    context_file: contexts/ada.json
    mocks:
      reply: { error: provider_error, message: "quota exhausted", retryable: false }
  run_partial_expected:
    composition: gateway
    context_file: contexts/ada.json
    mocks:
      reply: { error: provider_error, message: "quota exhausted", retryable: false }
    expect:
      - status: failed
      - step: reply
        error: provider_error
`),
    );
    const report = await run(root);
    const render = byId(report.results, 'render_fails');
    assert.equal(render.outcome, 'failed');
    const implicit = render.assertions[0]!;
    assert.deepEqual([implicit.implicit, implicit.index, implicit.range.start.line + 1], [true, -1, 3]);
    assert.match(implicit.message!, /^the render ended 'failed': \[missing_context\] .*name/);
    assert.match(render.assertions[1]!.message!, /has no text: the render failed/);
    const runFails = byId(report.results, 'run_fails');
    assert.match(runFails.assertions[0]!.message!, /^the run ended 'failed': \[provider_error\] step 'reply': .*quota exhausted/);
    assert.equal(byId(report.results, 'run_partial_expected').outcome, 'passed');
  });

  test('a mock that hangs ends at the provider timeout, or at the test timeout, on virtual time; the test says which', async () => {
    const hang = (timeout: number) => `    composition: gateway\n    context_file: contexts/ada.json\n    timeout_ms: ${timeout}\n    mocks:\n      reply: { hang: true }\n`;
    const root = workspace(T(`  provider_timeout:\n${hang(600000)}  test_timeout:\n${hang(1000)}`));
    const t0 = performance.now();
    const report = await run(root);
    assert.ok(performance.now() - t0 < 20_000);
    // A provider call's own limit (60 s by default) comes first...
    assert.match(byId(report.results, 'provider_timeout').assertions[0]!.message!, /the run ended 'failed': \[timeout\] step 'reply': provider "acme" did not answer step "reply" \(attempt 1\) within its timeout_ms of 60000 ms/);
    // ...unless the test's is shorter.
    assert.match(byId(report.results, 'test_timeout').assertions[0]!.message!, /the run ended 'cancelled': \[timeout\] the test did not finish within its timeout_ms \(1000 ms of virtual time\)/);
  });

  test('a test with errors fails without running, with its first error; a workspace with errors is refused', async () => {
    const root = workspace(T(`  broken:\n    template: greet\n    context_file: contexts/nope.json\n  fine:\n    template: sorry\n`));
    const report = await run(root);
    const broken = byId(report.results, 'broken');
    assert.equal(broken.outcome, 'failed');
    assert.match(broken.reason!, /^the test has errors: line 5: invalid-context-file context file 'contexts\/nope.json' does not exist/);
    assert.deepEqual(broken.repetitions, []);
    assert.equal(byId(report.results, 'fine').outcome, 'passed');
    const bad = workspace(T(`  t:\n    template: sorry\n`), { 'composition_rules.yaml': 'version: 1\ncompositions:\n  x:\n    steps:\n      - id: a\n        template: nope\n' });
    await assert.rejects(run(bad), (e: unknown) => e instanceof ConfigurationError && /unknown-template/.test(e.message));
  });

  test('snapshots: written when missing, a difference fails with the golden text and the new one, --update-snapshots rewrites, CI writes none', async () => {
    const root = workspace(T(`  snap:\n    template: greet\n    context_file: contexts/ada.json\n    expect:\n      - snapshot: true\n`));
    const file = path.join(root, 'prompt_tests', '__snapshots__', 'snap', 'output.txt');
    assert.equal((await run(root)).results[0]!.assertions[0]!.snapshot?.status, 'written');
    // A golden file checked out with CRLF line endings still matches.
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/\n/g, '\r\n'));
    assert.equal((await run(root)).results[0]!.assertions[0]!.snapshot?.status, 'matched');
    fs.writeFileSync(path.join(root, 'contexts', 'ada.json'), '{ "name": "Ada", "count": 4 }');
    const changed = (await run(root)).results[0]!;
    const a = changed.assertions[0]!;
    assert.equal(changed.outcome, 'failed');
    assert.deepEqual([a.snapshot?.status, a.expected, a.actual], ['mismatch', 'Hello Ada!\nYou have 3 new messages.', 'Hello Ada!\nYou have 4 new messages.']);
    assert.match(a.message!, /differs from its snapshot .*output\.txt at line 2, column 10: if the change is intended, run 'promptmanager test --update-snapshots'/);
    const updated = await run(root, { updateSnapshots: 'all' });
    assert.deepEqual([updated.results[0]!.outcome, updated.results[0]!.assertions[0]!.snapshot?.status], ['passed', 'updated']);
    assert.equal(fs.readFileSync(file, 'utf8'), 'Hello Ada!\nYou have 4 new messages.');
    fs.rmSync(file);
    const ci = (await run(root, { updateSnapshots: 'none' })).results[0]!;
    assert.equal(ci.outcome, 'failed');
    assert.match(ci.assertions[0]!.message!, /there is no snapshot .* yet, and it is not written in CI/);
    assert.ok(!fs.existsSync(file));
  });

  test('live tests: skipped offline (never passed); with live, the unmocked steps call the provider, repeated with a pass rate, then answered from the cache', async () => {
    let calls = 0;
    const gateway: StepExecutor = {
      name: 'acme-gateway',
      async execute(req: StepExecutionRequest) {
        calls++;
        return calls % 2 === 1 ? `good answer to: ${req.prompt.split('\n')[1]}` : 'bad';
      },
    };
    const tests = (rate: number) =>
      T(`  live_reply:\n    composition: gateway\n    context_file: contexts/ada.json\n    live: true\n    repeat: 3\n    pass_rate: ${rate}\n    expect:\n      - step: reply\n        contains: good answer\n`);
    const root = workspace(tests(0.66));
    const offline = byId((await run(root, { executors: [gateway] })).results, 'live_reply');
    assert.deepEqual([offline.outcome, calls], ['skipped', 0]);
    assert.match(offline.reason!, /live: true.*--live/);
    const cache = new ResponseCache({ store: new MemoryResponseCacheStore() });
    const first = byId((await run(root, { live: true, executors: [gateway], responseCache: cache })).results, 'live_reply');
    assert.deepEqual([first.outcome, first.repetitions.map((r) => r.passed), calls], ['passed', [true, false, true], 3]);
    assert.match(first.reason!, /^2 of 3 runs passed \(67%; 66% required\)$/);
    // Again: the three samples come from the cache, the provider is not called.
    const again = await run(root, { live: true, executors: [gateway], responseCache: cache });
    assert.deepEqual([byId(again.results, 'live_reply').repetitions.map((r) => r.passed), calls, again.cache?.hits], [[true, false, true], 3, 3]);
    const strict = workspace(tests(1));
    assert.equal(byId((await run(strict, { live: true, executors: [gateway], responseCache: false })).results, 'live_reply').outcome, 'failed');
  });

  test('an untrusted workspace still runs offline tests (their model steps are mocks); a live test is refused', async () => {
    const root = workspace(
      T(`  mocked:\n    composition: gateway\n    context_file: contexts/ada.json\n    mocks: { reply: ok }\n  live_one:\n    composition: gateway\n    context_file: contexts/ada.json\n    live: true\n`),
    );
    const calls: string[] = [];
    const gateway: StepExecutor = { name: 'acme-gateway', execute: async (req) => (calls.push(req.stepId), 'live answer') };
    const report = await run(root, { trusted: false, live: true, executors: [gateway], responseCache: false });
    assert.equal(byId(report.results, 'mocked').outcome, 'passed');
    const live = byId(report.results, 'live_one');
    assert.equal(live.outcome, 'failed');
    assert.match(live.assertions[0]!.message!, /\[access_denied\]/);
    assert.deepEqual(calls, []);
  });

  test('selection by name, by regular expression over names and files, and by file; progress events in order', async () => {
    const root = workspace(T(`  alpha:\n    template: sorry\n  beta:\n    template: sorry\n`), { 'prompt_tests/more/extra.yaml': T(`  gamma:\n    template: sorry\n`) });
    const ids = async (o: Partial<RunPromptTestsOptions>) => (await run(root, o)).results.map((r) => r.id);
    assert.deepEqual(await ids({}), ['alpha', 'beta', 'gamma']);
    assert.deepEqual(await ids({ ids: ['beta'] }), ['beta']);
    assert.deepEqual(await ids({ filter: '^(alpha|gamma)$' }), ['alpha', 'gamma']);
    assert.deepEqual(await ids({ filter: 'prompt_tests/more/' }), ['gamma']);
    assert.deepEqual(await ids({ files: [path.join(root, 'prompt_tests.yaml')] }), ['alpha', 'beta']);
    await assert.rejects(run(root, { filter: '(' }), /the filter is not a regular expression/);
    const events: TestProgressEvent[] = [];
    await run(root, { onProgress: (e) => events.push(e) });
    assert.equal(events[0]!.type, 'run.started');
    assert.deepEqual((events[0] as { tests: string[] }).tests, ['alpha', 'beta', 'gamma']);
    assert.equal(events[events.length - 1]!.type, 'run.finished');
    for (const id of ['alpha', 'beta', 'gamma']) {
      const kinds = events.filter((e) => ('id' in e && e.id === id) || ('result' in e && (e.result as { id?: string }).id === id && e.type === 'test.finished')).map((e) => e.type);
      assert.deepEqual(kinds, ['test.started', 'test.repetition', 'test.finished'], id);
    }
  });

  test('tests run concurrently, never more at once than the bound', async () => {
    const many = Array.from({ length: 8 }, (_, i) => `  t${i}:\n    composition: gateway\n    context_file: contexts/ada.json\n    mocks:\n      reply: { reply: ok, delay_ms: ${1000 * (i + 1)} }\n`).join('');
    const root = workspace(T(many));
    for (const [bound, expected] of [
      [3, 3],
      [1, 1],
    ] as const) {
      let active = 0;
      let most = 0;
      await run(root, {
        concurrency: bound,
        onProgress: (e) => {
          if (e.type === 'test.started') most = Math.max(most, ++active);
          if (e.type === 'test.finished') active--;
        },
      });
      assert.equal(most, expected, `concurrency ${bound}`);
    }
  });

  test('cancelling: the run under way ends cancelled, the tests not started are skipped', async () => {
    const ac = new AbortController();
    const stuck: StepExecutor = {
      name: 'acme-gateway',
      execute: (req) => new Promise((_, reject) => req.signal.addEventListener('abort', () => reject(req.signal.reason), { once: true })),
    };
    const tests = ['a', 'b', 'c'].map((n) => `  ${n}:\n    composition: gateway\n    context_file: contexts/ada.json\n    live: true\n`).join('');
    const root = workspace(T(tests));
    const report = await run(root, {
      live: true,
      executors: [stuck],
      concurrency: 1,
      responseCache: false,
      signal: ac.signal,
      onProgress: (e) => {
        if (e.type === 'test.started') setTimeout(() => ac.abort(), 20);
      },
    });
    assert.deepEqual(
      report.results.map((r) => r.outcome),
      ['failed', 'skipped', 'skipped'],
    );
    assert.match(report.results[0]!.assertions[0]!.message!, /the run ended 'cancelled'/);
    assert.match(report.results[1]!.reason!, /cancelled before this test started/);
  });

  test('listPromptTests: each test with its ranges, kind, target and assertion labels, as an editor lists them', () => {
    const root = workspace(PASSING);
    const tests = listPromptTests(validateWorkspace(root));
    assert.deepEqual(
      tests.map((t) => [t.id, t.kind, t.target, t.service, t.range.start.line + 1, t.assertions.length]),
      [
        ['greets', 'template', 'greet', 'greeter', 3, 9],
        ['missing_name_falls_back', 'template', 'greet', 'greeter', 19, 3],
        ['missing_name_fails', 'template', 'greet', undefined, 27, 2],
        ['replies', 'composition', 'answer', undefined, 33, 7],
        ['provider_down_falls_back', 'composition', 'answer', undefined, 55, 4],
      ],
    );
    const replies = tests[3]!;
    assert.deepEqual(
      replies.assertions.map((a) => [a.range.start.line + 1, a.label]),
      [
        [42, 'steps.reply.output is JSON matching the schema'],
        [44, 'steps.reply.attempts is 2'],
        [46, 'steps.reply.status is succeeded'],
        [48, 'steps.reply.prompt contains "Brief for Ada: invoices"'],
        [51, 'steps.brief.output matches snapshot brief.txt'],
        [53, 'output matches /^Wrapped: /'],
        [54, 'run is succeeded'],
      ],
    );
    assert.deepEqual([replies.fullRange.start.line + 1, replies.fullRange.end.line + 1], [33, 54]);
  });

  test('the run is recorded in the workspace history unless told not to', async () => {
    const root = workspace(T(`  t:\n    template: sorry\n`));
    const report = await runPromptTests({ root });
    assert.ok(report.historyFile && fs.existsSync(report.historyFile));
    assert.equal(path.relative(root, path.dirname(report.historyFile)), path.join('.promptmanager', 'test-history'));
    const none = await runPromptTests({ root, history: false });
    assert.equal(none.historyFile, undefined);
    assert.equal(fs.readdirSync(path.dirname(report.historyFile)).length, 1);
  });
});
