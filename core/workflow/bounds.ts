/**
 * Fixed bounds of the composition format that the engine enforces too: the schema's maxima
 * (schemas/composition_rules.schema.json says the same, and a test keeps them equal) and the
 * engine's floors. A composition built by hand, or a resolved composition passed to
 * `executeResolved`, does not go through the schema; the engine refuses to start a run whose
 * values lie outside these bounds instead of overflowing a timer or retrying forever.
 */
import type { ProviderDef } from '../model/types.js';
import type { ResolvedComposition, ResolvedRetry } from './types.js';

/** Longest duration anywhere in composition_rules.yaml: 30 days, in milliseconds. */
export const MAX_DURATION_MS = 2_592_000_000;
/** Most attempts a step may make (`retry.max_attempts`). */
export const MAX_ATTEMPTS = 100;
/** Largest `retry.backoff_coefficient`. */
export const MAX_BACKOFF_COEFFICIENT = 100;
/** Shortest wait between two attempts, whatever the policy or a provider's `Retry-After` says. */
export const MIN_RETRY_INTERVAL_MS = 10;
/** A provider's `timeout_ms` when it sets none (the schema's default). */
export const DEFAULT_PROVIDER_TIMEOUT_MS = 60_000;
/** Largest provider `max_concurrency`. */
export const MAX_PROVIDER_CONCURRENCY = 100_000;
/** Largest provider `requests_per_minute`. */
export const MAX_REQUESTS_PER_MINUTE = 1_000_000;
/** Largest provider `tokens_per_minute`. */
export const MAX_TOKENS_PER_MINUTE = 1_000_000_000;
/**
 * Errors kept per step in a run's status: the first `STEP_ERRORS_KEPT_FIRST` and the latest
 * ones up to this many; `errorsDropped` counts those in between.
 */
export const MAX_STEP_ERRORS = 10;
export const STEP_ERRORS_KEPT_FIRST = 5;

function wholeIn(v: unknown, min: number, max: number): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

function positiveUpTo(v: unknown, max: number): boolean {
  return typeof v === 'number' && v > 0 && v <= max;
}

function retryProblem(r: ResolvedRetry): string | undefined {
  if (!wholeIn(r.maxAttempts, 1, MAX_ATTEMPTS)) return `retry max_attempts must be a whole number from 1 to ${MAX_ATTEMPTS}, not ${r.maxAttempts}`;
  if (!(Number.isFinite(r.initialIntervalMs) && r.initialIntervalMs >= 0 && r.initialIntervalMs <= MAX_DURATION_MS)) {
    return `retry initial_interval_ms must be from 0 to ${MAX_DURATION_MS} ms, not ${r.initialIntervalMs}`;
  }
  if (!(Number.isFinite(r.maxIntervalMs) && r.maxIntervalMs >= 0 && r.maxIntervalMs <= MAX_DURATION_MS)) {
    return `retry max_interval_ms must be from 0 to ${MAX_DURATION_MS} ms, not ${r.maxIntervalMs}`;
  }
  if (!(r.backoffCoefficient >= 1 && r.backoffCoefficient <= MAX_BACKOFF_COEFFICIENT)) {
    return `retry backoff_coefficient must be from 1 to ${MAX_BACKOFF_COEFFICIENT}, not ${r.backoffCoefficient}`;
  }
  return undefined;
}

/** What is out of bounds in a resolved composition, or undefined. */
export function compositionBoundsProblem(c: ResolvedComposition): string | undefined {
  if (c.timeoutMs !== undefined && !wholeIn(c.timeoutMs, 1, MAX_DURATION_MS)) return `timeout_ms must be a whole number of milliseconds from 1 to ${MAX_DURATION_MS} (30 days), not ${c.timeoutMs}`;
  for (const s of c.steps) {
    if (s.timeoutMs !== undefined && !wholeIn(s.timeoutMs, 1, MAX_DURATION_MS)) {
      return `step "${s.id}": timeout_ms must be a whole number of milliseconds from 1 to ${MAX_DURATION_MS} (30 days), not ${s.timeoutMs}`;
    }
    const r = retryProblem(s.retry);
    if (r) return `step "${s.id}": ${r}`;
  }
  return undefined;
}

/** What is out of bounds in a provider, or undefined. */
export function providerBoundsProblem(p: ProviderDef): string | undefined {
  if (p.timeoutMs !== undefined && !wholeIn(p.timeoutMs, 1, MAX_DURATION_MS)) {
    return `provider "${p.name}": timeout_ms must be a whole number of milliseconds from 1 to ${MAX_DURATION_MS} (30 days), not ${p.timeoutMs}`;
  }
  if (p.maxConcurrency !== undefined && !wholeIn(p.maxConcurrency, 1, MAX_PROVIDER_CONCURRENCY)) {
    return `provider "${p.name}": max_concurrency must be a whole number from 1 to ${MAX_PROVIDER_CONCURRENCY}, not ${p.maxConcurrency}`;
  }
  if (p.requestsPerMinute !== undefined && !positiveUpTo(p.requestsPerMinute, MAX_REQUESTS_PER_MINUTE)) {
    return `provider "${p.name}": requests_per_minute must be a number more than 0 and at most ${MAX_REQUESTS_PER_MINUTE}, not ${p.requestsPerMinute}`;
  }
  if (p.tokensPerMinute !== undefined && !positiveUpTo(p.tokensPerMinute, MAX_TOKENS_PER_MINUTE)) {
    return `provider "${p.name}": tokens_per_minute must be a number more than 0 and at most ${MAX_TOKENS_PER_MINUTE}, not ${p.tokensPerMinute}`;
  }
  return undefined;
}
