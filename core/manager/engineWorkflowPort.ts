/**
 * Plugs the workflow engine into the prompt manager (workflowPort.ts, beside it). Each run
 * gets the composition, providers and template host of the configuration snapshot it started
 * with, so a hot reload during a run never reaches it.
 */
import type { Clock } from '../clock.js';
import type { ComponentHealth } from './health.js';
import type { EngineSnapshot } from './snapshot.js';
import type { WorkflowExecuteOptions, WorkflowPort } from './workflowPort.js';
import { PromptError } from '../errors.js';
import type { ProviderDef } from '../model/types.js';
import { plural } from '../plural.js';
import { WorkflowEngine } from '../workflow/engine.js';
import { executorRegistry, type ExecutorsOption } from '../workflow/executors.js';
import { ResponseCache } from '../workflow/responseCache.js';
import type { ProviderProbes, ProbeSettings } from './providerProbes.js';
import { judgeProviders, providersOf, startProbes, type ProviderOverrides } from './providerHealth.js';
import type { WorkflowResult, WorkflowRun } from '../workflow/types.js';
import type { WorkflowBackendConfig } from '../distributed/connection.js';

export { PROVIDER_DOWN_STREAK, type ProviderOverrides } from './providerHealth.js';

export interface WorkflowSettings {
  /** Finished runs kept for status queries (default 1,000). */
  historyLimit?: number;
  /** Upper bound on any run's max_parallel. */
  maxParallel?: number;
  /**
   * At most this many runs at once; a run started past it waits, `pending` with a
   * `workflow.queued` event, and starts when a run ends (first come, first served);
   * `getWorkflowStatus` and `cancelWorkflow` work on it. Default: no limit. On the BullMQ back
   * end the limit is the whole deployment's (every starting process on the same Redis prefix),
   * not each process's: give every starter the same.
   */
  maxConcurrentRuns?: number;
  /**
   * Runs that may wait for a slot (default 1,000; 0: none): past it `startWorkflow` fails with
   * `limit_exceeded`. On the BullMQ back end, the runs waiting across the deployment.
   */
  maxQueuedRuns?: number;
  /** False in an untrusted workspace: runs with provider steps are refused. Default true. */
  trusted?: boolean;
  /**
   * Step executors. A list is added to the defaults (`render`, `openai-compatible`), each
   * serving the providers whose `type` is its name: your own model client, or a mock
   * (`createMockExecutor`). An `ExecutorRegistry` replaces the defaults (it must hold `render`).
   */
  executors?: ExecutorsOption;
  /** Where `api_key_env` names are looked up (default process.env). */
  env?: (name: string) => string | undefined;
  providerOverrides?: ProviderOverrides;
  /**
   * Where runs execute: `{ type: 'in-process' }` (the default), or
   * `{ type: 'bullmq', connection: { url }, prefix }`: steps become BullMQ jobs that
   * `promptmanager worker` processes (or `createWorkflowWorker`) execute, on any machine, with
   * the run's state in Redis (README "Scaling out").
   */
  backend?: WorkflowBackendConfig;
  /**
   * Active provider probes: every `intervalMs` (default 60 s) each provider some step uses gets
   * a cheap request (`openai-compatible`: `GET {base_url}/models`), whose outcome feeds the
   * providers component of `healthCheck()`. Off by default; never in an untrusted workspace
   * (core/manager/providerProbes.ts). On the BullMQ back end the manager probes from its own
   * process, with its executors and keys, for its own health.
   */
  probes?: ProbeSettings;
  /**
   * Model answers cached by a digest of the whole request (core/workflow/responseCache.ts): a
   * `ResponseCache` (any store), or `true` for the workspace's own on disk
   * (`.promptmanager/responses/`). Off unless given, in every preset: a cached answer is not
   * the model's answer today (`recommendConfiguration` says why per environment).
   */
  responseCache?: ResponseCache | boolean;
}

export interface StartOptions extends WorkflowExecuteOptions {
  maxParallel?: number;
}

const noHost = {
  renderTemplate(): Promise<string> {
    throw new PromptError('invalid_configuration', 'a workflow run started without a template host');
  },
  renderString(): string {
    throw new PromptError('invalid_configuration', 'a workflow run started without a template host');
  },
};

function cachedExecutors(executors: ExecutorsOption | undefined, cache: ResponseCache | true): ExecutorsOption {
  if (!(cache instanceof ResponseCache)) throw new TypeError('workflow.responseCache: true needs the workspace folder; the PromptManager resolves it, an engine built by hand takes a ResponseCache');
  return cache.wrapRegistry(executorRegistry(executors));
}

export class EngineWorkflowPort implements WorkflowPort {
  readonly engine: WorkflowEngine;
  private readonly overrides: ProviderOverrides;
  /** Where API keys are looked up, as the engine does, and how health names that place. */
  private readonly keyLookup: (name: string) => string | undefined;
  private readonly keySource: string;
  private readonly probeSettings?: ProbeSettings;
  /** Running once `startProbes` was called with probes configured. */
  probes?: ProviderProbes;

  constructor(settings: WorkflowSettings & { clock: Clock; idGenerator: () => string }) {
    this.overrides = settings.providerOverrides ?? {};
    this.keyLookup = settings.env ?? ((name) => process.env[name]);
    this.keySource = settings.env ? 'workflow.env' : 'process.env';
    if (settings.probes) this.probeSettings = settings.probes;
    this.engine = new WorkflowEngine({
      // Every run brings the host of its own snapshot; this one is never used.
      host: noHost,
      clock: settings.clock,
      idGenerator: settings.idGenerator,
      ...(settings.historyLimit !== undefined ? { historyLimit: settings.historyLimit } : {}),
      ...(settings.maxParallel !== undefined ? { maxParallel: settings.maxParallel } : {}),
      ...(settings.maxConcurrentRuns !== undefined ? { maxConcurrentRuns: settings.maxConcurrentRuns } : {}),
      ...(settings.maxQueuedRuns !== undefined ? { maxQueuedRuns: settings.maxQueuedRuns } : {}),
      ...(settings.trusted !== undefined ? { trusted: settings.trusted } : {}),
      ...(settings.responseCache ? { executors: cachedExecutors(settings.executors, settings.responseCache) } : settings.executors ? { executors: settings.executors } : {}),
      ...(settings.env ? { env: settings.env } : {}),
    });
  }

  /** Starts the probes, when configured, over the providers the configuration `current()` uses. */
  startProbes(current: () => EngineSnapshot | undefined): void {
    if (!this.probeSettings || this.probes) return;
    const engine = this.engine;
    this.probes = startProbes(
      this.probeSettings,
      {
        clock: engine.clock,
        executors: engine.executors,
        env: this.keyLookup,
        overrides: this.overrides,
        trusted: () => engine.isTrusted,
        admission: engine.admission,
        gauges: () => engine.admission.gauges(),
        calls: (name) => engine.metrics.getMetrics().providers[name]?.calls ?? 0,
      },
      current,
    );
  }

  private providers(snapshot: EngineSnapshot): ProviderDef[] {
    return providersOf(snapshot, this.overrides);
  }

  /** Starts a run and returns its handle at once (progress iterator, done, cancel). */
  start(compositionName: string, context: Record<string, unknown>, opts: StartOptions): WorkflowRun {
    const def = opts.snapshot.compositions.get(compositionName);
    const rules = opts.snapshot.validation.compositionRules;
    if (!def || !rules) throw new PromptError('unknown_composition', `composition '${compositionName}' is not defined`, { composition: compositionName });
    return this.engine.execute(def, rules.defaults, context, {
      workflowId: opts.workflowId,
      host: opts.host,
      providers: this.providers(opts.snapshot),
      ...(opts.serviceName !== undefined ? { serviceName: opts.serviceName } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.maxParallel !== undefined ? { maxParallel: opts.maxParallel } : {}),
    });
  }

  execute(compositionName: string, context: Record<string, unknown>, opts: WorkflowExecuteOptions): Promise<WorkflowResult> {
    return this.start(compositionName, context, opts).done;
  }

  /** Unhealthy when most recent runs fail; degraded when some do or when steps time out. */
  health(): ComponentHealth {
    const m = this.engine.getMetrics();
    let runs = 0;
    let bad = 0;
    const problems: string[] = [];
    for (const [name, c] of Object.entries(m.compositions)) {
      runs += c.total;
      const failed = (c.runs.failed ?? 0) + (c.runs.timed_out ?? 0);
      bad += failed;
      if (failed) problems.push(`${name}: ${failed} of ${c.total} runs failed or timed out`);
      if (c.timeouts) problems.push(`${name}: ${c.timeouts} step timeouts`);
    }
    if (!runs) return { status: 'healthy', reason: 'no runs yet' };
    if (bad / runs > 0.5) return { status: 'unhealthy', reason: problems.join('; ') };
    if (problems.length) return { status: 'degraded', reason: problems.join('; ') };
    return { status: 'healthy', reason: `${plural(runs, 'run')}, none failed` };
  }

  /** The providers component of health (providerHealth.ts): keys, this engine's calls, the probes. */
  providerHealth(snapshot?: EngineSnapshot): ComponentHealth | undefined {
    return judgeProviders({
      ...(snapshot ? { snapshot } : {}),
      overrides: this.overrides,
      keyLookup: this.keyLookup,
      keySource: this.keySource,
      calls: this.engine.getMetrics().providers,
      ...(this.probes ? { probes: this.probes } : {}),
    });
  }

  close(): void {
    this.probes?.close();
    for (const r of this.engine.listRuns()) if (r.status === 'running' || r.status === 'pending') this.engine.cancel(r.id, 'the prompt manager was closed');
  }
}
