/**
 * One attempt of one step: render the prompt, wait for the provider's admission (when the
 * caller has an admission scheduler), hand it to the executor, and settle at the first of its
 * answer, the step's `timeout_ms`, the provider's `timeout_ms`, or the run's stop (a late
 * answer is dropped). Shared by the in-process runner (run.ts) and the distributed back end's
 * workers, so that a step behaves the same wherever it runs.
 *
 * The wait for admission is not the attempt's: the step's `timeout_ms` is paused during it and
 * the provider's starts after it (Temporal's start-to-close); the run's deadline and
 * cancellation end it at once.
 */
import type { Clock } from '../clock.js';
import { PromptError, toPromptError } from '../errors.js';
import { LIMITS } from '../limits.js';
import type { ProviderDef } from '../model/types.js';
import { DEFAULT_PROVIDER_TIMEOUT_MS } from './bounds.js';
import type { StepExecutionRequest, StepExecutor } from './executors.js';
import type { WorkflowMetrics } from './metrics.js';
import type { Admission, AdmissionTicket } from './admission.js';
import { classifyProviderFailure, type ProviderFailureKind } from './providerFailure.js';
import type { StepUsage } from './tokens.js';
import type { ResolvedStep, WorkflowHost } from './types.js';

/** `kind`: the attempt failed in its provider's call, with this kind of failure. */
export type AttemptResult = { ok: true; output: unknown } | { ok: false; error: PromptError; kind?: ProviderFailureKind };

export interface AttemptSpec {
  runId: string;
  composition: string;
  serviceName?: string;
  def: ResolvedStep;
  provider?: ProviderDef;
  executor: StepExecutor;
  host: WorkflowHost;
  clock: Clock;
  env: (name: string) => string | undefined;
  metrics?: WorkflowMetrics;
  /** The step's render context. */
  context: Record<string, unknown>;
  attempt: number;
  /** Aborted when the run stops: the signal of an attempt without a timeout of its own. */
  runSignal: AbortSignal;
  /** Registers what to do when the run stops while the attempt is in flight; returns its removal. */
  onStop(f: (reason: PromptError) => void): () => void;
  /** False once the run has ended: a provider call that settles then is not counted. */
  counts(): boolean;
  /**
   * A provider step's place in its provider's admission queue, asked once the prompt is
   * rendered (the in-process engine's scheduler, admission.ts). Without it the call goes at
   * once (the distributed back end admits in BullMQ and Redis before the job runs).
   */
  admit?(prompt: string): AdmissionTicket;
}

/** Characters of an output as status, history and later steps hold it (a string's length, or its JSON's). */
export function outputChars(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'string') return v.length;
  try {
    return JSON.stringify(v)?.length ?? 0;
  } catch {
    return 0;
  }
}

export function runAttempt(spec: AttemptSpec): Promise<AttemptResult> {
  const { def, clock, provider, attempt } = spec;
  const details = { step: def.id, composition: spec.composition };
  return new Promise<AttemptResult>((resolve) => {
    let settled = false;
    let timer: unknown;
    let timerDue = 0;
    let providerTimer: unknown;
    let ticket: AdmissionTicket | undefined;
    let admission: Admission | undefined;
    let unfollow: (() => void) | undefined;
    let sentAt: number | undefined;
    // A controller of its own only when the attempt can time out: creating one costs more
    // than the rest of a no-op step, and without a timeout the run's signal says it all.
    let ac: AbortController | undefined;
    const settle = (r: AttemptResult) => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      if (providerTimer !== undefined) clock.clearTimeout(providerTimer);
      unfollow?.();
      removeStop();
      if (!r.ok) ticket?.cancel(r.error);
      if (admission) admission.release(r.ok ? { ok: true } : r.error.status === 429 ? { rateLimited: r.error.retryAfterMs !== undefined ? { retryAfterMs: r.error.retryAfterMs } : {} } : {});
      if (provider && sentAt !== undefined && !r.ok) r.kind = classifyProviderFailure(r.error);
      if (provider && sentAt !== undefined && spec.counts()) {
        spec.metrics?.recordProviderCall(provider.name, clock.now() - sentAt, r.ok ? undefined : { status: r.error.status, kind: r.kind! });
      }
      resolve(r);
    };
    const removeStop = spec.onStop((reason) => {
      ac?.abort(reason);
      settle({ ok: false, error: reason });
    });
    let signal = spec.runSignal;
    const timeoutMs = def.timeoutMs;
    const onTimeout = () => {
      const err = new PromptError('timeout', `step "${def.id}" attempt ${attempt} took longer than its timeout_ms of ${timeoutMs} ms`, details);
      ac!.abort(err);
      settle({ ok: false, error: err });
    };
    if (timeoutMs !== undefined) {
      ac = new AbortController();
      signal = ac.signal;
      timerDue = clock.now() + timeoutMs;
      timer = clock.setTimeout(onTimeout, timeoutMs);
    }
    const work = async () => {
      const renderOpts = spec.serviceName !== undefined ? { signal, serviceName: spec.serviceName } : { signal };
      const prompt = await spec.host.renderTemplate(def.template!, spec.context, renderOpts);
      if (settled) return undefined;
      if (provider && spec.admit) {
        // The attempt's clock stops while the call waits for its provider's admission.
        let left = 0;
        if (timer !== undefined) {
          clock.clearTimeout(timer);
          timer = undefined;
          left = timerDue - clock.now();
        }
        ticket = spec.admit(prompt);
        const granted = await ticket.admitted;
        ticket = undefined;
        if (settled) {
          granted.release();
          return undefined;
        }
        admission = granted;
        if (timeoutMs !== undefined) {
          timerDue = clock.now() + left;
          timer = clock.setTimeout(onTimeout, left);
        }
      }
      sentAt = clock.now();
      let callSignal = signal;
      if (provider) {
        // The provider's own limit on one call, enforced here for every executor: its signal aborts.
        const ms = provider.timeoutMs ?? DEFAULT_PROVIDER_TIMEOUT_MS;
        const pac = new AbortController();
        const follow = () => pac.abort(signal.reason);
        signal.addEventListener('abort', follow, { once: true });
        unfollow = () => signal.removeEventListener('abort', follow);
        callSignal = pac.signal;
        providerTimer = clock.setTimeout(() => {
          const err = new PromptError('timeout', `provider "${provider.name}" did not answer step "${def.id}" (attempt ${attempt}) within its timeout_ms of ${ms} ms`, details);
          pac.abort(err);
          settle({ ok: false, error: err });
        }, ms);
      }
      const req: StepExecutionRequest = {
        runId: spec.runId,
        composition: spec.composition,
        stepId: def.id,
        attempt,
        prompt,
        context: spec.context,
        signal: callSignal,
        clock,
        env: spec.env,
      };
      if (provider) {
        req.provider = provider;
        req.reportUsage = (usage: StepUsage) => admission?.reportTokens(usage?.totalTokens);
      }
      if (spec.serviceName !== undefined) req.serviceName = spec.serviceName;
      const output = await spec.executor.execute(req);
      const chars = outputChars(output);
      if (chars > LIMITS.maxStepOutputChars) {
        throw new PromptError('limit_exceeded', `step "${def.id}" produced an output of ${chars} characters, more than maxStepOutputChars (${LIMITS.maxStepOutputChars})`, details);
      }
      return output;
    };
    work().then(
      (output) => settle({ ok: true, output }),
      (e) => settle({ ok: false, error: toPromptError(e, sentAt !== undefined && provider ? 'provider_error' : 'template_error', details) }),
    );
  });
}
