/**
 * The admission scheduler on its own, on the fake clock: concurrency slots, request pacing,
 * the token budget and its correction, fairness between runs, critical path first within a
 * run, 429 pauses (Retry-After, growing pauses under limits, maxRetryAfterMs), and
 * cancellation that leaves the queue at once.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock } from '../../../core/clock.js';
import { PromptError } from '../../../core/errors.js';
import { configureLimits, resetLimits } from '../../../core/limits.js';
import type { ProviderDef } from '../../../core/model/types.js';
import { AdmissionScheduler, type Admission } from '../../../core/workflow/admission.js';
import { WorkflowMetrics } from '../../../core/workflow/metrics.js';
import { estimateTokens, usageOfAnswer } from '../../../core/workflow/tokens.js';

function provider(limits: Partial<ProviderDef> = {}): ProviderDef {
  return { name: 'llm', type: 'x', options: {}, ...limits } as ProviderDef;
}

/** A scheduler whose admissions are logged as `run:tag@time`. */
function setup(limits: Partial<ProviderDef> = {}) {
  const clock = new FakeClock();
  const metrics = new WorkflowMetrics();
  const s = new AdmissionScheduler(clock, metrics);
  const log: string[] = [];
  const held: Admission[] = [];
  const p = provider(limits);
  const ask = (run: string, tag: string, opts: { priority?: number; tokens?: number; first?: boolean; hold?: boolean } = {}) => {
    const t = s.admit({ provider: p, run, priority: opts.priority ?? 0, tokens: opts.tokens ?? 1, ...(opts.first ? { first: true } : {}) });
    t.admitted.then(
      (a) => {
        log.push(`${run}:${tag}@${clock.now()}`);
        if (opts.hold) held.push(a);
        else a.release({ ok: true });
      },
      (e: PromptError) => log.push(`${run}:${tag} ${e.code}@${clock.now()}`),
    );
    return t;
  };
  return { clock, metrics, s, log, held, ask, p };
}

describe('admission scheduler', () => {
  test('max_concurrency: a call past it waits for a slot, counted across runs', async () => {
    const { clock, s, log, held, ask } = setup({ maxConcurrency: 2 });
    ask('a', '1', { hold: true });
    ask('b', '1', { hold: true });
    ask('a', '2', { hold: true });
    await clock.advance(0);
    assert.deepEqual(log, ['a:1@0', 'b:1@0']);
    assert.deepEqual(s.gauges().get('llm'), { queued: 1, inFlight: 2, pausedMs: 0 });
    await clock.advance(50);
    held.shift()!.release({ ok: true });
    await clock.advance(0);
    assert.deepEqual(log, ['a:1@0', 'b:1@0', 'a:2@50']);
    held.shift()!.release();
    held.shift()!.release();
    held.length = 0;
    assert.deepEqual(s.gauges().get('llm'), { queued: 0, inFlight: 0, pausedMs: 0 });
  });

  test('requests_per_minute: calls spaced 60/R s apart, exactly R in a minute, none in a burst', async () => {
    const { clock, log, ask } = setup({ requestsPerMinute: 600 });
    for (let i = 0; i < 700; i++) ask(`r${i % 7}`, String(i));
    await clock.advance(60_000 - 1);
    const times = log.map((l) => Number(l.split('@')[1]));
    assert.equal(times.length, 600, 'exactly 600 in the first minute [0, 60 s)');
    for (let i = 1; i < times.length; i++) assert.equal(times[i]! - times[i - 1]!, 100);
    // The 601st goes a minute after the first was answered (at once, here).
    await clock.advance(1);
    assert.equal(log[600], 'r5:600@60000');
    await clock.advance(10_000);
    assert.equal(log.length, 700);
  });

  test('requests_per_minute: the minute counts a call from its answer, or a second after its admission while unanswered', async () => {
    for (const answerAt of [500, undefined]) {
      const { clock, log, held, ask } = setup({ requestsPerMinute: 60 });
      ask('a', 'first', { hold: true });
      for (let i = 1; i <= 60; i++) ask('a', String(i));
      await clock.advance(answerAt ?? 0);
      if (answerAt !== undefined) held[0]!.release({ ok: true });
      await clock.advance(59_000);
      assert.equal(log.length, 60);
      await clock.advance(2_000);
      assert.equal(log[60], `a:60@${answerAt !== undefined ? 60_000 + answerAt : 61_000}`);
    }
  });

  test('requests_per_minute: a fraction paces slower than one a minute', async () => {
    const { clock, log, ask } = setup({ requestsPerMinute: 0.5 });
    ask('a', '1');
    ask('a', '2');
    await clock.advance(119_999);
    assert.deepEqual(log, ['a:1@0']);
    await clock.advance(1);
    assert.deepEqual(log, ['a:1@0', 'a:2@120000']);
  });

  test('tokens_per_minute: a call goes when the tokens before it are paid for; the answer\'s usage corrects the estimate', async () => {
    // 6,000 tokens a minute: 10 ms a token.
    const { clock, log, held, ask, metrics } = setup({ tokensPerMinute: 6000 });
    ask('a', 'big', { tokens: 1000, hold: true });
    ask('b', 'next', { tokens: 10 });
    await clock.advance(0);
    assert.deepEqual(log, ['a:big@0']);
    await clock.advance(2000);
    // The answer says 400 tokens, not 1,000: the next call may go at 4 s instead of 10 s.
    held[0]!.reportTokens(400);
    await clock.advance(0);
    assert.deepEqual(log, ['a:big@0']);
    await clock.advance(2000);
    assert.deepEqual(log, ['a:big@0', 'b:next@4000']);
    held[0]!.release({ ok: true });
    const m = metrics.getMetrics().providers.llm!.admission;
    assert.deepEqual(m.tokens, { reported: 400, estimated: 10 });
  });

  test('tokens_per_minute: a call larger than a minute of tokens still goes, after its share of time', async () => {
    const { clock, log, ask } = setup({ tokensPerMinute: 600 });
    ask('a', 'huge', { tokens: 1200 });
    ask('a', 'small', { tokens: 1 });
    await clock.advance(119_999);
    assert.deepEqual(log, ['a:huge@0']);
    await clock.advance(1);
    assert.deepEqual(log, ['a:huge@0', 'a:small@120000']);
  });

  test('fair between runs: a run with 100 waiting calls does not starve one with a single call', async () => {
    const { clock, log, ask } = setup({ requestsPerMinute: 600 });
    for (let i = 0; i < 100; i++) ask('big', String(i));
    await clock.advance(250);
    ask('small', 'only');
    ask('other', 'x');
    await clock.advance(1000);
    // big:0..2 went at 0, 100, 200; then the runs take turns: small, other, big, big...
    assert.deepEqual(log.slice(0, 6), ['big:0@0', 'big:1@100', 'big:2@200', 'big:3@300', 'small:only@400', 'other:x@500']);
    assert.equal(log[6], 'big:4@600');
  });

  test('within a run, the call with the longest remaining path first, then the earliest', async () => {
    const { clock, log, held, ask } = setup({ maxConcurrency: 1 });
    ask('a', 'blocker', { hold: true });
    ask('a', 'short', { priority: 1 });
    ask('a', 'long', { priority: 5 });
    ask('a', 'long2', { priority: 5 });
    await clock.advance(0);
    held[0]!.release({ ok: true });
    await clock.advance(0);
    assert.deepEqual(log, ['a:blocker@0', 'a:long@0', 'a:long2@0', 'a:short@0']);
  });

  test('a 429 pauses the whole provider for its Retry-After; the refused call goes first after it', async () => {
    const { clock, log, held, ask, metrics } = setup({ maxConcurrency: 4 });
    ask('a', '1', { hold: true });
    await clock.advance(0);
    held[0]!.release({ rateLimited: { retryAfterMs: 2000 } });
    ask('b', '1');
    ask('a', '1-again', { first: true });
    await clock.advance(1999);
    assert.deepEqual(log, ['a:1@0']);
    await clock.advance(1);
    assert.deepEqual(log, ['a:1@0', 'a:1-again@2000', 'b:1@2000']);
    assert.equal(metrics.getMetrics().providers.llm!.admission.pauses, 1);
  });

  test('under limits, a 429 without Retry-After pauses 1 s, doubling in a row, reset by a success', async () => {
    const { clock, s, held, ask } = setup({ maxConcurrency: 10 });
    const fail429 = async () => {
      ask('a', 'x', { hold: true });
      await clock.advance(0);
      held.pop()!.release({ rateLimited: {} });
      return s.pausedUntil('llm') - clock.now();
    };
    assert.equal(await fail429(), 1000);
    await clock.advance(1000);
    assert.equal(await fail429(), 2000);
    await clock.advance(2000);
    assert.equal(await fail429(), 4000);
    await clock.advance(4000);
    ask('a', 'ok', { hold: true });
    await clock.advance(0);
    held.pop()!.release({ ok: true });
    assert.equal(await fail429(), 1000);
  });

  test('without limits, a 429 pauses only when it says Retry-After; a pause never passes maxRetryAfterMs', async () => {
    configureLimits({ maxRetryAfterMs: 5000 });
    try {
      const { clock, s, held, ask } = setup();
      ask('a', 'x', { hold: true });
      await clock.advance(0);
      held.pop()!.release({ rateLimited: {} });
      assert.equal(s.pausedUntil('llm'), -Infinity);
      ask('a', 'y', { hold: true });
      await clock.advance(0);
      held.pop()!.release({ rateLimited: { retryAfterMs: 3_600_000 } });
      assert.equal(s.pausedUntil('llm') - clock.now(), 5000);
    } finally {
      resetLimits();
    }
  });

  test('cancel: a waiting call leaves the queue at once, and the next one is served', async () => {
    const { clock, s, log, ask } = setup({ tokensPerMinute: 60 });
    ask('a', 'head', { tokens: 1 });
    const t = ask('a', 'waits', { tokens: 100 });
    ask('b', 'small', { tokens: 1 });
    await clock.advance(500);
    assert.deepEqual(s.gauges().get('llm')!.queued, 2);
    t.cancel(new PromptError('cancelled', 'run cancelled'));
    await clock.advance(0);
    assert.equal(log[1], 'a:waits cancelled@500');
    assert.equal(s.gauges().get('llm')!.queued, 1);
    await clock.advance(500);
    assert.deepEqual(log, ['a:head@0', 'a:waits cancelled@500', 'b:small@1000']);
    assert.equal(clock.pending, 0, 'no timer left behind');
  });

  test('token estimate: prompt characters / 4, plus max_tokens; OpenAI usage read from the answer', () => {
    assert.equal(estimateTokens('x'.repeat(401)), 101);
    assert.equal(estimateTokens('', provider({ options: { max_tokens: 256 } })), 256);
    assert.equal(estimateTokens('abcd', provider({ options: { max_tokens: 'many' } })), 1);
    assert.deepEqual(usageOfAnswer({ usage: { prompt_tokens: 12, completion_tokens: 30, total_tokens: 42 } }), { totalTokens: 42, promptTokens: 12, completionTokens: 30 });
    assert.deepEqual(usageOfAnswer({ usage: { prompt_tokens: 12, completion_tokens: 30 } }), { totalTokens: 42, promptTokens: 12, completionTokens: 30 });
    assert.equal(usageOfAnswer({ usage: { total_tokens: -1 } }), undefined);
    assert.equal(usageOfAnswer({ choices: [] }), undefined);
    assert.equal(usageOfAnswer(null), undefined);
  });
});
