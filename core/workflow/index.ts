/** The workflow engine's public surface, for core/index.ts, the CLI and the editor. */
export { WorkflowEngine, DEFAULT_HISTORY_LIMIT } from './engine.js';
export type { WorkflowEngineOptions, WorkflowEngineEvents, RunSummary } from './engine.js';
export type { SchedulingPolicy } from './run.js';
export { resolveComposition, resolveRetry, DEFAULT_RETRY, DEFAULT_FAIL_FAST } from './resolve.js';
export { ExecutorRegistry, createDefaultExecutors, renderExecutor, RENDER_EXECUTOR } from './executors.js';
export type { StepExecutor, StepExecutionRequest } from './executors.js';
export { createOpenAICompatibleExecutor, OPENAI_COMPATIBLE, parseRetryAfter, parseHttpDate, chatCompletionsUrl, describeProvider } from './openaiCompatible.js';
export type { OpenAICompatibleOptions } from './openaiCompatible.js';
export { markNonRetryable, isRetryable, backoffMs, retryWaitMs, planRetry } from './retry.js';
export type { RetryPlan } from './retry.js';
export { MAX_DURATION_MS, MAX_ATTEMPTS, MAX_BACKOFF_COEFFICIENT, MIN_RETRY_INTERVAL_MS, DEFAULT_PROVIDER_TIMEOUT_MS, MAX_STEP_ERRORS } from './bounds.js';
export { redactSecrets, redactUrl } from './redact.js';
export { WorkflowMetrics } from './metrics.js';
export type { WorkflowMetricsJSON, CompositionMetricsJSON, StepMetricsJSON, ProviderMetricsJSON, DurationSummary } from './metrics.js';
export { buildGraph, toMermaid, toDot } from './graph.js';
export type { WorkflowGraph, GraphNode, GraphEdge, MermaidOptions } from './graph.js';
export { evaluateWhen, readPath } from './when.js';
export type * from './types.js';
