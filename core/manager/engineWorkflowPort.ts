/**
 * Plugs the workflow engine into the prompt manager (workflowPort.ts, beside it). Each run
 * gets the composition, providers and template host of the configuration snapshot it started
 * with, so a hot reload during a run never reaches it.
 */
import type { Clock } from '../clock.js';
import { checkProviderKeys, type ComponentHealth } from './health.js';
import type { EngineSnapshot } from './snapshot.js';
import type { WorkflowExecuteOptions, WorkflowPort } from './workflowPort.js';
import { PromptError } from '../errors.js';
import type { ProviderDef } from '../model/types.js';
import { plural } from '../plural.js';
import { WorkflowEngine } from '../workflow/engine.js';
import { executorRegistry, type ExecutorsOption } from '../workflow/executors.js';
import { ResponseCache } from '../workflow/responseCache.js';
import { describeFailures, PROVIDER_FAILURE_LABELS } from '../workflow/providerFailure.js';
import { providersInUse } from '../workspace/queries.js';
import { describeProbe, PROBE_DOWN_STREAK, ProviderProbes, type ProbeSettings } from './providerProbes.js';
import type { WorkflowResult, WorkflowRun } from '../workflow/types.js';

/** Per-provider settings that win over composition_rules.yaml (the demo's local server, tests). */
export type ProviderOverrides = Record<string, Partial<Pick<ProviderDef, 'baseUrl' | 'model' | 'apiKeyEnv'>>>;

export interface WorkflowSettings {
  /** Finished runs kept for status queries (default 1,000). */
  historyLimit?: number;
  /** Upper bound on any run's max_parallel. */
  maxParallel?: number;
  /**
   * At most this many runs at once; a run started past it waits, `pending` with a
   * `workflow.queued` event, and starts when a run ends (first come, first served);
   * `getWorkflowStatus` and `cancelWorkflow` work on it. Default: no limit.
   */
  maxConcurrentRuns?: number;
  /** Runs that may wait for a slot (default 1,000; 0: none): past it `startWorkflow` fails with `limit_exceeded`. */
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
   * Active provider probes: every `intervalMs` (default 60 s) each provider some step uses gets
   * a cheap request (`openai-compatible`: `GET {base_url}/models`), whose outcome feeds the
   * providers component of `healthCheck()`. Off by default; never in an untrusted workspace
   * (core/manager/providerProbes.ts).
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

/** A provider whose last this many calls all failed is unhealthy; one failed call makes it degraded. */
export const PROVIDER_DOWN_STREAK = 5;

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
    this.probes = new ProviderProbes(
      {
        clock: engine.clock,
        executors: engine.executors,
        env: this.keyLookup,
        providers: () => {
          const snap = current();
          if (!snap) return [];
          const used = providersInUse(snap.validation.compositionRules);
          return this.providers(snap).filter((p) => used.has(p.name));
        },
        trusted: () => engine.isTrusted,
        admission: engine.admission,
        gauges: () => engine.admission.gauges(),
        calls: (name) => engine.metrics.getMetrics().providers[name]?.calls ?? 0,
      },
      this.probeSettings,
    );
    this.probes.start();
  }

  private providers(snapshot: EngineSnapshot): ProviderDef[] {
    return (snapshot.validation.compositionRules?.providers ?? []).map((p) => ({ ...p, ...(this.overrides[p.name] ?? {}) }));
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

  /**
   * The providers as they are now: each used provider's API key where this engine looks it up
   * (`snapshot`'s providers, with overrides), and the calls made so far. A provider whose last
   * call failed is degraded, unhealthy after PROVIDER_DOWN_STREAK failures in a row; one whose
   * last call succeeded is healthy again, its earlier failures told as information. Failures
   * are named by kind (connection refused, timed out, server error 503, rate limited 429...).
   * With probes, the newest evidence judges: a probe with no call since (degraded when it
   * failed or warned, unhealthy after PROBE_DOWN_STREAK failures in a row, and a success
   * clears the failed calls before it), else the calls.
   */
  providerHealth(snapshot?: EngineSnapshot): ComponentHealth | undefined {
    const calls = this.engine.getMetrics().providers;
    const defs = snapshot ? this.providers(snapshot) : [];
    const { checks, unused } = checkProviderKeys(snapshot?.validation.compositionRules, defs, this.keyLookup, this.keySource);
    const key = new Map(checks.map((c) => [c.provider, c]));
    const probes = this.probes?.results() ?? new Map();
    const names = [...new Set([...checks.map((c) => c.provider), ...Object.keys(calls)])];
    if (!names.length) return defs.length ? { status: 'healthy', reason: `used by no step: ${unused.join(', ')}` } : undefined;
    const problems: string[] = [];
    const fine: string[] = [];
    let down = false;
    for (const name of names) {
      const k = key.get(name);
      const p = calls[name];
      const parts: string[] = k ? [k.text] : [];
      let bad = k ? !k.ok : false;
      const probe = probes.get(name);
      // A probe that ended with no call since is the newest evidence about the provider.
      const probeNewer = probe !== undefined && (p?.calls ?? 0) <= probe.callsAtProbe;
      if (probe) {
        // A call made since the probe is newer evidence: the probe is told, not judged.
        parts.push(`${describeProbe(probe)}${probeNewer ? '' : ' (before the last call)'}`);
        if (probeNewer && (!probe.ok || probe.warning)) bad = true;
        if (probeNewer && !probe.ok && probe.consecutiveFailures >= PROBE_DOWN_STREAK) down = true;
      }
      if (p && p.calls > 0) {
        const all = p.failures ? `; ${p.failures} of ${plural(p.calls, 'call')} failed in all (${describeFailures(p.failuresByKind, p.failuresByStatus)})` : '';
        if (p.consecutiveFailures > 0 && probeNewer && probe!.ok) {
          parts.push(`the last ${p.consecutiveFailures === 1 ? 'call' : `${p.consecutiveFailures} calls`} failed (the last: ${PROVIDER_FAILURE_LABELS[p.lastFailureKind ?? 'other']}), and a probe since answered${all}`);
        } else if (p.consecutiveFailures > 0) {
          bad = true;
          if (p.consecutiveFailures >= PROVIDER_DOWN_STREAK) down = true;
          const last = PROVIDER_FAILURE_LABELS[p.lastFailureKind ?? 'other'];
          parts.push(`the last ${p.consecutiveFailures === 1 ? 'call' : `${p.consecutiveFailures} calls`} failed (the last: ${last})${all}`);
        } else {
          parts.push(`${plural(p.calls, 'call')}, the last succeeded${all}`);
        }
      }
      (bad ? problems : fine).push(`provider ${name}: ${parts.join(', ')}`);
    }
    if (unused.length) fine.push(`used by no step: ${unused.join(', ')}`);
    if (problems.length) return { status: down ? 'unhealthy' : 'degraded', reason: [...problems, ...fine].join('; ') };
    return { status: 'healthy', reason: fine.join('; ') };
  }

  close(): void {
    this.probes?.close();
    for (const r of this.engine.listRuns()) if (r.status === 'running' || r.status === 'pending') this.engine.cancel(r.id, 'the prompt manager was closed');
  }
}
