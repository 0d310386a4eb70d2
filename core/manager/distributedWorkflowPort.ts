/**
 * Plugs the BullMQ back end (core/distributed/) into the prompt manager, beside the in-process
 * engine's port (engineWorkflowPort.ts) and with the same duties: the run starts on the
 * configuration snapshot it was asked on (here pinned by its content hash, which the workers
 * must serve), is refused before any step runs for the same reasons, and is measured.
 */
import type { Redis } from 'ioredis';
import { PromptError } from '../errors.js';
import type { ProviderDef } from '../model/types.js';
import { BullmqWorkflowBackend } from '../distributed/backend.js';
import { FleetMetricsReader, type FleetProviderFigures } from '../distributed/fleetMetricsReader.js';
import type { BullmqBackendConfig } from '../distributed/connection.js';
import { remainingPathLengths } from '../workflow/dag.js';
import { WorkflowEngine, type RunSummary } from '../workflow/engine.js';
import { executorRegistry, type ExecutorRegistry } from '../workflow/executors.js';
import { WorkflowMetrics } from '../workflow/metrics.js';
import { precheckRun } from '../workflow/precheck.js';
import { resolveComposition } from '../workflow/resolve.js';
import { DEFAULT_RESPONSE_TTL_MS, ResponseCache } from '../workflow/responseCache.js';
import type { FinalRunStatus, WorkflowEvent, WorkflowResult, WorkflowRun, WorkflowStatus } from '../workflow/types.js';
import type { Clock } from '../clock.js';
import type { ComponentHealth } from './health.js';
import type { StartOptions, WorkflowSettings } from './engineWorkflowPort.js';
import type { EngineSnapshot } from './snapshot.js';
import type { WorkflowExecuteOptions, WorkflowPort } from './workflowPort.js';

export class DistributedWorkflowPort implements WorkflowPort {
  readonly metrics = new WorkflowMetrics();
  private readonly executors: ExecutorRegistry;
  private readonly finished = new Map<string, WorkflowStatus>();
  private trusted: boolean;
  /** Answers the runs refused before they start, exactly as the in-process engine does (they never reach Redis). */
  private readonly refusals: WorkflowEngine;
  /** The providers' figures of every worker (README "Scaling out"), read from Redis. */
  private readonly fleet: FleetMetricsReader;

  private constructor(
    readonly backend: BullmqWorkflowBackend,
    private readonly settings: WorkflowSettings & { clock: Clock; idGenerator: () => string },
  ) {
    this.executors = executorRegistry(settings.executors);
    this.trusted = settings.trusted ?? true;
    this.fleet = new FleetMetricsReader(backend.redis, backend.prefix);
    this.refusals = new WorkflowEngine({
      host: { renderTemplate: () => Promise.reject(new Error('unused')), renderString: () => '' },
      clock: settings.clock,
      executors: this.executors,
      trusted: this.trusted,
      ...(settings.env ? { env: settings.env } : {}),
    });
    // A refused run's events go where every run's events go.
    this.refusals.on('progress', (e) => {
      backend.emit('progress', e);
      (backend.emit as (name: string, e: WorkflowEvent) => boolean)(e.type, e);
    });
    backend.on('workflow.finished', (e) => {
      void backend.getStatus(e.runId).then((s) => s && this.record(s));
    });
  }

  static async connect(config: BullmqBackendConfig, settings: WorkflowSettings & { clock: Clock; idGenerator: () => string }): Promise<DistributedWorkflowPort> {
    return new DistributedWorkflowPort(await BullmqWorkflowBackend.connect(config), settings);
  }

  /** The Redis connection of this back end (for other features that keep state beside the runs). */
  get redis(): Redis {
    return this.backend.redis;
  }

  /**
   * With `workflow.responseCache`, runs ask the workers to answer their model steps from the
   * response cache in Redis (what a worker can reach): `true` keeps entries DEFAULT_RESPONSE_TTL_MS,
   * a ResponseCache its own `ttlMs` (its store stays in this process: the workers use Redis).
   */
  private get responseCacheTtlMs(): number | undefined {
    const c = this.settings.responseCache;
    if (!c) return undefined;
    return c instanceof ResponseCache ? c.ttlMs : DEFAULT_RESPONSE_TTL_MS;
  }

  setTrusted(trusted: boolean): void {
    this.trusted = trusted;
    this.refusals.setTrusted(trusted);
  }

  private providers(snapshot: EngineSnapshot): ProviderDef[] {
    const o = this.settings.providerOverrides ?? {};
    return (snapshot.validation.compositionRules?.providers ?? []).map((p) => ({ ...p, ...(o[p.name] ?? {}) }));
  }

  async start(compositionName: string, context: Record<string, unknown>, opts: StartOptions & { pin: string }): Promise<WorkflowRun> {
    const def = opts.snapshot.compositions.get(compositionName);
    const rules = opts.snapshot.validation.compositionRules;
    if (!def || !rules) throw new PromptError('unknown_composition', `composition '${compositionName}' is not defined`, { composition: compositionName });
    const composition = resolveComposition(def, rules.defaults, context);
    const maxParallel = Math.min(opts.maxParallel ?? composition.maxParallel, this.settings.maxParallel ?? Infinity);
    const providers = this.providers(opts.snapshot);
    const plan = precheckRun(composition, maxParallel, context, { executors: this.executors, providers: new Map(providers.map((p) => [p.name, p])), trusted: this.trusted });
    if ('refusal' in plan || opts.signal?.aborted) {
      // The same refused run, status and events as the in-process engine gives (never sent to the workers).
      return this.refusals.executeResolved(composition, context, {
        workflowId: opts.workflowId,
        providers,
        host: opts.host,
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(opts.maxParallel !== undefined ? { maxParallel } : {}),
      });
    }
    const known = composition.steps.map((s) => this.metrics.stepP50(composition.name, s.id));
    const seen = known.filter((x): x is number => x !== undefined);
    const fallbackWeight = seen.length ? seen.reduce((a, b) => a + b, 0) / seen.length : 1;
    const priority = remainingPathLengths(plan.graph, plan.order, (i) => Math.max(known[i] ?? fallbackWeight, 1e-6));
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(JSON.stringify(context)) as Record<string, unknown>;
    } catch (e) {
      throw new PromptError('invalid_configuration', `a distributed run's context must be JSON (it goes to workers on other machines): ${e instanceof Error ? e.message : String(e)}`, { composition: compositionName });
    }
    const run = await this.backend.start({
      workflowId: opts.workflowId,
      composition,
      input,
      ...(opts.serviceName !== undefined ? { serviceName: opts.serviceName } : {}),
      maxParallel,
      pin: opts.pin,
      priority,
      ...(this.responseCacheTtlMs !== undefined ? { responseCacheTtlMs: this.responseCacheTtlMs } : {}),
    });
    if (opts.signal) {
      const signal = opts.signal;
      const onAbort = () => run.cancel(typeof signal.reason === 'string' ? signal.reason : 'the caller aborted the run');
      signal.addEventListener('abort', onAbort, { once: true });
      void run.done.then(() => signal.removeEventListener('abort', onAbort));
    }
    return run;
  }

  async execute(compositionName: string, context: Record<string, unknown>, opts: WorkflowExecuteOptions & { pin?: string }): Promise<WorkflowResult> {
    return (await this.start(compositionName, context, { ...opts, pin: opts.pin ?? '' })).done;
  }

  async getStatus(id: string): Promise<WorkflowStatus | undefined> {
    return (await this.backend.getStatus(id)) ?? this.refusals.getStatus(id);
  }

  async cancel(id: string, reason?: string): Promise<boolean> {
    return this.backend.cancel(id, reason);
  }

  async listRuns(): Promise<RunSummary[]> {
    const remote = await this.backend.listRuns();
    return [...this.refusals.listRuns(), ...remote].sort((a, b) => a.startedAt - b.startedAt);
  }

  attach(id: string): Promise<WorkflowRun | undefined> {
    return this.backend.attach(id);
  }

  /** The last finished run of a composition that this process saw end (a step preview's `steps.<id>`). */
  lastFinished(composition: string): WorkflowStatus | undefined {
    return this.finished.get(composition);
  }

  /** The finished run in this manager's workflow metrics (durations learned for the critical path, health). */
  private record(s: WorkflowStatus): void {
    if (s.status === 'running' || s.status === 'pending') return;
    this.finished.delete(s.composition);
    this.finished.set(s.composition, s);
    // One per composition: bounded by the configuration's compositions, which may come and go.
    while (this.finished.size > 256) this.finished.delete(this.finished.keys().next().value!);
    this.metrics.recordRun(s.composition, s.status as FinalRunStatus, s.durationMs ?? 0);
    for (const st of s.steps) {
      const rec: Parameters<WorkflowMetrics['recordStep']>[2] = { status: st.status, attempts: st.attempts, fallback: st.status === 'fallback', timeouts: st.errors.filter((e) => e.code === 'timeout').length };
      if (st.durationMs !== undefined) rec.durationMs = st.durationMs;
      this.metrics.recordStep(s.composition, st.id, rec);
    }
  }

  /**
   * The providers' figures of the whole fleet (every worker's calls, counted in Redis, and the
   * provider queues' gauges), as last read: at most FLEET_METRICS_MAX_AGE_MS old, else a new
   * read starts and the next call has it. Undefined before the first read. Only the
   * configuration's providers.
   */
  providerMetrics(snapshot: EngineSnapshot): FleetProviderFigures | undefined {
    return this.fleet.latest(this.providers(snapshot).map((p) => p.name));
  }

  /** Reads the fleet's provider figures now. */
  refreshProviderMetrics(snapshot: EngineSnapshot): Promise<FleetProviderFigures> {
    return this.fleet.refresh(this.providers(snapshot).map((p) => p.name));
  }

  health(): ComponentHealth {
    const runs = this.backend.activeRuns;
    return { status: 'healthy', reason: `distributed (BullMQ, prefix ${this.backend.prefix}); ${runs} run${runs === 1 ? '' : 's'} watched by this process` };
  }

  async close(): Promise<void> {
    await this.fleet.close();
    await this.backend.close();
  }
}
