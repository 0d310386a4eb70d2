/**
 * Plugs the workflow engine into the prompt manager (core/engine/workflowPort.ts). Each run
 * gets the composition, providers and template host of the configuration snapshot it started
 * with, so a hot reload during a run never reaches it.
 */
import type { Clock } from '../clock.js';
import type { ComponentHealth } from '../engine/health.js';
import type { WorkflowExecuteOptions, WorkflowPort } from '../engine/workflowPort.js';
import { PromptError } from '../errors.js';
import type { ProviderDef } from '../model/types.js';
import { WorkflowEngine } from './engine.js';
import type { ExecutorsOption } from './executors.js';
import type { WorkflowResult, WorkflowRun } from './types.js';

/** Per-provider settings that win over composition_rules.yaml (the demo's local server, tests). */
export type ProviderOverrides = Record<string, Partial<Pick<ProviderDef, 'baseUrl' | 'model' | 'apiKeyEnv'>>>;

export interface WorkflowSettings {
  /** Finished runs kept for status queries (default 1,000). */
  historyLimit?: number;
  /** Upper bound on any run's max_parallel. */
  maxParallel?: number;
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

export class EngineWorkflowPort implements WorkflowPort {
  readonly engine: WorkflowEngine;
  private readonly overrides: ProviderOverrides;

  constructor(settings: WorkflowSettings & { clock: Clock; idGenerator: () => string }) {
    this.overrides = settings.providerOverrides ?? {};
    this.engine = new WorkflowEngine({
      // Every run brings the host of its own snapshot; this one is never used.
      host: noHost,
      clock: settings.clock,
      idGenerator: settings.idGenerator,
      ...(settings.historyLimit !== undefined ? { historyLimit: settings.historyLimit } : {}),
      ...(settings.maxParallel !== undefined ? { maxParallel: settings.maxParallel } : {}),
      ...(settings.trusted !== undefined ? { trusted: settings.trusted } : {}),
      ...(settings.executors ? { executors: settings.executors } : {}),
      ...(settings.env ? { env: settings.env } : {}),
    });
  }

  private providers(opts: WorkflowExecuteOptions): ProviderDef[] {
    return (opts.snapshot.validation.compositionRules?.providers ?? []).map((p) => ({ ...p, ...(this.overrides[p.name] ?? {}) }));
  }

  /** Starts a run and returns its handle at once (progress iterator, done, cancel). */
  start(compositionName: string, context: Record<string, unknown>, opts: StartOptions): WorkflowRun {
    const def = opts.snapshot.compositions.get(compositionName);
    const rules = opts.snapshot.validation.compositionRules;
    if (!def || !rules) throw new PromptError('unknown_composition', `composition '${compositionName}' is not defined`, { composition: compositionName });
    return this.engine.execute(def, rules.defaults, context, {
      workflowId: opts.workflowId,
      host: opts.host,
      providers: this.providers(opts),
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
    return { status: 'healthy', reason: `${runs} runs, none failed` };
  }

  /** From the calls the provider executor made: failures by status; unhealthy when all fail. */
  providerHealth(): ComponentHealth | undefined {
    const m = this.engine.getMetrics().providers;
    const entries = Object.entries(m);
    if (!entries.length) return undefined;
    const problems: string[] = [];
    let allDown = true;
    for (const [name, p] of entries) {
      if (p.failures < p.calls) allDown = false;
      if (p.failures) {
        const by = Object.entries(p.failuresByStatus).map(([s, n]) => `${n}x ${s}`).join(', ');
        problems.push(`provider ${name}: ${p.failures} of ${p.calls} calls failed (${by})`);
      }
    }
    if (!problems.length) return { status: 'healthy', reason: entries.map(([n, p]) => `provider ${n}: ${p.calls} calls, none failed`).join('; ') };
    return { status: allDown ? 'unhealthy' : 'degraded', reason: problems.join('; ') };
  }

  close(): void {
    for (const r of this.engine.listRuns()) if (r.status === 'running') this.engine.cancel(r.id, 'the prompt manager was closed');
  }
}
