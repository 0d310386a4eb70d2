/**
 * The core library (`dist/core.js`, package.json `exports['./core']`): what applications,
 * the CLI and the language server import. A plain list of re-exports; each module says what
 * it holds.
 */
export { PromptError, isPromptError, toPromptError, ERROR_CODES } from './errors.js';
export type { ErrorCode, ErrorLocation, PromptErrorDetails } from './errors.js';
export { systemClock, FakeClock, flushMicrotasks } from './clock.js';
export type { Clock } from './clock.js';
export { DIAGNOSTIC_CODES, DEFAULT_SEVERITY, compareDiagnostics } from './model/diagnostics.js';
export type { DiagnosticCode, Severity, Position, Range, RelatedLocation, PromptDiagnostic } from './model/diagnostics.js';
export type * from './model/types.js';
export { validateWorkspace, findPromptWorkspaces } from './validate/validateWorkspace.js';
export type { WorkspaceValidation, TemplateEntry, ValidateOptions } from './validate/api.js';
export { nodeFileSystem, memoryFileSystem, overlayFileSystem } from './workspace/fileSystem.js';
export type { FileSystemHost, DirEntry } from './workspace/fileSystem.js';
export { FileReadError } from './workspace/fileRead.js';
export type { FileReadProblem } from './workspace/fileRead.js';
export type { TemplateAnalysis } from './templates/analysis.js';

export { PromptManager } from './manager/promptManager.js';
export type { PromptManagerOptions, ReloadOptions, ReloadResult, TemplateInfo, ContextCheck, ExecuteWorkflowOptions, ConfigTarget } from './manager/promptManager.js';
export type { RenderContext, RenderOptions, RenderResult, RenderRequest, BatchResult, PreviewOptions, TemplatePreview, StepPreviewResult } from './manager/renderTypes.js';
export { errorsFor, attributeErrors, renderUse, runUse } from './validate/errorScope.js';
export type { ErrorsFor, ErrorOwner, ConfigUse } from './validate/errorScope.js';
export { MissingVariables, missingMarker } from './templates/missingVariables.js';
export type { TemplateLogEntry } from './manager/templateEngine.js';
export { PromptEnabledService, PromptEnabled, SERVICE_NAME_KEY } from './manager/promptEnabledService.js';
export type { PromptCapable, PromptEnabledServiceOptions, RenderPromptRequest, ExecuteWorkflowRequest, ServiceRenderStats } from './manager/promptEnabledService.js';
export {
  createPromptManagerForApp,
  createTesting,
  createServiceManager,
  findAppWorkspace,
  WORKSPACE_ENV_VAR,
  CONVENTIONAL_WORKSPACE_DIRS,
  TESTING_ROOT,
} from './manager/factory.js';
export type { AppManagerOptions, TestingOptions, ServiceManagerOptions } from './manager/factory.js';
export { recommendConfiguration, environmentFromNodeEnv, sequentialIds, ENVIRONMENTS } from './manager/presets.js';
export type { Environment, PresetSettings, Recommendation } from './manager/presets.js';
export type { EngineSnapshot, ServiceRules } from './manager/snapshot.js';
export { ConfigurationError, formatDiagnostic } from './manager/configError.js';
export type { WorkflowPort, WorkflowExecuteOptions, WorkflowRenderOptions, TemplateHost } from './manager/workflowPort.js';
export { RenderCache } from './manager/renderCache.js';
export type { RenderCacheOptions, RenderCacheStats } from './manager/renderCache.js';
export { hashContext, canonicalContext } from './manager/contextHash.js';
export { cachePays } from './manager/cachePolicy.js';
export type { ResultCacheMode, CacheDecision } from './manager/cachePolicy.js';
export { LatencyHistogram } from './stats/histogram.js';
export type { HistogramSummary } from './stats/histogram.js';
export type { MetricsSnapshot, RenderStatsJSON, WorkflowStatsJSON } from './manager/metrics.js';
export type { HealthReport, HealthStatus, ComponentHealth } from './manager/health.js';
export type { PerformanceAlert, PerformanceAlertOptions, AlertMetric } from './manager/performanceAlerts.js';

// Workflows: the DAG engine the manager runs compositions on, its executors and graph export.
export * from './workflow/index.js';
export { EngineWorkflowPort } from './manager/engineWorkflowPort.js';
export type { WorkflowSettings, ProviderOverrides } from './manager/engineWorkflowPort.js';
export { PROBE_DOWN_STREAK } from './manager/providerProbes.js';
export type { ProbeSettings, ProbeState } from './manager/providerProbes.js';
export { LineIndex } from './text/lineIndex.js';
export { ValidationCache } from './validate/validateWorkspace.js';
export { analyzeTemplate } from './templates/analyze.js';
export { PROMPT_HELPERS, registerPromptHelpers } from './templates/helpers.js';
// Prompt tests: list them (with ranges), run them (progress, cancel, repeat, live), their
// history and what changed since the last run, JUnit XML for CI.
export { runPromptTests } from './testing/runner.js';
export type { RunPromptTestsOptions } from './testing/runner.js';
export { listPromptTests } from './testing/listTests.js';
export { TestHistory, summarizeTest, HISTORY_DIR, DEFAULT_HISTORY_RUNS } from './testing/history.js';
export type { HistoryRun, HistoryTestEntry, TestHistorySummary, TestHistoryOptions } from './testing/history.js';
export { compareWithHistory } from './testing/compare.js';
export type { RunComparison, TimingChange } from './testing/compare.js';
export { toJUnitXml } from './testing/junit.js';
export { estimateTokens, extractJson } from './testing/assertions.js';
export { defaultSnapshotMode } from './testing/snapshots.js';
export type { SnapshotMode } from './testing/snapshots.js';
export type * from './testing/types.js';
export type { PromptTestFileModel, PromptTestDef, AssertionDef, AssertionKind, MockDef, MockAnswerDef } from './model/testTypes.js';
export { ASSERTION_KINDS } from './model/testTypes.js';
export { PROMPT_TESTS_FILE, PROMPT_TESTS_DIR, SNAPSHOTS_DIR } from './workspace/discover.js';
export { STATE_DIR } from './workspace/stateDir.js';
// Resource limits (file sizes, YAML aliases and depth, partial depth, render output, history).
export { LIMITS, DEFAULT_LIMITS, configureLimits, resetLimits } from './limits.js';
export type { Limits, RenderLimits } from './limits.js';
