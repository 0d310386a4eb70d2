/**
 * Provider metrics in the Prometheus text of a manager (and its JSON): calls waiting for
 * admission, in flight, admitted, 429s, pauses, time waiting, tokens, and the run queue,
 * read mid-run and after, on the fake clock.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../../core/clock.js';
import { createTesting } from '../../../core/manager/factory.js';
import { createMockExecutor, mock } from '../../../core/workflow/mockExecutor.js';

function sample(text: string, line: string): number {
  const m = new RegExp(`^${line.replace(/[{}.()"+]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  assert.ok(m, `no sample ${line} in:\n${text}`);
  return Number(m[1]);
}

test('Prometheus: per provider queued, in flight, admitted, 429s, waiting time and tokens; the run queue', async () => {
  const clock = new FakeClock();
  let n = 0;
  // Every call takes 100 ms and reports 30 tokens; the third call is refused once with 429 (Retry-After 1 s).
  const model = createMockExecutor({ respond: () => (++n === 3 ? mock.rateLimited(1, { delayMs: 100 }) : mock.reply('ok', { delayMs: 100, usage: 30 })) });
  const pm = await createTesting({
    clock,
    templates: { ask: 'Ask {{q}}' },
    compositionRules: {
      providers: { llm: { type: 'openai-compatible', base_url: 'http://127.0.0.1:9/v1', model: 'm', max_concurrency: 2 } },
      compositions: { ask: { steps: [{ id: 'ask', template: 'ask', model: 'llm' }] } },
    },
    workflow: { executors: [model], maxConcurrentRuns: 4, maxQueuedRuns: 1 },
  });
  const runs = await Promise.all([1, 2, 3, 4, 5].map((q) => pm.startWorkflow('ask', { q })));
  await assert.rejects(pm.startWorkflow('ask', { q: 6 }), /limit_exceeded|maxQueuedRuns/);
  await clock.advance(0);
  let text = pm.getMetrics({ format: 'prometheus' });
  assert.equal(sample(text, 'promptmanager_provider_in_flight_calls{provider="llm"}'), 2);
  assert.equal(sample(text, 'promptmanager_provider_queued_calls{provider="llm"}'), 2);
  assert.equal(sample(text, 'promptmanager_workflow_runs_running'), 4);
  assert.equal(sample(text, 'promptmanager_workflow_runs_queued'), 1);
  assert.equal(sample(text, 'promptmanager_workflow_runs_refused_total'), 1);
  assert.match(text, /^# TYPE promptmanager_provider_queued_calls gauge$/m);
  assert.match(text, /^# TYPE promptmanager_provider_admitted_calls_total counter$/m);
  assert.match(text, /^# TYPE promptmanager_provider_admission_wait_seconds summary$/m);

  for (let i = 0; i < 50; i++) await clock.advance(100);
  for (const r of runs) assert.equal((await r.done).status, 'succeeded');
  text = pm.getMetrics({ format: 'prometheus' });
  assert.equal(sample(text, 'promptmanager_provider_calls_total{provider="llm"}'), 6);
  assert.equal(sample(text, 'promptmanager_provider_admitted_calls_total{provider="llm"}'), 6);
  assert.equal(sample(text, 'promptmanager_provider_rate_limited_total{provider="llm"}'), 1);
  assert.equal(sample(text, 'promptmanager_provider_call_failures_total{provider="llm",kind="rate_limited"}'), 1);
  assert.equal(sample(text, 'promptmanager_provider_requeued_calls_total{provider="llm"}'), 1);
  assert.equal(sample(text, 'promptmanager_provider_pauses_total{provider="llm"}'), 1);
  assert.equal(sample(text, 'promptmanager_provider_in_flight_calls{provider="llm"}'), 0);
  assert.equal(sample(text, 'promptmanager_provider_queued_calls{provider="llm"}'), 0);
  assert.equal(sample(text, 'promptmanager_provider_admission_wait_seconds_count{provider="llm"}'), 6);
  assert.ok(sample(text, 'promptmanager_provider_admission_wait_seconds_sum{provider="llm"}') > 1, 'the calls behind the 429 waited out its second');
  assert.equal(sample(text, 'promptmanager_provider_tokens_total{provider="llm",source="reported"}'), 150);
  assert.equal(sample(text, 'promptmanager_provider_tokens_total{provider="llm",source="estimated"}'), 2, 'the refused call reported nothing: its estimate ("Ask 3", 5 characters: 2 tokens) counts');
  assert.equal(sample(text, 'promptmanager_workflow_runs_running'), 0);
  for (const line of text.trim().split('\n')) if (!line.startsWith('#')) assert.match(line, /^[a-z_]+(\{[^}]*\})? [-+0-9.eInfNa]+$/, line);
  const json = pm.getWorkflowMetrics()!.providers.llm!.admission;
  assert.deepEqual({ admitted: json.admitted, requeued: json.requeued, pauses: json.pauses, tokens: json.tokens }, { admitted: 6, requeued: 1, pauses: 1, tokens: { reported: 150, estimated: 2 } });
  await pm.close();
});
