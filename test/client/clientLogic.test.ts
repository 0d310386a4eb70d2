/**
 * The client's pure logic: output-channel formatting, context ranking, the prompt workspace a
 * command is about, crash restarts, workspace-trust refusals, the run store.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contextJsonError, describeContext, rankContexts } from '../../client/contextRanking.js';
import { formatDuration, formatEventLine, formatHealth, formatRenderError, formatRenderLine, formatRunSummary, oneLine, table } from '../../client/format.js';
import { graphHtml } from '../../client/graphHtml.js';
import { choosePromptWorkspace, CrashPolicy, envNameError, providerSteps, secretKey, untrustedRunMessage } from '../../client/policy.js';
import { RunStore } from '../../client/runStore.js';
import type { PromptErrorInfo, WorkflowEvent, WorkflowStatus } from '../../protocol/protocol.js';

const at = new Date(2025, 0, 2, 13, 4, 5, 67);

test('durations read as people say them', () => {
  assert.equal(formatDuration(3.14), '3.1 ms');
  assert.equal(formatDuration(12.4), '12 ms');
  assert.equal(formatDuration(1234), '1.23 s');
  assert.equal(formatDuration(125_000), '2 min 5 s');
  assert.equal(formatDuration(undefined), '-');
});

test('one line per workflow event: time, step, status, attempt, duration', () => {
  const base = { runId: 'r1', composition: 'c', time: 5 };
  const lines = (
    [
      { ...base, type: 'workflow.started', steps: ['extract', 'summary'], maxParallel: 2 },
      { ...base, type: 'step.started', stepId: 'extract', attempt: 1 },
      { ...base, type: 'step.retrying', stepId: 'extract', attempt: 1, nextAttempt: 2, waitMs: 250, error: { code: 'timeout', message: 'took too long' } },
      { ...base, type: 'step.finished', stepId: 'extract', status: 'succeeded', attempts: 2, durationMs: 42 },
      { ...base, type: 'step.finished', stepId: 'summary', status: 'skipped', skipReason: 'when', attempts: 0, durationMs: 0 },
      { ...base, type: 'workflow.finished', status: 'succeeded', durationMs: 60 },
    ] as WorkflowEvent[]
  ).map((e) => formatEventLine(e, at, 10));
  assert.equal(lines[0], '13:04:05.067  (workflow)  started     2 steps  max parallel 2  run r1');
  assert.equal(lines[1], '13:04:05.067  extract     running     attempt 1');
  assert.match(lines[2]!, /extract {5}retrying {4}attempt 1 failed {2}next attempt 2 in 250 ms {2}timeout: took too long/);
  assert.equal(lines[3], '13:04:05.067  extract     succeeded   attempt 2  42 ms');
  assert.match(lines[4]!, /summary {5}skipped {5}attempt 0 {2}0 ms {2}\(when is false\)/);
  assert.equal(lines[5], '13:04:05.067  (workflow)  succeeded   60 ms');
  // Where the run executes: said at its start when not in the language server.
  const bull = { type: 'bullmq', redisUrl: 'redis://127.0.0.1:6390', prefix: 'pm' } as const;
  const started = { ...base, type: 'workflow.started', steps: ['extract'], maxParallel: 1 } as WorkflowEvent;
  assert.equal(formatEventLine(started, at, 10, bull), '13:04:05.067  (workflow)  started     1 step  max parallel 1  run r1  on BullMQ at redis://127.0.0.1:6390 (prefix pm)');
  assert.equal(formatEventLine(started, at, 10, { type: 'in-process' }), '13:04:05.067  (workflow)  started     1 step  max parallel 1  run r1');
  // An epoch time is the event's own.
  const own = formatEventLine({ ...base, time: new Date(2025, 0, 1, 9, 0, 0, 1).getTime(), type: 'step.started', stepId: 's', attempt: 1 }, at);
  assert.ok(own.startsWith('09:00:00.001'));
});

test('the run summary is a table of steps, then the output', () => {
  const status: WorkflowStatus = {
    id: 'run-1',
    composition: 'complete_analysis',
    serviceName: 'analysis_service',
    status: 'partial',
    startedAt: 0,
    finishedAt: 80,
    durationMs: 80,
    steps: [
      { id: 'extract', status: 'succeeded', attempts: 1, errors: [], durationMs: 10, output: 'Facts:\n- one' },
      { id: 'critique', status: 'failed', attempts: 2, errors: [{ code: 'template_error', message: 'bad' }, { code: 'template_error', message: 'worse' }], durationMs: 5, output: null },
      { id: 'report', status: 'skipped', skipReason: 'upstream', attempts: 0, errors: [], output: null },
    ],
    outputs: {},
    output: 'Line 1\nLine 2',
    maxParallel: 2,
    appliedOverrides: { experienceLevel: 'beginner' },
  };
  const lines = formatRunSummary(status);
  assert.equal(lines[0], 'Run run-1 of complete_analysis (service analysis_service): partial in 80 ms');
  assert.equal(lines[1], 'Overrides applied: experience level beginner');
  const header = lines.findIndex((l) => l.startsWith('step '));
  assert.deepEqual(lines.slice(header, header + 5), [
    'step      status              attempts  duration  output / last error',
    '--------  ------------------  --------  --------  ---------------------',
    'extract   succeeded           1         10 ms     Facts: - one',
    'critique  failed              2         5 ms      template_error: worse',
    'report    skipped (upstream)  0         -',
  ]);
  assert.deepEqual(lines.slice(-3), ['Output:', 'Line 1', 'Line 2']);
  assert.equal(formatRunSummary(status, { type: 'bullmq', redisUrl: 'redis://127.0.0.1:6390', prefix: 'promptmanager' })[0], 'Run run-1 of complete_analysis (service analysis_service): partial in 80 ms on BullMQ at redis://127.0.0.1:6390 (prefix promptmanager)');
  assert.equal(formatRunSummary(status, { type: 'in-process' })[0], lines[0]);
  const failed = formatRunSummary({ ...status, status: 'failed', output: null, error: { code: 'missing_context', message: 'document is required' } });
  assert.equal(failed.at(-1), 'No output (run failed): missing_context: document is required');
});

test('tables align columns and leave the last one ragged', () => {
  assert.deepEqual(table(['a', 'bb'], [['xxx', 'y'], ['z', 'long text']]), ['a    bb', '---  ---------', 'xxx  y', 'z    long text']);
  assert.equal(oneLine('a\n  b\tc', 10), 'a b c');
  assert.equal(oneLine('x'.repeat(20), 10), 'x'.repeat(9) + '…');
  assert.equal(oneLine(null), '');
  assert.equal(oneLine({ a: 1 }), '{"a":1}');
});

test('render lines give timing and cache status; errors name the template and position', () => {
  const ok = formatRenderLine({ template: 'analysis/summary', service: 'analysis_service', contextLabel: 'contexts/a.json', durationMs: 4.2, serverMs: 1.25, fromCache: true, templateUsed: 'analysis/summary', chars: 120 }, at);
  assert.equal(ok, '13:04:05.067  render analysis/summary for analysis_service with contexts/a.json: 4.2 ms round trip, 1.3 ms in the engine, cache hit, 120 chars');
  const fb = formatRenderLine({ template: 't', contextLabel: 'typed JSON', durationMs: 20, fromCache: false, templateUsed: 'common/apology' }, at);
  assert.match(fb, /cache miss, answered by the fallback common\/apology$/);
  const err: PromptErrorInfo = { code: 'missing_context', message: "variable 'document' is missing", template: 'common/preamble', location: { uri: 'file:///w/templates/common/preamble.hbs', range: { start: { line: 2, character: 4 }, end: { line: 2, character: 4 } } } };
  assert.equal(formatRenderError('analysis/summary', err, 'file:///w'), "Rendering analysis/summary (in common/preamble) failed at templates/common/preamble.hbs:3:5: missing_context: variable 'document' is missing");
  assert.match(formatRenderLine({ template: 'analysis/summary', contextLabel: 'x', durationMs: 3, error: err, base: 'file:///w' }, at), /FAILED in 3 ms: Rendering analysis\/summary/);
  assert.equal(formatRenderError('t', { code: 'unknown_template', message: 'no such template' }), 'Rendering t failed: unknown_template: no such template');
});

test('health reports list every component', () => {
  const lines = formatHealth('.', { status: 'degraded', components: { templates: { status: 'healthy', reason: '26 templates' }, providers: { status: 'degraded', reason: 'PROMPTMANAGER_API_KEY is not set' } } });
  assert.equal(lines[0], 'Health of .: degraded');
  assert.match(lines[1]!, /WARN {2}providers +degraded +PROMPTMANAGER_API_KEY is not set/);
  assert.match(lines[2]!, /OK {4}templates +healthy +26 templates/);
});

test('contexts named after the composition, then the service, come first', () => {
  const files = ['analysis_service.json', 'complete_analysis.json', 'qa_service.json', 'grounded_answer.json', 'notes.json'];
  assert.deepEqual(
    rankContexts(files, { composition: 'complete_analysis', service: 'analysis_service' }).map((r) => r.name),
    ['complete_analysis.json', 'analysis_service.json', 'grounded_answer.json', 'notes.json', 'qa_service.json'],
  );
  const forTemplate = rankContexts(files, { template: 'qa/answer', services: ['qa_service'], compositions: ['grounded_answer'] });
  assert.deepEqual(forTemplate.slice(0, 2).map((r) => r.name), ['grounded_answer.json', 'qa_service.json']);
  assert.match(forTemplate[1]!.reason, /qa_service may render qa\/answer/);
  const byWord = rankContexts(['analysis_service.json', 'zzz.json'], { template: 'analysis/summary' });
  assert.equal(byWord[0]!.name, 'analysis_service.json');
  assert.match(byWord[0]!.reason, /shares "analysis"/);
  assert.equal(byWord[1]!.score, 0);
});

test('typed contexts must be JSON objects', () => {
  assert.equal(contextJsonError('{"a": 1}'), undefined);
  assert.match(contextJsonError('[1]')!, /JSON object/);
  assert.match(contextJsonError('{a: 1}')!, /Not valid JSON/);
  assert.match(contextJsonError('  ')!, /Type a JSON object/);
  assert.equal(describeContext({ user_id: 1, document: {} }), 'user_id, document');
  assert.equal(describeContext({}), 'empty');
});

test('the prompt workspace of a command: the active file, the only one, or the folder root', () => {
  const ws = ['file:///repo', 'file:///repo/broken/cycle', 'file:///repo/other'];
  assert.equal(choosePromptWorkspace(ws, 'file:///repo/broken/cycle/composition_rules.yaml', ['file:///repo']), 'file:///repo/broken/cycle');
  assert.equal(choosePromptWorkspace(ws, 'file:///repo/templates/a.hbs', ['file:///repo']), 'file:///repo');
  assert.equal(choosePromptWorkspace(ws, 'file:///elsewhere/x', ['file:///repo']), 'file:///repo');
  assert.equal(choosePromptWorkspace(ws, undefined, ['file:///mono']), undefined);
  assert.equal(choosePromptWorkspace(['file:///only'], undefined, []), 'file:///only');
  // A prefix that is not a folder boundary does not count.
  assert.equal(choosePromptWorkspace(['file:///repo/other', 'file:///repo/oth'], 'file:///repo/other/x.yaml', []), 'file:///repo/other');
});

test('a crashing server is restarted a few times, then left stopped', () => {
  const p = new CrashPolicy(2, 1000);
  assert.deepEqual(p.onCrash(0), { restart: true, recent: 1 });
  assert.deepEqual(p.onCrash(100), { restart: true, recent: 2 });
  assert.deepEqual(p.onCrash(200), { restart: false, recent: 3 });
  assert.deepEqual(p.onCrash(5000), { restart: true, recent: 1 }, 'old crashes leave the window');
  p.reset();
  assert.deepEqual(p.onCrash(5001), { restart: true, recent: 1 });
});

test('runs that call a model provider are named in the untrusted-workspace refusal', () => {
  const steps = providerSteps([{ id: 'brief' }, { id: 'draft', model: 'local' }, { id: 'off', model: 'local', skip: true }]);
  assert.deepEqual(steps, [{ id: 'draft', model: 'local' }]);
  assert.match(untrustedRunMessage('reply_drafter', steps), /reply_drafter was not run: this workspace is not trusted, and step draft \(local\) would send prompts to a model provider/);
  assert.equal(secretKey('OPENAI_API_KEY'), 'promptManager.apiKey.OPENAI_API_KEY');
  assert.equal(envNameError('OPENAI_API_KEY'), undefined);
  assert.ok(envNameError('1BAD'));
  assert.ok(envNameError('A-B'));
});

test('the run store follows a run live and keeps its last statuses', () => {
  const store = new RunStore();
  const changes: string[] = [];
  store.onChange((k) => changes.push(k));
  const seen: string[] = [];
  const sub = store.onEvent('r1', (e) => seen.push(e.type));
  store.begin('file:///w', 'c', 'r1', ['a', 'b']);
  assert.equal(store.activeRuns, 1);
  assert.deepEqual(store.lastRun('file:///w', 'c')!.steps, { a: 'pending', b: 'pending' });
  const ev = (e: Partial<WorkflowEvent>) => store.onProgress({ runId: 'r1', workspace: 'file:///w', event: { runId: 'r1', composition: 'c', time: 1, ...e } as WorkflowEvent });
  ev({ type: 'step.started', stepId: 'a', attempt: 1 } as Partial<WorkflowEvent>);
  assert.equal(store.lastRun('file:///w', 'c')!.steps.a, 'running');
  ev({ type: 'step.finished', stepId: 'a', status: 'succeeded', attempts: 1, durationMs: 1 } as Partial<WorkflowEvent>);
  ev({ type: 'step.started', stepId: 'b', attempt: 1 } as Partial<WorkflowEvent>);
  sub.dispose();
  ev({ type: 'workflow.finished', status: 'cancelled', durationMs: 3 } as Partial<WorkflowEvent>);
  assert.deepEqual(seen, ['step.started', 'step.finished', 'step.started']);
  store.end('r1', undefined);
  const last = store.lastRun('file:///w', 'c')!;
  assert.equal(last.running, false);
  assert.deepEqual(last.steps, { a: 'succeeded', b: 'cancelled' });
  assert.equal(store.activeRuns, 0);
  assert.ok(changes.length >= 5 && changes.every((k) => k === 'file:///w#c'));
  // A run started elsewhere is tracked from its notifications.
  store.onProgress({ runId: 'other', workspace: 'file:///w', event: { runId: 'other', composition: 'd', time: 1, type: 'step.started', stepId: 'x', attempt: 1 } });
  assert.equal(store.lastRun('file:///w', 'd')!.steps.x, 'running');
  // Where a run executes comes with its first event, and is kept with the run.
  const where = { type: 'bullmq', redisUrl: 'redis://127.0.0.1:6390', prefix: 'promptmanager' } as const;
  const told: unknown[] = [];
  store.begin('file:///w', 'e', 'r2', ['a']);
  store.onEvent('r2', (_e, p) => told.push(p.backend));
  store.onProgress({ runId: 'r2', workspace: 'file:///w', backend: where, event: { runId: 'r2', composition: 'e', time: 1, type: 'workflow.started', steps: ['a'], maxParallel: 1 } });
  store.onProgress({ runId: 'r2', workspace: 'file:///w', event: { runId: 'r2', composition: 'e', time: 2, type: 'step.started', stepId: 'a', attempt: 1 } });
  assert.deepEqual(told, [where, undefined]);
  assert.deepEqual(store.lastRun('file:///w', 'e')!.backend, where);
});

test('the graph page allows no network and no inline code but its nonce', () => {
  const html = graphHtml('NONCE123', 'Workflow <x>');
  const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)![1]!;
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'nonce-NONCE123'/);
  assert.match(csp, /style-src 'nonce-NONCE123'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
  assert.doesNotMatch(html, /https?:\/\/(?!www\.w3\.org)/, 'nothing from the network');
  assert.equal((html.match(/<script/g) ?? []).length, 1);
  assert.match(html, /<script nonce="NONCE123">/);
  assert.doesNotMatch(html, /<x>/);
});
