/**
 * The public types of the workflow engine: a composition resolved for one run, the run's
 * status as callers read it, and its progress events. Plain data only (no source nodes), so
 * that status and events can go to JSON, the CLI and the editor as they are.
 */
import type { ProviderDef } from '../model/types.js';
import type { ProviderFailureKind } from './providerFailure.js';

/** What the engine needs from the template side (the lead's PromptManager implements it). */
export interface WorkflowHost {
  /** Renders a template by name with the step's context (strict mode; throws PromptError: template_error, missing_context, unknown_template...). */
  renderTemplate(name: string, context: Record<string, unknown>, opts: { signal: AbortSignal; serviceName?: string }): Promise<string>;
  /** Renders an inline Handlebars string (a step's `context:` string values, the composition's `output`). */
  renderString(source: string, context: Record<string, unknown>): string;
}

export interface ResolvedRetry {
  /** Total attempts; 1 = no retry. */
  maxAttempts: number;
  initialIntervalMs: number;
  backoffCoefficient: number;
  maxIntervalMs: number;
  nonRetryable: string[];
}

export interface ResolvedWhen {
  /** Dotted path into the step's run context (`user_experience_level`, `steps.extract.status`). */
  path: string;
  equals?: unknown;
  notEquals?: unknown;
  in?: unknown[];
  exists?: boolean;
}

export interface ResolvedFallback {
  template?: string;
  value?: string;
}

/** One step with every default and override applied. */
export interface ResolvedStep {
  id: string;
  template?: string;
  /** A provider name; without it the output is the rendered prompt. */
  model?: string;
  dependsOn: string[];
  when?: ResolvedWhen;
  /** Set by an override's `skip: true`. */
  skip: boolean;
  retry: ResolvedRetry;
  /** Per attempt; undefined = no limit. */
  timeoutMs?: number;
  continueOnError: boolean;
  fallback?: ResolvedFallback;
  /** Extra variables; string values are Handlebars, rendered against the run context before the step. */
  context: Record<string, unknown>;
}

export interface ResolvedComposition {
  name: string;
  description?: string;
  inputs: { required: string[]; optional: string[] };
  steps: ResolvedStep[];
  /** `Infinity` when nothing bounds it. */
  maxParallel: number;
  failFast: boolean;
  /** Whole run; undefined = no limit. */
  timeoutMs?: number;
  /** Handlebars source of the run's output; undefined = the leaf steps' outputs joined by blank lines. */
  output?: string;
  /** The override keys that applied (for status and the editor). */
  appliedOverrides: { state?: string; experienceLevel?: string };
}

export type StepStatus = 'pending' | 'running' | 'succeeded' | 'fallback' | 'failed' | 'skipped' | 'cancelled';
/** `pending`: queued, waiting for a run slot (the engine's `maxConcurrentRuns`); `running` from its start to its end. */
export type RunStatus = 'pending' | 'running' | 'succeeded' | 'partial' | 'failed' | 'cancelled' | 'timed_out';
export type FinalRunStatus = Exclude<RunStatus, 'pending' | 'running'>;
/** Why a step was skipped: its `when` was false, an override said `skip`, or something upstream failed. */
export type SkipReason = 'when' | 'override' | 'upstream';

/** A PromptError as JSON (`PromptError.toJSON()`). */
export type ErrorJSON = Record<string, unknown>;

export interface StepRunStatus {
  id: string;
  status: StepStatus;
  skipReason?: SkipReason;
  /** Attempts made (0 for a step that never ran). */
  attempts: number;
  /**
   * Every attempt's error, in order (a step that succeeded on attempt 3 has two), at most 10:
   * past that the first 5 and the latest 5 are kept, and `errorsDropped` counts the others.
   */
  errors: ErrorJSON[];
  /** Errors left out of `errors` between the first and the latest ones; absent when none were. */
  errorsDropped?: number;
  /** Wall-clock time, epoch milliseconds (as `Date.now()`); `finishedAt - startedAt` is `durationMs`, measured on the engine's monotonic clock. */
  startedAt?: number;
  finishedAt?: number;
  durationMs?: number;
  /** Null until the step finishes, and for a step that failed or was skipped. */
  output: unknown;
  template?: string;
  model?: string;
}

/**
 * Why a step's fallback gave its output: the error of its last attempt. The contract counts a
 * run whose steps fell back as `succeeded`; `WorkflowStatus.fallbacks` is how a caller tells
 * it apart from a run whose steps all answered.
 */
export interface FallbackCause {
  step: string;
  /** The error's code (`provider_error`, `timeout`, `template_error`...). */
  code: string;
  /** The error's message, for a person. */
  cause: string;
  /** When the error came from the model provider's call: what kind of failure (`missing_key`, `connection_refused`...). */
  kind?: ProviderFailureKind;
  /** The provider that failed, with `kind`. */
  provider?: string;
  /** With kind `missing_key`: the environment variable the provider reads its API key from. */
  apiKeyEnv?: string;
}

export interface WorkflowStatus {
  id: string;
  composition: string;
  serviceName?: string;
  status: RunStatus;
  /** Wall-clock time the run was started (or queued), epoch milliseconds (`new Date(startedAt)`). */
  startedAt: number;
  /**
   * For a run that waited for a run slot (`maxConcurrentRuns`): how long it waited, in
   * milliseconds (so far, while it is `pending`). Included in `durationMs`; not in its `timeout_ms`,
   * which counts from the end of the wait.
   */
  queuedMs?: number;
  /** `startedAt` plus the run's duration on the engine's monotonic clock. */
  finishedAt?: number;
  durationMs?: number;
  /** In declaration order. */
  steps: StepRunStatus[];
  /** Outputs of the steps that finished with one, by step id: kept whatever the run's status. */
  outputs: Record<string, unknown>;
  /**
   * True when the engine has dropped this finished run's outputs (`outputs`, each step's
   * `output`, `output`) to keep its history within `maxHistoryOutputChars`; `done` resolved
   * with them all the same.
   */
  outputsDropped?: boolean;
  /** The composition's output; null until the run ends, and for runs that did not succeed or end partial. */
  output: string | null;
  /** Why the run could not start, or why its output could not be rendered. */
  error?: ErrorJSON;
  maxParallel: number;
  appliedOverrides: { state?: string; experienceLevel?: string };
  /** The steps whose fallback gave the output, and why, in declaration order; absent when none did. */
  fallbacks?: FallbackCause[];
  /** True when the run was refused before any step started (`error` says why): its steps never ran. */
  refused?: true;
}

export interface WorkflowResult extends WorkflowStatus {
  status: FinalRunStatus;
}

interface EventBase {
  runId: string;
  composition: string;
  /** When it happened: wall-clock epoch milliseconds, the run's start plus monotonic time since (so events never go back in time). */
  time: number;
}
export interface WorkflowStartedEvent extends EventBase {
  type: 'workflow.started';
  /** Not about one step: lets `event.stepId ?? ''` read any event (undefined for run events). */
  stepId?: undefined;
  steps: string[];
  maxParallel: number;
}
/** The run waits for a run slot (`maxConcurrentRuns`); `workflow.started` follows when it gets one. */
export interface WorkflowQueuedEvent extends EventBase {
  type: 'workflow.queued';
  stepId?: undefined;
  /** Its place in the queue, 1 for the next run to start. */
  position: number;
}
export interface StepStartedEvent extends EventBase {
  type: 'step.started';
  stepId: string;
  attempt: number;
}
export interface StepRetryingEvent extends EventBase {
  type: 'step.retrying';
  stepId: string;
  /** The attempt that failed. */
  attempt: number;
  /** The attempt that will start after the wait (attempt + 1). */
  nextAttempt: number;
  waitMs: number;
  error: ErrorJSON;
}
export interface StepFinishedEvent extends EventBase {
  type: 'step.finished';
  stepId: string;
  status: Exclude<StepStatus, 'pending' | 'running'>;
  skipReason?: SkipReason;
  durationMs: number;
  attempts: number;
  error?: ErrorJSON;
}
export interface WorkflowFinishedEvent extends EventBase {
  type: 'workflow.finished';
  stepId?: undefined;
  status: FinalRunStatus;
  durationMs: number;
  error?: ErrorJSON;
}
export type WorkflowEvent = WorkflowQueuedEvent | WorkflowStartedEvent | StepStartedEvent | StepRetryingEvent | StepFinishedEvent | WorkflowFinishedEvent;

export interface ExecuteOptions {
  /** The run's id; generated when absent. Reusing the id of a run that is still running is refused. */
  workflowId?: string;
  /** Passed to `renderTemplate` (service access rules). */
  serviceName?: string;
  /** Aborting it cancels the run. */
  signal?: AbortSignal;
  /**
   * Lowers the composition's `max_parallel` for this run (the CLI's `--max-parallel`, the
   * editor's `promptManager.run.maxParallel`): never raises it, and the engine's cap still
   * applies. A whole number from 1 up.
   */
  maxParallel?: number;
  /**
   * The template host and providers of this run. The prompt manager passes the ones of the
   * configuration the run started with, so a hot reload during the run does not reach it.
   */
  host?: WorkflowHost;
  providers?: readonly ProviderDef[];
}

/** The handle `execute` returns at once. Iterating it yields every progress event of the run, from the first. */
export interface WorkflowRun extends AsyncIterable<WorkflowEvent> {
  readonly id: string;
  /** Resolves when the run ends, whatever its status; never rejects. */
  readonly done: Promise<WorkflowResult>;
  /** A snapshot of the run's status now. */
  status(): WorkflowStatus;
  /** No new step starts, running steps get the abort, the run ends `cancelled`. */
  cancel(reason?: string): void;
}
