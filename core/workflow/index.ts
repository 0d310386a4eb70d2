/** The workflow engine's public surface, for core/index.ts, the CLI and the editor. */
export { WorkflowEngine, DEFAULT_HISTORY_LIMIT } from './engine.js';
export type { WorkflowEngineOptions, WorkflowEngineEvents, RunSummary } from './engine.js';
export type { SchedulingPolicy } from './run.js';
export { resolveComposition, resolveRetry, DEFAULT_RETRY, DEFAULT_FAIL_FAST } from './resolve.js';
export { ExecutorRegistry, createDefaultExecutors, renderExecutor, RENDER_EXECUTOR } from './executors.js';
export type { StepExecutor, StepExecutionRequest } from './executors.js';
export { createOpenAICompatibleExecutor, OPENAI_COMPATIBLE, parseRetryAfter, chatCompletionsUrl, describeProvider } from './openaiCompatible.js';
export type { OpenAICompatibleOptions } from './openaiCompatible.js';
export { markNonRetryable, isRetryable, backoffMs, retryWaitMs } from './retry.js';
export { classifyProviderFailure, markProviderFailure, PROVIDER_FAILURE_LABELS } from './providerFailure.js';
export type { ProviderFailureKind } from './providerFailure.js';
export { WorkflowMetrics } from './metrics.js';
export type { WorkflowMetricsJSON, CompositionMetricsJSON, StepMetricsJSON, ProviderMetricsJSON, DurationSummary } from './metrics.js';
export { buildGraph, toMermaid, toDot } from './graph.js';
export type { WorkflowGraph, GraphNode, GraphEdge, MermaidOptions } from './graph.js';
export { evaluateWhen, readPath } from './when.js';
export type * from './types.js';
