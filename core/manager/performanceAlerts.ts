/**
 * Performance alerts: a service whose p95 passes its `performance_targets` (`render_p95_ms`,
 * `workflow_p95_ms`, service_mappings.yaml) over a sliding window is reported once, as a
 * `performanceAlert` event with the figures, and once more when it has recovered.
 *
 * - Window: the last `windowMs` (5 minutes), kept as 10 slices of fixed-size histograms, so
 *   memory does not grow with traffic and old samples leave as the window slides.
 * - Debounce: a p95 is judged only over at least `minSamples` samples in the window (20, as
 *   health), and at most once per `evaluateEveryMs` (10 s) per service and metric, at the
 *   next sample: no timer runs, and a service without traffic keeps its state.
 * - Hysteresis: it fires when the window's p95 is over the target, and recovers only when the
 *   window's p95 is at or below `recoverRatio` (90%) of the target, so a p95 hovering at the
 *   target does not flap.
 */
import type { Clock } from '../clock.js';
import { LatencyHistogram } from '../stats/histogram.js';

export type AlertMetric = 'render_p95_ms' | 'workflow_p95_ms';

export interface PerformanceAlert {
  service: string;
  /** The target passed: `render_p95_ms` (a service's renders) or `workflow_p95_ms` (its runs). */
  metric: AlertMetric;
  /** `firing` when the p95 passed the target; `recovered` when it came back under `recoverRatio` of it. */
  state: 'firing' | 'recovered';
  /** The window's p95, milliseconds. */
  p95: number;
  /** The target, milliseconds. */
  target: number;
  windowMs: number;
  /** Samples in the window. */
  samples: number;
  /** Wall-clock epoch milliseconds. */
  time: number;
}

export interface PerformanceAlertOptions {
  /** Length of the sliding window. Default 300,000 (5 minutes). */
  windowMs?: number;
  /** Samples the window needs before its p95 is judged. Default: the manager's `healthMinSamples` (20). */
  minSamples?: number;
  /** A service's p95 is judged at most this often, at its next sample. Default 10,000. */
  evaluateEveryMs?: number;
  /** A firing alert recovers when the p95 is at or below this share of the target. Default 0.9. */
  recoverRatio?: number;
}

const SLICES = 10;

class Series {
  readonly slices = Array.from({ length: SLICES }, () => new LatencyHistogram());
  /** The slice number (time / slice length) each slot holds. */
  readonly epochs = new Array<number>(SLICES).fill(-Infinity);
  firing = false;
  lastEval = -Infinity;
  lastTarget = 0;

  constructor(
    readonly service: string,
    readonly metric: AlertMetric,
  ) {}
}

export class PerformanceAlerts {
  private readonly series = new Map<string, Series>();
  private readonly windowMs: number;
  private readonly sliceMs: number;
  private readonly minSamples: number;
  private readonly evaluateEveryMs: number;
  private readonly recoverRatio: number;

  constructor(
    private readonly clock: Clock,
    private readonly emit: (alert: PerformanceAlert) => void,
    options: PerformanceAlertOptions & { minSamples: number },
  ) {
    this.windowMs = positive(options.windowMs, 300_000, 'windowMs');
    this.sliceMs = this.windowMs / SLICES;
    this.minSamples = Math.max(1, Math.floor(options.minSamples));
    this.evaluateEveryMs = nonNegative(options.evaluateEveryMs, 10_000, 'evaluateEveryMs');
    const r = options.recoverRatio ?? 0.9;
    if (!(r > 0 && r <= 1)) throw new TypeError(`alerts.recoverRatio must be more than 0 and at most 1, not ${options.recoverRatio}`);
    this.recoverRatio = r;
  }

  /** A sample of a service's metric; `target` is the service's current target (undefined: none, nothing kept). */
  record(service: string, metric: AlertMetric, ms: number, target: number | undefined): void {
    const key = `${metric}\u0000${service}`;
    let s = this.series.get(key);
    if (target === undefined) {
      // The target is gone (a reload): a firing alert is over.
      if (s?.firing) this.publish(s, 'recovered', this.window(s), s.lastTarget);
      if (s) this.series.delete(key);
      return;
    }
    if (!s) this.series.set(key, (s = new Series(service, metric)));
    const now = this.clock.now();
    const epoch = Math.floor(now / this.sliceMs);
    const slot = ((epoch % SLICES) + SLICES) % SLICES;
    if (s.epochs[slot] !== epoch) {
      s.slices[slot]!.reset();
      s.epochs[slot] = epoch;
    }
    s.slices[slot]!.record(ms);
    s.lastTarget = target;
    if (now - s.lastEval < this.evaluateEveryMs) return;
    s.lastEval = now;
    const w = this.window(s);
    if (w.count < this.minSamples) return;
    const p95 = w.quantile(0.95);
    if (!s.firing && p95 > target) this.publish(s, 'firing', w, target);
    else if (s.firing && p95 <= target * this.recoverRatio) this.publish(s, 'recovered', w, target);
  }

  /** The alerts firing now. */
  active(): PerformanceAlert[] {
    const out: PerformanceAlert[] = [];
    for (const s of this.series.values()) {
      if (!s.firing) continue;
      const w = this.window(s);
      out.push(this.alert(s, 'firing', w, s.lastTarget));
    }
    return out;
  }

  /** The slices still inside the window, merged. */
  private window(s: Series): LatencyHistogram {
    const oldest = Math.floor(this.clock.now() / this.sliceMs) - (SLICES - 1);
    const w = new LatencyHistogram();
    for (let i = 0; i < SLICES; i++) if (s.epochs[i]! >= oldest) w.add(s.slices[i]!);
    return w;
  }

  private alert(s: Series, state: PerformanceAlert['state'], w: LatencyHistogram, target: number): PerformanceAlert {
    return { service: s.service, metric: s.metric, state, p95: w.quantile(0.95), target, windowMs: this.windowMs, samples: w.count, time: this.clock.wallNow?.() ?? Date.now() };
  }

  private publish(s: Series, state: PerformanceAlert['state'], w: LatencyHistogram, target: number): void {
    s.firing = state === 'firing';
    try {
      this.emit(this.alert(s, state, w, target));
    } catch {
      // A listener's failure must not fail the render or run that was measured.
    }
  }
}

function positive(v: number | undefined, fallback: number, name: string): number {
  if (v === undefined) return fallback;
  if (!(typeof v === 'number' && Number.isFinite(v) && v > 0)) throw new TypeError(`alerts.${name} must be a number of milliseconds more than 0, not ${v}`);
  return v;
}

function nonNegative(v: number | undefined, fallback: number, name: string): number {
  if (v === undefined) return fallback;
  if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0)) throw new TypeError(`alerts.${name} must be a number of milliseconds from 0, not ${v}`);
  return v;
}
