/**
 * The workflow engine: starts runs, keeps a bounded history of them for status queries, and
 * republishes every run's progress events. Self-contained behind injected dependencies (the
 * template host, providers, executors, clock, ids, environment) so that the core engine, the
 * CLI and tests can each wire it their own way.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { systemClock, type Clock } from '../clock.js';
import { PromptError } from '../errors.js';
import { DEFAULT_LIMITS, LIMITS } from '../limits.js';
import type { CompositionDef, ProviderDef, RunDefaults } from '../model/types.js';
import { AdmissionScheduler } from './admission.js';
import { executorRegistry, type ExecutorRegistry, type ExecutorsOption } from './executors.js';
import { WorkflowMetrics, type WorkflowMetricsJSON } from './metrics.js';
import { resolveComposition } from './resolve.js';
import { WorkflowRunner, type SchedulingPolicy } from './run.js';
import { DEFAULT_MAX_QUEUED_RUNS, runLimits, runQueueFull } from './runLimits.js';
import type {
  ExecuteOptions,
  ResolvedComposition,
  RunStatus,
  StepFinishedEvent,
  StepRetryingEvent,
  StepStartedEvent,
  WorkflowEvent,
  WorkflowFinishedEvent,
  WorkflowHost,
  WorkflowQueuedEvent,
  WorkflowRun,
  WorkflowStartedEvent,
  WorkflowStatus,
} from './types.js';

/** The default of `historyLimit`; `LIMITS.historyLimit` (core/limits.ts) is the one in force. */
export const DEFAULT_HISTORY_LIMIT = DEFAULT_LIMITS.historyLimit;
export { DEFAULT_MAX_QUEUED_RUNS };

export interface WorkflowEngineOptions {
  host: WorkflowHost;
  /** `providers:` of composition_rules.yaml; replace them on reload with `setProviders`. */
  providers?: ProviderDef[];
  /**
   * Default: `render` and `openai-compatible`. A registry is used as it is; a list of
   * executors is added to the defaults (an executor named after a provider `type` serves it).
   */
  executors?: ExecutorsOption;
  clock?: Clock;
  idGenerator?: () => string;
  /** Finished runs kept for `getStatus` (running runs are never dropped). Default 1,000. */
  historyLimit?: number;
  /** Upper bound on any run's `max_parallel`. Default: none. */
  maxParallel?: number;
  /** Where `api_key_env` names are looked up. Default: process.env. */
  env?: (name: string) => string | undefined;
  /** An untrusted workspace refuses runs with provider (`model:`) steps. Default true: the extension must pass the workspace's trust. */
  trusted?: boolean;
  metrics?: WorkflowMetrics;
  /** Default `critical-path`; `first-ready` exists for comparison. */
  schedulingPolicy?: SchedulingPolicy;
  /**
   * At most this many runs at once; a run started past it waits in a queue, `pending` with a
   * `workflow.queued` event, and starts when a run ends (first come, first served). Default: no limit.
   */
  maxConcurrentRuns?: number;
  /** Runs that may wait for a slot; a run started when the queue is full is refused (`limit_exceeded`). Default 1,000; 0: no queue. */
  maxQueuedRuns?: number;
}

/** Runs running and waiting now, and runs refused because the queue was full. */
export interface RunQueueStats {
  running: number;
  queued: number;
  refused: number;
  maxConcurrentRuns: number;
  maxQueuedRuns: number;
}

/** Engine-level events: `progress` carries every event; each type is also emitted under its own name. */
export interface WorkflowEngineEvents {
  progress: [WorkflowEvent];
  'workflow.queued': [WorkflowQueuedEvent];
  'workflow.started': [WorkflowStartedEvent];
  'step.started': [StepStartedEvent];
  'step.retrying': [StepRetryingEvent];
  'step.finished': [StepFinishedEvent];
  'workflow.finished': [WorkflowFinishedEvent];
}

export interface RunSummary {
  id: string;
  composition: string;
  status: RunStatus;
  startedAt: number;
}

function handleOf(runner: WorkflowRunner): WorkflowRun {
  return {
    id: runner.id,
    done: runner.done,
    status: () => runner.snapshot(),
    cancel: (reason?: string) => runner.cancel(reason),
    [Symbol.asyncIterator]: () => runner.log.iterate(),
  };
}

export class WorkflowEngine extends EventEmitter<WorkflowEngineEvents> {
  readonly executors: ExecutorRegistry;
  readonly metrics: WorkflowMetrics;
  readonly clock: Clock;
  /** Every provider call of every run waits here for its provider's limits (core/workflow/admission.ts). */
  readonly admission: AdmissionScheduler;
  private readonly host: WorkflowHost;
  private providers = new Map<string, ProviderDef>();
  private readonly idGenerator: () => string;
  private readonly historyLimit: number;
  private readonly maxParallelCap: number;
  private readonly env: (name: string) => string | undefined;
  private trusted: boolean;
  private readonly policy: SchedulingPolicy;
  /** Insertion order = start order: eviction drops the oldest finished runs first. */
  private readonly runs = new Map<string, WorkflowRunner>();
  /** Finished runs still holding outputs, oldest first, with their size; `retainedChars` is the sum. */
  private readonly retained = new Map<WorkflowRunner, number>();
  private retainedChars = 0;
  private readonly maxConcurrentRuns: number;
  private readonly maxQueuedRuns: number;
  /** Runs begun and not yet seen ending (their `done` settles a microtask after their end). */
  private runningRuns = 0;
  /** Runs waiting for a slot, first come first served (a cancelled one leaves at its end). */
  private readonly waiting = new Set<WorkflowRunner>();
  private refusedRuns = 0;

  constructor(options: WorkflowEngineOptions) {
    super();
    this.host = options.host;
    this.executors = executorRegistry(options.executors);
    this.metrics = options.metrics ?? new WorkflowMetrics();
    this.clock = options.clock ?? systemClock;
    this.idGenerator = options.idGenerator ?? randomUUID;
    this.historyLimit = Math.max(0, options.historyLimit ?? LIMITS.historyLimit);
    this.maxParallelCap = options.maxParallel ?? Infinity;
    this.env = options.env ?? ((name) => process.env[name]);
    this.trusted = options.trusted ?? true;
    this.policy = options.schedulingPolicy ?? 'critical-path';
    this.admission = new AdmissionScheduler(this.clock, this.metrics);
    ({ maxConcurrentRuns: this.maxConcurrentRuns, maxQueuedRuns: this.maxQueuedRuns } = runLimits(options));
    this.setProviders(options.providers ?? []);
  }

  /** Replaces the providers (after a configuration reload). Runs already started keep theirs. */
  setProviders(providers: readonly ProviderDef[]): void {
    this.providers = new Map(providers.map((p) => [p.name, p]));
  }

  /** False in an untrusted workspace: no provider step runs, no provider is probed. */
  get isTrusted(): boolean {
    return this.trusted;
  }

  /** Follows the workspace's trust (VS Code's `workspace.isTrusted`). */
  setTrusted(trusted: boolean): void {
    this.trusted = trusted;
  }

  /**
   * Resolves the composition for this context (defaults, composition, state override,
   * experience-level override) and starts it. Returns at once; a run that cannot start
   * (missing required input, invalid composition, provider step in an untrusted workspace)
   * ends `failed` with `error` set, and its `done` resolves all the same.
   */
  execute(composition: CompositionDef, defaults: RunDefaults, context: Record<string, unknown>, options: ExecuteOptions = {}): WorkflowRun {
    return this.executeResolved(resolveComposition(composition, defaults, context), context, options);
  }

  /** Starts an already resolved composition (for callers that resolve overrides themselves). */
  executeResolved(composition: ResolvedComposition, context: Record<string, unknown>, options: ExecuteOptions = {}): WorkflowRun {
    const id = options.workflowId ?? this.idGenerator();
    const previous = this.runs.get(id);
    if (previous && !previous.isEnded) throw new PromptError('invalid_configuration', `a run with the id "${id}" is still running`, { composition: composition.name });
    const lower = options.maxParallel;
    if (lower !== undefined && !(Number.isInteger(lower) && lower >= 1)) {
      throw new PromptError('invalid_configuration', `maxParallel must be a whole number from 1 up, not ${lower}`, { composition: composition.name });
    }
    // A caller's bound only lowers the composition's: a composition that says 1 at a time may depend on it.
    const maxParallel = Math.min(lower ?? Infinity, composition.maxParallel, this.maxParallelCap);
    // First come, first served: while runs wait, a new one waits behind them even if a slot has just freed.
    const mustWait = this.runningRuns >= this.maxConcurrentRuns || this.waiting.size > 0;
    if (mustWait && this.waiting.size >= this.maxQueuedRuns) {
      this.refusedRuns++;
      throw runQueueFull(composition.name, this.runningRuns, this.waiting.size, { maxConcurrentRuns: this.maxConcurrentRuns, maxQueuedRuns: this.maxQueuedRuns });
    }
    const settings: ConstructorParameters<typeof WorkflowRunner>[2] = { id, maxParallel };
    if (options.serviceName !== undefined) settings.serviceName = options.serviceName;
    if (options.signal) settings.signal = options.signal;
    const runner = new WorkflowRunner(
      {
        host: options.host ?? this.host,
        clock: this.clock,
        executors: this.executors,
        providers: options.providers ? new Map(options.providers.map((p) => [p.name, p])) : this.providers,
        env: this.env,
        trusted: this.trusted,
        metrics: this.metrics,
        policy: this.policy,
        admission: this.admission,
        emit: (e) => {
          this.emit('progress', e);
          (this.emit as (name: string, e: WorkflowEvent) => boolean)(e.type, e);
        },
      },
      composition,
      settings,
    );
    if (previous) this.forget(id, previous);
    this.runs.set(id, runner);
    // Registered before start so that status is readable from the first event's listeners.
    void runner.done.then(() => {
      this.retainOutputs(runner);
      this.evict();
    });
    if (options.signal?.aborted) runner.cancel('the caller aborted the run before it started');
    else if (runner.prepare(context)) {
      if (mustWait) {
        this.waiting.add(runner);
        void runner.done.then(() => this.waiting.delete(runner));
        runner.queue(this.waiting.size);
      } else this.begin(runner);
    }
    this.evict();
    return handleOf(runner);
  }

  /** A handle on a run in the history (its events from the first while the history keeps them); undefined when it is not kept. */
  attach(id: string): WorkflowRun | undefined {
    const r = this.runs.get(id);
    return r ? handleOf(r) : undefined;
  }

  private begin(runner: WorkflowRunner): void {
    this.runningRuns++;
    void runner.done.then(() => {
      this.runningRuns--;
      this.startWaiting();
    });
    runner.begin();
  }

  /** Starts waiting runs while slots are free. */
  private startWaiting(): void {
    for (const r of this.waiting) {
      if (this.runningRuns >= this.maxConcurrentRuns) return;
      this.waiting.delete(r);
      if (!r.isEnded) this.begin(r);
    }
  }

  /** Runs running and waiting now, refusals so far, and the limits. */
  runQueue(): RunQueueStats {
    let queued = 0;
    for (const r of this.waiting) if (!r.isEnded) queued++;
    return { running: this.runningRuns, queued, refused: this.refusedRuns, maxConcurrentRuns: this.maxConcurrentRuns, maxQueuedRuns: this.maxQueuedRuns };
  }

  getStatus(id: string): WorkflowStatus | undefined {
    return this.runs.get(id)?.snapshot();
  }

  /** False when no such run is known or it has already ended. */
  cancel(id: string, reason?: string): boolean {
    const r = this.runs.get(id);
    if (!r || r.isEnded) return false;
    r.cancel(reason);
    return true;
  }

  /** Runs in the history, oldest first. */
  listRuns(): RunSummary[] {
    return [...this.runs.values()].map((r) => {
      const s = r.snapshot();
      return { id: s.id, composition: s.composition, status: s.status, startedAt: s.startedAt };
    });
  }

  get activeRuns(): number {
    let n = 0;
    for (const r of this.runs.values()) if (!r.isEnded) n++;
    return n;
  }

  /** Size of the history (running and finished runs). */
  get historySize(): number {
    return this.runs.size;
  }

  getMetrics(): WorkflowMetricsJSON {
    return this.metrics.getMetrics(this.admission.gauges());
  }

  private evict(): void {
    if (this.runs.size <= this.historyLimit) return;
    for (const [id, r] of this.runs) {
      if (this.runs.size <= this.historyLimit) break;
      if (r.isEnded) this.forget(id, r);
    }
  }

  private forget(id: string, r: WorkflowRunner): void {
    this.runs.delete(id);
    const n = this.retained.get(r);
    if (n !== undefined) {
      this.retained.delete(r);
      this.retainedChars -= n;
    }
  }

  /**
   * Counts a finished run's outputs against `maxHistoryOutputChars` and drops the oldest
   * runs' outputs past it (their statuses stay). The caller of the run already has them.
   */
  private retainOutputs(runner: WorkflowRunner): void {
    if (this.runs.get(runner.id) !== runner) return;
    const n = runner.outputChars();
    if (n > 0) {
      this.retained.set(runner, n);
      this.retainedChars += n;
    }
    const max = LIMITS.maxHistoryOutputChars;
    for (const [r, size] of this.retained) {
      if (this.retainedChars <= max) break;
      r.dropOutputs();
      this.retained.delete(r);
      this.retainedChars -= size;
    }
  }
}
