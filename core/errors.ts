/**
 * Typed errors of the engine. `code` is one of the contract's stable error codes.
 *
 * `limit_exceeded`: a render passed a size limit (partial depth, output characters);
 * `render_budget_exceeded`: a render did more work or ran longer than its budget
 * (`maxRenderWork`, `maxRenderMs` in core/limits.ts) and was stopped.
 */

export const ERROR_CODES = [
  'template_error',
  'missing_context',
  'access_denied',
  'timeout',
  'provider_error',
  'cancelled',
  'unknown_template',
  'unknown_composition',
  'invalid_configuration',
  'limit_exceeded',
  'render_budget_exceeded',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorLocation {
  /** Absolute path of the file at fault. */
  file?: string;
  /** One-based line and column, as people and terminals count. */
  line?: number;
  column?: number;
}

export interface PromptErrorDetails {
  template?: string;
  service?: string;
  composition?: string;
  step?: string;
  /** The variable a `missing_context` error is about. */
  variable?: string;
  /** HTTP status of a `provider_error`, when the provider answered. */
  status?: number;
  /** Seconds the provider asked to wait (`Retry-After`). */
  retryAfterMs?: number;
  location?: ErrorLocation;
  cause?: unknown;
}

export class PromptError extends Error {
  readonly code: ErrorCode;
  readonly template?: string;
  readonly service?: string;
  readonly composition?: string;
  readonly step?: string;
  readonly variable?: string;
  readonly status?: number;
  readonly retryAfterMs?: number;
  readonly location?: ErrorLocation;

  constructor(code: ErrorCode, message: string, details: PromptErrorDetails = {}) {
    super(message, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.name = 'PromptError';
    this.code = code;
    this.template = details.template;
    this.service = details.service;
    this.composition = details.composition;
    this.step = details.step;
    this.variable = details.variable;
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
    this.location = details.location;
  }

  /** A plain object for JSON output, logs and run status (no stack, no cause chain). */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { code: this.code, message: this.message };
    for (const k of ['template', 'service', 'composition', 'step', 'variable', 'status', 'retryAfterMs', 'location'] as const) {
      if (this[k] !== undefined) out[k] = this[k];
    }
    return out;
  }
}

export function isPromptError(e: unknown): e is PromptError {
  return e instanceof PromptError;
}

/** Wraps anything thrown into a PromptError, keeping a PromptError as it is. */
export function toPromptError(e: unknown, fallbackCode: ErrorCode, details: PromptErrorDetails = {}): PromptError {
  if (e instanceof PromptError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new PromptError(fallbackCode, message, { ...details, cause: e });
}
