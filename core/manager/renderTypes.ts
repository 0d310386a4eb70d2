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
  fallbackFor?: { template: string; code: ErrorCode; message: string; variable?: string };
  /**
   * With `configErrors: 'isolate'`, when the workspace has errors this render does not use:
   * how many (a render that uses one is refused instead).
   */
  errorsElsewhere?: number;
}

export interface PreviewOptions {
  /** Render as this service: its access rules apply, and for a template its required context and fallback. */
  serviceName?: string;
}

/**
 * A preview: the render as it would be made, and where it would fail for a missing value, the
 * whole text all the same, each missing value written as a marker (`⟨max_words⟩`).
 */
export interface TemplatePreview {
  /** The rendered text, with markers where values are missing (`missing`). */
  text: string;
  /** The template that produced it: the service's fallback when it answered. */
  template: string;
  /** The variables written as markers, in the order met; empty when the render succeeded as it is. */
  missing: string[];
  /** What a render (or run) would do: its error, or undefined when it would give `text`. */
  strictError?: import('../errors.js').PromptError;
  /** The service's fallback answered: the template asked for, and its error. */
  fallbackFor?: { template: string; code: ErrorCode; message: string; variable?: string };
  /** Errors of the workspace in what the preview does not use (it would be refused for one it uses). */
  errorsElsewhere: number;
  fromCache: boolean;
  durationMs: number;
}

/** A step of a composition previewed as a run would render it (core/workflow/stepPreview.ts). */
export interface StepPreviewResult extends TemplatePreview {
  composition: string;
  step: string;
  dependencies: import('../workflow/stepPreview.js').DependencyInput[];
  appliedOverrides: { state?: string; experienceLevel?: string };
  skip?: 'override' | 'when';
  model?: string;
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
