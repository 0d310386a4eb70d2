/**
 * Workflow metrics per composition, per step and per provider: runs by final status,
 * duration percentiles, retries, fallbacks and timeouts; provider calls, their failures and
 * their admission (waits, 429 pauses, tokens; the queue's gauges come from the admission
 * scheduler when the metrics are read). Health checks compare them with a
 * service's `workflow_p95_ms`, and the scheduler reads past step durations as priorities.
 * Memory is bounded: histograms are fixed-size, and past `maxTrackedSteps` step entries new
 * steps are counted only at composition level.
 */
import { LatencyHistogram, type HistogramSummary } from '../stats/histogram.js';
import type { AdmissionGauges } from './admission.js';
import type { ProviderFailureKind } from './providerFailure.js';
import type { FinalRunStatus, StepStatus } from './types.js';

export interface DurationSummary {
  count: number;
  p50: number;
  p95: number;
  mean: number;
  max: number;
}

export interface StepMetricsJSON {
  statuses: Partial<Record<StepStatus, number>>;
  durationMs: DurationSummary;
  retries: number;
  fallbacks: number;
  timeouts: number;
}

export interface CompositionMetricsJSON {
  runs: Record<FinalRunStatus, number>;
  total: number;
  durationMs: DurationSummary;
  retries: number;
  fallbacks: number;
  timeouts: number;
  steps: Record<string, StepMetricsJSON>;
}

export interface ProviderMetricsJSON {
  /** Requests (attempts) sent. */
  calls: number;
  failures: number;
  /** Failures by HTTP status (`none` when the provider did not answer: refused, timed out). */
  failuresByStatus: Record<string, number>;
  /** Failures by kind (`connection_refused`, `timeout`, `server_error`, `rate_limited`...: core/workflow/providerFailure.ts). */
  failuresByKind: Partial<Record<ProviderFailureKind, number>>;
  /** Failed calls since the last one that succeeded: health judges the provider by these. */
  consecutiveFailures: number;
  /** The kind of the last failure, when the last call failed. */
  lastFailureKind?: ProviderFailureKind;
  durationMs: DurationSummary;
  /** The admission scheduler's view of the provider (core/workflow/admission.ts). */
  admission: ProviderAdmissionJSON;
}

export interface ProviderAdmissionJSON {
  /** Calls waiting for admission now. */
  queued: number;
  /** Calls admitted and not yet ended, now. */
  inFlight: number;
  /** Milliseconds left of a pause after a 429 (0: not paused). */
  pausedMs: number;
  /** Calls admitted in all. */
  admitted: number;
  /** 429 answers that paused the provider. */
  pauses: number;
  /** 429 answers sent again without using one of the step's attempts. */
  requeued: number;
  /** Time calls waited for admission. */
  waitMs: HistogramSummary;
  /** Tokens of the calls that ended: as their answers reported them, or as estimated when they did not. */
  tokens: { reported: number; estimated: number };
}

export interface WorkflowMetricsJSON {
  compositions: Record<string, CompositionMetricsJSON>;
  providers: Record<string, ProviderMetricsJSON>;
  /** On the BullMQ back end: when `providers`, the whole fleet's figures, were read from Redis (milliseconds since the epoch). */
  providersReadAt?: number;
}

function summarize(h: LatencyHistogram): DurationSummary {
  const s = h.summary();
  return { count: s.count, p50: s.p50, p95: s.p95, mean: s.mean, max: s.max };
}

class StepStats {
  readonly statuses: Partial<Record<StepStatus, number>> = {};
  readonly duration = new LatencyHistogram();
  /**
   * The scheduler asks for every step's median at every run start. A quantile scans the
   * histogram, so it is recomputed only once the sample count has grown by an eighth: a
   * priority does not need the latest sample, and a 10,000-step run must not pay 10,000 scans.
   */
  p50?: number;
  p50AtCount = 0;
  retries = 0;
  fallbacks = 0;
  timeouts = 0;
}

class CompositionStats {
  readonly runs: Record<FinalRunStatus, number> = { succeeded: 0, partial: 0, failed: 0, cancelled: 0, timed_out: 0 };
  readonly duration = new LatencyHistogram();
  retries = 0;
  fallbacks = 0;
  timeouts = 0;
  readonly steps = new Map<string, StepStats>();
}

class ProviderStats {
  calls = 0;
  failures = 0;
  consecutiveFailures = 0;
  lastFailureKind?: ProviderFailureKind;
  readonly failuresByStatus: Record<string, number> = {};
  readonly failuresByKind: Partial<Record<ProviderFailureKind, number>> = {};
  readonly duration = new LatencyHistogram();
  admitted = 0;
  pauses = 0;
  requeued = 0;
  readonly wait = new LatencyHistogram();
  readonly tokens = { reported: 0, estimated: 0 };
}

export interface StepRecord {
  status: StepStatus;
  /** Only for steps that ran. */
  durationMs?: number;
  attempts: number;
  fallback: boolean;
  /** Attempts that ended in `timeout`. */
  timeouts: number;
}

export class WorkflowMetrics {
  private readonly compositions = new Map<string, CompositionStats>();
  private readonly providers = new Map<string, ProviderStats>();
  private trackedSteps = 0;

  constructor(private readonly maxTrackedSteps = 10_000) {}

  private comp(name: string): CompositionStats {
    let c = this.compositions.get(name);
    if (!c) this.compositions.set(name, (c = new CompositionStats()));
    return c;
  }

  recordRun(composition: string, status: FinalRunStatus, durationMs: number): void {
    const c = this.comp(composition);
    c.runs[status]++;
    c.duration.record(durationMs);
  }

  recordStep(composition: string, stepId: string, r: StepRecord): void {
    const c = this.comp(composition);
    const retries = Math.max(0, r.attempts - 1);
    c.retries += retries;
    if (r.fallback) c.fallbacks++;
    c.timeouts += r.timeouts;
    let s = c.steps.get(stepId);
    if (!s) {
      if (this.trackedSteps >= this.maxTrackedSteps) return;
      this.trackedSteps++;
      c.steps.set(stepId, (s = new StepStats()));
    }
    s.statuses[r.status] = (s.statuses[r.status] ?? 0) + 1;
    if (r.durationMs !== undefined) s.duration.record(r.durationMs);
    s.retries += retries;
    if (r.fallback) s.fallbacks++;
    s.timeouts += r.timeouts;
  }

  private provider(name: string): ProviderStats {
    let p = this.providers.get(name);
    if (!p) this.providers.set(name, (p = new ProviderStats()));
    return p;
  }

  /** A call admitted by the admission scheduler after waiting `waitMs`. */
  recordAdmission(provider: string, waitMs: number): void {
    const p = this.provider(provider);
    p.admitted++;
    p.wait.record(waitMs);
  }

  /** A 429 that paused the provider. */
  recordPause(provider: string): void {
    this.provider(provider).pauses++;
  }

  /** A 429 sent again without using one of the step's attempts. */
  recordRequeue(provider: string): void {
    this.provider(provider).requeued++;
  }

  recordTokens(provider: string, tokens: number, source: 'reported' | 'estimated'): void {
    this.provider(provider).tokens[source] += tokens;
  }

  recordProviderCall(provider: string, durationMs: number, error?: { status?: number; kind?: ProviderFailureKind }): void {
    const p = this.provider(provider);
    p.calls++;
    p.duration.record(durationMs);
    if (error) {
      p.failures++;
      p.consecutiveFailures++;
      const k = error.status === undefined ? 'none' : String(error.status);
      p.failuresByStatus[k] = (p.failuresByStatus[k] ?? 0) + 1;
      const kind = error.kind ?? 'other';
      p.failuresByKind[kind] = (p.failuresByKind[kind] ?? 0) + 1;
      p.lastFailureKind = kind;
    } else {
      p.consecutiveFailures = 0;
      p.lastFailureKind = undefined;
    }
  }

  /** Median past duration of a step, or undefined when it never ran. */
  stepP50(composition: string, stepId: string): number | undefined {
    const s = this.compositions.get(composition)?.steps.get(stepId);
    if (!s || s.duration.count === 0) return undefined;
    const n = s.duration.count;
    if (s.p50 === undefined || n - s.p50AtCount >= Math.max(1, s.p50AtCount / 8)) {
      s.p50 = s.duration.quantile(0.5);
      s.p50AtCount = n;
    }
    return s.p50;
  }

  /** p95 of a composition's run durations, or undefined before its first run (health: `workflow_p95_ms`). */
  compositionP95(composition: string): number | undefined {
    const h = this.compositions.get(composition)?.duration;
    return h && h.count > 0 ? h.quantile(0.95) : undefined;
  }

  /** As JSON; the maps keyed by workspace names (compositions, steps, providers) have no prototype, so `__proto__` is a key like any other. */
  getMetrics(gauges: ReadonlyMap<string, AdmissionGauges> = new Map()): WorkflowMetricsJSON {
    const compositions: Record<string, CompositionMetricsJSON> = Object.create(null);
    for (const [name, c] of this.compositions) {
      const steps: Record<string, StepMetricsJSON> = Object.create(null);
      for (const [id, s] of c.steps) {
        steps[id] = { statuses: { ...s.statuses }, durationMs: summarize(s.duration), retries: s.retries, fallbacks: s.fallbacks, timeouts: s.timeouts };
      }
      const total = Object.values(c.runs).reduce((a, b) => a + b, 0);
      compositions[name] = { runs: { ...c.runs }, total, durationMs: summarize(c.duration), retries: c.retries, fallbacks: c.fallbacks, timeouts: c.timeouts, steps };
    }
    const providers: Record<string, ProviderMetricsJSON> = Object.create(null);
    for (const name of gauges.keys()) this.provider(name);
    for (const [name, p] of this.providers) {
      const g = gauges.get(name);
      providers[name] = {
        calls: p.calls,
        failures: p.failures,
        failuresByStatus: { ...p.failuresByStatus },
        failuresByKind: { ...p.failuresByKind },
        consecutiveFailures: p.consecutiveFailures,
        ...(p.lastFailureKind ? { lastFailureKind: p.lastFailureKind } : {}),
        durationMs: summarize(p.duration),
        admission: {
          queued: g?.queued ?? 0,
          inFlight: g?.inFlight ?? 0,
          pausedMs: g?.pausedMs ?? 0,
          admitted: p.admitted,
          pauses: p.pauses,
          requeued: p.requeued,
          waitMs: p.wait.summary(),
          tokens: { ...p.tokens },
        },
      };
    }
    return { compositions, providers };
  }

  reset(): void {
    this.compositions.clear();
    this.providers.clear();
    this.trackedSteps = 0;
  }
}
