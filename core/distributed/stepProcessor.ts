/**
 * What a worker does with a distributed run's jobs: a step job claims its step, runs one
 * attempt (attempt.ts, as the in-process runner does), and records the outcome atomically; then
 * it decides the `skip`/`when` of the steps that outcome made ready, and enqueues the ones that
 * got a slot. A start job creates the run; a timeout job ends it at its deadline.
 *
 * Every step of this is safe to repeat: a worker killed anywhere in it leaves its job to
 * BullMQ's stalled-job recovery, and the next worker finds the step finished (a finished step is
 * never run again) and only redoes what followed it (`resume`).
 */
import { hostname } from 'node:os';
import { systemClock } from '../clock.js';
import { PromptError, toPromptError } from '../errors.js';
import { LIMITS } from '../limits.js';
import { hasLimits, requeuesAfter429 } from '../workflow/admission.js';
import { runAttempt, type AttemptSpec } from '../workflow/attempt.js';
import type { ExecutorRegistry } from '../workflow/executors.js';
import type { WorkflowMetrics } from '../workflow/metrics.js';
import type { ResponseCache } from '../workflow/responseCache.js';
import { isRetryable, planRetry, withReason } from '../workflow/retry.js';
import type { ErrorJSON, FinalRunStatus, ResolvedStep, WorkflowHost } from '../workflow/types.js';
import { evaluateWhen } from '../workflow/when.js';
import type { RunStore, RunSpec, Advance, Claim, Decision, EagerOffer, ProviderFailureNote, StepView } from './runStore.js';
import type { PinnedConfig, StepOutcome } from './workerTypes.js';
import { defineData, viewsObject } from './stepReads.js';
import { DEFAULT_EAGER_STEPS, type EagerBudget } from './eager.js';
import { RunPlans } from './runPlans.js';
import { stepExecutor } from './stepExecutor.js';
import { providerFailureNote, RetryLater, timeoutError } from './stepErrors.js';
import { ProviderBusy, RateLimitRequeue, tokenTicket, type SharedLimits } from './providerLimits.js';
export type { PinnedConfig, StepOutcome } from './workerTypes.js';

export interface ProcessorDeps {
  store: RunStore;
  /** The configuration of this pin, or undefined when this worker cannot serve it. */
  resolvePin(pin: string): PinnedConfig | undefined;
  /** What this worker serves, for the message of a run it cannot serve. */
  describeServed(): string;
  executors: ExecutorRegistry;
  env: (name: string) => string | undefined;
  metrics?: WorkflowMetrics;
  /** Adds the jobs of these steps (idempotent: BullMQ ignores a job id that exists). */
  enqueue(spec: RunSpec, steps: readonly number[]): Promise<void>;
  /** Registers what to do when the run is cancelled or times out while this attempt runs. */
  onRunStop(runId: string, f: (reason: PromptError) => void): () => void;
  /** Records why a run waits (a pin no worker here serves), in its status. */
  notice(runId: string, text: string): Promise<void>;
  /** The providers' limits shared by every worker; without them a step calls its provider at once. */
  limits?: SharedLimits;
  /** The response cache in Redis whose entries live `ttlMs`, for runs that asked for it. */
  responseCache?(ttlMs: number): ResponseCache;
  /**
   * Render-only steps a job may run itself, one after another, when the step it finished made
   * them ready (eager dispatch, eager.ts); 0: every step goes through the queue.
   */
  eagerSteps?: number;
  /** False once the worker is closing: the steps made ready go to the queue, for other workers. */
  accepting?(): boolean;
  /** Adds the job of a step whose eager attempt asked for a retry: it runs after `delayMs`, as attempt `attemptsMade + 1 + base`. */
  enqueueRetry?(spec: RunSpec, step: number, base: number, delayMs: number): Promise<void>;
  /** Each step this worker ran eagerly, by outcome (as the worker's onJob reports jobs). */
  onEager?(runId: string, step: number, outcome: StepOutcome | 'retry'): void;
}

function outputText(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export const WORKER_ID = `${hostname()}:${process.pid}`;

export class StepProcessor {
  private readonly plans = new RunPlans();

  constructor(private readonly deps: ProcessorDeps) {}

  /** `steps.<id>` of the steps a step may read: its transitive dependencies, all finished before it starts. */
  private async stepsView(spec: RunSpec, of: readonly number[]): Promise<Record<string, StepView>> {
    return viewsObject(spec, await this.deps.store.views(spec.id, of));
  }

  private async runContext(spec: RunSpec, step: number): Promise<Record<string, unknown>> {
    return { ...spec.input, steps: await this.stepsView(spec, this.plans.ancestors(spec, step)) };
  }

  // ---------------------------------------------------------------- the run's own jobs

  /**
   * A start job: creates the run (unless it exists) and sets it going. `first`: this is the
   * job's first run (no attempt made, none stalled), so no job of any step of the run exists
   * yet, and it may run a first step itself that the starter's creation gave a slot.
   */
  async start(spec: RunSpec, create: () => Promise<Advance | { kind: 'exists'; now: number }>, first = false, started?: () => void): Promise<void> {
    const r = await create();
    const eager = this.budget();
    if (r.kind === 'ok') await this.follow(spec, r, eager);
    else await this.resume(spec, first ? eager : undefined);
    started?.();
    await this.runEager(spec, eager);
  }

  private budget(): EagerBudget {
    return { left: this.deps.eagerSteps ?? DEFAULT_EAGER_STEPS };
  }

  /** Redoes what a dead worker may have left undone after a step finished; with `eager` (a first start job: no step has a job yet), one render-only step holding a slot is left to this job. */
  async resume(spec: RunSpec, eager?: EagerBudget): Promise<void> {
    const p = await this.deps.store.pending(spec.id);
    if (p.state === 'finishing') return this.finalize(spec, p.status as FinalRunStatus);
    if (p.state !== 'running') return;
    let slotted = p.slotted;
    if (eager && eager.left > 0 && (this.deps.accepting?.() ?? true)) {
      const k = slotted.findIndex((i) => spec.composition.steps[i]!.model === undefined);
      if (k >= 0) {
        eager.next = { step: slotted[k]! };
        slotted = slotted.filter((_, j) => j !== k);
      }
    }
    if (slotted.length) await this.deps.enqueue(spec, slotted);
    if (p.deciding.length) {
      const r = await this.deps.store.settle(spec.id, await this.decide(spec, p.deciding));
      if (r.kind === 'ok') await this.follow(spec, r);
    }
  }

  /**
   * Enqueues what got a slot, decides what became ready, finishes the run at its end: until
   * nothing is left to do; then, with an eager budget, runs one render-only step that got a
   * slot itself (the first: the highest priority).
   */
  private async follow(spec: RunSpec, first: Advance, eager?: EagerBudget): Promise<void> {
    let r: Advance | { kind: string } = first;
    let mine = first.claimed?.step;
    const claimed = first.claimed?.claim;
    while (r.kind === 'ok') {
      const a = r as Advance;
      let rest = a.dispatched;
      if (mine === undefined && eager && eager.left > 0 && rest.length && (this.deps.accepting?.() ?? true)) {
        const k = rest.findIndex((i) => spec.composition.steps[i]!.model === undefined);
        if (k >= 0) {
          mine = rest[k];
          rest = rest.filter((_, j) => j !== k);
        }
      }
      if (rest.length) await this.deps.enqueue(spec, rest);
      if (a.toDecide.length) {
        r = await this.deps.store.settle(spec.id, await this.decide(spec, a.toDecide));
        continue;
      }
      if (a.finishing) await this.finalize(spec, a.finishing);
      break;
    }
    if (mine !== undefined && eager) eager.next = claimed ? { step: mine, claim: claimed } : { step: mine };
  }

  /** What this worker offers to run eagerly when step `i` ends (runPlans.ts). */
  private offers(spec: RunSpec, i: number, cfg: PinnedConfig, eager: EagerBudget): EagerOffer[] {
    if (eager.left <= 0 || !(this.deps.accepting?.() ?? true)) return [];
    return this.plans.offers(spec, i, cfg);
  }

  /** The steps this job runs itself, one after another: each its first attempt; a retry goes to the queue as a job, delayed. */
  private async runEager(spec: RunSpec, eager: EagerBudget): Promise<void> {
    while (eager.next) {
      const { step: i, claim } = eager.next;
      eager.next = undefined;
      eager.left--;
      let outcome: StepOutcome | 'retry';
      try {
        outcome = await this.attempt(spec, i, 1, 0, eager, claim);
      } catch (e) {
        if (!(e instanceof RetryLater) || !this.deps.enqueueRetry) throw e;
        await this.deps.enqueueRetry(spec, i, 1, e.waitMs);
        outcome = 'retry';
      }
      if (outcome === 'ended') this.forget(spec.id);
      this.deps.onEager?.(spec.id, i, outcome);
    }
  }

  private async decide(spec: RunSpec, steps: readonly number[]): Promise<[number, Decision][]> {
    const out: [number, Decision][] = [];
    for (const i of steps) {
      const def = spec.composition.steps[i]!;
      if (def.skip) out.push([i, 'override']);
      else if (def.when && !evaluateWhen(def.when, await this.whenContext(spec, i, def.when.path))) out.push([i, 'when']);
      else out.push([i, 'ready']);
    }
    return out;
  }

  /** What a `when` reads: the run's input, and the one step its path names. */
  private async whenContext(spec: RunSpec, i: number, path: string): Promise<Record<string, unknown>> {
    const m = /^steps\.([^.]+)/.exec(path);
    if (!m) return { ...spec.input, steps: Object.create(null) as Record<string, StepView> };
    const k = spec.composition.steps.findIndex((s) => s.id === m[1]);
    if (k < 0 || k === i) return { ...spec.input, steps: Object.create(null) as Record<string, StepView> };
    return { ...spec.input, steps: await this.stepsView(spec, [k]) };
  }

  /** Renders the run's output (succeeded or partial) and ends it. */
  private async finalize(spec: RunSpec, status: FinalRunStatus): Promise<void> {
    const c = spec.composition;
    let output: string | null = null;
    let error: ErrorJSON | undefined;
    if (status === 'succeeded' || status === 'partial') {
      const all = c.steps.map((_, i) => i);
      if (c.output === undefined) {
        const views = await this.deps.store.views(spec.id, this.plans.of(spec).leaves);
        output = [...views.values()].filter((v) => v.output !== null && v.output !== undefined).map((v) => outputText(v.output)).join('\n\n');
      } else {
        const cfg = this.deps.resolvePin(spec.pin);
        if (!cfg) throw new RetryLater(2000, `this worker (${WORKER_ID}) cannot render the output of run ${spec.id}: it does not serve its configuration ${spec.pin}`);
        try {
          output = cfg.host.renderString(c.output, { ...spec.input, steps: await this.stepsView(spec, all) });
        } catch (e) {
          error = toPromptError(e, 'template_error', { composition: c.name }).toJSON();
          output = null;
          status = 'failed';
        }
      }
    }
    await this.deps.store.finalize(spec.id, status, output, error);
    this.forget(spec.id);
  }

  /** Drops what this worker keeps of a run that has ended. */
  forget(runId: string): void {
    this.plans.forget(runId);
    this.deps.store.forget(runId);
  }

  /** A timeout job: ends the run `timed_out` unless it has ended. */
  async timeout(spec: RunSpec): Promise<void> {
    const ms = spec.composition.timeoutMs ?? 0;
    await this.deps.store.stop(spec.id, 'timed_out', timeoutError(spec.composition.name, ms));
  }

  // ---------------------------------------------------------------- a step job

  /**
   * One attempt of one step. Throws RetryLater for a retry (BullMQ waits, then runs the job
   * again), ProviderBusy when the provider's shared limit has no room (the caller puts the job
   * back to wait), RateLimitRequeue when a 429 sends the call back to its queue without using
   * the attempt (`requeues`: how often this attempt was sent back already); returns otherwise,
   * the outcome recorded. `queuedMs`: the job's time in its provider's queue (the call's wait).
   */
  async step(spec: RunSpec, i: number, attempt: number, requeues = 0, finished?: (outcome: StepOutcome) => void, queuedMs = 0): Promise<StepOutcome> {
    const eager = this.budget();
    const outcome = await this.attempt(spec, i, attempt, requeues, eager, undefined, queuedMs);
    finished?.(outcome); // before the steps the job runs eagerly: reports in the order the steps end
    await this.runEager(spec, eager);
    return outcome;
  }

  /** One attempt of step `i` (claimed already when `claimed` is given); the eager step its end makes ready is left in `eager.next`. */
  private async attempt(spec: RunSpec, i: number, attempt: number, requeues: number, eager: EagerBudget, claimed?: Claim, queuedMs = 0): Promise<StepOutcome> {
    const store = this.deps.store;
    const def = spec.composition.steps[i]!;
    const cfg = this.deps.resolvePin(spec.pin);
    if (!cfg) {
      // Rendering another configuration's templates would be a silent wrong answer: wait for a worker that serves this one.
      const text = `step "${def.id}" waits for a worker that serves the configuration ${spec.pin} it started with; ${this.deps.describeServed()}`;
      await this.deps.notice(spec.id, text);
      throw new RetryLater(2000, text);
    }
    const claim = claimed ?? (await store.claim(spec.id, i, attempt, this.plans.reads(spec, i, cfg)));
    if (claim.kind === 'done') {
      await this.resume(spec);
      return 'duplicate';
    }
    if (claim.kind !== 'ok') return 'ended';
    const claimedAt = systemClock.now();
    let stopped = false;
    const runAbort = new AbortController();
    const stops = new Set<(reason: PromptError) => void>();
    const unlisten = this.deps.onRunStop(spec.id, (reason) => {
      stopped = true;
      for (const f of [...stops]) f(reason);
      runAbort.abort(reason);
    });
    try {
      let ctx: Record<string, unknown>;
      const base = { ...spec.input, steps: viewsObject(spec, claim.views) };
      try {
        ctx = this.stepContext(cfg.host, def, base);
      } catch (e) {
        // The step's `context:` does not render: no attempt can succeed, so no retry.
        const err = toPromptError(e, 'template_error', { step: def.id, composition: spec.composition.name });
        return await this.afterFailure(spec, i, err, base, cfg, [err.toJSON()]);
      }
      const executor = stepExecutor(spec, def, cfg, this.deps.executors, WORKER_ID, this.deps.responseCache);
      if (executor instanceof PromptError) return await this.afterFailure(spec, i, executor, ctx, cfg, [executor.toJSON()]);
      const aspec: AttemptSpec = {
        runId: spec.id,
        composition: spec.composition.name,
        def,
        executor: executor.executor,
        host: cfg.host,
        clock: systemClock,
        env: this.deps.env,
        context: ctx,
        attempt,
        runSignal: runAbort.signal,
        onStop: (f) => {
          stops.add(f);
          return () => stops.delete(f);
        },
        counts: () => !stopped,
      };
      if (this.deps.metrics) aspec.metrics = this.deps.metrics;
      const provider = executor.provider;
      const limits = this.deps.limits;
      if (provider) {
        aspec.provider = provider;
        if (limits) aspec.admit = (prompt) => tokenTicket(limits, provider, prompt, this.deps.metrics, queuedMs);
      }
      if (spec.serviceName !== undefined) aspec.serviceName = spec.serviceName;
      const r = await runAttempt(aspec);
      if (stopped) return 'ended';
      if (r.ok && provider && limits && hasLimits(provider)) await limits.answered(provider);
      if (r.ok) {
        const a = await store.complete(spec.id, i, 'succeeded', r.output, undefined, [], undefined, this.offers(spec, i, cfg, eager));
        if (a.kind === 'ok') await this.follow(spec, a, eager);
        return 'done';
      }
      let err = r.error;
      if (err.cause instanceof ProviderBusy) throw err.cause;
      if (err.status === 429 && provider && limits) {
        const pausedMs = await limits.rateLimited(provider, err.retryAfterMs);
        if (pausedMs > 0) this.deps.metrics?.recordPause(provider.name);
        const t = spec.composition.timeoutMs;
        const inTime = () => t === undefined || claim.deadline === undefined || claim.now + (systemClock.now() - claimedAt) + pausedMs < claim.deadline;
        if (requeuesAfter429(provider, def, err, requeues, inTime)) {
          this.deps.metrics?.recordRequeue(provider.name);
          throw new RateLimitRequeue(pausedMs, err.message);
        }
      }
      const failure = r.kind && provider ? providerFailureNote(r.kind, provider) : undefined;
      if (attempt >= def.retry.maxAttempts || !isRetryable(err, def.retry)) return await this.afterFailure(spec, i, err, ctx, cfg, [err.toJSON()], failure);
      const t = spec.composition.timeoutMs;
      const bounds = t === undefined || claim.deadline === undefined ? { maxRetryAfterMs: LIMITS.maxRetryAfterMs } : { maxRetryAfterMs: LIMITS.maxRetryAfterMs, remainingMs: claim.deadline - claim.now, runTimeoutMs: t };
      const plan = planRetry(err, def.retry, attempt, bounds);
      if (!plan.retry) {
        err = withReason(err, plan.why);
        return await this.afterFailure(spec, i, err, ctx, cfg, [err.toJSON()], failure);
      }
      if (!(await store.retrying(spec.id, i, attempt, plan.waitMs, err.toJSON()))) return 'ended';
      throw new RetryLater(plan.waitMs, err.message);
    } finally {
      unlisten();
    }
  }

  /** BullMQ gave the step's job up (its workers kept dying): the step fails as a failed attempt would, fallback included. */
  async abandon(spec: RunSpec, i: number, err: PromptError): Promise<void> {
    const c = await this.deps.store.claim(spec.id, i, 0);
    if (c.kind !== 'ok') return;
    const cfg = this.deps.resolvePin(spec.pin);
    if (cfg) await this.afterFailure(spec, i, err, await this.runContext(spec, i), cfg, [err.toJSON()]);
    else {
      const a = await this.deps.store.complete(spec.id, i, 'failed', null, err.toJSON(), [err.toJSON()]);
      if (a.kind === 'ok') await this.follow(spec, a);
    }
  }

  private stepContext(host: WorkflowHost, def: ResolvedStep, base: Record<string, unknown>): Record<string, unknown> {
    const keys = Object.keys(def.context);
    if (keys.length === 0) return base;
    const ctx: Record<string, unknown> = { ...base };
    for (const k of keys) {
      const v = def.context[k];
      defineData(ctx, k, typeof v === 'string' ? host.renderString(v, base) : v);
    }
    return ctx;
  }

  /** A failure no retry will fix: the fallback answers when there is one, else the step fails. */
  private async afterFailure(spec: RunSpec, i: number, err: PromptError, ctx: Record<string, unknown>, cfg: PinnedConfig, errors: ErrorJSON[], failure?: ProviderFailureNote): Promise<StepOutcome> {
    const store = this.deps.store;
    const def = spec.composition.steps[i]!;
    const fb = def.fallback;
    let a;
    if (!fb) a = await store.complete(spec.id, i, 'failed', null, err.toJSON(), errors);
    else if (fb.template === undefined) a = await store.complete(spec.id, i, 'fallback', fb.value ?? null, err.toJSON(), errors, failure);
    else {
      try {
        // The fallback is a local, degraded answer: rendered, never sent to the provider whose failure is the likely cause.
        const opts = spec.serviceName !== undefined ? { signal: new AbortController().signal, serviceName: spec.serviceName } : { signal: new AbortController().signal };
        const out = await cfg.host.renderTemplate(fb.template, ctx, opts);
        a = await store.complete(spec.id, i, 'fallback', out, err.toJSON(), errors, failure);
      } catch (e) {
        const fbErr = toPromptError(e, 'template_error', { step: def.id, template: fb.template });
        a = await store.complete(spec.id, i, 'failed', null, err.toJSON(), [...errors, fbErr.toJSON()]);
      }
    }
    if (a.kind === 'ok') await this.follow(spec, a);
    return 'done';
  }
}
