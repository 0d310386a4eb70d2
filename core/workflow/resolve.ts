/**
 * Resolves a composition for one run: `defaults`, then the composition, then the override of
 * `context.state`, then the override of `context.user_experience_level`, each later one
 * winning (the contract's order). The result is plain data the scheduler can use without
 * looking back at the source tree.
 *
 * The core engine will expose its own `resolveComposition`; this one exists so that the
 * workflow engine is self-contained until the two are merged.
 */
import type { CompositionDef, CompositionOverride, ContextEntry, RetryPolicy, RunDefaults, StepOverride } from '../model/types.js';
import type { ResolvedComposition, ResolvedRetry, ResolvedStep } from './types.js';

/** Temporal's defaults: 1 s initial interval, coefficient 2, maximum 100 x the initial interval. */
export const DEFAULT_RETRY = { maxAttempts: 1, initialIntervalMs: 1000, backoffCoefficient: 2 } as const;
/** Argo and GitHub Actions stop a run at its first failure unless told otherwise. */
export const DEFAULT_FAIL_FAST = true;

export function resolveRetry(...layers: (Partial<RetryPolicy> | undefined)[]): ResolvedRetry {
  const r: Partial<RetryPolicy> = {};
  // Field by field: a step that sets only `max_attempts` keeps the defaults' intervals.
  for (const l of layers) {
    if (!l) continue;
    for (const k of ['maxAttempts', 'initialIntervalMs', 'backoffCoefficient', 'maxIntervalMs', 'nonRetryable'] as const) {
      if (l[k] !== undefined) (r as Record<string, unknown>)[k] = l[k];
    }
  }
  const maxAttempts = Math.max(1, Math.floor(r.maxAttempts ?? DEFAULT_RETRY.maxAttempts));
  const initialIntervalMs = Math.max(0, r.initialIntervalMs ?? DEFAULT_RETRY.initialIntervalMs);
  const backoffCoefficient = Math.max(1, r.backoffCoefficient ?? DEFAULT_RETRY.backoffCoefficient);
  const maxIntervalMs = Math.max(0, r.maxIntervalMs ?? 100 * initialIntervalMs);
  return { maxAttempts, initialIntervalMs, backoffCoefficient, maxIntervalMs, nonRetryable: [...(r.nonRetryable ?? [])] };
}

function selectOverride(list: CompositionOverride[], key: unknown): CompositionOverride | undefined {
  if (key === undefined || key === null || typeof key === 'object') return undefined;
  const k = String(key);
  // The last definition wins, as with a repeated YAML key (the validator reports the repeat).
  for (let i = list.length - 1; i >= 0; i--) if (list[i]!.key === k) return list[i];
  return undefined;
}

function stepOverride(o: CompositionOverride | undefined, id: string): StepOverride | undefined {
  if (!o) return undefined;
  for (let i = o.steps.length - 1; i >= 0; i--) if (o.steps[i]!.stepName.name === id) return o.steps[i];
  return undefined;
}

function applyContext(into: Record<string, unknown>, entries: ContextEntry[] | undefined): void {
  if (!entries) return;
  for (const e of entries) {
    // defineProperty: a `__proto__` key is data, never a prototype change.
    Object.defineProperty(into, e.key, { value: e.value, enumerable: true, writable: true, configurable: true });
  }
}

/** The first defined value, scanning from the most specific layer. */
function pick<T>(...values: (T | undefined)[]): T | undefined {
  for (const v of values) if (v !== undefined) return v;
  return undefined;
}

export function resolveComposition(def: CompositionDef, defaults: RunDefaults, context: Record<string, unknown>): ResolvedComposition {
  const state = selectOverride(def.overrides.states, context.state);
  const level = selectOverride(def.overrides.experienceLevels, context.user_experience_level);

  const steps: ResolvedStep[] = def.steps.map((s) => {
    const so = stepOverride(state, s.id);
    const lo = stepOverride(level, s.id);
    const ctx: Record<string, unknown> = {};
    applyContext(ctx, s.context);
    applyContext(ctx, so?.context);
    applyContext(ctx, lo?.context);
    const step: ResolvedStep = {
      id: s.id,
      dependsOn: s.dependsOn.map((d) => d.name),
      skip: pick(lo?.skip, so?.skip) ?? false,
      retry: resolveRetry(defaults.retry, def.retry, s.retry, so?.retry, lo?.retry),
      continueOnError: pick(lo?.continueOnError, so?.continueOnError, s.continueOnError) ?? false,
      context: ctx,
    };
    const template = pick(lo?.template, so?.template, s.template)?.name;
    if (template !== undefined) step.template = template;
    const model = pick(lo?.model, so?.model, s.model)?.name;
    if (model !== undefined) step.model = model;
    const timeoutMs = pick(lo?.timeoutMs, so?.timeoutMs, s.timeoutMs, def.stepTimeoutMs, defaults.stepTimeoutMs);
    if (timeoutMs !== undefined && timeoutMs > 0) step.timeoutMs = timeoutMs;
    if (s.when) {
      const w: ResolvedStep['when'] = { path: s.when.path };
      if (s.when.equals !== undefined) w.equals = s.when.equals;
      if (s.when.notEquals !== undefined) w.notEquals = s.when.notEquals;
      if (s.when.in !== undefined) w.in = s.when.in;
      if (s.when.exists !== undefined) w.exists = s.when.exists;
      step.when = w;
    }
    if (s.fallback && (s.fallback.template || s.fallback.value !== undefined)) {
      step.fallback = s.fallback.template ? { template: s.fallback.template.name } : { value: s.fallback.value };
    }
    return step;
  });

  const out: ResolvedComposition = {
    name: def.name,
    inputs: { required: def.inputs.required.map((r) => r.name), optional: def.inputs.optional.map((r) => r.name) },
    steps,
    maxParallel: pick(level?.maxParallel, state?.maxParallel, def.maxParallel, defaults.maxParallel) ?? Infinity,
    failFast: pick(level?.failFast, state?.failFast, def.failFast, defaults.failFast) ?? DEFAULT_FAIL_FAST,
    appliedOverrides: {},
  };
  const timeoutMs = pick(level?.timeoutMs, state?.timeoutMs, def.timeoutMs, defaults.timeoutMs);
  if (timeoutMs !== undefined && timeoutMs > 0) out.timeoutMs = timeoutMs;
  if (def.description !== undefined) out.description = def.description;
  if (def.output) out.output = def.output.value;
  if (state) out.appliedOverrides.state = state.key;
  if (level) out.appliedOverrides.experienceLevel = level.key;
  return out;
}
