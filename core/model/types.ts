/**
 * The typed model of a prompt workspace. Built leniently from the YAML source trees: a value
 * of the wrong type is left out here (the schema check reports it), so that every later check
 * and every editor feature can rely on these types. Each element keeps the source node it came
 * from, for ranges.
 */
import type { SMap, SNode, SPair, SScalar } from '../yaml/sourceTree.js';

/** A name written in a file (a template, step, composition or provider reference). */
export interface NameRef {
  name: string;
  node: SScalar;
}

export interface RetryPolicy {
  maxAttempts: number;
  initialIntervalMs: number;
  backoffCoefficient: number;
  maxIntervalMs?: number;
  nonRetryable: string[];
}

export interface WhenCondition {
  path: string;
  equals?: unknown;
  notEquals?: unknown;
  in?: unknown[];
  exists?: boolean;
  node: SNode;
}

export interface StepFallback {
  template?: NameRef;
  value?: string;
  node: SNode;
}

export interface ContextEntry {
  key: string;
  /** Strings are Handlebars, rendered against the run context; other values pass as they are. */
  value: unknown;
  node: SNode | null;
  pair: SPair;
}

export interface StepDef {
  id: string;
  idNode?: SScalar;
  /** The step's mapping in the source. */
  node: SMap;
  template?: NameRef;
  model?: NameRef;
  dependsOn: NameRef[];
  when?: WhenCondition;
  retry?: Partial<RetryPolicy>;
  timeoutMs?: number;
  continueOnError?: boolean;
  fallback?: StepFallback;
  context: ContextEntry[];
}

export interface StepOverride {
  stepName: NameRef;
  template?: NameRef;
  skip?: boolean;
  retry?: Partial<RetryPolicy>;
  timeoutMs?: number;
  model?: NameRef;
  context: ContextEntry[];
  continueOnError?: boolean;
  node: SMap;
}

export interface CompositionOverride {
  /** The state or experience-level value that selects this override. */
  key: string;
  keyNode: SNode;
  maxParallel?: number;
  failFast?: boolean;
  timeoutMs?: number;
  steps: StepOverride[];
  node: SMap;
}

export interface RunDefaults {
  maxParallel?: number;
  failFast?: boolean;
  stepTimeoutMs?: number;
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
}

export interface CompositionDef {
  name: string;
  nameNode: SNode;
  node: SMap;
  description?: string;
  inputs: { required: NameRef[]; optional: NameRef[] };
  maxParallel?: number;
  failFast?: boolean;
  timeoutMs?: number;
  stepTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  steps: StepDef[];
  output?: { value: string; node: SNode };
  overrides: { states: CompositionOverride[]; experienceLevels: CompositionOverride[] };
}

export interface ProviderDef {
  name: string;
  nameNode: SNode;
  node: SMap;
  type: string;
  baseUrl?: string;
  model?: string;
  apiKeyEnv?: string;
  /** Time limit of one call to the provider (`timeout_ms`); the engine enforces it, 60,000 ms when unset. Never sent to the provider. */
  timeoutMs?: number;
  /** At most this many calls at once across every run (`max_concurrency`, a whole number from 1). */
  maxConcurrency?: number;
  /** At most this many calls a minute across every run, spaced evenly (`requests_per_minute`, more than 0). */
  requestsPerMinute?: number;
  /** At most this many tokens a minute across every run, estimated then corrected by the answer's usage (`tokens_per_minute`, more than 0). */
  tokensPerMinute?: number;
  /** Extra request fields (temperature, max_tokens...) passed through to the provider. */
  options: Record<string, unknown>;
}

export interface CompositionRulesModel {
  kind: 'composition_rules';
  file: string;
  version?: number;
  templatesDir?: { value: string; node: SNode };
  defaults: RunDefaults;
  providers: ProviderDef[];
  compositions: CompositionDef[];
}

export interface PerformanceTargets {
  renderP95Ms?: number;
  workflowP95Ms?: number;
  minCacheHitRate?: number;
}

export interface ServiceFallback {
  template?: NameRef;
  on: string[];
}

export interface ServiceDef {
  name: string;
  nameNode: SNode;
  node: SMap;
  description?: string;
  primaryTemplates: NameRef[];
  templates: NameRef[];
  compositions: NameRef[];
  contextRequirements: { required: string[]; optional: string[] };
  performanceTargets: PerformanceTargets;
  fallback?: ServiceFallback;
}

export interface ServiceMappingsModel {
  kind: 'service_mappings';
  file: string;
  version?: number;
  templatesDir?: { value: string; node: SNode };
  /** Services with `defaults` already merged under them (the service wins). */
  services: ServiceDef[];
}

/** Keeps a reference to a mapping's pair so that a key (not its value) can be reported. */
export type PairRef = SPair;
