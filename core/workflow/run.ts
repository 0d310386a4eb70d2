/**
 * One workflow run: a DAG scheduler with the contract's run semantics (see
 * shared/spec/config-format.md, "Run semantics").
 *
 * Scheduling is event-driven and O(1) per step start/finish: each step keeps a count of
 * unfinished dependencies; when it reaches zero the step's `skip`/`when` is decided and, if it
 * runs, it enters a heap of ready steps ordered by longest remaining path. A slot counter
 * bounds concurrency. (p-limit is FIFO: it cannot pick the best ready step when a slot frees,
 * so the heap plus counter replace it.)
 *
 * Every state change happens synchronously in this class; executors only ever resolve
 * promises. After the run has ended (cancel, timeout, or its natural end) `ended` is set and
 * any late executor result is discarded.
 */
import { setMaxListeners } from 'node:events';
import type { Clock } from '../clock.js';
import { PromptError, toPromptError } from '../errors.js';
import { LIMITS } from '../limits.js';
import type { ProviderDef } from '../model/types.js';
import { DEFAULT_PROVIDER_TIMEOUT_MS, MAX_STEP_ERRORS, STEP_ERRORS_KEPT_FIRST, compositionBoundsProblem, providerBoundsProblem } from './bounds.js';
import { MAX_RATE_LIMIT_REQUEUES, hasLimits, type Admission, type AdmissionScheduler, type AdmissionTicket } from './admission.js';
import { buildStepGraph, remainingPathLengths, topologicalOrder, type GraphProblem, type StepGraph } from './dag.js';
import { EventLog } from './eventLog.js';
import { RENDER_EXECUTOR, type ExecutorRegistry, type StepExecutionRequest, type StepExecutor } from './executors.js';
import type { WorkflowMetrics } from './metrics.js';
import { StepHeap } from './priorityQueue.js';
import { classifyProviderFailure, type ProviderFailureKind } from './providerFailure.js';
import { isMarkedNonRetryable, isRetryable, planRetry, withReason } from './retry.js';
import { estimateTokens, type StepUsage } from './tokens.js';
import type {
  ErrorJSON,
  FinalRunStatus,
  ResolvedComposition,
  ResolvedStep,
  RunStatus,
  SkipReason,
  FallbackCause,
  StepFinishedEvent,
  StepRunStatus,
  StepStatus,
  WorkflowEvent,
  WorkflowHost,
  WorkflowResult,
  WorkflowStatus,
} from './types.js';
import { evaluateWhen } from './when.js';
import { defineData, missingInputs, stepContext, stepView, type StepView } from './stepContext.js';

/** `critical-path`: among ready steps, start first the one with the longest remaining path. `first-ready`: in the order they became ready (kept for comparison in the benchmark). */
export type SchedulingPolicy = 'critical-path' | 'first-ready';

export interface RunDependencies {
  host: WorkflowHost;
  clock: Clock;
  executors: ExecutorRegistry;
  providers: ReadonlyMap<string, ProviderDef>;
  env: (name: string) => string | undefined;
  trusted: boolean;
  metrics: WorkflowMetrics;
  policy: SchedulingPolicy;
  /** The engine's admission scheduler: every provider call of every run waits there for its provider's limits. */
  admission: AdmissionScheduler;
  /** Engine-level listeners. */
  emit: (e: WorkflowEvent) => void;
}

export interface RunSettings {
  id: string;
  serviceName?: string;
  maxParallel: number;
  signal?: AbortSignal;
}

interface StepState {
  def: ResolvedStep;
  status: StepStatus;
  skipReason?: SkipReason;
  attempts: number;
  errors: ErrorJSON[];
  /** Errors left out of `errors` (MAX_STEP_ERRORS): a step retried many times keeps the first and the latest. */
  errorsDropped: number;
  startedAt?: number;
  finishedAt?: number;
  output: unknown;
  /** Dependencies not yet finished. */
  remaining: number;
  timeouts: number;
  executor?: StepExecutor;
  provider?: ProviderDef;
  /** Why its fallback answered, once it did. */
  fallback?: FallbackCause;
}

/** `kind`: the attempt failed in its provider's call, with this kind of failure. */
type AttemptResult = { ok: true; output: unknown } | { ok: false; error: PromptError; kind?: ProviderFailureKind };

interface GraphAnalysis {
  graph: StepGraph;
  problems: GraphProblem[];
  order?: number[];
}
/** The step graph of a resolved composition, kept while the composition object lives: a caller that runs the same resolved composition again skips the analysis. */
const analyses = new WeakMap<ResolvedComposition, GraphAnalysis>();
function analyse(c: ResolvedComposition): GraphAnalysis {
  let a = analyses.get(c);
  if (!a) {
    const { graph, problems } = buildStepGraph(c.steps);
    a = { graph, problems };
    if (!problems.length) a.order = topologicalOrder(graph)!;
    analyses.set(c, a);
  }
  return a;
}

/** Undefined when the provider has no base_url or an http(s) one; else what is wrong with it. */
function providerScheme(p: ProviderDef): string | undefined {
  if (p.baseUrl === undefined || p.baseUrl === null) return undefined;
  let url: URL;
  try {
    url = new URL(String(p.baseUrl));
  } catch {
    return 'not a URL';
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? undefined : url.protocol;
}

function outputText(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Characters of an output as status, history and later steps hold it (a string's length, or its JSON's). */
function outputChars(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'string') return v.length;
  try {
    return JSON.stringify(v)?.length ?? 0;
  } catch {
    return 0;
  }
}

export class WorkflowRunner {
  readonly id: string;
  readonly composition: ResolvedComposition;
  /** Replaced when the history drops the run's outputs, so that the history does not keep the full result alive. */
  done: Promise<WorkflowResult>;
  readonly log = new EventLog<WorkflowEvent>();

  private resolveDone!: (r: WorkflowResult) => void;
  private status: RunStatus = 'running';
  /** Monotonic clock (`clock.now()`), as every time this runner keeps; `wall` turns them into timestamps. */
  private readonly startedAt: number;
  /** When the run left the queue (`startedAt` for a run that was never queued): its timeout counts from here. */
  private begunAt: number;
  /** The run waited for a run slot (`queue`). */
  private queued = false;
  private finishedAt?: number;
  /** Wall-clock time (epoch milliseconds) at `startedAt`. */
  private readonly wallStart: number;
  private readonly steps: StepState[];
  private graph!: StepGraph;
  private heap!: StepHeap;
  /** Each step's remaining path (critical-path policy): orders ready steps, and this run's calls waiting for admission. */
  private priority?: ArrayLike<number>;
  private fifo: number[] = [];
  private fifoHead = 0;
  private readonly readyQueue: number[] = [];
  private running = 0;
  /** fail_fast tripped: no new step starts; the run ends when running steps have finished. */
  private stopping = false;
  private ended = false;
  /** Aborted when the run stops; the signal of attempts without a timeout of their own. */
  private readonly runAbort = new AbortController();
  /**
   * What to do when the run stops, for every attempt, fallback render and retry wait in
   * flight. Cheaper than an abort listener per attempt on the run's signal, and it settles
   * them at once whether or not the executor honours its signal.
   */
  private readonly inFlight = new Set<(reason: PromptError) => void>();
  private runTimer: unknown;
  /** Null prototype: ids are plain keys (even `__proto__`), and assignment stays fast with thousands of them. */
  private readonly stepsView: Record<string, StepView> = Object.create(null) as Record<string, StepView>;
  private input: Record<string, unknown> = {};
  private whenContext?: Record<string, unknown>;
  private output: string | null = null;
  /** Set when the engine dropped this finished run's outputs to keep its history within maxHistoryOutputChars. */
  private outputsDropped = false;
  private error?: ErrorJSON;
  /** Refused before any step started (precheck). */
  private refused = false;
  private readonly maxParallel: number;
  private readonly serviceName?: string;
  private detachSignal?: () => void;
  /** Step events are only published after `workflow.started` (a refused or pre-cancelled run has just `workflow.finished`). */
  private startedEmitted = false;

  constructor(
    private readonly deps: RunDependencies,
    composition: ResolvedComposition,
    settings: RunSettings,
  ) {
    this.id = settings.id;
    this.composition = composition;
    this.maxParallel = settings.maxParallel;
    if (settings.serviceName !== undefined) this.serviceName = settings.serviceName;
    this.startedAt = deps.clock.now();
    this.begunAt = this.startedAt;
    this.wallStart = deps.clock.wallNow?.() ?? Date.now();
    this.steps = composition.steps.map((def) => ({ def, status: 'pending', attempts: 0, errors: [], errorsDropped: 0, output: null, remaining: 0, timeouts: 0 }));
    this.done = new Promise((r) => (this.resolveDone = r));
    // Every executor of an unbounded run may listen to this one signal (fetch does).
    setMaxListeners(0, this.runAbort.signal);
    const signal = settings.signal;
    if (signal) {
      const onAbort = () => this.cancel(typeof signal.reason === 'string' ? signal.reason : 'the caller aborted the run');
      signal.addEventListener('abort', onAbort, { once: true });
      this.detachSignal = () => signal.removeEventListener('abort', onAbort);
    }
  }

  /** A monotonic clock reading as a wall-clock timestamp: the run's start plus the time since. */
  private wall(mono: number): number {
    return this.wallStart + (mono - this.startedAt);
  }

  get isEnded(): boolean {
    return this.ended;
  }

  private emit(e: WorkflowEvent): void {
    this.log.push(e);
    try {
      this.deps.emit(e);
    } catch {
      // A listener's bug must not corrupt the scheduler's state in the middle of a transition.
    }
  }


  // ---------------------------------------------------------------- start

  /** Checks that the run can start; a refusal ends it `failed` with the error and no step runs. */
  private precheck(context: Record<string, unknown>): PromptError | undefined {
    const c = this.composition;
    const details = { composition: c.name };
    const { graph, problems } = analyse(c);
    this.graph = graph;
    if (problems.length) return new PromptError('invalid_configuration', `composition "${c.name}" cannot run: ${problems.map((p) => p.message).join('; ')}`, details);
    if (!(this.maxParallel === Infinity || (Number.isInteger(this.maxParallel) && this.maxParallel >= 1))) {
      return new PromptError('invalid_configuration', `composition "${c.name}": max_parallel must be a whole number from 1 up, not ${this.maxParallel}`, details);
    }
    // The schema bounds these in YAML; a composition built in code must not overflow a timer or retry without end either.
    const bounds = compositionBoundsProblem(c);
    if (bounds) return new PromptError('invalid_configuration', `composition "${c.name}" cannot run: ${bounds}`, details);
    for (const s of this.steps) {
      const d = s.def;
      if (d.skip) continue;
      if (d.template === undefined) return new PromptError('invalid_configuration', `step "${d.id}" of composition "${c.name}" has no template`, { ...details, step: d.id });
      if (d.model === undefined) {
        s.executor = this.deps.executors.get(RENDER_EXECUTOR);
        if (!s.executor) return new PromptError('invalid_configuration', `no "${RENDER_EXECUTOR}" executor is registered`, details);
        continue;
      }
      if (!this.deps.trusted) {
        // An untrusted workspace's YAML must not send prompts (and the context in them) to an address it chose.
        return new PromptError('access_denied', `step "${d.id}" sends its prompt to the provider "${d.model}", which an untrusted workspace may not do`, { ...details, step: d.id });
      }
      const p = this.deps.providers.get(d.model);
      if (!p) return new PromptError('invalid_configuration', `step "${d.id}" names the model "${d.model}", which is not among the providers`, { ...details, step: d.id });
      // Whatever executor serves the provider, its address must be http or https: the schema
      // says so, and a provider override or a hand-built model must not get around it.
      const scheme = providerScheme(p);
      if (scheme !== undefined) {
        return new PromptError('invalid_configuration', `provider "${p.name}" has a base_url that is not http or https (${scheme}); the engine sends prompts only over http and https`, { ...details, step: d.id });
      }
      const pb = providerBoundsProblem(p);
      if (pb) return new PromptError('invalid_configuration', `composition "${c.name}" cannot run: ${pb}`, { ...details, step: d.id });
      s.provider = p;
      s.executor = this.deps.executors.get(p.type);
      if (!s.executor) {
        return new PromptError(
          'invalid_configuration',
          `provider "${p.name}" (step "${d.id}") has the type "${p.type}", and no executor of that name is registered (registered: ${this.deps.executors.names().join(', ')}); register your client under that name: workflow: { executors: [{ name: '${p.type}', execute }] }`,
          { ...details, step: d.id },
        );
      }
    }
    return missingInputs(c, context);
  }

  start(context: Record<string, unknown>): void {
    if (this.prepare(context)) this.begin();
  }

  /** Checks that the run can start; a refusal ends it `failed` at once (false). */
  prepare(context: Record<string, unknown>): boolean {
    if (this.ended) return false;
    this.input = { ...context };
    const refusal = this.precheck(context);
    if (!refusal) return true;
    this.error = refusal.toJSON();
    this.refused = true;
    this.finish('failed');
    return false;
  }

  /** A prepared run waits for a run slot: `pending`, with a `workflow.queued` event; `begin` starts it. */
  queue(position: number): void {
    if (this.ended) return;
    this.status = 'pending';
    this.queued = true;
    this.emit({ type: 'workflow.queued', runId: this.id, composition: this.composition.name, time: this.wall(this.deps.clock.now()), position });
  }

  /** Starts a prepared run: its timeout counts from here. */
  begin(): void {
    if (this.ended) return;
    this.status = 'running';
    this.begunAt = this.deps.clock.now();
    const g = this.graph;
    const n = this.steps.length;
    // With unbounded parallelism every ready step starts at once: order cannot matter, except
    // among this run's calls waiting for a provider's admission.
    const calls = this.steps.some((s) => s.provider !== undefined);
    if (this.deps.policy === 'critical-path' && (this.maxParallel < n || calls)) {
      const order = analyse(this.composition).order!;
      // Past median durations make the remaining path a time; without history every step weighs the same.
      const known = this.steps.map((s) => this.deps.metrics.stepP50(this.composition.name, s.def.id));
      const seen = known.filter((x): x is number => x !== undefined);
      const fallbackWeight = seen.length ? seen.reduce((a, b) => a + b, 0) / seen.length : 1;
      this.priority = remainingPathLengths(g, order, (i) => Math.max(known[i] ?? fallbackWeight, 1e-6));
      // Provider calls reach their admission queue in the order their steps start: the critical path first.
      this.heap = new StepHeap(this.priority);
    }
    this.startedEmitted = true;
    this.emit({ type: 'workflow.started', runId: this.id, composition: this.composition.name, time: this.wall(this.deps.clock.now()), steps: this.composition.steps.map((s) => s.id), maxParallel: this.maxParallel });
    if (this.composition.timeoutMs !== undefined) {
      const ms = this.composition.timeoutMs;
      this.runTimer = this.deps.clock.setTimeout(() => this.stop('timed_out', new PromptError('timeout', `the run took longer than its timeout_ms of ${ms} ms`, { composition: this.composition.name })), ms);
    }
    for (let i = 0; i < n; i++) {
      this.steps[i]!.remaining = g.deps[i]!.length;
      if (g.deps[i]!.length === 0) this.readyQueue.push(i);
    }
    this.drain();
    this.pump();
  }

  // ---------------------------------------------------------------- scheduling

  private pushReady(i: number): void {
    if (this.heap) this.heap.push(i);
    else this.fifo.push(i);
  }
  private popReady(): number | undefined {
    if (this.heap) return this.heap.pop();
    if (this.fifoHead >= this.fifo.length) return undefined;
    const i = this.fifo[this.fifoHead++]!;
    if (this.fifoHead === this.fifo.length) {
      this.fifo = [];
      this.fifoHead = 0;
    }
    return i;
  }
  private readyCount(): number {
    return this.heap ? this.heap.size : this.fifo.length - this.fifoHead;
  }

  private runContext(): Record<string, unknown> {
    // `steps` is live: it gains an entry as each step finishes. Copying it for every step
    // would make a long run quadratic.
    return (this.whenContext ??= { ...this.input, steps: this.stepsView });
  }

  /** Decides every step whose dependencies have all finished: skipped at once, or ready to run. */
  private drain(): void {
    const q = this.readyQueue;
    // Index loop: deciding a skip can append more steps to the queue.
    for (let k = 0; k < q.length; k++) {
      const i = q[k]!;
      const s = this.steps[i]!;
      if (s.status !== 'pending') continue;
      if (s.def.skip) this.finishSkipped(i, 'override');
      else if (s.def.when && !evaluateWhen(s.def.when, this.runContext())) this.finishSkipped(i, 'when');
      else this.pushReady(i);
    }
    q.length = 0;
  }

  private pump(): void {
    if (this.ended) return;
    while (!this.stopping && this.running < this.maxParallel) {
      const i = this.popReady();
      if (i === undefined) break;
      this.startStep(i);
    }
    if (this.running === 0 && (this.stopping || this.readyCount() === 0)) this.finish(this.naturalStatus());
  }

  /** Releases the dependents of a step that finished in a way that lets them run. */
  private release(i: number): void {
    for (const d of this.graph.dependents[i]!) {
      const s = this.steps[d]!;
      if (s.status === 'pending' && --s.remaining === 0) this.readyQueue.push(d);
    }
  }

  /** A failed step skips everything downstream of it (the skip passes on, transitively). */
  private skipDownstream(i: number): void {
    const stack = [i];
    while (stack.length) {
      const v = stack.pop()!;
      for (const d of this.graph.dependents[v]!) {
        if (this.steps[d]!.status !== 'pending') continue;
        this.finishSkipped(d, 'upstream');
        stack.push(d);
      }
    }
  }

  private setView(i: number): void {
    const s = this.steps[i]!;
    const duration = s.startedAt !== undefined && s.finishedAt !== undefined ? s.finishedAt - s.startedAt : 0;
    this.stepsView[s.def.id] = stepView(s.output, s.status, s.attempts, duration);
  }

  private emitFinished(i: number, error?: PromptError): void {
    const s = this.steps[i]!;
    const ev: StepFinishedEvent = {
      type: 'step.finished',
      runId: this.id,
      composition: this.composition.name,
      time: this.wall(s.finishedAt ?? this.deps.clock.now()),
      stepId: s.def.id,
      status: s.status as StepFinishedEvent['status'],
      durationMs: s.startedAt !== undefined && s.finishedAt !== undefined ? s.finishedAt - s.startedAt : 0,
      attempts: s.attempts,
    };
    if (s.skipReason) ev.skipReason = s.skipReason;
    if (error) ev.error = error.toJSON();
    this.emit(ev);
  }

  private finishSkipped(i: number, reason: SkipReason): void {
    const s = this.steps[i]!;
    s.status = 'skipped';
    s.skipReason = reason;
    s.output = null;
    this.setView(i);
    this.emitFinished(i);
    // A step skipped by `when` or `skip` counts as finished for its dependents (Argo);
    // an upstream skip is passed on by skipDownstream.
    if (reason !== 'upstream') this.release(i);
  }

  private startStep(i: number): void {
    const s = this.steps[i]!;
    this.running++;
    s.status = 'running';
    s.startedAt = this.deps.clock.now();
    this.emit({ type: 'step.started', runId: this.id, composition: this.composition.name, time: this.wall(s.startedAt), stepId: s.def.id, attempt: 1 });
    this.runStep(i).catch((e) => {
      // runStep handles every failure itself; this is a last guard against an engine bug.
      if (!this.ended && this.steps[i]!.status === 'running') this.completeStep(i, 'failed', null, toPromptError(e, 'invalid_configuration', { step: s.def.id }));
    });
  }

  private completeStep(i: number, status: 'succeeded' | 'fallback' | 'failed', output: unknown, error?: PromptError): void {
    if (this.ended) return;
    const s = this.steps[i]!;
    this.running--;
    s.status = status;
    s.output = status === 'failed' ? null : output;
    s.finishedAt = this.deps.clock.now();
    this.setView(i);
    this.emitFinished(i, error);
    if (status === 'failed' && !s.def.continueOnError) {
      this.skipDownstream(i);
      if (this.composition.failFast) this.stopping = true;
    } else {
      this.release(i);
    }
    this.drain();
    this.pump();
  }

  // ---------------------------------------------------------------- one step

  private stepContext(def: ResolvedStep): Record<string, unknown> {
    return stepContext(this.input, this.stepsView, def.context, this.renderString);
  }

  private readonly renderString = (source: string, base: Record<string, unknown>): string => this.deps.host.renderString(source, base);

  private async runStep(i: number): Promise<void> {
    const s = this.steps[i]!;
    const def = s.def;
    let ctx: Record<string, unknown>;
    try {
      ctx = this.stepContext(def);
    } catch (e) {
      // The step's `context:` does not render: no attempt can succeed, so no retry.
      const err = toPromptError(e, 'template_error', { step: def.id, composition: this.composition.name });
      this.pushError(s, err);
      return this.afterFailure(i, err, { ...this.input, steps: this.stepsView }, undefined);
    }
    for (let attempt = 1; ; attempt++) {
      s.attempts = attempt;
      let r = await this.attempt(i, ctx, attempt, false);
      if (this.ended) return;
      for (let requeues = 0; !r.ok && this.rateLimitRequeue(s, r.error, requeues); requeues++) {
        this.deps.metrics.recordRequeue(s.provider!.name);
        r = await this.attempt(i, ctx, attempt, true);
        if (this.ended) return;
      }
      if (r.ok) return this.completeStep(i, 'succeeded', r.output);
      let err = r.error;
      if (err.code === 'timeout') s.timeouts++;
      if (attempt >= def.retry.maxAttempts || !isRetryable(err, def.retry)) {
        this.pushError(s, err);
        return this.afterFailure(i, err, ctx, r.kind);
      }
      const plan = planRetry(err, def.retry, attempt, this.retryBounds());
      if (!plan.retry) {
        // Waiting could not end in an answer the run can use: fail now, saying why.
        err = withReason(err, plan.why);
        this.pushError(s, err);
        return this.afterFailure(i, err, ctx, r.kind);
      }
      this.pushError(s, err);
      const waitMs = plan.waitMs;
      this.emit({ type: 'step.retrying', runId: this.id, composition: this.composition.name, time: this.wall(this.deps.clock.now()), stepId: def.id, attempt, nextAttempt: attempt + 1, waitMs, error: err.toJSON() });
      await this.sleep(waitMs);
      if (this.ended) return;
    }
  }

  /**
   * Whether a 429 goes back to the admission queue without using one of the step's attempts:
   * the provider has limits (the scheduler then paces it and has paused it for this 429), the
   * error may be retried at all, the provider's `Retry-After` is within `maxRetryAfterMs` and
   * its pause ends before the run's deadline, and this attempt has not been sent back
   * MAX_RATE_LIMIT_REQUEUES times already. Otherwise the 429 is the attempt's failure and the
   * retry policy decides, as for any error.
   */
  private rateLimitRequeue(s: StepState, err: PromptError, requeues: number): boolean {
    const p = s.provider;
    if (!p || !hasLimits(p) || err.status !== 429 || requeues >= MAX_RATE_LIMIT_REQUEUES) return false;
    if (err.code === 'cancelled' || s.def.retry.nonRetryable.includes(err.code) || isMarkedNonRetryable(err)) return false;
    if (typeof err.retryAfterMs === 'number' && err.retryAfterMs > LIMITS.maxRetryAfterMs) return false;
    const t = this.composition.timeoutMs;
    return t === undefined || this.deps.admission.pausedUntil(p.name) < this.begunAt + t;
  }

  /** The wait limits of a retry now: `maxRetryAfterMs`, and the time left before the run's deadline. */
  private retryBounds(): { maxRetryAfterMs: number; remainingMs?: number; runTimeoutMs?: number } {
    const t = this.composition.timeoutMs;
    if (t === undefined) return { maxRetryAfterMs: LIMITS.maxRetryAfterMs };
    return { maxRetryAfterMs: LIMITS.maxRetryAfterMs, remainingMs: this.begunAt + t - this.deps.clock.now(), runTimeoutMs: t };
  }

  /** Keeps the first STEP_ERRORS_KEPT_FIRST errors and the latest ones, MAX_STEP_ERRORS in all. */
  private pushError(s: StepState, e: PromptError): void {
    if (s.errors.length >= MAX_STEP_ERRORS) {
      s.errors.splice(STEP_ERRORS_KEPT_FIRST, 1);
      s.errorsDropped++;
    }
    s.errors.push(e.toJSON());
  }

  private async afterFailure(i: number, err: PromptError, ctx: Record<string, unknown>, kind: ProviderFailureKind | undefined): Promise<void> {
    const s = this.steps[i]!;
    const fb = s.def.fallback;
    if (!fb) return this.completeStep(i, 'failed', null, err);
    if (fb.template === undefined) {
      s.fallback = fallbackCause(s, err, kind);
      return this.completeStep(i, 'fallback', fb.value ?? null, err);
    }
    try {
      // The fallback is a local, degraded answer: rendered, never sent to the provider whose failure is the likely cause.
      const out = await this.untilStopped(this.deps.host.renderTemplate(fb.template, ctx, this.renderOpts(this.runAbort.signal)));
      if (this.ended) return;
      s.fallback = fallbackCause(s, err, kind);
      this.completeStep(i, 'fallback', out, err);
    } catch (e) {
      if (this.ended) return;
      const fbErr = toPromptError(e, 'template_error', { step: s.def.id, template: fb.template });
      this.pushError(s, fbErr);
      this.completeStep(i, 'failed', null, err);
    }
  }

  private renderOpts(signal: AbortSignal): { signal: AbortSignal; serviceName?: string } {
    return this.serviceName !== undefined ? { signal, serviceName: this.serviceName } : { signal };
  }

  /** `work`'s outcome, or the stop reason as soon as the run stops. */
  private untilStopped<T>(work: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onStop = (reason: PromptError) => reject(reason);
      this.inFlight.add(onStop);
      work.then(
        (v) => {
          this.inFlight.delete(onStop);
          resolve(v);
        },
        (e) => {
          this.inFlight.delete(onStop);
          reject(e);
        },
      );
    });
  }

  /**
   * One attempt: render the prompt, wait for the provider's admission, run the executor;
   * settles at the first of its answer, its timeout, or the run's stop (a late answer is
   * dropped). The wait for admission is not the attempt's: the step's `timeout_ms` is paused
   * during it and the provider's starts after it (Temporal's start-to-close); the run's
   * deadline and cancellation end it at once. `first`: the call is sent again after a 429.
   */
  private attempt(i: number, ctx: Record<string, unknown>, attempt: number, first: boolean): Promise<AttemptResult> {
    const s = this.steps[i]!;
    const def = s.def;
    const clock = this.deps.clock;
    const provider = s.provider;
    return new Promise<AttemptResult>((resolve) => {
      let settled = false;
      let timer: unknown;
      let timerDue = 0;
      let providerTimer: unknown;
      let ticket: AdmissionTicket | undefined;
      let admission: Admission | undefined;
      let unfollow: (() => void) | undefined;
      let sentAt: number | undefined;
      // A controller of its own only when the attempt can time out: creating one costs more
      // than the rest of a no-op step, and without a timeout the run's signal says it all.
      let ac: AbortController | undefined;
      const settle = (r: AttemptResult) => {
        if (settled) return;
        settled = true;
        if (timer !== undefined) clock.clearTimeout(timer);
        if (providerTimer !== undefined) clock.clearTimeout(providerTimer);
        unfollow?.();
        this.inFlight.delete(onStop);
        if (!r.ok) ticket?.cancel(r.error);
        if (admission) admission.release(r.ok ? { ok: true } : r.error.status === 429 ? { rateLimited: r.error.retryAfterMs !== undefined ? { retryAfterMs: r.error.retryAfterMs } : {} } : {});
        if (provider && sentAt !== undefined && !r.ok) r.kind = classifyProviderFailure(r.error);
        if (provider && sentAt !== undefined && !this.ended) {
          this.deps.metrics.recordProviderCall(provider.name, clock.now() - sentAt, r.ok ? undefined : { status: r.error.status, kind: r.kind! });
        }
        resolve(r);
      };
      const onStop = (reason: PromptError) => {
        ac?.abort(reason);
        settle({ ok: false, error: reason });
      };
      this.inFlight.add(onStop);
      let signal = this.runAbort.signal;
      const timeoutMs = def.timeoutMs;
      const onTimeout = () => {
        const err = new PromptError('timeout', `step "${def.id}" attempt ${attempt} took longer than its timeout_ms of ${timeoutMs} ms`, { step: def.id, composition: this.composition.name });
        ac!.abort(err);
        settle({ ok: false, error: err });
      };
      if (timeoutMs !== undefined) {
        ac = new AbortController();
        signal = ac.signal;
        timerDue = clock.now() + timeoutMs;
        timer = clock.setTimeout(onTimeout, timeoutMs);
      }
      const work = async () => {
        const prompt = await this.deps.host.renderTemplate(def.template!, ctx, this.renderOpts(signal));
        if (settled) return undefined;
        if (provider) {
          // The attempt's clock stops while the call waits for its provider's admission.
          let left = 0;
          if (timer !== undefined) {
            clock.clearTimeout(timer);
            timer = undefined;
            left = timerDue - clock.now();
          }
          const req = { provider, run: this.id, priority: this.priority?.[i] ?? 0, tokens: estimateTokens(prompt, provider), first };
          ticket = this.deps.admission.admit(req);
          const granted = await ticket.admitted;
          ticket = undefined;
          if (settled) {
            granted.release();
            return undefined;
          }
          admission = granted;
          if (timeoutMs !== undefined) {
            timerDue = clock.now() + left;
            timer = clock.setTimeout(onTimeout, left);
          }
        }
        sentAt = clock.now();
        let callSignal = signal;
        if (provider) {
          // The provider's own limit on one call, enforced here for every executor: its signal aborts.
          const ms = provider.timeoutMs ?? DEFAULT_PROVIDER_TIMEOUT_MS;
          const pac = new AbortController();
          const follow = () => pac.abort(signal.reason);
          signal.addEventListener('abort', follow, { once: true });
          unfollow = () => signal.removeEventListener('abort', follow);
          callSignal = pac.signal;
          providerTimer = clock.setTimeout(() => {
            const err = new PromptError('timeout', `provider "${provider.name}" did not answer step "${def.id}" (attempt ${attempt}) within its timeout_ms of ${ms} ms`, { step: def.id, composition: this.composition.name });
            pac.abort(err);
            settle({ ok: false, error: err });
          }, ms);
        }
        const req: StepExecutionRequest = {
          runId: this.id,
          composition: this.composition.name,
          stepId: def.id,
          attempt,
          prompt,
          context: ctx,
          signal: callSignal,
          clock,
          env: this.deps.env,
        };
        if (provider) {
          req.provider = provider;
          req.reportUsage = (usage: StepUsage) => admission?.reportTokens(usage?.totalTokens);
        }
        if (this.serviceName !== undefined) req.serviceName = this.serviceName;
        const output = await s.executor!.execute(req);
        const chars = outputChars(output);
        if (chars > LIMITS.maxStepOutputChars) {
          throw new PromptError('limit_exceeded', `step "${def.id}" produced an output of ${chars} characters, more than maxStepOutputChars (${LIMITS.maxStepOutputChars})`, { step: def.id, composition: this.composition.name });
        }
        return output;
      };
      work().then(
        (output) => settle({ ok: true, output }),
        (e) => settle({ ok: false, error: toPromptError(e, sentAt !== undefined && provider ? 'provider_error' : 'template_error', { step: def.id, composition: this.composition.name }) }),
      );
    });
  }

  /** A retry wait on the injected clock; the run's stop ends it early. */
  private sleep(ms: number): Promise<void> {
    const clock = this.deps.clock;
    return new Promise<void>((resolve) => {
      const onStop = () => {
        clock.clearTimeout(h);
        resolve();
      };
      const h = clock.setTimeout(() => {
        this.inFlight.delete(onStop);
        resolve();
      }, ms);
      // systemClock unrefs its timers so that an idle watcher never keeps a process alive; a
      // retry wait is work in progress, and a CLI awaiting the run must not exit in the middle.
      (h as { ref?: () => void } | null)?.ref?.();
      this.inFlight.add(onStop);
    });
  }

  // ---------------------------------------------------------------- the end

  cancel(reason?: string): void {
    this.stop('cancelled', new PromptError('cancelled', reason ?? 'the run was cancelled', { composition: this.composition.name }));
  }

  private stop(status: 'cancelled' | 'timed_out', error: PromptError): void {
    if (this.ended) return;
    this.ended = true; // before the abort: attempts resuming after it must find the run over
    for (const f of [...this.inFlight]) f(error);
    this.inFlight.clear();
    this.runAbort.abort(error);
    this.finish(status, error, this.startedEmitted);
  }

  private naturalStatus(): FinalRunStatus {
    let failed = false;
    for (const s of this.steps) {
      if (s.status === 'failed' || (s.status === 'skipped' && s.skipReason === 'upstream')) failed = true;
    }
    // `stopping` is only ever set by fail_fast after a failure that was not continue_on_error.
    if (this.stopping) return 'failed';
    return failed ? 'partial' : 'succeeded';
  }

  private finish(status: FinalRunStatus, stopError?: PromptError, started = this.startedEmitted): void {
    this.ended = true;
    const clock = this.deps.clock;
    if (this.runTimer !== undefined) clock.clearTimeout(this.runTimer);
    this.detachSignal?.();
    const now = clock.now();
    for (let i = 0; i < this.steps.length; i++) {
      const s = this.steps[i]!;
      if (s.status === 'running') {
        // Cancelled steps are `cancelled`; a step cut off by the run's timeout failed with `timeout`.
        s.status = status === 'timed_out' ? 'failed' : 'cancelled';
        if (stopError) this.pushError(s, stopError);
        s.finishedAt = now;
        s.output = null;
        this.setView(i);
        this.emitFinished(i, stopError);
      } else if (s.status === 'pending') {
        s.status = 'cancelled';
        if (started) {
          this.setView(i);
          this.emitFinished(i);
        }
      }
    }
    this.running = 0;
    this.status = status;
    this.finishedAt = now;
    if (status === 'succeeded' || status === 'partial') this.renderOutput();
    if (this.error === undefined && stopError) this.error = stopError.toJSON();
    const durationMs = now - this.startedAt;
    this.recordMetrics(durationMs);
    const ev: WorkflowEvent = { type: 'workflow.finished', runId: this.id, composition: this.composition.name, time: this.wall(now), status: this.status as FinalRunStatus, durationMs };
    if (this.error) ev.error = this.error;
    this.emit(ev);
    this.log.close();
    this.resolveDone(this.snapshot() as WorkflowResult);
  }

  private renderOutput(): void {
    const c = this.composition;
    if (c.output === undefined) {
      const leaves: string[] = [];
      this.steps.forEach((s, i) => {
        if (this.graph.dependents[i]!.length === 0 && s.output !== null && s.output !== undefined) leaves.push(outputText(s.output));
      });
      this.output = leaves.join('\n\n');
      return;
    }
    try {
      this.output = this.deps.host.renderString(c.output, { ...this.input, steps: this.stepsView });
    } catch (e) {
      // The steps' outputs are kept; only the assembled output is missing, and that is a failure of the run.
      this.error = toPromptError(e, 'template_error', { composition: c.name }).toJSON();
      this.output = null;
      this.status = 'failed';
    }
  }

  private recordMetrics(durationMs: number): void {
    const m = this.deps.metrics;
    const name = this.composition.name;
    m.recordRun(name, this.status as FinalRunStatus, durationMs);
    for (const s of this.steps) {
      const rec: Parameters<WorkflowMetrics['recordStep']>[2] = { status: s.status, attempts: s.attempts, fallback: s.status === 'fallback', timeouts: s.timeouts };
      if (s.startedAt !== undefined && s.finishedAt !== undefined) rec.durationMs = s.finishedAt - s.startedAt;
      m.recordStep(name, s.def.id, rec);
    }
  }

  // ---------------------------------------------------------------- status

  /** Characters of outputs this run holds (its steps' and its own). */
  outputChars(): number {
    let n = this.output?.length ?? 0;
    for (const s of this.steps) n += outputChars(s.output);
    return n;
  }

  /** Forgets a finished run's outputs (the engine's history keeps within maxHistoryOutputChars); its status stays. */
  dropOutputs(): void {
    if (!this.ended) return;
    for (const s of this.steps) s.output = null;
    for (const k of Object.keys(this.stepsView)) this.stepsView[k] = Object.freeze({ ...this.stepsView[k]!, output: null });
    this.output = null;
    this.outputsDropped = true;
    // A settled promise keeps its value, and its resolve function keeps the promise: let both go
    // (the caller's handle still holds the full result for as long as the caller wants it).
    this.done = Promise.resolve(this.snapshot() as WorkflowResult);
    this.resolveDone = () => undefined;
  }

  snapshot(): WorkflowStatus {
    const outputs: Record<string, unknown> = {};
    const fallbacks: FallbackCause[] = [];
    const steps: StepRunStatus[] = this.steps.map((s) => {
      const st: StepRunStatus = { id: s.def.id, status: s.status, attempts: s.attempts, errors: s.errors.slice(), output: s.output };
      if (s.errorsDropped) st.errorsDropped = s.errorsDropped;
      if (s.skipReason) st.skipReason = s.skipReason;
      if (s.startedAt !== undefined) st.startedAt = this.wall(s.startedAt);
      if (s.finishedAt !== undefined) st.finishedAt = this.wall(s.finishedAt);
      if (s.startedAt !== undefined && s.finishedAt !== undefined) st.durationMs = s.finishedAt - s.startedAt;
      if (s.def.template !== undefined) st.template = s.def.template;
      if (s.def.model !== undefined) st.model = s.def.model;
      if ((s.status === 'succeeded' || s.status === 'fallback') && s.output !== null && s.output !== undefined) defineData(outputs, s.def.id, s.output);
      if (s.status === 'fallback' && s.fallback) fallbacks.push({ ...s.fallback });
      return st;
    });
    const out: WorkflowStatus = {
      id: this.id,
      composition: this.composition.name,
      status: this.status,
      startedAt: this.wallStart,
      steps,
      outputs,
      output: this.output,
      maxParallel: this.maxParallel,
      appliedOverrides: { ...this.composition.appliedOverrides },
    };
    if (this.serviceName !== undefined) out.serviceName = this.serviceName;
    if (this.outputsDropped) out.outputsDropped = true;
    if (this.queued) out.queuedMs = (this.startedEmitted ? this.begunAt : (this.finishedAt ?? this.deps.clock.now())) - this.startedAt;
    if (this.finishedAt !== undefined) {
      out.finishedAt = this.wall(this.finishedAt);
      out.durationMs = this.finishedAt - this.startedAt;
    }
    if (this.error) out.error = this.error;
    if (fallbacks.length) out.fallbacks = fallbacks;
    if (this.refused) out.refused = true;
    return out;
  }
}

/** Why step `s` fell back: its last error and, when its provider's call failed, the kind of failure. */
function fallbackCause(s: StepState, err: PromptError, kind: ProviderFailureKind | undefined): FallbackCause {
  const f: FallbackCause = { step: s.def.id, code: err.code, cause: err.message };
  if (kind && s.provider) {
    f.kind = kind;
    f.provider = s.provider.name;
    if (kind === 'missing_key' && s.provider.apiKeyEnv) f.apiKeyEnv = s.provider.apiKeyEnv;
  }
  return f;
}
