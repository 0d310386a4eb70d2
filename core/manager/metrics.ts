/**
 * Render, workflow and configuration metrics. Every series is bounded: one entry per template
 * and service the configuration defines (unknown names are folded into one `(unknown)` series
 * so that callers passing arbitrary names cannot grow memory), and latencies live in fixed-size
 * histograms rather than sample lists.
 */
import { LatencyHistogram, type HistogramSummary } from '../stats/histogram.js';
import type { RenderCacheStats } from './renderCache.js';

export const UNKNOWN_SERIES = '(unknown)';

/** Counters of one template or one service. */
export class RenderStats {
  renders = 0;
  /** Renders answered by the service's fallback template instead of the requested one. */
  fallbacks = 0;
  cacheHits = 0;
  cacheMisses = 0;
  readonly errors: Record<string, number> = Object.create(null);
  readonly latency = new LatencyHistogram();

  recordError(code: string): void {
    this.errors[code] = (this.errors[code] ?? 0) + 1;
  }

  get cacheHitRate(): number {
    const n = this.cacheHits + this.cacheMisses;
    return n ? this.cacheHits / n : 0;
  }

  toJSON(): RenderStatsJSON {
    return {
      renders: this.renders,
      errors: { ...this.errors },
      fallbacks: this.fallbacks,
      cache: { hits: this.cacheHits, misses: this.cacheMisses, hitRate: this.cacheHitRate },
      latencyMs: this.latency.summary(),
    };
  }
}

export interface RenderStatsJSON {
  renders: number;
  errors: Record<string, number>;
  fallbacks: number;
  cache: { hits: number; misses: number; hitRate: number };
  latencyMs: HistogramSummary;
}

export class WorkflowStats {
  runs = 0;
  readonly statuses: Record<string, number> = Object.create(null);
  readonly errors: Record<string, number> = Object.create(null);
  readonly latency = new LatencyHistogram();

  toJSON(): WorkflowStatsJSON {
    return { runs: this.runs, statuses: { ...this.statuses }, errors: { ...this.errors }, latencyMs: this.latency.summary() };
  }
}

export interface WorkflowStatsJSON {
  runs: number;
  statuses: Record<string, number>;
  errors: Record<string, number>;
  latencyMs: HistogramSummary;
}

export type ConfigLoadOutcome = 'loaded' | 'reloaded' | 'unchanged' | 'rejected' | 'failed';

export class ConfigStats {
  loads = 0;
  readonly outcomes: Record<string, number> = Object.create(null);
  lastOutcome?: ConfigLoadOutcome;
  lastDurationMs = 0;
  /** Clock time of the last load attempt. */
  lastAt?: number;
  readonly latency = new LatencyHistogram();

  record(outcome: ConfigLoadOutcome, durationMs: number, at: number): void {
    this.loads++;
    this.outcomes[outcome] = (this.outcomes[outcome] ?? 0) + 1;
    this.lastOutcome = outcome;
    this.lastDurationMs = durationMs;
    this.lastAt = at;
    this.latency.record(durationMs);
  }
}

export interface MetricsSnapshot {
  templates: Record<string, RenderStatsJSON>;
  services: Record<string, RenderStatsJSON & { workflows: WorkflowStatsJSON }>;
  compositions: Record<string, WorkflowStatsJSON>;
  cache: (RenderCacheStats & { mode: string }) | { mode: 'off' };
  config: {
    loads: number;
    outcomes: Record<string, number>;
    lastOutcome?: ConfigLoadOutcome;
    lastDurationMs: number;
    durationMs: HistogramSummary;
    generation: number;
  };
  templatesCompiled: number;
}

export class MetricsRegistry {
  readonly templates = new Map<string, RenderStats>();
  readonly services = new Map<string, RenderStats>();
  readonly serviceWorkflows = new Map<string, WorkflowStats>();
  readonly compositions = new Map<string, WorkflowStats>();
  readonly config = new ConfigStats();

  /** Names that may have their own series; anything else is counted under UNKNOWN_SERIES. */
  private knownTemplates: ReadonlySet<string> = new Set();
  private knownServices: ReadonlySet<string> = new Set();
  private knownCompositions: ReadonlySet<string> = new Set();

  /** Called on each configuration swap; series of names that disappeared are kept (history). */
  setKnownNames(templates: Iterable<string>, services: Iterable<string>, compositions: Iterable<string>): void {
    this.knownTemplates = new Set([...templates, ...this.templates.keys()]);
    this.knownServices = new Set([...services, ...this.services.keys()]);
    this.knownCompositions = new Set([...compositions, ...this.compositions.keys()]);
  }

  template(name: string): RenderStats {
    const key = this.knownTemplates.has(name) ? name : UNKNOWN_SERIES;
    let s = this.templates.get(key);
    if (!s) this.templates.set(key, (s = new RenderStats()));
    return s;
  }

  service(name: string): RenderStats {
    const key = this.knownServices.has(name) ? name : UNKNOWN_SERIES;
    let s = this.services.get(key);
    if (!s) this.services.set(key, (s = new RenderStats()));
    return s;
  }

  serviceWorkflow(name: string): WorkflowStats {
    const key = this.knownServices.has(name) ? name : UNKNOWN_SERIES;
    let s = this.serviceWorkflows.get(key);
    if (!s) this.serviceWorkflows.set(key, (s = new WorkflowStats()));
    return s;
  }

  composition(name: string): WorkflowStats {
    const key = this.knownCompositions.has(name) ? name : UNKNOWN_SERIES;
    let s = this.compositions.get(key);
    if (!s) this.compositions.set(key, (s = new WorkflowStats()));
    return s;
  }

  recordWorkflow(composition: string, service: string | undefined, durationMs: number, status: string, errorCode?: string): void {
    const targets = [this.composition(composition)];
    if (service !== undefined) targets.push(this.serviceWorkflow(service));
    for (const w of targets) {
      w.runs++;
      w.statuses[status] = (w.statuses[status] ?? 0) + 1;
      if (errorCode) w.errors[errorCode] = (w.errors[errorCode] ?? 0) + 1;
      w.latency.record(durationMs);
    }
  }

  /**
   * The series as JSON. The maps keyed by names from the workspace (templates, services,
   * compositions) have no prototype: a template named `__proto__` (a valid file name) would
   * otherwise set the object's prototype instead of adding its series, and vanish from the
   * JSON and the Prometheus text.
   */
  toJSON(extra: { cache: MetricsSnapshot['cache']; generation: number; templatesCompiled: number }): MetricsSnapshot {
    const templates: MetricsSnapshot['templates'] = Object.create(null);
    for (const k of [...this.templates.keys()].sort()) templates[k] = this.templates.get(k)!.toJSON();
    const services: MetricsSnapshot['services'] = Object.create(null);
    const serviceNames = new Set([...this.services.keys(), ...this.serviceWorkflows.keys()]);
    for (const k of [...serviceNames].sort()) {
      services[k] = {
        ...(this.services.get(k) ?? new RenderStats()).toJSON(),
        workflows: (this.serviceWorkflows.get(k) ?? new WorkflowStats()).toJSON(),
      };
    }
    const compositions: MetricsSnapshot['compositions'] = Object.create(null);
    for (const k of [...this.compositions.keys()].sort()) compositions[k] = this.compositions.get(k)!.toJSON();
    const c = this.config;
    return {
      templates,
      services,
      compositions,
      cache: extra.cache,
      config: {
        loads: c.loads,
        outcomes: { ...c.outcomes },
        lastOutcome: c.lastOutcome,
        lastDurationMs: c.lastDurationMs,
        durationMs: c.latency.summary(),
        generation: extra.generation,
      },
      templatesCompiled: extra.templatesCompiled,
    };
  }
}
