/**
 * The Testing view's logic, pure: the tree built from the server's lists (files, tests at their
 * ranges, descriptions with the history), what a run request selects, and what a result shows
 * (state, messages at the assertions' lines, diffs, the pass rate of repeated runs, output).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { outcomePlan, passRatePhrase, problemLine, repeatCountError, runSummaryLine, UNTRUSTED_LIVE_MESSAGE, workspaceName } from '../../client/testResults.js';
import { describeTest, historyPhrase, passRateOfLastRun, selectTests, testTree } from '../../client/testTree.js';
import type { PromptTestItem, PromptTestResultInfo, TestHistoryInfo, WorkspaceTests } from '../../protocol/protocol.js';

const r = (line: number, c0 = 2, line2 = line, c1 = 10) => ({ start: { line, character: c0 }, end: { line: line2, character: c1 } });
const WS = 'file:///w/prompts';
const MAIN = `${WS}/prompt_tests.yaml`;
const MORE = `${WS}/prompt_tests/more.yaml`;

function item(id: string, uri: string, line: number, extra: Partial<PromptTestItem> = {}): PromptTestItem {
  return { id, uri, range: r(line), fullRange: r(line, 2, line + 4, 20), kind: 'template', target: 'greet', live: false, repeat: 1, passRate: 1, assertions: [{ index: 0, kind: 'contains', label: 'output contains "Ada"', range: r(line + 3, 6) }], ...extra };
}

const history = (id: string, outcomes: ('passed' | 'failed' | 'skipped')[]): TestHistoryInfo => ({
  id,
  runs: outcomes.length,
  passed: outcomes.filter((o) => o === 'passed').length,
  failed: outcomes.filter((o) => o === 'failed').length,
  skipped: outcomes.filter((o) => o === 'skipped').length,
  recent: outcomes.map((outcome, i) => ({ startedAt: 1000 - i, outcome, durationMs: 5, passRate: outcome === 'passed' ? 1 : 0 })),
});

test('the history in words: "failed in 3 of the last 10 runs"', () => {
  assert.equal(historyPhrase(undefined), undefined);
  assert.equal(historyPhrase(history('t', [])), undefined);
  assert.equal(historyPhrase(history('t', ['failed', 'passed', 'failed', 'passed', 'passed', 'passed', 'failed', 'passed', 'passed', 'passed'])), 'failed in 3 of the last 10 runs');
  assert.equal(historyPhrase(history('t', ['passed', 'passed', 'passed', 'passed'])), 'passed the last 4 runs');
  assert.equal(historyPhrase(history('t', ['passed'])), 'passed its only run');
  assert.equal(historyPhrase(history('t', ['failed'])), 'failed its only run');
  assert.equal(historyPhrase(history('t', ['skipped'])), 'skipped in its only run');
  assert.equal(historyPhrase(history('t', ['skipped', 'skipped'])), 'skipped in the last 2 runs');
  assert.equal(historyPhrase(history('t', ['passed', 'skipped'])), 'passed 1 of the last 2 runs (skipped in 1)');
  assert.equal(describeTest(item('t', MAIN, 2, { service: 'greeting_service' }), history('t', ['failed', 'passed'])), 'template greet as greeting_service · failed in 1 of the last 2 runs');
  assert.equal(describeTest(item('t', MAIN, 2, { kind: 'composition', target: 'reply_drafter', live: true }), undefined), 'live · composition reply_drafter');
});

test("the tree: one item per test file in the server's order, tests at their whole range, errors kept", () => {
  const lists: WorkspaceTests[] = [
    {
      workspace: WS,
      name: '.',
      files: [MAIN, `${WS}/prompt_tests/empty.yaml`, `${WS}/prompt_tests/broken.yaml`, MORE],
      tests: [item('greets_ada', MAIN, 2), item('drafts', MORE, 2, { error: "line 4: unknown-step step 'x'" }), item('greets_bob', MAIN, 8)],
      problems: [{ uri: `${WS}/prompt_tests/broken.yaml`, range: r(3, 4), code: 'yaml-syntax', message: 'bad indentation' }],
    },
    { workspace: 'file:///w/other', name: 'other', files: [], tests: [item('elsewhere', 'file:///w/other/prompt_tests.yaml', 2)], problems: [], error: 'its configuration has 2 errors' },
  ];
  const tree = testTree(lists, new Map([[WS, new Map([['greets_ada', history('greets_ada', ['failed', 'passed', 'passed'])]])]]), (u) => u.replace('file:///w/', ''));
  assert.deepEqual(
    tree.map((f) => [f.id, f.label, f.tests.map((t) => t.id), f.error]),
    [
      [MAIN, 'prompts/prompt_tests.yaml', ['greets_ada', 'greets_bob'], undefined],
      [`${WS}/prompt_tests/broken.yaml`, 'prompts/prompt_tests/broken.yaml', [], 'line 4: bad indentation'],
      [MORE, 'prompts/prompt_tests/more.yaml', ['drafts'], undefined],
      ['file:///w/other/prompt_tests.yaml', 'other/prompt_tests.yaml', ['elsewhere'], 'its configuration has 2 errors'],
    ],
  );
  const ada = tree[0]!.tests[0]!;
  assert.deepEqual(ada.range, r(2, 2, 6, 20), 'the whole test: its gutter icon on its first line');
  assert.equal(ada.description, 'template greet · failed in 1 of the last 3 runs');
  assert.equal(tree[2]!.tests[0]!.error, "line 4: unknown-step step 'x'");
});

test('a run request selects tests by file or by test, minus the excluded ones, grouped by workspace', () => {
  const lists: WorkspaceTests[] = [
    { workspace: WS, name: '.', files: [MAIN, MORE], tests: [item('a', MAIN, 2), item('b', MAIN, 8), item('c', MORE, 2)], problems: [] },
    { workspace: 'file:///w/other', name: 'other', files: [], tests: [item('d', 'file:///w/other/prompt_tests.yaml', 2)], problems: [] },
  ];
  const tree = testTree(lists, new Map(), (u) => u);
  const ids = (m: ReturnType<typeof selectTests>) => [...m.values()].map((w) => [w.workspace, w.ids]);
  assert.deepEqual(ids(selectTests(tree, undefined)), [[WS, ['a', 'b', 'c']], ['file:///w/other', ['d']]]);
  assert.deepEqual(ids(selectTests(tree, [{ fileId: MAIN }], [{ fileId: MAIN, testId: 'b' }])), [[WS, ['a']]]);
  assert.deepEqual(ids(selectTests(tree, [{ fileId: MORE, testId: 'c' }, { fileId: MAIN, testId: 'b' }, { fileId: MAIN, testId: 'b' }])), [[WS, ['b', 'c']]]);
  assert.deepEqual(ids(selectTests(tree, undefined, [{ fileId: MAIN }, { fileId: MORE }])), [['file:///w/other', ['d']]]);
  assert.deepEqual(ids(selectTests(tree, [{ fileId: MAIN, testId: 'gone' }])), []);
});

test("a repeated run's pass rate stays in the test's description: \"pass rate 80% (4 of 5)\"", () => {
  assert.equal(passRateOfLastRun(undefined), undefined);
  assert.equal(passRateOfLastRun({ passed: 1, runs: 1 }), undefined, 'one run has no rate to show');
  assert.equal(passRateOfLastRun({ passed: 4, runs: 5 }), 'pass rate 80% (4 of 5)');
  assert.equal(passRateOfLastRun({ passed: 2, runs: 3 }), 'pass rate 67% (2 of 3)');
  assert.equal(describeTest(item('t', MAIN, 2), history('t', ['passed', 'failed']), { passed: 4, runs: 5 }), 'template greet · pass rate 80% (4 of 5) · failed in 1 of the last 2 runs');
  const lists: WorkspaceTests[] = [{ workspace: WS, name: '.', files: [MAIN], tests: [item('a', MAIN, 2), item('b', MAIN, 8)], problems: [] }];
  const tree = testTree(lists, new Map(), (u) => u, new Map([[WS, new Map([['b', { passed: 5, runs: 5 }]])]]));
  assert.deepEqual(tree[0]!.tests.map((t) => t.description), ['template greet', 'template greet · pass rate 100% (5 of 5)']);
});

function result(extra: Partial<PromptTestResultInfo>): PromptTestResultInfo {
  return { id: 't', uri: MAIN, range: r(2), outcome: 'passed', durationMs: 12, repetitions: [{ repetition: 1, passed: true, durationMs: 12, status: 'succeeded' }], passRate: 1, requiredPassRate: 1, assertions: [], live: false, ...extra };
}

test('a failure is shown at the line of each assertion that failed; a snapshot mismatch as a diff', () => {
  const plan = outcomePlan(
    result({
      outcome: 'failed',
      repetitions: [{ repetition: 1, passed: false, durationMs: 12, status: 'succeeded' }],
      passRate: 0,
      assertions: [
        { index: 0, kind: 'contains', label: 'output contains "Ada"', range: r(5, 6), passed: true },
        { index: 1, kind: 'regex', label: 'output matches /^Dear/', range: r(6, 6), passed: false, message: 'no match in "Hello Ada."' },
        { index: 2, kind: 'snapshot', label: 'output matches snapshot output.txt', range: r(7, 6), passed: false, message: 'differs from its snapshot', expected: 'Hello Ada.\n', actual: 'Hello, Ada!\n', snapshot: { uri: `${WS}/prompt_tests/__snapshots__/t/output.txt`, status: 'mismatch' } },
      ],
    }),
  );
  assert.equal(plan.state, 'failed');
  assert.deepEqual(plan.messages, [
    { message: 'output matches /^Dear/: no match in "Hello Ada."', location: { uri: MAIN, range: r(6, 6) } },
    { message: 'output matches snapshot output.txt: differs from its snapshot', location: { uri: MAIN, range: r(7, 6) }, expected: 'Hello Ada.\n', actual: 'Hello, Ada!\n' },
  ]);
  assert.deepEqual(plan.output, ['✗ t  failed  12 ms', '    output matches /^Dear/: no match in "Hello Ada."', '    output matches snapshot output.txt: differs from its snapshot']);
});

test('repeated runs report their pass rate: "passed 7 of 10 runs", in the messages and the output', () => {
  const reps = Array.from({ length: 10 }, (_, i) => ({ repetition: i + 1, passed: i < 7, durationMs: 3, status: 'succeeded' }));
  assert.equal(passRatePhrase({ repetitions: reps, requiredPassRate: 0.8 }), 'passed 7 of 10 runs (70%; 80% required)');
  assert.equal(passRatePhrase({ repetitions: reps.slice(0, 1), requiredPassRate: 1 }), undefined);
  const failed = outcomePlan(result({ outcome: 'failed', repetitions: reps, passRate: 0.7, requiredPassRate: 0.8, assertions: [{ index: 0, kind: 'contains', label: 'output contains "Dear"', range: r(5, 6), passed: false, message: 'not found' }] }));
  assert.equal(failed.messages[0]!.message, 'passed 7 of 10 runs (70%; 80% required); in the first failed run: output contains "Dear": not found');
  assert.equal(failed.output[0], '✗ t  failed: passed 7 of 10 runs (70%; 80% required)  12 ms');
  const passed = outcomePlan(result({ outcome: 'passed', repetitions: reps, passRate: 0.7, requiredPassRate: 0.6 }));
  assert.equal(passed.state, 'passed');
  assert.deepEqual(passed.messages, []);
  assert.equal(passed.output[0], '✓ t  passed: passed 7 of 10 runs (70%; 60% required)  12 ms');
  // Every assertion shown passed (the last run's), but too few runs did: the pass rate is the message.
  const rate = outcomePlan(result({ outcome: 'failed', repetitions: reps, passRate: 0.7, requiredPassRate: 1, assertions: [{ index: 0, kind: 'contains', label: 'c', range: r(5), passed: true }] }));
  assert.deepEqual(rate.messages, [{ message: 'passed 7 of 10 runs (70%; 100% required)', location: { uri: MAIN, range: r(2) } }]);
});

test('skipped and unrunnable tests; the run summary; the live refusal; the repeat count', () => {
  const skipped = outcomePlan(result({ outcome: 'skipped', repetitions: [], reason: 'needs a live model: run with --live' }));
  assert.deepEqual([skipped.state, skipped.messages, skipped.output], ['skipped', [], ['– t  skipped  12 ms', '    skipped: needs a live model: run with --live']]);
  const bad = outcomePlan(result({ outcome: 'failed', repetitions: [], reason: "line 4: unknown-template template 'x' not found" }));
  assert.equal(bad.state, 'errored');
  assert.deepEqual(bad.messages, [{ message: "line 4: unknown-template template 'x' not found", location: { uri: MAIN, range: r(2) } }]);
  const report = { workspace: WS, startedAt: 0, durationMs: 1234, live: false, results: [], summary: { total: 9, passed: 7, failed: 1, skipped: 1 }, problems: [], snapshotsWritten: ['a'] };
  assert.equal(runSummaryLine(report, 'prompts'), 'prompts: 9 tests: 7 passed, 1 failed, 1 skipped in 1.23 s; wrote 1 snapshot');
  const problem = { uri: `${WS}/prompt_tests/broken.yaml`, range: r(3, 4), code: 'yaml-syntax', message: 'bad indentation' };
  assert.equal(runSummaryLine({ ...report, problems: [problem], snapshotsWritten: [] }, 'prompts'), 'prompts: 9 tests: 7 passed, 1 failed, 1 skipped in 1.23 s; 1 problem in the test files fails the run');
  assert.equal(problemLine(problem, (u) => u.slice(WS.length + 1)), 'prompt_tests/broken.yaml:4:5 yaml-syntax bad indentation');
  assert.match(UNTRUSTED_LIVE_MESSAGE, /not trusted.*model providers of composition_rules\.yaml.*Trust the workspace/);
  assert.equal(workspaceName('file:///w/my%20prompts', '.'), 'my prompts');
  assert.equal(workspaceName('file:///w/app/prompts/', 'app/prompts'), 'app/prompts');
  assert.equal(repeatCountError('10'), undefined);
  assert.equal(repeatCountError(' 1000 '), undefined);
  for (const bad of ['0', '1001', '2.5', 'ten', '']) assert.ok(repeatCountError(bad), bad);
});
