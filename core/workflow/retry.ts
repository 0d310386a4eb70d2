/** When a failed attempt is tried again, and after how long (the contract's Temporal semantics). */
import { PromptError } from '../errors.js';
import { MIN_RETRY_INTERVAL_MS } from './bounds.js';
import type { ResolvedRetry } from './types.js';

/**
 * Errors that no retry can fix although their code alone does not say so (a provider whose
 * URL is not http, an API key variable that is not set). Kept outside PromptError so that an
 * application's executor can mark its own errors the same way.
 */
const nonRetryable = new WeakSet<object>();

export function markNonRetryable<E extends object>(e: E): E {
  nonRetryable.add(e);
  return e;
}

export function isMarkedNonRetryable(e: unknown): boolean {
  return typeof e === 'object' && e !== null && nonRetryable.has(e);
}

/** Wait before attempt n+1 after attempt n failed: min(initial * coefficient^(n-1), max), and at least MIN_RETRY_INTERVAL_MS. */
export function backoffMs(policy: ResolvedRetry, failedAttempt: number): number {
  const raw = policy.initialIntervalMs * Math.pow(policy.backoffCoefficient, failedAttempt - 1);
  const capped = Math.min(raw, policy.maxIntervalMs);
  return Math.max(MIN_RETRY_INTERVAL_MS, Number.isFinite(capped) ? capped : MIN_RETRY_INTERVAL_MS);
}

export function isRetryable(error: PromptError, policy: ResolvedRetry): boolean {
  if (error.code === 'cancelled') return false;
  if (policy.nonRetryable.includes(error.code)) return false;
  if (isMarkedNonRetryable(error)) return false;
  // A provider's 4xx says the request itself is wrong; only 429 (rate limit) is worth repeating.
  if (error.status !== undefined && error.status >= 400 && error.status < 500 && error.status !== 429) return false;
  return true;
}

/** A `Retry-After` the error carries, when it is a usable number of milliseconds. */
function providerWait(error: PromptError): number | undefined {
  const ms = error.retryAfterMs;
  return typeof ms === 'number' && ms >= 0 && !Number.isNaN(ms) ? ms : undefined;
}

/** The wait the provider asked for (429/503 `Retry-After`) wins over the computed backoff; never less than MIN_RETRY_INTERVAL_MS. */
export function retryWaitMs(error: PromptError, policy: ResolvedRetry, failedAttempt: number): number {
  const asked = providerWait(error);
  if (asked !== undefined) return Math.max(MIN_RETRY_INTERVAL_MS, asked);
  return backoffMs(policy, failedAttempt);
}

/** What happens after a failed attempt that may be retried: wait and try again, or stop now and say why. */
export type RetryPlan = { retry: true; waitMs: number; source: 'backoff' | 'Retry-After' } | { retry: false; why: string };

/** A duration for people: `250 ms`, `42 s`, `3.5 h`, `34.7 days`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return 'forever';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const units: [number, string][] = [
    [86_400_000, 'days'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1000, 's'],
  ];
  for (const [size, name] of units) if (ms >= size * (name === 'days' ? 2 : 1)) return `${+(ms / size).toFixed(1)} ${name}`;
  return `${+(ms / 1000).toFixed(1)} s`;
}

/**
 * Decides the wait before the next attempt. A provider's `Retry-After` longer than
 * `maxRetryAfterMs`, or a wait that would end after the run's deadline (`remainingMs`, the
 * time left before the run's `timeout_ms`), stops the retries at once: waiting could not end
 * in an answer the run can use.
 */
export function planRetry(error: PromptError, policy: ResolvedRetry, failedAttempt: number, bounds: { maxRetryAfterMs: number; remainingMs?: number; runTimeoutMs?: number }): RetryPlan {
  const asked = providerWait(error);
  if (asked !== undefined && asked > bounds.maxRetryAfterMs) {
    return { retry: false, why: `the provider asked to wait ${formatDuration(asked)} (Retry-After), longer than the ${formatDuration(bounds.maxRetryAfterMs)} a step waits at most (maxRetryAfterMs)` };
  }
  const waitMs = retryWaitMs(error, policy, failedAttempt);
  const source = asked !== undefined ? 'Retry-After' : 'backoff';
  if (bounds.remainingMs !== undefined && waitMs >= bounds.remainingMs) {
    const what = source === 'Retry-After' ? `the provider asked to wait ${formatDuration(waitMs)} (Retry-After)` : `the next attempt would wait ${formatDuration(waitMs)} (retry backoff)`;
    return { retry: false, why: `${what}, but the run's timeout_ms${bounds.runTimeoutMs !== undefined ? ` of ${bounds.runTimeoutMs} ms` : ''} ends in ${formatDuration(Math.max(0, bounds.remainingMs))}` };
  }
  return { retry: true, waitMs, source };
}

/** The same error with why it was not retried added to its message (code, status and the rest kept). */
export function withReason(error: PromptError, why: string): PromptError {
  const e = new PromptError(error.code, `${error.message}; not retried: ${why}`, {
    template: error.template,
    service: error.service,
    composition: error.composition,
    step: error.step,
    variable: error.variable,
    status: error.status,
    retryAfterMs: error.retryAfterMs,
    location: error.location,
    cause: error,
  });
  return isMarkedNonRetryable(error) ? markNonRetryable(e) : e;
}
