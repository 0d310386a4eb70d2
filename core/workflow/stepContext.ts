/**
 * The context a step renders with, as the contract defines it: the run's inputs, `steps` (what
 * each finished step left: output, status, attempts, duration), then the step's own `context:`
 * values. Written once: the runner (run.ts) builds every step's context with it, and a preview
 * of a step (stepPreview.ts) builds the context the run would give it.
 */
import { PromptError } from '../errors.js';
import type { ResolvedComposition, StepStatus } from './types.js';

/** What `steps.<id>` holds in the contexts of later steps (and of `when` and `output`). */
export interface StepView {
  readonly output: unknown;
  readonly status: StepStatus;
  readonly attempts: number;
  readonly duration_ms: number;
}

export function stepView(output: unknown, status: StepStatus, attempts: number, durationMs: number): StepView {
  return Object.freeze({ output, status, attempts, duration_ms: durationMs });
}

/**
 * Sets a key as data. A step id or context key `__proto__` must be data, never a prototype
 * change; plain assignment for the rest, as defineProperty is several times slower.
 */
export function defineData(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

/**
 * The context of a step's template: the run's `input` and `steps`, then the step's own
 * `context:` values (`values`, its overrides applied) in order, each string value rendered as
 * Handlebars by `renderString` against the inputs and `steps` (not against the other values),
 * other values as they are. `steps` is passed as it is, not copied: a run's view is live.
 */
export function stepContext(
  input: Record<string, unknown>,
  steps: Readonly<Record<string, StepView>>,
  values: Readonly<Record<string, unknown>>,
  renderString: (source: string, base: Record<string, unknown>) => string,
): Record<string, unknown> {
  const base = { ...input, steps };
  const keys = Object.keys(values);
  if (keys.length === 0) return base;
  const ctx: Record<string, unknown> = { ...base };
  for (const k of keys) {
    const v = values[k];
    defineData(ctx, k, typeof v === 'string' ? renderString(v, base) : v);
  }
  return ctx;
}

/** The refusal of a run whose context lacks a required input of the composition (null counts as absent). */
export function missingInputs(c: ResolvedComposition, context: Record<string, unknown>): PromptError | undefined {
  const missing = c.inputs.required.filter((k) => context[k] === undefined || context[k] === null);
  if (!missing.length) return undefined;
  return new PromptError('missing_context', `composition "${c.name}" needs the input${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')}`, { composition: c.name, variable: missing[0] });
}
