/**
 * The wire shapes of workflow runs and composition graphs: a run's status, its progress events
 * and a graph's nodes, as the server sends them and clients read them. They are the protocol's
 * own: the core's types (core/workflow/types.ts, core/workflow/graph.ts) may change without
 * changing what clients receive. The server maps core values to these in one place
 * (server/wire.ts), where the compiler checks each mapping, and test/protocol/wireTypes.test.ts
 * holds them field for field to what the core produces, so a change on either side is a
 * decision made here.
 *
 * Types only: no import, so any client can bundle it.
 */

export type StepStatus = 'pending' | 'running' | 'succeeded' | 'fallback' | 'failed' | 'skipped' | 'cancelled';
/** `pending`: queued, waiting for a run slot (the engine's `maxConcurrentRuns`); `running` from its start to its end. */
export type RunStatus = 'pending' | 'running' | 'succeeded' | 'partial' | 'failed' | 'cancelled' | 'timed_out';
export type FinalRunStatus = Exclude<RunStatus, 'pending' | 'running'>;
/** Why a step was skipped: its `when` was false, an override said `skip`, or something upstream failed. */
export type SkipReason = 'when' | 'override' | 'upstream';

/**
 * What kind of failure a call to a model provider ended in: `missing_key` (its `api_key_env`
 * is not set), `connection_refused`, `dns`, `unreachable`, `connection_reset`, `tls`,
 * `timeout`, `rate_limited` (429), `server_error` (5xx), `auth` (401/403), `client_error`
 * (other 4xx), `malformed_response`, `not_sent` (its settings kept the request from being
 * sent), `cancelled`, `other`.
 */
export type ProviderFailureKind =
  | 'connection_refused'
  | 'dns'
  | 'unreachable'
  | 'connection_reset'
  | 'tls'
  | 'timeout'
  | 'rate_limited'
  | 'server_error'
  | 'auth'
  | 'client_error'
  | 'malformed_response'
  | 'missing_key'
  | 'not_sent'
  | 'cancelled'
  | 'other';

/** How each kind is named to people (core/workflow/providerFailure.ts's labels, held equal by test/protocol/wireTypes.test.ts). */
export const PROVIDER_FAILURE_LABELS: Readonly<Record<ProviderFailureKind, string>> = {
  connection_refused: 'connection refused',
  dns: 'host name not found',
  unreachable: 'host unreachable',
  connection_reset: 'connection reset',
  tls: 'TLS or certificate error',
  timeout: 'timed out',
  rate_limited: 'rate limited',
  server_error: 'server error',
  auth: 'key refused',
  client_error: 'request refused',
  malformed_response: 'malformed answer',
  missing_key: 'API key not set',
  not_sent: 'bad provider settings, not sent',
  cancelled: 'cancelled',
  other: 'other error',
};

/** An error of a step or a run, as JSON: `code` (a PromptErrorCode) and `message`, with the details that apply (`template`, `service`, `composition`, `step`, `variable`, `status`, `retryAfterMs`, `location`). */
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
  /** Wall-clock time, epoch milliseconds; `finishedAt - startedAt` is `durationMs`, measured on the engine's monotonic clock. */
  startedAt?: number;
  finishedAt?: number;
  durationMs?: number;
  /** Null until the step finishes, and for a step that failed or was skipped. */
  output: unknown;
  template?: string;
  model?: string;
}

/** Why a step's fallback gave its output (`WorkflowStatus.fallbacks`): the error of its last attempt. */
export interface FallbackCause {
  step: string;
  /** The error's code (`provider_error`, `timeout`, `template_error`...). */
  code: string;
  /** The error's message, for a person. */
  cause: string;
  /** When the error came from the model provider's call: what kind of failure. */
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
  /** Wall-clock time the run was started (or queued), epoch milliseconds. */
  startedAt: number;
  /** For a run that waited for a run slot: how long it waited, in milliseconds (so far, while `pending`); included in `durationMs`. */
  queuedMs?: number;
  /** `startedAt` plus the run's duration on the engine's monotonic clock. */
  finishedAt?: number;
  durationMs?: number;
  /** In declaration order. */
  steps: StepRunStatus[];
  /** Outputs of the steps that finished with one, by step id: kept whatever the run's status. */
  outputs: Record<string, unknown>;
  /** True when the server's history dropped this finished run's outputs (`outputs`, each step's `output`, `output`) to stay within its bounds. */
  outputsDropped?: boolean;
  /** The composition's output; null until the run ends, and for runs that did not succeed or end partial. */
  output: string | null;
  /** Why the run could not start, or why its output could not be rendered. */
  error?: ErrorJSON;
  /** Why a running run does not move on (a distributed run waiting for a worker that serves its configuration). */
  notice?: string;
  maxParallel: number;
  appliedOverrides: { state?: string; experienceLevel?: string };
  /** The steps whose fallback gave the output, and why, in declaration order; absent when none did (the run's `status` stays the contract's). */
  fallbacks?: FallbackCause[];
  /** True when the run was refused before any step started (`error` says why): its steps never ran. */
  refused?: true;
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
/** The run waits for a run slot; `workflow.started` follows when it gets one. */
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
/** One progress event of a run (`promptManager/stepProgress`). */
export type WorkflowEvent = WorkflowQueuedEvent | WorkflowStartedEvent | StepStartedEvent | StepRetryingEvent | StepFinishedEvent | WorkflowFinishedEvent;

/** A step of a composition graph (`promptManager/compositionGraph`). */
export interface GraphNode {
  id: string;
  template?: string;
  model?: string;
  /** One more than the step's deepest dependency; 0 for a step without dependencies. */
  layer: number;
  /** `when` as text, when the step has one. */
  when?: string;
  skip?: boolean;
  continueOnError?: boolean;
  hasFallback?: boolean;
}
