/** The shapes a render takes and gives back. */
import type { ErrorCode } from '../errors.js';

export type RenderContext = Record<string, unknown>;

export interface RenderOptions {
  /** Render as this service: access, required context and fallback apply. */
  serviceName?: string;
}

export interface RenderResult {
  text: string;
  /** The template that produced `text`: the fallback's name when the fallback answered. */
  template: string;
  fromCache: boolean;
  durationMs: number;
  /** Present when the service's fallback answered: the error the requested template raised. */
  fallbackFor?: { template: string; code: ErrorCode; message: string };
}

export interface RenderRequest {
  templateName: string;
  context: RenderContext;
  serviceName?: string;
}

/** One result of `renderBatch`, in request order: a failure does not fail the batch. */
export type BatchResult =
  | { ok: true; request: RenderRequest; result: RenderResult }
  | { ok: false; request: RenderRequest; error: import('../errors.js').PromptError };
