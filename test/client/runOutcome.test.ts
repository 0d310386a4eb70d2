/**
 * What the editor says when a run ends (client/runOutcome.ts, client/format.ts, client/runStore.ts):
 * "succeeded with fallbacks" and why, with the variable of a missing key for the Set Provider
 * API Key button; "refused" and why, its steps "not run"; the contract's statuses otherwise.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatRunSummary } from '../../client/format.js';
import { describeFallback, outcomeMessage, outcomeOfRefusal, outcomeOfStatus } from '../../client/runOutcome.js';
import { RunStore } from '../../client/runStore.js';
import type { FallbackCause, WorkflowStatus } from '../../protocol/protocol.js';

const noKey: FallbackCause = {
  step: 'draft',
  code: 'provider_error',
  cause: 'provider "local" reads its API key from the environment variable PROMPTMANAGER_API_KEY, which is not set',
  kind: 'missing_key',
  provider: 'local',
  apiKeyEnv: 'PROMPTMANAGER_API_KEY',
};

function status(over: Partial<WorkflowStatus> = {}): WorkflowStatus {
  return {
    id: 'run-1',
    composition: 'reply_drafter',
    status: 'succeeded',
    startedAt: 0,
    finishedAt: 12,
    durationMs: 12,
    steps: [
      { id: 'brief', status: 'succeeded', attempts: 1, errors: [], durationMs: 2, output: 'Brief' },
      { id: 'draft', status: 'fallback', attempts: 1, errors: [{ code: 'provider_error', message: noKey.cause }], durationMs: 1, output: 'The reply could not be drafted' },
    ],
    outputs: {},
    output: 'The reply could not be drafted',
    maxParallel: 4,
    appliedOverrides: {},
    fallbacks: [noKey],
    ...over,
  };
}

test('a run whose model step fell back for want of a key: succeeded with fallbacks, a warning naming the cause, the key to set', () => {
  const o = outcomeOfStatus(status());
  assert.equal(o.label, 'succeeded with fallbacks');
  assert.equal(o.severity, 'warning');
  assert.deepEqual(o.missingKeys, ['PROMPTMANAGER_API_KEY']);
  assert.equal(
    outcomeMessage('reply_drafter', o, '12 ms'),
    'PromptManager: reply_drafter succeeded with fallbacks in 12 ms: draft fell back: the API key of provider local is not set (PROMPTMANAGER_API_KEY)',
  );
  const lines = formatRunSummary(status());
  assert.equal(lines[0], 'Run run-1 of reply_drafter: succeeded with fallbacks in 12 ms');
  assert.deepEqual(lines.slice(1, 3), ['Fallbacks:', '  draft fell back: the API key of provider local is not set (PROMPTMANAGER_API_KEY)']);
});

test('each provider failure reads as what happened; an error without a kind quotes its code and message', () => {
  assert.equal(describeFallback({ step: 's', code: 'provider_error', cause: 'x', kind: 'connection_refused', provider: 'p' }), 's fell back: provider p refused the connection');
  assert.equal(describeFallback({ step: 's', code: 'timeout', cause: 'x', kind: 'timeout', provider: 'p' }), 's fell back: provider p did not answer in time');
  assert.equal(describeFallback({ step: 's', code: 'provider_error', cause: 'x', kind: 'rate_limited', provider: 'p' }), 's fell back: provider p rate-limited the request (429)');
  assert.equal(describeFallback({ step: 's', code: 'unknown_template', cause: 'no template t/x' }), 's fell back: unknown_template: no template t/x');
  assert.equal(describeFallback({ step: 's', code: 'provider_error', cause: 'odd', kind: 'other', provider: 'p' }), 's fell back: the call to provider p failed: provider_error: odd');
  // A connection refused: a warning, but no key to set.
  const refused = outcomeOfStatus(status({ fallbacks: [{ step: 'draft', code: 'provider_error', cause: 'fetch failed', kind: 'connection_refused', provider: 'local' }] }));
  assert.equal(refused.label, 'succeeded with fallbacks');
  assert.deepEqual(refused.missingKeys, []);
});

test('a clean success is quiet; partial and failed runs say which steps failed and why', () => {
  const clean = outcomeOfStatus(status({ fallbacks: undefined }));
  assert.deepEqual([clean.label, clean.severity, clean.reasons], ['succeeded', 'info', []]);
  const partial = outcomeOfStatus(
    status({
      status: 'partial',
      steps: [{ id: 'critique', status: 'failed', attempts: 2, errors: [{ code: 'template_error', message: 'bad' }, { code: 'template_error', message: 'worse' }], output: null }],
      fallbacks: [noKey],
    }),
  );
  assert.equal(partial.label, 'partial with fallbacks');
  assert.equal(partial.severity, 'warning');
  assert.deepEqual(partial.reasons, ['critique failed: worse', 'draft fell back: the API key of provider local is not set (PROMPTMANAGER_API_KEY)']);
  // A run cut off by its timeout fails its running steps with its own error: said once.
  const timedOut = outcomeOfStatus(
    status({ status: 'timed_out', fallbacks: undefined, error: { code: 'timeout', message: 'the run took longer than its timeout_ms of 50 ms' }, steps: [{ id: 'a', status: 'failed', attempts: 1, errors: [{ code: 'timeout', message: 'the run took longer than its timeout_ms of 50 ms' }], output: null }] }),
  );
  assert.equal(timedOut.label, 'timed out');
  assert.equal(timedOut.severity, 'error');
  assert.deepEqual(timedOut.reasons, ['a failed: the run took longer than its timeout_ms of 50 ms']);
});

test('a refused run reads "refused" with its reason, its steps "not run", never "cancelled"', () => {
  const refusedStatus = status({
    status: 'failed',
    refused: true,
    fallbacks: undefined,
    error: { code: 'missing_context', message: 'composition "complete_analysis" needs the input "document"' },
    steps: [
      { id: 'extract', status: 'cancelled', attempts: 0, errors: [], output: null },
      { id: 'report', status: 'cancelled', attempts: 0, errors: [], output: null },
    ],
    output: null,
  });
  const o = outcomeOfStatus(refusedStatus);
  assert.deepEqual([o.label, o.refused, o.severity], ['refused', true, 'error']);
  assert.equal(outcomeMessage('complete_analysis', o, '1 ms'), 'PromptManager: complete_analysis was refused: composition "complete_analysis" needs the input "document"');
  const lines = formatRunSummary(refusedStatus);
  assert.equal(lines[0], 'Run run-1 of reply_drafter: refused: composition "complete_analysis" needs the input "document"');
  assert.ok(lines.some((l) => /^extract +not run +0 /.test(l)), lines.join('\n'));
  assert.ok(!lines.some((l) => /cancelled|No output/.test(l)), lines.join('\n'));
  const server = outcomeOfRefusal({ code: 'access_denied', message: "service 'x' may not run composition 'c'" });
  assert.equal(outcomeMessage('c', server), "PromptManager: c was refused: service 'x' may not run composition 'c'");

  // The run store: the graph shows the steps as not run, and the run as refused.
  const store = new RunStore();
  store.begin('file:///w', 'complete_analysis', 'r1', ['extract', 'report']);
  store.end('r1', { final: refusedStatus });
  const last = store.lastRun('file:///w', 'complete_analysis')!;
  assert.deepEqual(last.steps, { extract: 'not_run', report: 'not_run' });
  assert.equal(last.outcome?.label, 'refused');
  store.begin('file:///w', 'complete_analysis', 'r2', ['extract', 'report']);
  store.end('r2', { refusal: { code: 'missing_context', message: 'the context lacks user_id' } });
  const again = store.lastRun('file:///w', 'complete_analysis')!;
  assert.deepEqual(again.steps, { extract: 'not_run', report: 'not_run' });
  assert.deepEqual(again.outcome?.reasons, ['the context lacks user_id']);
  assert.equal(store.activeRuns, 0);
});

test('the run store keeps the outcome of a run with fallbacks, and how long it took', () => {
  const store = new RunStore();
  store.begin('file:///w', 'reply_drafter', 'r1', ['brief', 'draft']);
  store.end('r1', { final: status() });
  const last = store.lastRun('file:///w', 'reply_drafter')!;
  assert.equal(last.outcome?.label, 'succeeded with fallbacks');
  assert.equal(last.durationMs, 12);
  assert.deepEqual(last.steps, { brief: 'succeeded', draft: 'fallback' });
});
