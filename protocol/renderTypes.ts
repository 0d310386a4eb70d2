/**
 * The wire shapes of `promptManager/render` and `promptManager/preview`: their params and
 * results (for a preview: the rendered text with markers for what the context lacks, the strict
 * result beside it, the service's fallback, and for a step how the run would render it). The
 * requests are declared in protocol.ts, which re-exports these; docs/protocol.md documents every
 * field.
 *
 * Types only, importing only protocol.ts's types, so any client can bundle it.
 */
import type { PromptErrorCode, PromptErrorInfo, WorkspaceParams } from './protocol.js';

export interface RenderParams extends WorkspaceParams {
  template: string;
  context: Record<string, unknown>;
  /** With a service: its access rules, required context and fallback apply. */
  service?: string;
}

export type RenderResult =
  | {
      ok: true;
      text: string;
      /** The template that produced the text: the service's fallback template when it answered. */
      templateUsed: string;
      fromCache: boolean;
      durationMs: number;
      /** Errors of the workspace in what this render does not use (one it uses refuses it); absent when none. */
      errorsElsewhere?: number;
    }
  | { ok: false; error: PromptErrorInfo; durationMs: number };

/** Either `template`, or `composition` and `step`. */
export interface PreviewParams extends WorkspaceParams {
  /** A template on its own. */
  template?: string;
  /** One step of a composition, rendered as a run would render it. */
  composition?: string;
  step?: string;
  /** The variables (a template's), or the run's inputs (a step's). */
  context: Record<string, unknown>;
  /** As this service: its access rules apply (for a template, its required context and fallback too). */
  service?: string;
}

/** Where a step's `steps.<id>` came from in a step preview. */
export interface PreviewDependency {
  step: string;
  /** `run`: the output of the last run of the composition; `placeholder`: a visible marker in its place. */
  source: 'run' | 'placeholder';
  /** The run it came from, or whose lack of output made the placeholder. */
  runId?: string;
  /** The step's status in that run. */
  status?: string;
  /** Why a placeholder: `not run yet`, `no output in run r-2 (failed)`... */
  reason?: string;
}

/** What a step preview rendered: the step as the run would resolve it. */
export interface PreviewStepInfo {
  composition: string;
  step: string;
  /** The steps it depends on (transitively), in declaration order. */
  dependencies: PreviewDependency[];
  /** The `state` and `experienceLevel` overrides the context selected. */
  appliedOverrides: { state?: string; experienceLevel?: string };
  /** The run would skip the step: `override` (an override's `skip`) or `when` (its condition is false for this context). */
  skip?: 'override' | 'when';
  /** The provider the run would send this prompt to (a preview sends nothing). */
  model?: string;
}

export type PreviewResult =
  | {
      ok: true;
      /** The rendered text; where the context lacks a value, a marker `⟨name⟩` (listed in `missing`). */
      text: string;
      /** The template that produced it: the step's (its overrides applied), or the service's fallback when it answered. */
      templateUsed: string;
      /** The values written as markers, in the order met; empty when the render went through as it is. */
      missing: string[];
      /** What a render or run would do instead, when it would fail (`missing_context` naming the variable...). */
      strictError?: PromptErrorInfo;
      /** The service's fallback answered: the template asked for and why it failed. */
      fallbackFor?: { template: string; code: PromptErrorCode; message: string; variable?: string };
      /** For a step: how the run would render it. */
      step?: PreviewStepInfo;
      /** Errors of the workspace in what this preview does not use (one it uses refuses it). */
      errorsElsewhere: number;
      fromCache: boolean;
      durationMs: number;
    }
  | { ok: false; error: PromptErrorInfo; durationMs: number };
