/**
 * A mock model client for tests: a StepExecutor that answers from a table or a function, on
 * the engine's clock, and simulates what real providers do: delays, scripted failures, 429s
 * with `Retry-After`, 5xx, a provider that is down, malformed answers and calls that never
 * answer (so that timeouts fire), and the token usage an answer reports (`usage`). Its errors
 * are the ones the `openai-compatible` executor raises, so retries, fallbacks, metrics, health
 * and provider limits see what they would see in production.
 *
 *   const model = createMockExecutor({
 *     steps: { summary: 'A short summary.', critique: [mock.rateLimited(2), 'Looks fine.'] },
 *     prompts: [{ match: /translate/i, answer: mock.reply('Bonjour', { delayMs: 300 }) }],
 *   });
 *   const manager = await createTesting({ ..., workflow: { executors: [model] } });
 *
 * Registered under `openai-compatible` by default, so it serves the providers a workspace
 * already has; `name` serves another provider `type`.
 */
import { STATUS_CODES } from 'node:http';
import { PromptError, type ErrorCode } from '../errors.js';
import { OPENAI_COMPATIBLE } from './openaiCompatible.js';
import type { ProbeAnswer, StepExecutionRequest, StepExecutor } from './executors.js';
import { cutText } from './redact.js';
import { markNonRetryable } from './retry.js';
import type { StepUsage } from './tokens.js';

/** A reply: the step's output (a string for a model; any JSON value for your own executors). */
export interface MockReply {
  kind: 'reply';
  output: unknown;
  /** Milliseconds on the engine's clock before it answers. Default 0. */
  delayMs?: number;
  /** The tokens the answer reports it used (`usage.total_tokens`), as the `openai-compatible` executor reports them: they correct the `tokens_per_minute` estimate. */
  usage?: number | StepUsage;
}

/** A failed call: a PromptError as a real provider call would raise it. */
export interface MockFailure {
  kind: 'error';
  code: ErrorCode;
  message: string;
  /** HTTP status, for `provider_error` (drives retries: 429 and 5xx are retried, other 4xx not). */
  status?: number;
  /** The provider's `Retry-After`, in milliseconds. */
  retryAfterMs?: number;
  /** False marks the error as one no retry can fix (like an unset API key). Default true. */
  retryable?: boolean;
  /** The network error code of a call that got no answer (`ECONNREFUSED`), carried as the error's cause like fetch's: health names its kind. */
  networkCode?: string;
  delayMs?: number;
}

/** A `200` whose body is not the JSON a chat-completions answer is. */
export interface MockMalformed {
  kind: 'malformed';
  body: string;
  delayMs?: number;
}

/** A call that never answers: only its abort (a step or provider `timeout_ms`, a cancel) ends it. */
export interface MockHang {
  kind: 'hang';
}

/** One answer. A plain string is a reply. */
export type MockAnswer = string | MockReply | MockFailure | MockMalformed | MockHang;

/** The answers to successive calls: the n-th call gets the n-th, and the last one repeats. */
export type MockScript = MockAnswer | readonly MockAnswer[];

/** A call the mock received. */
export interface MockCall {
  composition: string;
  stepId: string;
  /** 1 for a step's first attempt. */
  attempt: number;
  /** The rendered prompt. */
  prompt: string;
  /** The step's render context. */
  context: Record<string, unknown>;
  /** The provider's name and model, for provider steps. */
  provider?: string;
  model?: string;
  /** The engine's clock when the call arrived. */
  time: number;
}

export type MockResponder = (call: MockCall) => MockAnswer | Promise<MockAnswer>;

export interface MockExecutorOptions {
  /** The provider `type` it serves. Default `openai-compatible`. */
  name?: string;
  /** Answers by step id, or by `composition/step` (which wins). */
  steps?: Record<string, MockScript>;
  /** Answers by prompt, tried in order: a string matches a prompt that contains it; a RegExp, one it matches. */
  prompts?: readonly { match: string | RegExp; answer: MockScript }[];
  /** Asked when no table entry matches; may be async, and may throw a PromptError. */
  respond?: MockResponder;
  /** The answer when nothing else gives one. Default: a `provider_error`, not retried, naming the step and quoting the prompt. */
  otherwise?: MockScript;
  /**
   * Answers to provider probes (`workflow: { probes }`), in turn like a script: a reply is an
   * answer (`mock.reply({ warning: 'model m is not listed' })` gives it a warning), an error a
   * failed probe, `hang` one that only its timeout ends. Without it the mock has no probe.
   */
  probes?: MockScript;
}

export interface MockExecutor extends StepExecutor {
  /** Every call received, in order. */
  readonly calls: readonly MockCall[];
  /** The engine's clock time of every probe received (`probes`). */
  readonly probeCalls: readonly number[];
  /** The calls of one step (by id). */
  callsFor(stepId: string): MockCall[];
  /** Forgets the calls, and starts every script from its first answer again. */
  reset(): void;
}

interface Timing {
  delayMs?: number;
}

/** Builders for the answers a mock can give. */
export const mock = {
  reply(output: unknown, opts: Timing & { usage?: number | StepUsage } = {}): MockReply {
    return { kind: 'reply', output, ...opts };
  },
  /** The provider answered with an HTTP error status. */
  fail(status: number, opts: Timing & { message?: string; retryAfterMs?: number } = {}): MockFailure {
    const f: MockFailure = { kind: 'error', code: 'provider_error', status, message: opts.message ?? '' };
    if (opts.retryAfterMs !== undefined) f.retryAfterMs = opts.retryAfterMs;
    if (opts.delayMs !== undefined) f.delayMs = opts.delayMs;
    return f;
  },
  /** `429 Too Many Requests` with `Retry-After: <seconds>`. */
  rateLimited(retryAfterSeconds: number, opts: Timing & { message?: string } = {}): MockFailure {
    return mock.fail(429, { ...opts, retryAfterMs: retryAfterSeconds * 1000 });
  },
  /** The provider cannot be reached (connection refused): `provider_error` without a status, retried. */
  down(opts: Timing = {}): MockFailure {
    return { kind: 'error', code: 'provider_error', message: 'failed: ECONNREFUSED (mock)', networkCode: 'ECONNREFUSED', ...opts };
  },
  /** Any engine error code, for errors your own executor raises. */
  error(code: ErrorCode, message: string, opts: Timing & { status?: number; retryAfterMs?: number; retryable?: boolean } = {}): MockFailure {
    return { kind: 'error', code, message, ...opts };
  },
  /** A `200` whose body is not chat-completions JSON (default: JSON cut off in the middle). */
  malformed(body = '{"choices": [{"message": {"content": "cut o', opts: Timing = {}): MockMalformed {
    return { kind: 'malformed', body, ...opts };
  },
  hang(): MockHang {
    return { kind: 'hang' };
  },
};

function pick(script: MockScript, n: number): MockAnswer {
  if (typeof script === 'string' || !Array.isArray(script)) return script as MockAnswer;
  const list = script as readonly MockAnswer[];
  if (!list.length) throw new RangeError('a mock script is an empty list: give at least one answer');
  return list[Math.min(n, list.length - 1)]!;
}

export function createMockExecutor(options: MockExecutorOptions | MockResponder = {}): MockExecutor {
  const opts: MockExecutorOptions = typeof options === 'function' ? { respond: options } : options;
  const calls: MockCall[] = [];
  const probeCalls: number[] = [];
  const used = new Map<string, number>();
  const next = (key: string, script: MockScript): MockAnswer => {
    const n = used.get(key) ?? 0;
    used.set(key, n + 1);
    return pick(script, n);
  };

  async function answerFor(call: MockCall): Promise<MockAnswer> {
    const byStep = opts.steps;
    if (byStep) {
      for (const k of [`${call.composition}/${call.stepId}`, call.stepId]) {
        if (Object.prototype.hasOwnProperty.call(byStep, k)) return next(`step:${k}`, byStep[k]!);
      }
    }
    const prompts = opts.prompts ?? [];
    for (let i = 0; i < prompts.length; i++) {
      const { match, answer } = prompts[i]!;
      if (typeof match === 'string' ? call.prompt.includes(match) : match.test(call.prompt)) return next(`prompt:${i}`, answer);
    }
    if (opts.respond) return opts.respond(call);
    if (opts.otherwise !== undefined) return next('otherwise', opts.otherwise);
    throw markNonRetryable(
      new PromptError('provider_error', `the mock executor has no answer for step "${call.stepId}" of "${call.composition}" (prompt: "${cutText(call.prompt, 200)}"): add it to steps, prompts or respond`, {
        step: call.stepId,
        composition: call.composition,
      }),
    );
  }

  function settle(req: Pick<StepExecutionRequest, 'provider' | 'signal' | 'clock' | 'reportUsage'> & { stepId: string; composition: string }, answer: MockAnswer): Promise<unknown> {
    const a: Exclude<MockAnswer, string> = typeof answer === 'string' ? { kind: 'reply', output: answer } : answer;
    const label = req.provider ? `provider "${req.provider.name}"` : 'the mock';
    const details = { step: req.stepId, composition: req.composition };
    const outcome = (): unknown => {
      switch (a.kind) {
        case 'reply':
          if (a.usage !== undefined) req.reportUsage?.(typeof a.usage === 'number' ? { totalTokens: a.usage } : a.usage);
          return a.output;
        case 'malformed':
          throw new PromptError('provider_error', `${label} answered 200 with malformed JSON: ${cutText(a.body.replace(/\s+/g, ' '), 100)}`, { ...details, status: 200 });
        case 'error': {
          let message = a.message;
          if (a.code === 'provider_error' && a.status !== undefined) {
            message = `${label} answered ${a.status}${STATUS_CODES[a.status] ? ' ' + STATUS_CODES[a.status] : ''}${a.message ? `: ${a.message}` : ''}`;
          } else if (a.code === 'provider_error') message = `${label}: ${a.message}`;
          const e = new PromptError(a.code, message, {
            ...details,
            ...(a.status !== undefined ? { status: a.status } : {}),
            ...(a.retryAfterMs !== undefined ? { retryAfterMs: a.retryAfterMs } : {}),
            ...(a.networkCode !== undefined ? { cause: Object.assign(new Error(`connect ${a.networkCode} (mock)`), { code: a.networkCode }) } : {}),
          });
          throw a.retryable === false ? markNonRetryable(e) : e;
        }
        case 'hang':
          return undefined;
      }
    };
    const delay = a.kind === 'hang' ? Infinity : (a.delayMs ?? 0);
    if (delay === 0) {
      try {
        return Promise.resolve(outcome());
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return new Promise((resolve, reject) => {
      if (req.signal.aborted) return reject(req.signal.reason);
      const timer = delay === Infinity ? undefined : req.clock.setTimeout(() => {
        req.signal.removeEventListener('abort', onAbort);
        try {
          resolve(outcome());
        } catch (e) {
          reject(e);
        }
      }, delay);
      // A delay is work in progress: like a real request, it keeps the process alive.
      (timer as { ref?: () => void } | undefined)?.ref?.();
      const onAbort = () => {
        if (timer !== undefined) req.clock.clearTimeout(timer);
        reject(req.signal.reason);
      };
      req.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  const executor: MockExecutor = {
    name: opts.name ?? OPENAI_COMPATIBLE,
    get calls() {
      return calls;
    },
    get probeCalls() {
      return probeCalls;
    },
    callsFor: (stepId) => calls.filter((c) => c.stepId === stepId),
    reset() {
      calls.length = 0;
      probeCalls.length = 0;
      used.clear();
    },
    async execute(req: StepExecutionRequest): Promise<unknown> {
      const call: MockCall = { composition: req.composition, stepId: req.stepId, attempt: req.attempt, prompt: req.prompt, context: req.context, time: req.clock.now() };
      if (req.provider) {
        call.provider = req.provider.name;
        if (req.provider.model !== undefined) call.model = req.provider.model;
      }
      calls.push(call);
      return settle(req, await answerFor(call));
    },
  };
  const probes = opts.probes;
  if (probes !== undefined) {
    executor.probe = async (req) => {
      probeCalls.push(req.clock.now());
      const out = await settle({ provider: req.provider, signal: req.signal, clock: req.clock, stepId: '(probe)', composition: '(probe)' }, next('probe', probes));
      const o = out as { warning?: unknown; detail?: unknown } | null;
      const answer: ProbeAnswer = {};
      if (o && typeof o === 'object' && typeof o.warning === 'string') answer.warning = o.warning;
      if (o && typeof o === 'object' && typeof o.detail === 'string') answer.detail = o.detail;
      return answer;
    };
  }
  return executor;
}
