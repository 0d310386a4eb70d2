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
import { MAX_STEP_ERRORS, STEP_ERRORS_KEPT_FIRST } from './bounds.js';
import { requeuesAfter429, type AdmissionScheduler } from './admission.js';
import { outputChars, runAttempt, type AttemptResult, type AttemptSpec } from './attempt.js';
import { remainingPathLengths, type StepGraph } from './dag.js';
import { EventLog } from './eventLog.js';
import type { ExecutorRegistry, StepExecutor } from './executors.js';
import type { WorkflowMetrics } from './metrics.js';
import { precheckRun } from './precheck.js';
import { StepHeap } from './priorityQueue.js';
import type { ProviderFailureKind } from './providerFailure.js';
import { isRetryable, planRetry, withReason } from './retry.js';
import { estimateTokens } from './tokens.js';
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
import { defineData, stepContext, stepView, type StepView } from './stepContext.js';

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

function outputText(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
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
  /** A topological order of the steps (from the precheck). */
  private order?: number[];
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

  /** Checks that the run can start (precheck.ts); a refusal ends it `failed` with the error and no step runs. */
  private precheck(context: Record<string, unknown>): PromptError | undefined {
    const checked = precheckRun(this.composition, this.maxParallel, context, this.deps);
    if ('refusal' in checked) return checked.refusal;
    this.graph = checked.graph;
    this.order = checked.order;
    checked.executors.forEach((e, i) => {
      if (e) this.steps[i]!.executor = e;
      const p = checked.providers[i];
      if (p) this.steps[i]!.provider = p;
    });
    return undefined;
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
      const order = this.order!;
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

  /** Whether a 429 goes back to the admission queue without using one of the step's attempts (admission.ts). */
  private rateLimitRequeue(s: StepState, err: PromptError, requeues: number): boolean {
    const t = this.composition.timeoutMs;
    return requeuesAfter429(s.provider, s.def, err, requeues, () => t === undefined || this.deps.admission.pausedUntil(s.provider!.name) < this.begunAt + t);
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
   * One attempt (attempt.ts): render the prompt, wait for the provider's admission, run the
   * executor; settles at the first of its answer, its timeouts, or the run's stop. `first`: the
   * call is sent again after a 429 (it goes before the calls waiting on the provider).
   */
  private attempt(i: number, ctx: Record<string, unknown>, attempt: number, first: boolean): Promise<AttemptResult> {
    const s = this.steps[i]!;
    const spec: AttemptSpec = {
      runId: this.id,
      composition: this.composition.name,
      def: s.def,
      executor: s.executor!,
      host: this.deps.host,
      clock: this.deps.clock,
      env: this.deps.env,
      metrics: this.deps.metrics,
      context: ctx,
      attempt,
      runSignal: this.runAbort.signal,
      onStop: (f) => {
        this.inFlight.add(f);
        return () => this.inFlight.delete(f);
      },
      counts: () => !this.ended,
    };
    const provider = s.provider;
    if (provider) {
      spec.provider = provider;
      spec.admit = (prompt) => this.deps.admission.admit({ provider, run: this.id, priority: this.priority?.[i] ?? 0, tokens: estimateTokens(prompt, provider), first });
    }
    if (this.serviceName !== undefined) spec.serviceName = this.serviceName;
    return runAttempt(spec);
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
