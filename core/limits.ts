/**
 * Every resource limit of PromptManager in one place: what a hostile or broken repository (a
 * YAML alias bomb, a 10 MB file, a template whose output would be gigabytes, a partial that
 * includes itself, nested `each` blocks that would iterate for minutes) runs into instead of
 * exhausting the process. README "Limits" documents them.
 *
 * `LIMITS` holds the values in force for the whole process: the validator (engine at load,
 * language server, CLI) reads them at each use, so `configureLimits` changes them for every
 * caller at once. The engine's render limits and the run history can also be set per manager
 * (`PromptManager.create({ limits: { ... }, workflow: { historyLimit } })`).
 *
 * This module imports nothing, so that every other module can import it.
 */

export interface Limits {
  /** Largest service_mappings.yaml / composition_rules.yaml read, in bytes: a larger file is one `yaml-syntax` diagnostic, unread. */
  maxConfigBytes: number;
  /** Largest template file read, in bytes: a larger one is a `template-syntax` diagnostic, unread. */
  maxTemplateBytes: number;
  /** `{{...}}` expressions in one template: compiling costs ~0.1-0.2 ms each, and Handlebars runs out of memory on ~200,000. */
  maxTemplateExpressions: number;
  /** Nested blocks, `{{else if}}` branches and sub-expressions in one template (Handlebars' parser is quadratic in depth). */
  maxTemplateNesting: number;
  /** Alias nodes (`*name`) in one YAML file. */
  maxYamlAliases: number;
  /** Values in one YAML file once its aliases are expanded (the "billion laughs" guard). */
  maxYamlValues: number;
  /** Nesting depth of mappings and lists in one YAML file. */
  maxYamlDepth: number;
  /** Entries in any one mapping or list (compositions, steps, services, keys...). */
  maxCollectionItems: number;
  /** `schema` problems reported per file; past it one diagnostic says how to see the rest. */
  maxSchemaProblemsPerFile: number;
  /** Partials included inside partials during one render (a partial that includes itself stops here). */
  maxPartialDepth: number;
  /** Characters (UTF-16 code units) one render may produce: an `each` over a huge context stops here. */
  maxRenderOutputChars: number;
  /**
   * Units of work one render may do: every `each` iteration, every call of a block helper
   * (`if`, `unless`, `with`, a prompt helper used as a block, an application block helper and
   * each body it renders) and every partial counts one. Nested `each` blocks over large lists,
   * which multiply iterations without writing much, stop here.
   */
  maxRenderWork: number;
  /**
   * Milliseconds one render may run, on a monotonic clock read every 64 units of work (from
   * the 64th on, so that small renders read no clock): the backstop for costly work the units
   * do not weigh.
   */
  maxRenderMs: number;
  /** Finished workflow runs kept for status queries (running runs are never dropped). */
  historyLimit: number;
  /** Bytes of one provider answer the built-in executor reads: past it the read is aborted with `provider_error`. */
  maxProviderResponseBytes: number;
  /** Characters of one step output (a string's length, or its JSON's): a longer output fails the attempt with `limit_exceeded`. */
  maxStepOutputChars: number;
  /**
   * Characters of step and run outputs kept by the finished runs of one workflow engine's
   * history, all runs together: past it the oldest runs' outputs are dropped (their statuses
   * stay, with `outputsDropped: true`).
   */
  maxHistoryOutputChars: number;
  /** Longest `Retry-After` wait honoured: a provider asking for longer fails the step at once, saying so. */
  maxRetryAfterMs: number;
  /** Largest JSON context read from a file or standard input (the CLI's `--context`, the editor's context picker), in bytes. */
  maxContextBytes: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxConfigBytes: 4 * 1024 * 1024,
  maxTemplateBytes: 2 * 1024 * 1024,
  maxTemplateExpressions: 5_000,
  maxTemplateNesting: 1_000,
  maxYamlAliases: 100,
  maxYamlValues: 1_000_000,
  maxYamlDepth: 200,
  maxCollectionItems: 10_000,
  maxSchemaProblemsPerFile: 1_000,
  maxPartialDepth: 64,
  maxRenderOutputChars: 16 * 1024 * 1024,
  maxRenderWork: 500_000,
  maxRenderMs: 2_000,
  historyLimit: 1_000,
  maxProviderResponseBytes: 8 * 1024 * 1024,
  maxStepOutputChars: 16 * 1024 * 1024,
  maxHistoryOutputChars: 64 * 1024 * 1024,
  maxRetryAfterMs: 600_000,
  maxContextBytes: 32 * 1024 * 1024,
});

/** The limits in force for this process. Read at each use; change them with `configureLimits`. */
export const LIMITS: Limits = { ...DEFAULT_LIMITS };

/** The render limits a manager may set for itself (`PromptManagerOptions.limits`). */
export type RenderLimits = Pick<Limits, 'maxPartialDepth' | 'maxRenderOutputChars' | 'maxRenderWork' | 'maxRenderMs'>;

const RENDER_LIMIT_NAMES: readonly (keyof RenderLimits)[] = ['maxPartialDepth', 'maxRenderOutputChars', 'maxRenderWork', 'maxRenderMs'];

/**
 * Changes limits for the whole process and returns the limits now in force. Each value must be
 * a whole number of at least 1 (`historyLimit` may be 0); anything else throws a RangeError and
 * changes nothing.
 */
export function configureLimits(patch: Partial<Limits>): Readonly<Limits> {
  const next = { ...LIMITS };
  for (const [key, value] of Object.entries(patch) as [keyof Limits, unknown][]) {
    if (!Object.prototype.hasOwnProperty.call(DEFAULT_LIMITS, key)) throw new RangeError(`unknown limit '${String(key)}' (known: ${Object.keys(DEFAULT_LIMITS).join(', ')})`);
    if (value === undefined) continue;
    next[key] = checkLimit(key, value);
  }
  Object.assign(LIMITS, next);
  return { ...LIMITS };
}

/** Puts every limit back to its default. */
export function resetLimits(): void {
  Object.assign(LIMITS, DEFAULT_LIMITS);
}

/** Validates one limit value (also for per-manager limits). */
export function checkLimit(key: keyof Limits, value: unknown): number {
  const min = key === 'historyLimit' ? 0 : 1;
  if (typeof value !== 'number' || !(Number.isInteger(value) || value === Infinity) || value < min) {
    throw new RangeError(`limit '${key}' must be a whole number of at least ${min}, got ${String(value)}`);
  }
  return value;
}

/** The render limits of one manager: its own values over the process-wide ones. */
export function renderLimits(own: Partial<RenderLimits> = {}): RenderLimits {
  const out = {} as RenderLimits;
  for (const key of RENDER_LIMIT_NAMES) out[key] = own[key] !== undefined ? checkLimit(key, own[key]) : LIMITS[key];
  return out;
}
