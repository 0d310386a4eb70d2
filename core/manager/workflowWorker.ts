/**
 * A worker of the BullMQ back end, for applications (`createWorkflowWorker`) and for
 * `promptmanager worker`: it loads the prompt workspace into a PromptManager (hot reload on),
 * and executes the step jobs of runs whose configuration it serves: the one it has, and the
 * few it had before its last reloads, by their content hash. A job of a run pinned to another
 * configuration waits for a worker that serves it; the run's status says so.
 */
import { PromptManager, type PromptManagerOptions } from './promptManager.js';
import type { EngineSnapshot } from './snapshot.js';
import type { ProviderOverrides } from './engineWorkflowPort.js';
import { DistributedStepWorker } from '../distributed/stepWorker.js';
import type { PinnedConfig, StepWorkerOptions } from '../distributed/workerTypes.js';
import type { BullmqBackendConfig, RedisConnectionOptions } from '../distributed/connection.js';
import { executorRegistry, type ExecutorsOption } from '../workflow/executors.js';
import { WorkflowMetrics } from '../workflow/metrics.js';
import type { ProviderDef } from '../model/types.js';

export interface WorkflowWorkerOptions {
  /** The prompt workspace folder (ignored when `manager` is given). */
  root?: string;
  /** A manager already loaded: the worker serves its configuration. */
  manager?: PromptManager;
  /** Redis, as the starting side's `workflow.backend` says it (`{ url }`). */
  connection: RedisConnectionOptions;
  prefix?: string;
  /** Jobs this worker runs at once, per queue (render-only steps, and each provider's). Default 4. */
  concurrency?: number;
  /**
   * Render-only steps a job may run itself, one after another, when the step it finished made
   * them ready, instead of a trip through the queue each (eager dispatch; provider steps always
   * go through their queue). Default 16; 0 sends every step through the queue.
   */
  eagerSteps?: number;
  /** Your model clients and mocks, added to `render` and `openai-compatible` as in `workflow.executors`. */
  executors?: ExecutorsOption;
  env?: (name: string) => string | undefined;
  providerOverrides?: ProviderOverrides;
  /** Configurations kept servable after a reload, for runs that started on them. Default 4. */
  keepConfigurations?: number;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** Options of the manager the worker creates from `root` (default: hot reload on, the production preset). */
  managerOptions?: Omit<PromptManagerOptions, 'root'>;
  onJob?: StepWorkerOptions['onJob'];
}

export class WorkflowWorker {
  readonly metrics = new WorkflowMetrics();
  /** Servable configurations by pin, newest last. */
  private readonly served = new Map<string, { snapshot: EngineSnapshot; config?: PinnedConfig }>();
  private worker!: DistributedStepWorker;
  private readonly ownsManager: boolean;

  private constructor(
    readonly manager: PromptManager,
    private readonly opts: WorkflowWorkerOptions,
  ) {
    this.ownsManager = !opts.manager;
  }

  static async start(opts: WorkflowWorkerOptions): Promise<WorkflowWorker> {
    const manager = opts.manager ?? (await PromptManager.create({ watch: true, ...opts.managerOptions, root: opts.root ?? '.' }));
    const w = new WorkflowWorker(manager, opts);
    w.serve(manager.snapshot);
    const executors = executorRegistry(opts.executors);
    w.worker = await DistributedStepWorker.start({
      connection: opts.connection,
      ...(opts.prefix !== undefined ? { prefix: opts.prefix } : {}),
      ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
      ...(opts.eagerSteps !== undefined ? { eagerSteps: opts.eagerSteps } : {}),
      ...(opts.lockDurationMs !== undefined ? { lockDurationMs: opts.lockDurationMs } : {}),
      ...(opts.stalledIntervalMs !== undefined ? { stalledIntervalMs: opts.stalledIntervalMs } : {}),
      ...(opts.env ? { env: opts.env } : {}),
      ...(opts.onJob ? { onJob: opts.onJob } : {}),
      metrics: w.metrics,
      executors,
      resolvePin: (pin) => w.resolve(pin),
      describeServed: () => `worker serves ${[...w.served.keys()].reverse().join(', ')}`,
      providers: () => w.providers(manager.snapshot),
    });
    manager.events.on('configReloaded', () => {
      w.serve(manager.snapshot);
      void w.worker.refreshProviders().catch(() => undefined);
    });
    return w;
  }

  /** The pin of the configuration this worker has now. */
  get pin(): string {
    return this.manager.configurationPin();
  }

  /** Jobs running on this worker now. */
  get active(): number {
    return this.worker.active;
  }

  /**
   * A run's composition and step ids in declaration order (`onJob`'s `step` indexes them), from
   * its spec in Redis; undefined once the run is no longer kept. For logs that name the steps.
   */
  async runSteps(runId: string): Promise<{ composition: string; steps: string[] } | undefined> {
    const spec = await this.worker.store.spec(runId);
    return spec && { composition: spec.composition.name, steps: spec.composition.steps.map((s) => s.id) };
  }

  private serve(snapshot: EngineSnapshot): void {
    const pin = this.manager.configurationPin(snapshot);
    this.served.delete(pin);
    this.served.set(pin, { snapshot });
    const keep = Math.max(1, this.opts.keepConfigurations ?? 4);
    while (this.served.size > keep) this.served.delete(this.served.keys().next().value!);
  }

  private providers(snapshot: EngineSnapshot): ProviderDef[] {
    const o = this.opts.providerOverrides ?? {};
    return (snapshot.validation.compositionRules?.providers ?? []).map((p) => ({ ...p, ...(o[p.name] ?? {}) }));
  }

  private resolve(pin: string): PinnedConfig | undefined {
    const s = this.served.get(pin);
    if (!s) return undefined;
    s.config ??= {
      host: this.manager.createWorkflowHost({ snapshot: s.snapshot }),
      providers: new Map(this.providers(s.snapshot).map((p) => [p.name, p])),
      stepReads: stepReadsOf(s.snapshot),
    };
    return s.config;
  }

  /** Stops taking jobs; the running ones finish within `graceMs`, or are released to other workers. */
  async close(graceMs?: number): Promise<void> {
    await this.worker.close(graceMs);
    if (this.ownsManager) await this.manager.close();
  }
}

/** The `steps.<id>` a template reads, its partials' included, from the validator's analysis (memoised per snapshot). */
function stepReadsOf(snapshot: EngineSnapshot): (template: string) => ReadonlySet<string> | 'all' {
  const memo = new Map<string, ReadonlySet<string> | 'all'>();
  const templates = snapshot.validation.templates;
  const of = (name: string, seen: Set<string>): ReadonlySet<string> | 'all' => {
    const known = memo.get(name);
    if (known) return known;
    const a = templates.get(name)?.analysis;
    if (!a) return 'all';
    // `steps` read whole (`{{#each steps}}`, `{{lookup steps id}}`): any step may be read.
    if (a.variables.some((v) => v.name === 'steps' && !a.stepReads.some((r) => r.range === v.range))) return 'all';
    const out = new Set(a.stepReads.map((r) => r.stepId));
    seen.add(name);
    for (const p of a.partials) {
      if (seen.has(p.name)) continue;
      const r = of(p.name, seen);
      if (r === 'all') return 'all';
      for (const id of r) out.add(id);
    }
    memo.set(name, out);
    return out;
  };
  return (template) => of(template, new Set());
}

/** Starts a worker of the BullMQ back end for an application (README "Scaling out"). */
export function createWorkflowWorker(options: WorkflowWorkerOptions | (Omit<WorkflowWorkerOptions, 'connection'> & { backend: BullmqBackendConfig })): Promise<WorkflowWorker> {
  if ('backend' in options) {
    const { backend, ...rest } = options;
    return WorkflowWorker.start({ ...rest, connection: backend.connection, ...(backend.prefix !== undefined ? { prefix: backend.prefix } : {}) });
  }
  return WorkflowWorker.start(options);
}
