/**
 * PromptManager: the library object an application holds. It loads a prompt workspace through
 * the one validator, renders templates (with or without a service's rules), keeps metrics and
 * health, hot-reloads the configuration, and hands workflow runs to an attached engine.
 *
 * Everything a render needs is read from one immutable snapshot taken at its start, so a reload
 * (an atomic swap of `manager.snapshot`) never disturbs a render or run already under way.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import type Handlebars from 'handlebars';
import { systemClock, type Clock } from '../clock.js';
import { PromptError, toPromptError, type ErrorCode, type PromptErrorDetails } from '../errors.js';
import type { PromptDiagnostic } from '../model/diagnostics.js';
import { ValidationCache, validateWorkspace } from '../validate/validateWorkspace.js';
import type { WorkspaceValidation } from '../validate/api.js';
import { nodeFileSystem, type FileSystemHost } from '../workspace/fileSystem.js';
import { asFileReadError } from '../workspace/fileRead.js';
import { COMPOSITION_RULES_FILE, SERVICE_MAPPINGS_FILE } from '../workspace/discover.js';
import { compositionsUsingTemplate } from '../workspace/queries.js';
import { LIMITS } from '../limits.js';
import { TemplateCachePolicy, type CacheDecision, type ResultCacheMode } from './cachePolicy.js';
import { ConfigurationError } from './configError.js';
import { hashContext } from './contextHash.js';
import { computeHealth, type HealthReport } from './health.js';
import { MetricsRegistry, type MetricsSnapshot, type RenderStats } from './metrics.js';
import { PerformanceAlerts, type AlertMetric, type PerformanceAlert, type PerformanceAlertOptions } from './performanceAlerts.js';
import { recommendConfiguration, sequentialIds, type Environment } from './presets.js';
import { toPrometheusText } from './prometheus.js';
import { RenderCache } from './renderCache.js';
import type { BatchResult, PreviewOptions, RenderContext, RenderOptions, RenderRequest, RenderResult, StepPreviewResult, TemplatePreview } from './renderTypes.js';
import { errorsFor, renderUse, runUse, type ConfigUse, type ErrorsFor } from '../validate/errorScope.js';
import { MissingVariables } from '../templates/missingVariables.js';
import { previewStep, type StepPreviewHost } from '../workflow/stepPreview.js';
import { resolveComposition } from '../workflow/resolve.js';
import { createWorkspaceResponseCache } from '../workflow/diskResponseCache.js';
import { ResponseCache } from '../workflow/responseCache.js';
import { createRedisResponseCache } from '../distributed/redisResponseCache.js';
import { DEFAULT_PREFIX } from '../distributed/connection.js';
import type { ResolvedComposition, WorkflowResult, WorkflowRun, WorkflowStatus } from '../workflow/types.js';
import { EngineWorkflowPort, type WorkflowSettings } from './engineWorkflowPort.js';
import { DistributedWorkflowPort } from './distributedWorkflowPort.js';
import { configPin } from './configPin.js';
import { isMarkedNonRetryable, markNonRetryable } from '../workflow/retry.js';
import type { RunSummary } from '../workflow/engine.js';
import { buildSnapshot, nextRenderKeys, withDependents, type EngineSnapshot, type ServiceRules } from './snapshot.js';
import { TemplateEngine, type CompiledTemplate, type TemplateFunction, type TemplateLogEntry } from './templateEngine.js';
import type { TemplateHost, WorkflowPort, WorkflowRenderOptions } from './workflowPort.js';
import { WorkspaceWatcher } from './workspaceWatcher.js';
import type { RenderLimits } from '../limits.js';

export interface PromptManagerOptions {
  /** The prompt workspace folder: the one holding service_mappings.yaml / composition_rules.yaml. */
  root: string;
  /** Preset the defaults come from (see `recommendConfiguration`); default `production`. */
  environment?: Environment;
  /** Files come from here; default the disk. Watching only happens on the disk. */
  fs?: FileSystemHost;
  /** A variable the context lacks fails with `missing_context` (default true). */
  strict?: boolean;
  /** Hot reload on file changes (default per preset). */
  watch?: boolean;
  debounceMs?: number;
  /** The result cache; `false` turns it off. Compiled templates are always cached. */
  cache?: false | { mode?: ResultCacheMode; maxEntries?: number; maxBytes?: number };
  /** Record per-render metrics (default true). */
  metrics?: boolean;
  clock?: Clock;
  /** Ids of workflow runs started without one. */
  idGenerator?: () => string;
  /** Application helpers, registered after the prompt helpers. */
  helpers?: Record<string, Handlebars.HelperDelegate>;
  /** Samples a percentile or hit rate needs before health compares it with a target (default 20). */
  healthMinSamples?: number;
  /**
   * `performanceAlert` events when a service's p95 passes its `performance_targets` over a
   * sliding window, and when it recovers (window, samples, evaluation interval, hysteresis:
   * core/manager/performanceAlerts.ts); `false` turns them off. On unless `metrics` is off.
   */
  alerts?: PerformanceAlertOptions | false;
  /**
   * Another workflow engine behind the port; by default the manager runs core/workflow's
   * engine with `workflow` settings.
   */
  workflows?: WorkflowPort;
  /** Settings of the built-in workflow engine: history size, trust, provider overrides... */
  workflow?: WorkflowSettings;
  /**
   * Where templates live, overriding `templates_dir` in the YAML files (relative to `root`);
   * the language server passes the editor's `promptManager.templatesRoot` setting here.
   */
  templatesRoot?: string;
  /** This manager's render limits (partial depth, output size, work, time); default `LIMITS` (core/limits.ts). */
  limits?: Partial<RenderLimits>;
  /** Where a template's `{{log}}` goes; default one line on stderr (never stdout). */
  onTemplateLog?: (entry: TemplateLogEntry) => void;
  /**
   * A validation of this workspace that the caller already has (the language server's, made for
   * its diagnostics): the first load uses it instead of running the validator again. It must be
   * of `root`, with `templatesRoot` when that is given, and of the texts `fs` reads; one with
   * errors is refused as a validation of the manager's own would be. `reload({ validation })`
   * swaps in later ones.
   */
  validation?: WorkspaceValidation;
  /**
   * What a configuration with errors does. `reject` (the default): the first load fails with
   * `invalid_configuration` listing every error, and a reload with errors is rejected (the last
   * good configuration stays in use). `isolate`: it is loaded all the same, and a render, run or
   * preview is refused (`invalid_configuration`, naming the errors) only when one is in what it
   * uses: the template and its partials, the service, the composition and its steps' templates,
   * their providers, or a part of a file they all read (`version`, `templates_dir`, `defaults`,
   * a file that does not parse). Renders and previews then say how many errors are elsewhere
   * (`errorsElsewhere`), and health reports the configuration degraded. The language server uses
   * it, so that a typo in one composition does not stop the previews and runs of the others.
   */
  configErrors?: 'reject' | 'isolate';
}

/** What a render, run or preview is, for `configurationErrors`: a template (maybe as a service), a composition, or one step of it. */
export interface ConfigTarget {
  template?: string;
  composition?: string;
  /** With `composition`: a preview of this one step. */
  step?: string;
  serviceName?: string;
}

export interface ReloadOptions {
  /**
   * A validation of the workspace's current texts that the caller already has: the reload uses
   * it instead of running the validator (same conditions as `PromptManagerOptions.validation`).
   */
  validation?: WorkspaceValidation;
}

export interface ReloadResult {
  status: 'reloaded' | 'unchanged' | 'rejected';
  /** The generation in use after the reload. */
  generation: number;
  /** Templates whose text changed, appeared or disappeared. */
  changedTemplates: string[];
  /** Errors of a rejected reload. */
  diagnostics: readonly PromptDiagnostic[];
  durationMs: number;
  error?: PromptError;
}

export interface TemplateInfo {
  name: string;
  file: string;
  /** The validator's version of the text. */
  version: number;
  /** Top-level context variables the template reads. */
  variables: string[];
  /** Templates it includes as partials. */
  partials: string[];
  helpers: string[];
  compiled: boolean;
  usedBy: { services: string[]; compositions: string[] };
  cache: { state: 'probe' | 'on' | 'off'; lastDecision?: CacheDecision };
}

export interface ContextCheck {
  valid: boolean;
  /** Required keys the context lacks (or holds as undefined). */
  missing: string[];
}

export interface ExecuteWorkflowOptions {
  serviceName?: string;
  workflowId?: string;
  signal?: AbortSignal;
  /** Lowers the composition's `max_parallel` for this run (the CLI's --max-parallel). */
  maxParallel?: number;
}

/** Per compiled template: its metrics series and its result-cache policy. */
interface TemplateRuntime {
  stats: RenderStats;
  policy: TemplateCachePolicy;
}

/**
 * Events (`manager.events`):
 * - `configReloaded` `{ generation, changedTemplates, durationMs }` — a valid change was swapped in;
 * - `configRejected` `{ diagnostics, error, generation }` — an invalid change, a file that cannot
 *   be read (`unreadable-file`), or the workspace folder gone; the last good stays;
 * - `watchError` `{ error }` — a file watcher failed (reload() still works);
 * - `performanceAlert` `{ service, metric, state, p95, target, windowMs, samples, time }` — a
 *   service's p95 passed its target over the window (`state: 'firing'`), or recovered;
 * - `closed`.
 */
export class PromptManager {
  readonly root: string;
  readonly environment: Environment;
  readonly events = new EventEmitter();
  readonly clock: Clock;
  readonly idGenerator: () => string;
  readonly strict: boolean;
  readonly cacheMode: ResultCacheMode;
  /** `PromptManagerOptions.configErrors`. */
  readonly configErrors: 'reject' | 'isolate';
  private readonly fs: FileSystemHost;
  private readonly templatesRootOverride: string | undefined;
  private readonly engine: TemplateEngine;
  private readonly cache: RenderCache | undefined;
  private readonly metrics = new MetricsRegistry();
  private readonly metricsOn: boolean;
  private readonly healthMinSamples: number;
  private readonly alerts?: PerformanceAlerts;
  private readonly runtime = new WeakMap<CompiledTemplate, TemplateRuntime>();
  private current!: EngineSnapshot;
  private configTexts = '';
  private rejection?: { diagnostics: readonly PromptDiagnostic[]; message: string };
  private watcher?: WorkspaceWatcher;
  private debounceMs = 0;
  /** Delay of the next reload tried after one rejected for a file that could not be read. */
  private recheckMs = 0;
  private workflows?: WorkflowPort;
  /**
   * Kept across reloads so that a reload re-parses only what changed (big YAML files are
   * parsed entry by entry); its file reads are dropped before each validation.
   */
  private readonly validationCache = new ValidationCache();
  /** The built-in engine, when no other port was given. */
  private runner?: EngineWorkflowPort;
  /** The BullMQ back end, when `workflow.backend` chose it. */
  private distributed?: DistributedWorkflowPort;
  private responses?: ResponseCache;
  /** Each snapshot's configuration-file texts, for its content hash (configPin). */
  private readonly snapshotTexts = new WeakMap<EngineSnapshot, string>();
  private readonly pins = new WeakMap<EngineSnapshot, string>();
  private closed = false;
  private validationsRun = 0;

  private constructor(options: PromptManagerOptions) {
    const preset = recommendConfiguration(options.environment ?? 'production').settings;
    this.environment = options.environment ?? 'production';
    this.root = path.resolve(options.root);
    this.fs = options.fs ?? nodeFileSystem;
    this.templatesRootOverride = options.templatesRoot ? path.resolve(this.root, options.templatesRoot) : undefined;
    this.clock = options.clock ?? systemClock;
    this.idGenerator = options.idGenerator ?? (preset.deterministicIds ? sequentialIds() : () => randomUUID());
    this.strict = options.strict ?? preset.strict;
    this.configErrors = options.configErrors ?? 'reject';
    this.metricsOn = options.metrics ?? preset.metrics;
    this.healthMinSamples = options.healthMinSamples ?? 20;
    if (this.metricsOn && options.alerts !== false) {
      const a = options.alerts ?? {};
      this.alerts = new PerformanceAlerts(this.clock, (alert) => this.events.emit('performanceAlert', alert), { ...a, minSamples: a.minSamples ?? this.healthMinSamples });
    }
    this.engine = new TemplateEngine({ strict: this.strict, helpers: options.helpers, limits: options.limits, onLog: options.onTemplateLog });
    // A preset without a cache (testing) still has sensible sizes when the caller turns it on.
    const sized = preset.cache.maxEntries > 0 ? preset.cache : recommendConfiguration('development').settings.cache;
    const asked = options.cache === false ? { mode: 'off' as const } : options.cache ?? {};
    const mode = asked.mode ?? preset.cache.mode;
    const maxEntries = (asked as { maxEntries?: number }).maxEntries ?? sized.maxEntries;
    const maxBytes = (asked as { maxBytes?: number }).maxBytes ?? sized.maxBytes;
    this.cacheMode = mode !== 'off' && maxEntries > 0 && maxBytes > 0 ? mode : 'off';
    this.cache = this.cacheMode === 'off' ? undefined : new RenderCache({ maxEntries, maxBytes });
    if (options.workflows) this.workflows = options.workflows;
    else {
      const given = options.workflow?.responseCache;
      if (given instanceof ResponseCache) this.responses = given;
      const wf = given === true ? { ...options.workflow, responseCache: this.responseCache } : options.workflow;
      this.runner = new EngineWorkflowPort({ ...wf, clock: this.clock, idGenerator: this.idGenerator });
      this.workflows = this.runner;
      // Manager-level progress events, for editors and dashboards that watch every run.
      this.runner.engine.on('progress', (e) => {
        this.events.emit('workflow.progress', e);
        this.events.emit(e.type, e);
      });
    }
  }

  /**
   * Loads the prompt workspace in `options.root`. A workspace with errors fails with one
   * PromptError('invalid_configuration') listing every `file:line:col code message`.
   */
  static async create(options: PromptManagerOptions): Promise<PromptManager> {
    const m = new PromptManager(options);
    m.initialLoad(options.validation);
    const backend = options.workflow?.backend;
    if (!options.workflows && backend?.type === 'bullmq') {
      await m.useDistributed(DistributedWorkflowPort.connect(backend, { ...options.workflow, clock: m.clock, idGenerator: m.idGenerator }));
      // The workspace's cache is where the workers keep the answers: the back end's Redis.
      const given = options.workflow?.responseCache;
      m.responses = createRedisResponseCache(m.distributed!.redis, { prefix: backend.prefix ?? DEFAULT_PREFIX, ...(given instanceof ResponseCache ? { ttlMs: given.ttlMs } : {}) });
    }
    (m.runner ?? m.distributed)?.startProbes(() => (m.closed ? undefined : m.current));
    const preset = recommendConfiguration(m.environment).settings;
    const watch = (options.watch ?? preset.watch) && m.fs === nodeFileSystem;
    if (watch) m.startWatching(options.debounceMs ?? preset.debounceMs);
    return m;
  }

  /** The configuration in use: validation result, compiled-template registry, service rules. */
  get snapshot(): EngineSnapshot {
    return this.current;
  }

  /** Template compilations so far (one per template text version). */
  get compilations(): number {
    return this.engine.compilations;
  }

  /** Times this manager ran the validator itself; validations handed to it (`validation`, `reload({ validation })`) are not counted. */
  get validations(): number {
    return this.validationsRun;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // ---------------------------------------------------------------- configuration

  private initialLoad(given: WorkspaceValidation | undefined): void {
    const t0 = this.clock.now();
    let validation: WorkspaceValidation;
    try {
      validation = given ? this.adopt(given) : this.validate();
    } catch (e) {
      this.metrics.config.record('failed', this.clock.now() - t0, t0);
      throw toPromptError(e, 'invalid_configuration');
    }
    if (validation.configErrorCount > 0 && this.configErrors === 'reject') {
      this.metrics.config.record('failed', this.clock.now() - t0, t0);
      throw new ConfigurationError(validation.root, configDiagnostics(validation));
    }
    const { table } = this.engine.prepare(validation.templates);
    this.swap(buildSnapshot(validation, table, 1, this.clock.now(), nextRenderKeys(table, undefined, 'all')));
    this.configTexts = this.readConfigTexts(validation);
    this.snapshotTexts.set(this.current, this.configTexts);
    this.metrics.config.record('loaded', this.clock.now() - t0, t0);
  }

  private swap(next: EngineSnapshot): void {
    this.current = next;
    this.metrics.setKnownNames(next.templates.keys(), next.services.keys(), next.compositions.keys());
  }

  /** The two files' texts, to tell a configuration change from a template change. */
  private readConfigTexts(v: WorkspaceValidation): string {
    const read = (f: string) => {
      try {
        return this.fs.readFile(f, LIMITS.maxConfigBytes) ?? '';
      } catch (e) {
        // Readable a moment ago in the validation: count it as changed, never as empty.
        if (asFileReadError(f, e)) return `\u0001${this.clock.now()}`;
        throw e;
      }
    };
    return `${read(v.serviceMappingsFile)}\u0000${read(v.compositionRulesFile)}`;
  }

  /**
   * The workspace folder was deleted or moved away (neither file is there any more): not an
   * empty configuration. A diagnostic that says so, for configRejected and health.
   */
  private workspaceGone(generation: number): PromptDiagnostic | undefined {
    const present = [SERVICE_MAPPINGS_FILE, COMPOSITION_RULES_FILE].some((f) => this.fs.realpath(path.join(this.root, f)) !== undefined);
    if (present) return undefined;
    const folder = this.fs.realpath(this.root) !== undefined;
    const zero = { line: 0, character: 0 };
    return {
      file: this.root,
      range: { start: zero, end: zero },
      severity: 'error',
      code: 'unreadable-file',
      message: `${folder ? `the prompt workspace folder holds neither ${SERVICE_MAPPINGS_FILE} nor ${COMPOSITION_RULES_FILE} any more` : 'the prompt workspace folder is gone (deleted or moved)'}; serving the last good configuration (generation ${generation}) until it is back`,
    };
  }

  /**
   * Re-validates the workspace and swaps the configuration in when it is valid. An invalid one
   * is rejected (the last good stays in use, `configRejected` is emitted, health is degraded);
   * this method does not throw for it.
   */
  reload(options: ReloadOptions = {}): ReloadResult {
    const t0 = this.clock.now();
    const old = this.current;
    let validation: WorkspaceValidation | undefined;
    let error: PromptError | undefined;
    const gone = this.workspaceGone(old.generation);
    if (gone) error = new ConfigurationError(this.root, [gone]);
    else {
      try {
        validation = options.validation ? this.adopt(options.validation) : this.validate();
      } catch (e) {
        error = toPromptError(e, 'invalid_configuration');
      }
    }
    if (error || !validation || (validation.configErrorCount > 0 && this.configErrors === 'reject')) {
      error ??= new ConfigurationError(validation!.root, configDiagnostics(validation!));
      const diagnostics = error instanceof ConfigurationError ? error.diagnostics : [];
      this.rejection = { diagnostics, message: error.message };
      const durationMs = this.clock.now() - t0;
      this.metrics.config.record('rejected', durationMs, t0);
      this.events.emit('configRejected', { diagnostics, error, generation: old.generation });
      // A file that could not be read may become readable without a change the watcher sees
      // (too many open files, a folder's permissions): try again, less and less often.
      if (this.watcher && diagnostics.some((d) => d.code === 'unreadable-file')) {
        this.recheckMs = Math.min(60_000, Math.max(this.recheckMs * 2, this.debounceMs, 1_000));
        this.watcher.recheck(this.recheckMs);
      }
      return { status: 'rejected', generation: old.generation, changedTemplates: [], diagnostics, durationMs, error };
    }
    this.recheckMs = 0;
    // A valid configuration after a rejected one is swapped in even when it equals the one in
    // use (the fix restored it): listeners of configReloaded learn that the fault is gone.
    const recovering = this.rejection !== undefined;
    this.rejection = undefined;
    const { table, changed } = this.engine.prepare(validation.templates);
    const texts = this.readConfigTexts(validation);
    const configChanged = texts !== this.configTexts || validation.templatesRoot !== old.validation.templatesRoot;
    if (!changed.size && !configChanged && !recovering) {
      const durationMs = this.clock.now() - t0;
      this.metrics.config.record('unchanged', durationMs, t0);
      return { status: 'unchanged', generation: old.generation, changedTemplates: [], diagnostics: [], durationMs };
    }
    // Renderings depend on a template's text and on the partials it includes.
    const affected = configChanged ? 'all' : new Set([...withDependents(changed, old.templates), ...withDependents(changed, table)]);
    const next = buildSnapshot(validation, table, old.generation + 1, this.clock.now(), nextRenderKeys(table, old.renderKeys, affected));
    if (this.cache) {
      if (affected === 'all') this.cache.clear();
      else this.cache.deleteTemplates(affected);
    }
    this.swap(next);
    this.configTexts = texts;
    this.snapshotTexts.set(next, texts);
    this.watcher?.watch({ root: validation.root, templatesRoot: validation.templatesRoot });
    const durationMs = this.clock.now() - t0;
    this.metrics.config.record('reloaded', durationMs, t0);
    const changedTemplates = [...changed].sort();
    this.events.emit('configReloaded', { generation: next.generation, changedTemplates, durationMs });
    return { status: 'reloaded', generation: next.generation, changedTemplates, diagnostics: [], durationMs };
  }

  private startWatching(debounceMs: number): void {
    this.debounceMs = debounceMs;
    this.watcher = new WorkspaceWatcher({
      clock: this.clock,
      debounceMs,
      onChange: (files) => {
        if (this.closed) return;
        try {
          this.reload();
        } catch (error) {
          this.events.emit('watchError', { error, files });
        }
      },
      onError: (error) => this.events.emit('watchError', { error }),
    });
    const v = this.current.validation;
    this.watcher.watch({ root: v.root, templatesRoot: v.templatesRoot });
  }

  /** Whether a debounced file change is waiting to be reloaded (tests). */
  get reloadPending(): boolean {
    return this.watcher?.pending ?? false;
  }

  // ---------------------------------------------------------------- rendering

  /**
   * Renders a template. Without `serviceName` any template may be rendered (the
   * backward-compatible call); with one, the service's access list, required context and
   * fallback template apply.
   */
  async render(templateName: string, context: RenderContext = {}, options?: RenderOptions): Promise<RenderResult> {
    return this.renderSync(templateName, context, options);
  }

  private validate(): WorkspaceValidation {
    this.validationsRun++;
    this.validationCache.invalidateAll();
    return validateWorkspace(this.root, { fs: this.fs, cache: this.validationCache, promptTests: false, ...(this.templatesRootOverride ? { templatesRoot: this.templatesRootOverride } : {}) });
  }

  /** A caller's validation, in place of one of our own: only if it is of this workspace as this manager sees it. */
  private adopt(v: WorkspaceValidation): WorkspaceValidation {
    if (path.resolve(v.root) !== this.root) throw new PromptError('invalid_configuration', `a validation of ${v.root} was given to the manager of ${this.root}`);
    if (this.templatesRootOverride !== undefined && path.resolve(v.templatesRoot) !== this.templatesRootOverride) {
      throw new PromptError('invalid_configuration', `a validation with the templates root ${v.templatesRoot} was given to a manager whose templates root is ${this.templatesRootOverride}`);
    }
    return v;
  }

  /** A render on one snapshot: any template without a service, the service's rules with one. */
  private renderOn(snap: EngineSnapshot, templateName: string, context: RenderContext, serviceName: string | undefined, sync: boolean): RenderResult {
    // A direct render (not a run's step: the run was checked when it started) of a configuration with errors.
    let elsewhere = 0;
    if (sync && snap.validation.configErrorCount > 0) {
      try {
        elsewhere = this.guard(snap, { template: templateName, serviceName }, `Template ${templateName}${serviceName !== undefined ? ` (as service ${serviceName})` : ''}`);
      } catch (e) {
        throw this.failed(e, templateName, serviceName);
      }
    }
    const r = serviceName !== undefined ? this.renderAsService(snap, serviceName, templateName, context, sync) : this.renderPlain(snap, templateName, context);
    if (elsewhere) r.errorsElsewhere = elsewhere;
    return r;
  }

  private renderPlain(snap: EngineSnapshot, templateName: string, context: RenderContext): RenderResult {
    const t0 = this.clock.now();
    const ct = snap.templates.get(templateName);
    if (ct === undefined) throw this.failed(unknownTemplate(templateName, snap), templateName, undefined);
    try {
      return this.produce(snap, ct, context, t0, undefined);
    } catch (e) {
      throw this.failed(e, templateName, undefined);
    }
  }

  /**
   * Refuses what uses a part of a configuration with errors (`configErrors: 'isolate'`: a
   * rejecting manager never holds one) with those errors; else returns how many are elsewhere.
   */
  private guard(snap: EngineSnapshot, target: ConfigTarget, subject: string): number {
    if (snap.validation.configErrorCount === 0) return 0;
    const { blocking, elsewhere } = errorsFor(snap.validation, configUse(snap.validation, target));
    if (blocking.length) throw new ConfigurationError(snap.validation.root, blocking, { subject, elsewhere });
    return elsewhere;
  }

  /**
   * The errors of the configuration in use that a render, run or preview of `target` uses
   * (`blocking`: each refuses it) and how many others there are (`elsewhere`). Both empty for a
   * configuration without errors, which is all a manager with `configErrors: 'reject'` holds.
   */
  configurationErrors(target: ConfigTarget): ErrorsFor {
    const v = this.current.validation;
    return errorsFor(v, configUse(v, target));
  }

  // ---------------------------------------------------------------- previews

  /**
   * A template rendered as `render` would, for a person to look at: when the render fails for
   * a missing value (`missing_context`), the whole text all the same, each missing value written
   * as a marker (`⟨max_words⟩`) and listed in `missing`, with the error in `strictError`.
   * With a service whose fallback answered, the fallback's text and why (`fallbackFor`). Other
   * failures throw, as `render` does.
   */
  previewTemplate(templateName: string, context: RenderContext = {}, options: PreviewOptions = {}): TemplatePreview {
    const snap = this.current;
    const t0 = this.clock.now();
    const { serviceName } = options;
    let r: RenderResult;
    try {
      r = this.renderOn(snap, templateName, context, serviceName, true);
    } catch (e) {
      const err = toPromptError(e, 'template_error', { template: templateName, service: serviceName });
      const ct = snap.templates.get(templateName);
      if (err.code !== 'missing_context' || !ct) throw err;
      const lenient = new MissingVariables();
      const text = this.engine.render(snap.templates, ct, context, lenient);
      return { text, template: templateName, missing: lenient.paths, strictError: err, errorsElsewhere: this.elsewhere(snap, { template: templateName, serviceName }), fromCache: false, durationMs: this.clock.now() - t0 };
    }
    const out: TemplatePreview = { text: r.text, template: r.template, missing: [], errorsElsewhere: r.errorsElsewhere ?? 0, fromCache: r.fromCache, durationMs: r.durationMs };
    if (r.fallbackFor) out.fallbackFor = r.fallbackFor;
    return out;
  }

  /**
   * One step of a composition as a run would render it (core/workflow/stepPreview.ts): the
   * composition's inputs from `context`, the step's own `context:` values, the overrides the
   * context selects, and for `steps.<id>` the outputs of `lastRun` (by default this manager's
   * last finished run of the composition) or visible placeholders. Nothing is sent to a
   * provider. As `previewTemplate`, a missing value is written as a marker beside the strict
   * error. With a service: it must list the composition, and its required context is checked
   * as a run's would be.
   */
  previewStep(compositionName: string, stepId: string, context: RenderContext = {}, options: PreviewOptions & { lastRun?: WorkflowStatus } = {}): StepPreviewResult {
    const snap = this.current;
    const t0 = this.clock.now();
    const { serviceName } = options;
    let refusal: PromptError | undefined;
    try {
      this.checkRun(snap, compositionName, context, serviceName, stepId);
    } catch (e) {
      const err = toPromptError(e, 'template_error', { composition: compositionName, service: serviceName });
      // The service's required context: what the run would be refused for, said beside the preview.
      if (err.code !== 'missing_context') throw err;
      refusal = err;
    }
    const def = snap.compositions.get(compositionName)!;
    const host: StepPreviewHost = {
      renderTemplate: (name, ctx, lenient) => {
        if (!lenient) return this.renderForWorkflow(name, ctx, { serviceName, snapshot: snap }).text;
        const ct = snap.templates.get(name);
        if (!ct) throw unknownTemplate(name, snap);
        return this.engine.render(snap.templates, ct, ctx, lenient);
      },
      renderString: (source, ctx, lenient) => this.engine.renderInline(snap.templates, source, ctx, lenient),
    };
    const lastRun = options.lastRun ?? this.lastRunOf(compositionName);
    const p = previewStep({ composition: def, defaults: snap.runDefaults, step: stepId, context, ...(lastRun ? { lastRun } : {}) }, host);
    const errorsElsewhere = this.elsewhere(snap, { composition: compositionName, step: stepId, serviceName });
    const out: StepPreviewResult = { ...p, errorsElsewhere, fromCache: false, durationMs: this.clock.now() - t0 };
    const strictError = refusal ?? p.strictError;
    if (strictError) out.strictError = strictError;
    return out;
  }

  private elsewhere(snap: EngineSnapshot, target: ConfigTarget): number {
    return snap.validation.configErrorCount ? errorsFor(snap.validation, configUse(snap.validation, target)).elsewhere : 0;
  }

  /**
   * This manager's last finished run of a composition: from the in-process engine's history,
   * or on the BullMQ back end the last one this process saw end (read synchronously, as a
   * preview is: the runs of other processes are in Redis, behind a round trip).
   */
  private lastRunOf(compositionName: string): WorkflowStatus | undefined {
    if (this.distributed) return this.distributed.lastFinished(compositionName);
    const engine = this.runner?.engine;
    if (!engine) return undefined;
    const runs = engine.listRuns();
    for (let i = runs.length - 1; i >= 0; i--) {
      const r = runs[i]!;
      if (r.composition === compositionName && r.status !== 'running') return engine.getStatus(r.id);
    }
    return undefined;
  }

  /** `render` without the promise, for callers on a hot synchronous path. */
  renderSync(templateName: string, context: RenderContext = {}, options?: RenderOptions): RenderResult {
    return this.renderOn(this.current, templateName, context, options?.serviceName, true);
  }

  /**
   * Renders many requests with at most `concurrency` in flight. Results come back in request
   * order, each `{ ok, result | error }`: one failure does not fail the batch.
   */
  async renderBatch(requests: readonly RenderRequest[], options: { concurrency?: number } = {}): Promise<BatchResult[]> {
    const concurrency = options.concurrency ?? 8;
    // 0 would render nothing and hang, a fraction means nothing: say so rather than round.
    if (!(Number.isInteger(concurrency) || concurrency === Infinity) || concurrency < 1) {
      throw new RangeError(`renderBatch: concurrency must be a whole number of at least 1 (or Infinity), got ${String(concurrency)}`);
    }
    const { default: pLimit } = await import('p-limit');
    const limit = pLimit(concurrency);
    return Promise.all(
      requests.map((request) =>
        limit(async (): Promise<BatchResult> => {
          try {
            const result = this.renderSync(request.templateName, request.context, { serviceName: request.serviceName });
            return { ok: true, request, result };
          } catch (e) {
            return { ok: false, request, error: toPromptError(e, 'template_error', { template: request.templateName, service: request.serviceName }) };
          }
        }),
      ),
    );
  }

  /**
   * A render for the workflow engine: against the run's pinned snapshot, with the service's
   * access rules but not its fallback (steps have their own) nor its required context (checked
   * when the run starts). A render after `signal` aborted fails with `cancelled`.
   */
  renderForWorkflow(
    templateName: string,
    context: RenderContext,
    options: WorkflowRenderOptions & { snapshot?: EngineSnapshot } = {},
  ): RenderResult {
    if (options.signal?.aborted) {
      throw new PromptError('cancelled', `Render of ${templateName} cancelled`, { template: templateName, service: options.serviceName });
    }
    return this.renderOn(options.snapshot ?? this.current, templateName, context, options.serviceName, false);
  }

  private renderAsService(snap: EngineSnapshot, serviceName: string, templateName: string, context: RenderContext, viaService: boolean): RenderResult {
    const t0 = this.clock.now();
    const svc = snap.services.get(serviceName);
    if (svc === undefined) throw this.failed(unknownService(serviceName, templateName, snap), templateName, serviceName);
    const sStats = this.metricsOn ? this.metrics.service(serviceName) : undefined;
    let err: PromptError;
    try {
      if (!svc.allowedTemplates.has(templateName)) throw accessDenied(svc, templateName);
      const ct = snap.templates.get(templateName);
      if (ct === undefined) throw unknownTemplate(templateName, snap);
      if (viaService) {
        const missing = missingRequired(svc, context);
        if (missing.length) {
          throw new PromptError(
            'missing_context',
            `Service ${serviceName} requires context ${missing.map((m) => `"${m}"`).join(', ')} (context_requirements.required), missing for template ${templateName}`,
            { template: templateName, service: serviceName, variable: missing[0] },
          );
        }
      }
      return this.observed(snap, serviceName, 'render_p95_ms', this.produce(snap, ct, context, t0, sStats));
    } catch (e) {
      err = this.failed(e, templateName, serviceName);
    }
    const fb = svc.fallback;
    if (viaService && fb && fb.on.has(err.code) && fb.template !== templateName) {
      const fct = snap.templates.get(fb.template);
      if (fct !== undefined) {
        try {
          const r = this.observed(snap, serviceName, 'render_p95_ms', this.produce(snap, fct, context, t0, sStats));
          if (this.metricsOn) {
            this.metrics.template(templateName).fallbacks++;
            sStats!.fallbacks++;
          }
          r.fallbackFor = { template: templateName, code: err.code, message: err.message, ...(err.variable !== undefined ? { variable: err.variable } : {}) };
          return r;
        } catch (fe) {
          const fErr = this.failed(fe, fb.template, serviceName);
          throw rebuild(err, {
            message: `${err.message}; the fallback template ${fb.template} also failed: ${fErr.message}`,
            cause: fErr,
          });
        }
      }
    }
    throw err;
  }

  /** Hands a service's render time to the performance alerts (with the service's target now). */
  private observed(snap: EngineSnapshot, serviceName: string, metric: 'render_p95_ms', r: RenderResult): RenderResult {
    this.observe(snap, serviceName, metric, r.durationMs);
    return r;
  }

  private observe(snap: EngineSnapshot, serviceName: string, metric: AlertMetric, ms: number): void {
    if (!this.alerts) return;
    const targets = snap.services.get(serviceName)?.targets;
    this.alerts.record(serviceName, metric, ms, metric === 'render_p95_ms' ? targets?.renderP95Ms : targets?.workflowP95Ms);
  }

  /** The performance alerts firing now (`performanceAlert` events with `state: 'firing'` not yet recovered). */
  getPerformanceAlerts(): PerformanceAlert[] {
    return this.alerts?.active() ?? [];
  }

  /** The render itself: cache lookup when the template's policy says so, metrics. */
  private produce(snap: EngineSnapshot, ct: CompiledTemplate, context: RenderContext, t0: number, sStats: RenderStats | undefined): RenderResult {
    let rt = this.runtime.get(ct);
    if (rt === undefined) {
      rt = { stats: this.metrics.template(ct.name), policy: new TemplateCachePolicy(this.cacheMode) };
      this.runtime.set(ct, rt);
    }
    const cache = this.cache;
    let text: string | undefined;
    let fromCache = false;
    let end: number;
    if (cache !== undefined && rt.policy.lookup) {
      const hash = hashContext(context);
      if (hash !== undefined) {
        const t1 = this.clock.now();
        const key = RenderCache.key(snap.renderKeys.get(ct.name)!, hash);
        text = cache.get(key);
        if (text !== undefined) fromCache = true;
        else {
          text = this.engine.render(snap.templates, ct, context);
          cache.set(key, ct.name, text);
        }
        end = this.clock.now();
        rt.policy.record(true, fromCache, t1 - t0, end - t1);
        if (this.metricsOn) {
          if (fromCache) {
            rt.stats.cacheHits++;
            if (sStats) sStats.cacheHits++;
          } else {
            rt.stats.cacheMisses++;
            if (sStats) sStats.cacheMisses++;
          }
        }
      } else {
        text = this.engine.render(snap.templates, ct, context);
        end = this.clock.now();
        rt.policy.record(false, false, 0, end - t0);
      }
    } else {
      text = this.engine.render(snap.templates, ct, context);
      end = this.clock.now();
      if (cache !== undefined) rt.policy.record(false, false, 0, end - t0);
    }
    const durationMs = end - t0;
    if (this.metricsOn) {
      rt.stats.renders++;
      rt.stats.latency.record(durationMs);
      if (sStats) {
        sStats.renders++;
        sStats.latency.record(durationMs);
      }
    }
    return { text, template: ct.name, fromCache, durationMs };
  }

  /** Counts a failure under its template and service and returns it as a PromptError. */
  private failed(e: unknown, templateName: string, serviceName: string | undefined): PromptError {
    let err = toPromptError(e, 'template_error', { template: templateName, service: serviceName });
    if (serviceName !== undefined && err.service === undefined) err = rebuild(err, { service: serviceName });
    if (this.metricsOn && !counted.has(err)) {
      counted.add(err);
      this.metrics.template(templateName).recordError(err.code);
      if (serviceName !== undefined) this.metrics.service(serviceName).recordError(err.code);
    }
    return err;
  }

  /** The compiled Handlebars function of a template (benchmarks, direct callers). */
  compiledTemplate(templateName: string): TemplateFunction {
    const ct = this.current.templates.get(templateName);
    if (!ct) throw unknownTemplate(templateName, this.current);
    return this.engine.compiledFunction(ct);
  }

  // ---------------------------------------------------------------- services and listings

  private service(serviceName: string): ServiceRules {
    const svc = this.current.services.get(serviceName);
    if (!svc) throw unknownService(serviceName, undefined, this.current);
    return svc;
  }

  /** Template names, sorted; with a service, the ones it may render that exist. */
  listTemplates(options: { serviceName?: string } = {}): string[] {
    const snap = this.current;
    if (options.serviceName === undefined) return [...snap.templates.keys()].sort();
    const svc = this.service(options.serviceName);
    return [...svc.allowedTemplates].filter((t) => snap.templates.has(t)).sort();
  }

  /** Composition names, sorted; with a service, the ones it may run. */
  listCompositions(options: { serviceName?: string } = {}): string[] {
    const snap = this.current;
    if (options.serviceName === undefined) return [...snap.compositions.keys()].sort();
    const svc = this.service(options.serviceName);
    return [...svc.compositions].filter((c) => snap.compositions.has(c)).sort();
  }

  /** The service's default template: the first of its `primary_templates`. */
  defaultTemplate(serviceName: string): string {
    const svc = this.service(serviceName);
    const first = svc.primaryTemplates[0];
    if (first === undefined) {
      throw new PromptError('unknown_template', `Service ${serviceName} has no primary_templates, so a template name must be given`, { service: serviceName });
    }
    return first;
  }

  getTemplateInfo(templateName: string): TemplateInfo {
    const snap = this.current;
    const ct = snap.templates.get(templateName);
    if (!ct) throw unknownTemplate(templateName, snap);
    const a = ct.entry.analysis;
    const services = [...snap.services.values()].filter((s) => s.allowedTemplates.has(templateName)).map((s) => s.name).sort();
    const compositions = compositionsUsingTemplate(snap.compositions.values(), templateName).map((c) => c.name).sort();
    const rt = this.runtime.get(ct);
    return {
      name: templateName,
      file: ct.file,
      version: ct.entry.version,
      variables: [...new Set((a?.variables ?? []).map((v) => v.name))].sort(),
      partials: [...new Set((a?.partials ?? []).map((p) => p.name))].sort(),
      helpers: [...new Set(a?.helpers ?? [])].sort(),
      compiled: this.engine.isCompiled(ct),
      usedBy: { services, compositions },
      cache: { state: rt?.policy.state ?? (this.cacheMode === 'on' ? 'on' : this.cacheMode === 'off' ? 'off' : 'probe'), lastDecision: rt?.policy.lastDecision },
    };
  }

  /** Whether a context holds what a service requires (`context_requirements.required`). */
  validateContext(serviceName: string, context: RenderContext): ContextCheck {
    const missing = missingRequired(this.service(serviceName), context);
    return { valid: missing.length === 0, missing };
  }

  /** A composition with defaults and the overrides chosen by this context applied. */
  resolveComposition(compositionName: string, context: RenderContext = {}): ResolvedComposition {
    const def = this.current.compositions.get(compositionName);
    if (!def) throw unknownComposition(compositionName, this.current);
    return resolveComposition(def, this.current.runDefaults, context);
  }

  // ---------------------------------------------------------------- workflows

  /**
   * The template side of a workflow engine (core/workflow's WorkflowHost): renders against
   * `snapshot` when given (a run pinned to the configuration it started with), else against
   * whatever configuration is current at each render.
   */
  createWorkflowHost(options: { snapshot?: EngineSnapshot } = {}): TemplateHost {
    return {
      renderTemplate: async (name, context, opts) =>
        this.renderForWorkflow(name, context, { serviceName: opts.serviceName, signal: opts.signal, snapshot: options.snapshot }).text,
      renderString: (source, context) => this.engine.renderInline((options.snapshot ?? this.current).templates, source, context),
    };
  }

  /** Replaces the built-in workflow engine with another behind the same port. */
  attachWorkflowEngine(port: WorkflowPort): this {
    this.workflows = port;
    this.runner = port instanceof EngineWorkflowPort ? port : undefined;
    this.distributed = port instanceof DistributedWorkflowPort ? port : undefined;
    return this;
  }

  private async useDistributed(connecting: Promise<DistributedWorkflowPort>): Promise<void> {
    const port = await connecting;
    await this.runner?.close();
    this.runner = undefined;
    this.distributed = port;
    this.workflows = port;
    port.backend.on('progress', (e) => {
      this.events.emit('workflow.progress', e);
      this.events.emit(e.type, e);
    });
    // The first metrics call then has the fleet's provider figures.
    void port.refreshProviderMetrics(this.current).catch(() => undefined);
  }

  get workflowEngine(): WorkflowPort | undefined {
    return this.workflows;
  }

  /** Where this manager's runs execute: `in-process`, `bullmq`, or `custom` (another engine attached behind the port). */
  get workflowBackend(): 'in-process' | 'bullmq' | 'custom' {
    return this.distributed ? 'bullmq' : this.runner ? 'in-process' : 'custom';
  }

  /**
   * The Redis connection of the BullMQ back end (an ioredis `Redis` client: `import type { Redis }
   * from 'ioredis'` to type it), for features that keep state beside the runs, such as a shared
   * model-response cache; undefined with the in-process engine. Typed `unknown` so that the
   * library's types do not depend on ioredis's.
   */
  get redisConnection(): unknown {
    return this.distributed?.redis;
  }

  /**
   * The workspace's model response cache (core/workflow/responseCache.ts): in Redis, on the
   * BullMQ back end's connection, when runs are distributed (every worker, machine and CI job on
   * that Redis shares it); else on disk in `.promptmanager/responses/`; or the ResponseCache given
   * as `workflow.responseCache`. Live prompt tests take it (`runPromptTests({ responseCache })`);
   * this manager's runs use it only when `workflow.responseCache` is set.
   */
  get responseCache(): ResponseCache {
    this.responses ??= createWorkspaceResponseCache(this.root);
    return this.responses;
  }

  /** The content hash of a configuration (its two files and every template): what a distributed run pins. */
  configurationPin(snapshot: EngineSnapshot = this.current): string {
    let pin = this.pins.get(snapshot);
    if (pin === undefined) {
      pin = configPin(snapshot, this.snapshotTexts.get(snapshot) ?? '');
      this.pins.set(snapshot, pin);
    }
    return pin;
  }

  /**
   * Starts a composition and returns its run handle at once: `id`, `done` (the final status,
   * never rejects), `cancel()`, and an async iterator over its progress events. With a
   * service, the service must list the composition (`access_denied`) and the context must hold
   * its required keys (`missing_context`). The run is pinned to the current configuration.
   * On the BullMQ back end the run's steps execute on the workers, its state in Redis.
   */
  async startWorkflow(compositionName: string, context: RenderContext = {}, options: ExecuteWorkflowOptions = {}): Promise<WorkflowRun> {
    const snap = this.current;
    const { serviceName } = options;
    const record = this.workflowRecorder(compositionName, serviceName);
    try {
      this.checkRun(snap, compositionName, context, serviceName);
      let run: WorkflowRun;
      if (this.distributed) run = await this.distributed.start(compositionName, context, { ...this.runOptions(snap, options), pin: this.configurationPin(snap) });
      else if (this.runner) run = this.runner.start(compositionName, context, this.runOptions(snap, options));
      else throw new PromptError('invalid_configuration', 'startWorkflow needs the built-in workflow engine; with another port use executeWorkflow', { composition: compositionName });
      void run.done.then((r) => record(r.status, r.error?.code as ErrorCode | undefined));
      return run;
    } catch (e) {
      const err = toPromptError(e, 'template_error', { composition: compositionName, service: serviceName });
      record('failed', err.code);
      throw err;
    }
  }

  /**
   * Runs a composition to its end and returns its final status (every step's status,
   * attempts, errors, timings and output). Same checks as `startWorkflow`.
   */
  async executeWorkflow(compositionName: string, context: RenderContext = {}, options: ExecuteWorkflowOptions = {}): Promise<WorkflowResult> {
    if (this.runner || this.distributed || !this.workflows) return (await this.startWorkflow(compositionName, context, options)).done;
    // Another engine behind the port: the manager still checks, pins and measures.
    const snap = this.current;
    const record = this.workflowRecorder(compositionName, options.serviceName);
    try {
      this.checkRun(snap, compositionName, context, options.serviceName);
      const result = (await this.workflows.execute(compositionName, context, this.runOptions(snap, options))) as WorkflowResult;
      record(typeof result?.status === 'string' ? result.status : 'succeeded');
      return result;
    } catch (e) {
      const err = toPromptError(e, 'template_error', { composition: compositionName, service: options.serviceName });
      record(err.code === 'cancelled' ? 'cancelled' : err.code === 'timeout' ? 'timed_out' : 'failed', err.code);
      throw err;
    }
  }

  /** A run's status, during the run and after it (within the history limit); on the BullMQ back end, of a run started by any process. */
  async getWorkflowStatus(workflowId: string): Promise<WorkflowStatus | undefined> {
    if (this.distributed) return this.distributed.getStatus(workflowId);
    return this.runner?.engine.getStatus(workflowId);
  }

  /** Cancels a run: no new step starts, running steps get the abort, status `cancelled`. False when it is not running. */
  async cancelWorkflow(workflowId: string, reason?: string): Promise<boolean> {
    if (this.distributed) return this.distributed.cancel(workflowId, reason);
    return this.runner?.engine.cancel(workflowId, reason) ?? false;
  }

  /**
   * A handle on a run by its id (events from its first, `done`, `cancel`): on the BullMQ back
   * end, of a run started by any process, this one before a restart included. Undefined when
   * no such run is kept.
   */
  async attachWorkflow(workflowId: string): Promise<WorkflowRun | undefined> {
    if (this.distributed) return this.distributed.attach(workflowId);
    return this.runner?.engine.attach(workflowId);
  }

  /** Runs in the history, newest last. */
  async listWorkflowRuns(): Promise<RunSummary[]> {
    if (this.distributed) return this.distributed.listRuns();
    return this.runner?.engine.listRuns() ?? [];
  }

  /**
   * Per composition and step: runs by status, durations, retries, fallbacks, timeouts; per
   * provider: calls, failures, admission. On the BullMQ back end the providers' figures are the
   * whole fleet's, as last read from Redis (`providersReadAt`; see `refreshMetrics()`).
   */
  getWorkflowMetrics(): ReturnType<EngineWorkflowPort['engine']['getMetrics']> | undefined {
    if (this.distributed) {
      const m = this.distributed.metrics.getMetrics();
      const fleet = this.distributed.providerMetrics(this.current);
      return fleet ? { ...m, providers: fleet.providers, providersReadAt: fleet.readAt } : m;
    }
    return this.runner?.engine.getMetrics();
  }

  /**
   * On the BullMQ back end, reads the providers' figures of every worker from Redis now, for
   * the next `getMetrics()` and `getWorkflowMetrics()` (which otherwise answer from a read at
   * most 5 s old, renewed as they are called): call it before answering a scrape. Rejects when
   * Redis does not answer within 5 s. Nothing to read with the in-process engine.
   */
  async refreshMetrics(): Promise<void> {
    await this.distributed?.refreshProviderMetrics(this.current);
  }

  /** Follows the workspace's trust: an untrusted workspace runs no provider step. */
  setTrusted(trusted: boolean): void {
    this.runner?.engine.setTrusted(trusted);
    this.distributed?.setTrusted(trusted);
  }

  /** Records a run's outcome and duration (from now) in the manager's metrics. */
  private workflowRecorder(compositionName: string, serviceName: string | undefined): (status: string, code?: ErrorCode) => void {
    const t0 = this.clock.now();
    return (status, code) => {
      const ms = this.clock.now() - t0;
      if (this.metricsOn) this.metrics.recordWorkflow(compositionName, serviceName, ms, status, code);
      if (serviceName !== undefined) this.observe(this.current, serviceName, 'workflow_p95_ms', ms);
    };
  }

  /** The checks of a run before it starts (of a preview of one of its steps, with `step`). */
  private checkRun(snap: EngineSnapshot, compositionName: string, context: RenderContext, serviceName: string | undefined, step?: string): void {
    if (snap.validation.configErrorCount > 0) {
      this.guard(snap, { composition: compositionName, serviceName, step }, step !== undefined ? `Step ${step} of composition ${compositionName}` : `Composition ${compositionName}`);
    }
    if (!snap.compositions.has(compositionName)) throw unknownComposition(compositionName, snap);
    if (serviceName === undefined) return;
    const svc = snap.services.get(serviceName);
    if (!svc) throw unknownService(serviceName, undefined, snap);
    if (!svc.compositions.has(compositionName)) {
      throw new PromptError(
        'access_denied',
        `Service ${serviceName} may not run composition ${compositionName}: it is not in the service's compositions (${[...svc.compositions].join(', ') || 'none'})`,
        { service: serviceName, composition: compositionName },
      );
    }
    const missing = missingRequired(svc, context);
    if (missing.length) {
      throw new PromptError('missing_context', `Service ${serviceName} requires context ${missing.map((m) => `"${m}"`).join(', ')} to run ${compositionName}`, {
        service: serviceName,
        composition: compositionName,
        variable: missing[0],
      });
    }
  }

  private runOptions(snap: EngineSnapshot, options: ExecuteWorkflowOptions) {
    const { serviceName } = options;
    return {
      serviceName,
      workflowId: options.workflowId ?? this.idGenerator(),
      signal: options.signal,
      snapshot: snap,
      render: (name: string, ctx: Record<string, unknown>, o?: WorkflowRenderOptions) => this.renderForWorkflow(name, ctx, { serviceName, ...o, snapshot: snap }),
      host: this.createWorkflowHost({ snapshot: snap }),
      clock: this.clock,
      idGenerator: this.idGenerator,
      ...(options.maxParallel !== undefined ? { maxParallel: options.maxParallel } : {}),
    };
  }

  // ---------------------------------------------------------------- metrics, health, close

  getMetrics(): MetricsSnapshot;
  getMetrics(options: { format: 'json' }): MetricsSnapshot;
  getMetrics(options: { format: 'prometheus' }): string;
  getMetrics(options: { format?: 'json' | 'prometheus' } = {}): MetricsSnapshot | string {
    const snapshot = this.metrics.toJSON({
      cache: this.cache ? { ...this.cache.stats(), mode: this.cacheMode } : { mode: 'off' },
      generation: this.current.generation,
      templatesCompiled: this.engine.compilations,
    });
    if (options.format !== 'prometheus') return snapshot;
    const engine = this.runner?.engine;
    if (engine) return toPrometheusText(snapshot, { providers: engine.getMetrics().providers, runs: engine.runQueue() });
    if (!this.distributed) return toPrometheusText(snapshot);
    // On the BullMQ back end: every worker's provider figures, and the deployment's run queue with maxConcurrentRuns.
    const fleet = this.distributed.providerMetrics(this.current);
    const runs = this.distributed.runQueue();
    return toPrometheusText(snapshot, { providers: fleet?.providers ?? {}, ...(fleet ? { providersAgeMs: Math.max(0, Date.now() - fleet.readAt) } : {}), ...(runs ? { runs } : {}) });
  }

  healthCheck(): HealthReport {
    const port = this.workflows;
    const snapshot = this.current;
    return computeHealth({
      snapshot,
      closed: this.closed,
      rejection: this.rejection,
      broken: this.engine.broken,
      metrics: this.metrics,
      cacheMode: this.cacheMode,
      cacheDeclined: this.cacheDeclined(snapshot),
      minSamples: this.healthMinSamples,
      workflows: port?.health ? () => port.health!() : undefined,
      workflowEngineAttached: port !== undefined,
      providers: port?.providerHealth ? () => port.providerHealth!(snapshot) : undefined,
      env: process.env,
    });
  }

  /** Templates whose automatic result cache last decided not to cache, with the measurement (for health). */
  private cacheDeclined(snap: EngineSnapshot): Map<string, CacheDecision> {
    const out = new Map<string, CacheDecision>();
    if (this.cacheMode !== 'auto') return out;
    for (const [name, ct] of snap.templates) {
      const d = this.runtime.get(ct)?.policy.lastDecision;
      if (d && !d.cache) out.set(name, d);
    }
    return out;
  }

  /** Stops watchers and timers and closes the workflow engine; renders still work afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watcher?.close();
    this.watcher = undefined;
    await this.workflows?.close?.();
    this.events.emit('closed');
  }
}

/** Errors already counted in metrics (a fallback path sees the same error twice). */
const counted = new WeakSet<PromptError>();

function rebuild(e: PromptError, patch: Partial<PromptErrorDetails> & { message?: string }): PromptError {
  const details: PromptErrorDetails = {
    template: e.template,
    service: e.service,
    composition: e.composition,
    step: e.step,
    variable: e.variable,
    status: e.status,
    retryAfterMs: e.retryAfterMs,
    location: e.location,
    cause: e.cause,
  };
  const out = new PromptError(e.code, patch.message ?? e.message, { ...details, ...patch });
  if (counted.has(e)) counted.add(out);
  if (isMarkedNonRetryable(e)) markNonRetryable(out);
  return out;
}

/** What a target reads of the configuration (core/validate/errorScope.ts). */
function configUse(v: WorkspaceValidation, t: ConfigTarget): ConfigUse {
  if (t.composition !== undefined) return runUse(v, t.composition, { ...(t.serviceName !== undefined ? { service: t.serviceName } : {}), ...(t.step !== undefined ? { step: t.step } : {}) });
  return renderUse(v, t.template ?? '', t.serviceName);
}

function missingRequired(svc: ServiceRules, context: RenderContext): string[] {
  const ctx = context !== null && typeof context === 'object' ? context : {};
  return svc.requiredContext.filter((k) => (ctx as Record<string, unknown>)[k] === undefined);
}

function unknownTemplate(name: string, snap: EngineSnapshot): PromptError {
  return new PromptError('unknown_template', `Unknown template "${name}": no ${name}.hbs under ${snap.validation.templatesRoot}`, { template: name });
}

function unknownComposition(name: string, snap: EngineSnapshot): PromptError {
  const known = [...snap.compositions.keys()].sort();
  return new PromptError(
    'unknown_composition',
    `Unknown composition "${name}"${known.length ? ` (defined: ${known.slice(0, 10).join(', ')}${known.length > 10 ? ', ...' : ''})` : `: ${COMPOSITION_RULES_FILE} defines none`}`,
    { composition: name },
  );
}

function unknownService(name: string, template: string | undefined, snap: EngineSnapshot): PromptError {
  const known = [...snap.services.keys()].sort();
  // There is no separate code for an unknown service: it may access nothing.
  return new PromptError(
    'access_denied',
    `Unknown service "${name}": ${SERVICE_MAPPINGS_FILE} does not define it${known.length ? ` (defined: ${known.slice(0, 10).join(', ')}${known.length > 10 ? ', ...' : ''})` : ''}`,
    { service: name, template },
  );
}

function accessDenied(svc: ServiceRules, template: string): PromptError {
  return new PromptError(
    'access_denied',
    `Service ${svc.name} may not render template ${template}: it is not among its primary_templates, templates, fallback or compositions' templates`,
    { service: svc.name, template },
  );
}

/** The diagnostics that keep a configuration from loading: errors and the rest, outside the prompt test files. */
function configDiagnostics(v: WorkspaceValidation): PromptDiagnostic[] {
  if (!v.promptTestFiles.length) return v.diagnostics;
  const tests = new Set(v.promptTestFiles);
  return v.diagnostics.filter((d) => !tests.has(d.file));
}
