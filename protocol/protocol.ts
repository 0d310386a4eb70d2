/**
 * The custom requests and notifications between the PromptManager language server and its
 * clients, typed once: the server implements them (server/customRequests.ts) and the VS Code
 * client imports this module to call them (as vscode-eslint shares its protocol module).
 *
 * The protocol imports nothing but `vscode-languageserver-protocol` and its own folder (the
 * wire shapes of runs and graphs are in workflowTypes.ts, those of renders and previews in renderTypes.ts;
 * test/repository/boundaries.test.ts holds it to that), so any client can bundle it and the core's internal types are not the
 * wire format: the server maps them to these in server/wire.ts.
 *
 * docs/protocol.md documents every method and field for client authors, and
 * test/protocol/protocolDoc.test.ts holds it to this folder: a change here fails that test until
 * the document has been reviewed against it.
 *
 * Conventions
 * - Every file and folder is a URI string (`file:///...`), every range is an LSP `Range`.
 * - `workspace` selects a prompt workspace: the URI of its folder or of any file in it (the
 *   active editor's document is a good choice). It may be omitted when the server knows
 *   exactly one prompt workspace; otherwise the request fails with `workspace_required`.
 * - Failures that belong to the request (unknown template, render error) are results with
 *   `ok: false`, never LSP errors: LSP errors are for broken requests (unknown workspace).
 */
import { NotificationType, ProtocolRequestType, RequestType, type Location, type Range, type WorkDoneProgressParams } from 'vscode-languageserver-protocol';
import type { GraphNode, WorkflowEvent, WorkflowStatus } from './workflowTypes.js';
import type { PreviewParams, PreviewResult, RenderParams, RenderResult } from './renderTypes.js';

export type * from './workflowTypes.js';
export { PROVIDER_FAILURE_LABELS } from './workflowTypes.js';
export type * from './renderTypes.js';

/** Bumped when a request or result changes incompatibly; the server reports it in `initialize`'s `serverInfo` and `promptManager/listWorkspaces`. */
export const PROTOCOL_VERSION = 1;

/**
 * The error codes of the contract (core/errors.ts's ERROR_CODES), then the ones the server adds
 * for requests it cannot answer (server/wire.ts's SERVER_ERROR_CODES); test/protocol/wireTypes.test.ts
 * holds this list to those two.
 */
export const PROMPT_ERROR_CODES = [
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
  'unknown_service',
  'workspace_required',
  'unknown_workspace',
  'not_available',
] as const;
export type PromptErrorCode = (typeof PROMPT_ERROR_CODES)[number];

/**
 * The most bytes a context file may hold (a render's or run's `context`, read by the client from
 * `contexts/*.json`): the core's `maxContextBytes` default, held equal to it by
 * test/protocol/wireTypes.test.ts.
 */
export const MAX_CONTEXT_BYTES = 32 * 1024 * 1024;

export interface PromptErrorInfo {
  code: PromptErrorCode;
  message: string;
  /** Where the fault is (the template line that failed to render, the YAML key at fault). */
  location?: Location;
  /** The template, service, composition or variable concerned, when there is one. */
  template?: string;
  service?: string;
  composition?: string;
  variable?: string;
}

/** Selects a prompt workspace (see the conventions above). */
export interface WorkspaceParams {
  workspace?: string;
}

// ---------------------------------------------------------------------------------------
// Listing

export interface PromptWorkspaceInfo {
  /** The prompt workspace folder. */
  uri: string;
  /** What messages call it: its editor folder's name, then its path below that folder (`examples`, `examples/broken/cycle`). */
  name: string;
  templatesRoot: string;
  /** Absent when the file does not exist. */
  serviceMappings?: string;
  compositionRules?: string;
  errorCount: number;
  warningCount: number;
  serviceCount: number;
  compositionCount: number;
  templateCount: number;
}

export interface ListWorkspacesResult {
  protocolVersion: number;
  workspaces: PromptWorkspaceInfo[];
}

export interface ServiceInfo {
  name: string;
  description?: string;
  /** In priority order: the first is the service's default template. */
  primaryTemplates: string[];
  templates: string[];
  compositions: string[];
  contextRequirements: { required: string[]; optional: string[] };
  fallbackTemplate?: string;
  performanceTargets: { renderP95Ms?: number; workflowP95Ms?: number; minCacheHitRate?: number };
  /** The service's key in service_mappings.yaml. */
  location: Location;
}

export interface TemplateInfo {
  /** `analysis/summary`. */
  name: string;
  uri: string;
  /** Top-level variables the template reads (not through partials). */
  variables: string[];
  partials: string[];
  /** Step ids read as `steps.<id>`. */
  stepReads: string[];
  helpers: string[];
  /** Set when Handlebars cannot parse it. */
  error?: { message: string; range: Range };
  /** Services (by name) that may render it, and compositions (by name) whose steps use it. */
  usedByServices: string[];
  usedByCompositions: string[];
}

export interface StepInfo {
  id: string;
  template?: string;
  model?: string;
  dependsOn: string[];
  /** The step's `id:` value (or the step's first key when it has no id). */
  location: Location;
  /** The step's `template:` value, when it has one (the client puts its `Preview` CodeLens there). */
  templateLocation?: Location;
}

export interface CompositionInfo {
  name: string;
  description?: string;
  inputs: { required: string[]; optional: string[] };
  steps: StepInfo[];
  /** Names of the state and experience-level overrides. */
  overrides: { states: string[]; experienceLevels: string[] };
  /** Services that list it. */
  services: string[];
  location: Location;
}

export interface ListResult<T> {
  /** The prompt workspace the items come from. */
  workspace: string;
  items: T[];
}

export interface ListTemplatesParams extends WorkspaceParams {
  /** Only the templates this service may render. */
  service?: string;
}
export interface ListCompositionsParams extends WorkspaceParams {
  /** Only the compositions this service may run. */
  service?: string;
}

export const ListWorkspacesRequest = new RequestType<Record<string, never> | null, ListWorkspacesResult, void>('promptManager/listWorkspaces');
export const ListServicesRequest = new RequestType<WorkspaceParams, ListResult<ServiceInfo>, void>('promptManager/listServices');
export const ListTemplatesRequest = new RequestType<ListTemplatesParams, ListResult<TemplateInfo>, void>('promptManager/listTemplates');
export const ListCompositionsRequest = new RequestType<ListCompositionsParams, ListResult<CompositionInfo>, void>('promptManager/listCompositions');

/** A model provider of composition_rules.yaml (never a key: only the name of the variable that holds it). */
export interface ProviderInfo {
  name: string;
  type: string;
  baseUrl?: string;
  model?: string;
  /** The environment variable the provider reads its API key from. */
  apiKeyEnv?: string;
  /** The provider's key in composition_rules.yaml. */
  location: Location;
}
export const ListProvidersRequest = new RequestType<WorkspaceParams, ListResult<ProviderInfo>, void>('promptManager/listProviders');

/** What a context must hold for a render of `template` or a run of `composition` (at most one of them), as `service` when given. */
export interface ContextRequirementsParams extends WorkspaceParams {
  template?: string;
  composition?: string;
  service?: string;
}
export type ContextRequirementsResult =
  | {
      ok: true;
      /** Top-level keys without which the render or run fails (`missing_context`), sorted. */
      required: string[];
      /** Keys read when present, sorted; none of `required`. */
      optional: string[];
    }
  | { ok: false; error: PromptErrorInfo };
export const ContextRequirementsRequest = new RequestType<ContextRequirementsParams, ContextRequirementsResult, void>('promptManager/contextRequirements');

// ---------------------------------------------------------------------------------------
// Rendering (params and results in renderTypes.ts)

/** Renders a template with a context, as the engine would. */
export const RenderRequest = new RequestType<RenderParams, RenderResult, void>('promptManager/render');
/** A render for a person to look at: a template, or a step as a run would render it; missing values as markers. */
export const PreviewRequest = new RequestType<PreviewParams, PreviewResult, void>('promptManager/preview');

// ---------------------------------------------------------------------------------------
// Workflow runs

export interface RunWorkflowParams extends WorkspaceParams, WorkDoneProgressParams {
  composition: string;
  context: Record<string, unknown>;
  service?: string;
  /** The run's id; generated when absent. Reusing the id of a running run is refused. */
  runId?: string;
  /**
   * At most this many steps at once: lowers the composition's `max_parallel`, never raises it
   * (the `promptManager.run.maxParallel` setting). 0 or absent: the composition's own.
   */
  maxParallel?: number;
}

/**
 * Where a run executes (`promptManager.run.backend`): in the language server's own engine, or
 * as BullMQ jobs on the `promptmanager worker` processes of a Redis (`redisUrl`, its password
 * hidden), under a key prefix that those workers must share.
 */
export type RunBackendInfo = { type: 'in-process' } | { type: 'bullmq'; redisUrl: string; prefix: string };

/**
 * `ok: false` when the run could not be started: the workspace's configuration does not load,
 * the composition is unknown, the service may not run it or the context lacks what it requires,
 * or a run with this id is still running.
 */
export type RunWorkflowResult =
  | {
      ok: true;
      status: WorkflowStatus;
      /** Errors of the workspace in what this run does not use (one it uses refuses it); absent when none. */
      errorsElsewhere?: number;
      /** Where it ran. */
      backend: RunBackendInfo;
    }
  | { ok: false; error: PromptErrorInfo };

/**
 * Resolves when the run ends, whatever its status (a run the engine refuses before any step,
 * such as a provider step in an untrusted workspace, ends `failed` with `status.refused` and
 * `status.error`). While
 * it runs the server reports work-done progress (when the client passed a `workDoneToken`) and
 * sends `promptManager/stepProgress` for every event. Cancelling the request
 * (`$/cancelRequest`) or `promptManager/cancelRun` cancels the run; the result then has status
 * `cancelled`. The progress itself is not cancellable.
 */
export const RunWorkflowRequest = new ProtocolRequestType<RunWorkflowParams, RunWorkflowResult, never, void, void>('promptManager/runWorkflow');

export interface StepProgressParams {
  runId: string;
  /** The prompt workspace folder the run belongs to. */
  workspace: string;
  event: WorkflowEvent;
  /** The step's location in composition_rules.yaml, for events about a step. */
  location?: Location;
  /** With the run's first event: where it executes. */
  backend?: RunBackendInfo;
}
export const StepProgressNotification = new NotificationType<StepProgressParams>('promptManager/stepProgress');

export interface RunStatusParams {
  runId: string;
}
/** Null when no run with this id is known (never started, or dropped from the history). */
export const RunStatusRequest = new RequestType<RunStatusParams, WorkflowStatus | null, void>('promptManager/runStatus');

export interface CancelRunParams {
  runId: string;
  reason?: string;
}
/** `cancelled` is false when no such run is running. */
export const CancelRunRequest = new RequestType<CancelRunParams, { cancelled: boolean }, void>('promptManager/cancelRun');

export interface RunSummaryInfo {
  id: string;
  workspace: string;
  composition: string;
  status: WorkflowStatus['status'];
  startedAt: number;
}
export const ListRunsRequest = new RequestType<WorkspaceParams, RunSummaryInfo[], void>('promptManager/listRuns');

// ---------------------------------------------------------------------------------------
// Composition graph

export interface CompositionGraphParams extends WorkspaceParams {
  composition: string;
  /** With a context, the state and experience-level overrides it selects are applied. */
  context?: Record<string, unknown>;
}

/** A node of the composition's graph, with where the editor finds it. */
export interface GraphNodeInfo extends GraphNode {
  /** The step in composition_rules.yaml. */
  location?: Location;
  /** The step's template file, when it exists. */
  templateUri?: string;
}

export interface CompositionGraph {
  composition: string;
  nodes: GraphNodeInfo[];
  /** `from` is the dependency, `to` the step that depends on it. */
  edges: { from: string; to: string }[];
  layers: string[][];
  /** A dependency cycle, closed (`['a', 'b', 'a']`), when there is one. */
  cycle?: string[];
  /** The composition's key in composition_rules.yaml. */
  location: Location;
  /** The overrides applied (only with `context`). */
  appliedOverrides?: { state?: string; experienceLevel?: string };
}

export type CompositionGraphResult = { ok: true; graph: CompositionGraph } | { ok: false; error: PromptErrorInfo };
export const CompositionGraphRequest = new RequestType<CompositionGraphParams, CompositionGraphResult, void>('promptManager/compositionGraph');

// ---------------------------------------------------------------------------------------
// Health and metrics

export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy';
export interface HealthComponent {
  status: HealthStatus;
  reason: string;
}
export interface HealthReport {
  status: HealthStatus;
  components: Record<string, HealthComponent>;
}
export type HealthResult = { ok: true; workspace: string; health: HealthReport } | { ok: false; error: PromptErrorInfo };
export const HealthRequest = new RequestType<WorkspaceParams, HealthResult, void>('promptManager/health');

export interface MetricsParams extends WorkspaceParams {
  /** `json` (default) or the Prometheus text format. */
  format?: 'json' | 'prometheus';
}
export type MetricsResult =
  | { ok: true; workspace: string; format: 'json'; metrics: Record<string, unknown> }
  | { ok: true; workspace: string; format: 'prometheus'; text: string }
  | { ok: false; error: PromptErrorInfo };
export const MetricsRequest = new RequestType<MetricsParams, MetricsResult, void>('promptManager/metrics');

// ---------------------------------------------------------------------------------------
// Notifications

export interface IndexedParams {
  /** The prompt workspaces known now (folder URIs). */
  workspaces: string[];
  /** Milliseconds the (re)indexing took; 0 when the set changed without a timed indexing. */
  durationMs: number;
}
/**
 * Server → client: sent after the initial indexing and whenever the set of prompt workspaces
 * or their services, compositions or templates changed, so that tree views can refresh.
 */
export const IndexedNotification = new NotificationType<IndexedParams>('promptManager/indexed');

export interface SetTrustParams {
  trusted: boolean;
}
/**
 * Client → server: the workspace's trust changed (VS Code's workspace trust). An untrusted
 * workspace runs no step that calls a model provider. `initializationOptions.trusted` gives
 * the value at start; clients without the notion leave it out (trusted).
 */
export const SetTrustNotification = new NotificationType<SetTrustParams>('promptManager/setTrust');

// ---------------------------------------------------------------------------------------
// Settings (read with workspace/configuration, section `promptManager`)

export interface PromptManagerSettings {
  /** Overrides the templates root (relative to the prompt workspace folder); empty = the files' `templates_dir`, else `templates/`. */
  templatesRoot: string;
  diagnostics: {
    /** Diagnostic codes not to report (`unused-template`, ...). */
    disabledCodes: string[];
  };
  /** At most this many diagnostics per file (errors first). */
  maxProblemsPerFile: number;
  trace: { server: 'off' | 'messages' | 'verbose' };
  /** The engine preset for renders and runs (core/manager/presets.ts); absent = `development`. */
  environment?: 'development' | 'production' | 'testing';
  /** Where editor runs execute: `in-process` (absent), or `bullmq` at `redisUrl` (empty: PROMPTMANAGER_REDIS_URL). */
  run?: { backend?: 'in-process' | 'bullmq'; redisUrl?: string };
}

/**
 * Each setting's default, by its name under `promptManager.`: the client reads the settings
 * with these, the server fills in what a client leaves out (DEFAULT_SETTINGS). package.json
 * repeats them; test/repository/manifest.test.ts holds it equal to them.
 */
export const SETTING_DEFAULTS = {
  templatesRoot: '',
  'run.maxParallel': 0,
  'run.backend': 'in-process',
  'run.redisUrl': '',
  environment: 'development',
  'diagnostics.disabledCodes': [] as readonly string[],
  maxProblemsPerFile: 1000,
  'trace.server': 'off',
} as const;

export const DEFAULT_SETTINGS: PromptManagerSettings = {
  templatesRoot: SETTING_DEFAULTS.templatesRoot,
  diagnostics: { disabledCodes: [...SETTING_DEFAULTS['diagnostics.disabledCodes']] },
  maxProblemsPerFile: SETTING_DEFAULTS.maxProblemsPerFile,
  trace: { server: SETTING_DEFAULTS['trace.server'] },
};

export * from './testTypes.js';
