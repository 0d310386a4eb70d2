/**
 * Step executors: what turns a step's rendered prompt into its output. A step without
 * `model:` uses `render` (the output is the prompt itself); a step with `model:` uses the
 * executor named by its provider's `type`. An application registers its own LLM client as an
 * executor under a name of its choice and points a provider's `type` at it (README "Your own
 * model client"); a run whose provider type has no executor is refused before any step starts.
 */
import type { Clock } from '../clock.js';
import { PromptError } from '../errors.js';
import type { ProviderDef } from '../model/types.js';
import { OPENAI_COMPATIBLE, createOpenAICompatibleExecutor, describeProvider } from './openaiCompatible.js';
import { markNonRetryable } from './retry.js';
import type { StepUsage } from './tokens.js';

export interface StepExecutionRequest {
  runId: string;
  composition: string;
  stepId: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** The step's template rendered with its context (the engine renders it for every attempt). */
  prompt: string;
  /** The step's render context (run input, `steps`, the step's `context:`). */
  context: Record<string, unknown>;
  /** The provider named by the step's `model:`, when it has one. */
  provider?: ProviderDef;
  /**
   * Aborted when the attempt or the provider call times out (the provider's `timeout_ms`,
   * 60 s by default) or the run is cancelled; `signal.reason` is the PromptError (`timeout` or
   * `cancelled`). The engine stops waiting at that moment and discards whatever the executor
   * returns later, so honouring it (pass it to your HTTP client) is about freeing resources.
   */
  signal: AbortSignal;
  /** The engine's clock: time simulated delays on it, so that a test's fake clock drives them. */
  clock: Clock;
  /** Environment lookup for secrets (`api_key_env`). */
  env: (name: string) => string | undefined;
  serviceName?: string;
  /**
   * Tells the engine what the call used, from the provider's answer (OpenAI's `usage`): the
   * provider's `tokens_per_minute` budget is corrected from the estimate made before the call
   * (the prompt's characters / 4, plus `max_tokens`) to this. Optional to call (without it the
   * estimate stands); set by the engine for provider steps, absent when you build a request yourself.
   */
  reportUsage?: (usage: StepUsage) => void;
}

export interface StepExecutor {
  readonly name: string;
  /** The step's output. Throw a PromptError to fail the attempt (its `code`, `status` and `retryAfterMs` drive retries). */
  execute(request: StepExecutionRequest): Promise<unknown>;
  /**
   * Optional: a cheap request that tells whether the provider answers (the manager's provider
   * probes, `workflow: { probes }`, call it on an interval). Resolve when it answers (with a
   * `warning` when it answers but something is off, such as a model it does not list); throw a
   * PromptError, classified like a failed call, when it does not. Without it the provider is
   * judged by its calls alone.
   */
  probe?(request: ProbeRequest): Promise<ProbeAnswer | void>;
}

export interface ProbeRequest {
  provider: ProviderDef;
  /** Aborted at the probe's timeout or when the manager closes; `signal.reason` is the PromptError. */
  signal: AbortSignal;
  clock: Clock;
  env: (name: string) => string | undefined;
}

export interface ProbeAnswer {
  /** What the probe saw, for health (`12 models listed`). */
  detail?: string;
  /** The provider answers, but a step would likely fail (`model llama3.2 is not among the 3 models it lists`): degraded. */
  warning?: string;
}

export const RENDER_EXECUTOR = 'render';

/** The default executor: the output is the rendered prompt. */
export const renderExecutor: StepExecutor = {
  name: RENDER_EXECUTOR,
  execute: (req) => Promise.resolve(req.prompt),
};

export class ExecutorRegistry {
  private readonly byName = new Map<string, StepExecutor>();

  constructor(executors: Iterable<StepExecutor> = []) {
    for (const e of executors) this.register(e);
  }

  /** Adds an executor, replacing any of the same name (tests replace `render` with an instrumented one). */
  register(executor: StepExecutor): this {
    const e = executor as Partial<StepExecutor> | null;
    if (!e || typeof e.name !== 'string' || !/^[A-Za-z][A-Za-z0-9_.-]*$/.test(e.name) || typeof e.execute !== 'function') {
      throw new TypeError(
        `an executor is an object { name, execute(request) } whose name is a provider type (letters, digits, '_', '.' and '-', starting with a letter), got ${e && typeof e === 'object' ? `{ name: ${JSON.stringify(e.name)}, execute: ${typeof e.execute} }` : String(e)}`,
      );
    }
    this.byName.set(e.name, executor);
    return this;
  }

  unregister(name: string): boolean {
    return this.byName.delete(name);
  }

  get(name: string): StepExecutor | undefined {
    return this.byName.get(name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }
}

/** `render` and `openai-compatible`. */
export function createDefaultExecutors(): ExecutorRegistry {
  return new ExecutorRegistry([renderExecutor, createOpenAICompatibleExecutor()]);
}

/**
 * Executors as the engine options take them: a registry is used as it is (it must hold
 * `render`); a list of executors is added to the defaults, replacing any of the same name.
 */
export type ExecutorsOption = ExecutorRegistry | Iterable<StepExecutor>;

export function executorRegistry(option: ExecutorsOption | undefined, defaults: () => ExecutorRegistry = createDefaultExecutors): ExecutorRegistry {
  if (option instanceof ExecutorRegistry) return option;
  if (option !== undefined && typeof (option as Partial<Iterable<StepExecutor>>)[Symbol.iterator] !== 'function') {
    throw new TypeError('workflow.executors must be a list of executors ({ name, execute }) or an ExecutorRegistry');
  }
  const reg = defaults();
  for (const e of option ?? []) reg.register(e);
  return reg;
}

/**
 * Stands in for `openai-compatible` where nothing may reach the network (`createTesting`
 * unless `allowNetwork: true`): every call fails at once, not retried, saying what to do.
 */
export const offlineExecutor: StepExecutor = {
  name: OPENAI_COMPATIBLE,
  execute: (req) =>
    Promise.reject(
      markNonRetryable(
        new PromptError(
          'provider_error',
          `step "${req.stepId}" would call ${req.provider ? describeProvider(req.provider) : 'a provider'}, and this manager does not reach the network: register a mock (workflow: { executors: [createMockExecutor({ ... })] }) or pass allowNetwork: true`,
          { step: req.stepId, composition: req.composition },
        ),
      ),
    ),
};

/** `render`, and `openai-compatible` answered by `offlineExecutor`. */
export function createOfflineExecutors(): ExecutorRegistry {
  return new ExecutorRegistry([renderExecutor, offlineExecutor]);
}
