/** When a failed attempt is tried again, and after how long (the contract's Temporal semantics). */
import type { PromptError } from '../errors.js';
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

/** Wait before attempt n+1 after attempt n failed: min(initial * coefficient^(n-1), max). */
export function backoffMs(policy: ResolvedRetry, failedAttempt: number): number {
  const raw = policy.initialIntervalMs * Math.pow(policy.backoffCoefficient, failedAttempt - 1);
  return Math.min(raw, policy.maxIntervalMs);
}

export function isRetryable(error: PromptError, policy: ResolvedRetry): boolean {
  if (error.code === 'cancelled') return false;
  if (policy.nonRetryable.includes(error.code)) return false;
  if (isMarkedNonRetryable(error)) return false;
  // A provider's 4xx says the request itself is wrong; only 429 (rate limit) is worth repeating.
  if (error.status !== undefined && error.status >= 400 && error.status < 500 && error.status !== 429) return false;
  return true;
}

/** The wait the provider asked for (429/503 `Retry-After`) wins over the computed backoff. */
export function retryWaitMs(error: PromptError, policy: ResolvedRetry, failedAttempt: number): number {
  if (error.retryAfterMs !== undefined && error.retryAfterMs >= 0) return error.retryAfterMs;
  return backoffMs(policy, failedAttempt);
}
