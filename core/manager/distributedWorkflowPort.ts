/**
 * Plugs the BullMQ back end (core/distributed/) into the prompt manager, beside the in-process
 * engine's port (engineWorkflowPort.ts) and with the same duties: the run starts on the
 * configuration snapshot it was asked on (here pinned by its content hash, which the workers
 * must serve), is refused before any step runs for the same reasons, and is measured; the run
 * limit holds for the whole deployment (core/distributed/runSlots.ts), and the provider probes
 * run here, feeding this manager's health as in-process (providerHealth.ts).
 */
import type { Redis } from 'ioredis';
import { isPromptError, PromptError } from '../errors.js';
import type { ProviderDef } from '../model/types.js';
import { BullmqWorkflowBackend } from '../distributed/backend.js';
import { FleetMetricsReader, type FleetProviderFigures } from '../distributed/fleetMetricsReader.js';
import type { BullmqBackendConfig } from '../distributed/connection.js';
import { remainingPathLengths } from '../workflow/dag.js';
import { WorkflowEngine, type RunQueueStats, type RunSummary } from '../workflow/engine.js';
import { executorRegistry, type ExecutorRegistry } from '../workflow/executors.js';
import { WorkflowMetrics } from '../workflow/metrics.js';
import { precheckRun } from '../workflow/precheck.js';
import { resolveComposition } from '../workflow/resolve.js';
import { DEFAULT_RESPONSE_TTL_MS, ResponseCache } from '../workflow/responseCache.js';
import type { FinalRunStatus, WorkflowEvent, WorkflowResult, WorkflowRun, WorkflowStatus } from '../workflow/types.js';
import type { Clock } from '../clock.js';
import type { ComponentHealth } from './health.js';
import { providerQueue } from '../distributed/jobs.js';
import { runLimits, type RunLimits } from '../workflow/runLimits.js';
import { judgeProviders, startProbes } from './providerHealth.js';
import type { ProviderProbes } from './providerProbes.js';
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
  private readonly limits: RunLimits;
  /** Runs this process refused because the deployment's run queue was full. */
  private refused = 0;
  private slotTimer?: ReturnType<typeof setInterval>;
  /** Running once `startProbes` was called with probes configured. */
  probes?: ProviderProbes;
  /** The providers' figures of every worker (README "Scaling out"), read from Redis. */
  private readonly fleet: FleetMetricsReader;

  private constructor(
    readonly backend: BullmqWorkflowBackend,
    private readonly settings: WorkflowSettings & { clock: Clock; idGenerator: () => string },
  ) {
    this.executors = executorRegistry(settings.executors);
    this.trusted = settings.trusted ?? true;
    this.limits = runLimits(settings);
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
      if (this.limited) void backend.refreshSlots().catch(() => undefined);
    });
    // The run queue's gauges read from Redis now and then: other processes start and end runs too.
    if (this.limited) {
      this.slotTimer = setInterval(() => void backend.refreshSlots().catch(() => undefined), 5000);
      this.slotTimer.unref?.();
    }
  }

  private get limited(): boolean {
    return this.limits.maxConcurrentRuns !== Infinity;
  }

  static async connect(config: BullmqBackendConfig, settings: WorkflowSettings & { clock: Clock; idGenerator: () => string }): Promise<DistributedWorkflowPort> {
    // Wrong limits fail before connecting, as the in-process engine's constructor does.
    runLimits(settings);
    return new DistributedWorkflowPort(await BullmqWorkflowBackend.connect(config), settings);
  }

  /**
   * The probes, when configured: from this process, with this manager's executors and keys,
   * admitted by its own scheduler; a provider whose queue has jobs waiting or running on the
   * workers is not probed (its calls say more).
   */
  startProbes(current: () => EngineSnapshot | undefined): void {
    const settings = this.settings.probes;
    if (!settings || this.probes) return;
    const admission = this.refusals.admission;
    this.probes = startProbes(
      settings,
      {
        clock: this.settings.clock,
        executors: this.executors,
        env: this.keyLookup,
        overrides: this.settings.providerOverrides ?? {},
        trusted: () => this.trusted,
        admission,
        gauges: () => admission.gauges(),
        // The workers make the calls: a probe is newer than the calls the fleet had made when it went.
        calls: (name) => this.fleet.callsOf(name),
        busy: (p) => this.backend.queueBusy(providerQueue(p.name)),
      },
      current,
    );
  }

  private get keyLookup(): (name: string) => string | undefined {
    return this.settings.env ?? ((name) => process.env[name]);
  }

  /**
   * The providers component of health, judged as in-process (providerHealth.ts): keys, the
   * calls of every worker (the fleet's figures as last read, at most FLEET_METRICS_MAX_AGE_MS
   * old), the probes.
   */
  providerHealth(snapshot?: EngineSnapshot): ComponentHealth | undefined {
    return judgeProviders({
      ...(snapshot ? { snapshot } : {}),
      overrides: this.settings.providerOverrides ?? {},
      keyLookup: this.keyLookup,
      keySource: this.settings.env ? 'workflow.env' : 'process.env',
      calls: (snapshot ? this.providerMetrics(snapshot)?.providers : undefined) ?? this.metrics.getMetrics().providers,
      ...(this.probes ? { probes: this.probes } : {}),
    });
  }

  /**
   * The run queue for the Prometheus gauges: runs holding a slot and waiting across the
   * deployment (read from Redis at each start and run end this process sees, and every 5 s),
   * and the runs this process refused. Undefined without `maxConcurrentRuns`.
   */
  runQueue(): RunQueueStats | undefined {
    if (!this.limited) return undefined;
    const { running, queued } = this.backend.slots;
    return { running, queued, refused: this.refused, ...this.limits };
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
    let run: WorkflowRun;
    try {
      run = await this.backend.start({
        workflowId: opts.workflowId,
        composition,
        input,
        ...(opts.serviceName !== undefined ? { serviceName: opts.serviceName } : {}),
        maxParallel,
        pin: opts.pin,
        priority,
        ...(this.responseCacheTtlMs !== undefined ? { responseCacheTtlMs: this.responseCacheTtlMs } : {}),
        ...(this.limited ? { limits: this.limits } : {}),
      });
    } catch (e) {
      if (isPromptError(e) && e.code === 'limit_exceeded') this.refused++;
      throw e;
    }
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
    if (this.slotTimer) clearInterval(this.slotTimer);
    this.probes?.close();
    await this.backend.close();
  }
}
