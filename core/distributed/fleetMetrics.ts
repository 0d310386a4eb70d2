/**
 * The providers' figures of the whole fleet on the BullMQ back end, as they are kept in Redis:
 * each worker adds what its provider calls did to one hash per provider,
 * `<prefix>:provider-metrics:<provider>`, and any starting process reads them
 * (fleetMetricsReader.ts). They are counters, so they survive a worker's restart and add up
 * across workers and machines; the prefix keeps two deployments on one Redis apart.
 *
 * Why this shape: a Prometheus summary's quantiles cannot be added across processes (the
 * median of two medians is no median), and a worker's own figures die with it. So the time a
 * call waited for admission, and its duration, are kept as histograms with the fixed buckets
 * of core/stats/histogram.ts (a field per bucket, added to with HINCRBY), beside their sum,
 * count, min and max. A reader merges them exactly and exports the same summary families as
 * in-process (`_sum`, `_count`, and quantiles that are the whole fleet's, since the counters
 * began, as precise as one process's): dashboards do not change.
 *
 * Cost: a worker sends what a provider job counted in one Lua call when the job ends (jobs
 * ending at once share it), never waiting for it; render-only steps make no provider call and
 * send nothing.
 */
import type { Redis } from 'ioredis';
import { systemClock } from '../clock.js';
import { LatencyHistogram } from '../stats/histogram.js';
import { WorkflowMetrics } from '../workflow/metrics.js';
import type { ProviderFailureKind } from '../workflow/providerFailure.js';

/** The hash of one provider's counters. */
export function providerMetricsKey(prefix: string, provider: string): string {
  return `${prefix}:provider-metrics:${provider}`;
}

/** Field names in a provider's hash: `w:` the admission wait's histogram, `d:` the call duration's (`<h>:<bucket>`, `<h>:n`, `:sum` in ms, `:min`, `:max`). */
export const FIELD = {
  calls: 'calls',
  failures: 'failures',
  /** `fs:<HTTP status or none>`: failures by status. */
  byStatus: 'fs:',
  /** `fk:<kind>`: failures by kind. */
  byKind: 'fk:',
  consecutive: 'consecutive',
  lastKind: 'last-kind',
  admitted: 'admitted',
  pauses: 'pauses',
  requeued: 'requeued',
  tokensReported: 'tokens:reported',
  tokensEstimated: 'tokens:estimated',
  wait: 'w:',
  duration: 'd:',
} as const;

/**
 * KEYS: one hash per provider. ARGV, for each key in turn: the number of its operations, then
 * each as (op, field, value): `i` HINCRBY, `f` HINCRBYFLOAT, `x` keep the larger, `n` keep the
 * smaller, `s` HSET, `d` HDEL. One atomic call for a whole batch.
 */
const APPLY = String.raw`
local a = 1
for k = 1, #KEYS do
  local key = KEYS[k]
  local n = tonumber(ARGV[a])
  a = a + 1
  for _ = 1, n do
    local op, f, v = ARGV[a], ARGV[a + 1], ARGV[a + 2]
    a = a + 3
    if op == 'i' then redis.call('HINCRBY', key, f, v)
    elseif op == 'f' then redis.call('HINCRBYFLOAT', key, f, v)
    elseif op == 'x' or op == 'n' then
      local cur = tonumber(redis.call('HGET', key, f))
      local x = tonumber(v)
      if cur == nil or (op == 'x' and x > cur) or (op == 'n' and x < cur) then redis.call('HSET', key, f, v) end
    elseif op == 's' then redis.call('HSET', key, f, v)
    elseif op == 'd' then redis.call('HDEL', key, f) end
  end
end
return 0
`;

type Apply = (...args: (string | number)[]) => Promise<unknown>;

function ms(v: number): string {
  return (Number.isFinite(v) && v > 0 ? v : 0).toFixed(3);
}

/** What one process counted for one provider and has not sent yet. */
class ProviderDelta {
  readonly incr = new Map<string, number>();
  readonly float = new Map<string, number>();
  readonly max = new Map<string, number>();
  readonly min = new Map<string, number>();
  /** Whether a call among these succeeded, and the failed calls after the last that did. */
  succeeded = false;
  failedSince = 0;
  /** The kind of the last of these calls when it failed; null when it succeeded; undefined: no call. */
  lastKind: string | null | undefined;

  add(field: string, n = 1): void {
    this.incr.set(field, (this.incr.get(field) ?? 0) + n);
  }

  sample(h: typeof FIELD.wait | typeof FIELD.duration, v: number): void {
    if (!(v >= 0)) v = 0;
    this.add(h + LatencyHistogram.bucketOf(v));
    this.add(h + 'n');
    this.float.set(h + 'sum', (this.float.get(h + 'sum') ?? 0) + v);
    if (v > (this.max.get(h + 'max') ?? -1)) this.max.set(h + 'max', v);
    if (v < (this.min.get(h + 'min') ?? Infinity)) this.min.set(h + 'min', v);
  }

  call(kind: string | undefined): void {
    if (kind === undefined) {
      this.succeeded = true;
      this.failedSince = 0;
      this.lastKind = null;
    } else {
      this.failedSince++;
      this.lastKind = kind;
    }
  }

  /** Adds another delta after this one (a batch that could not be sent goes back in front of what came since). */
  merge(later: ProviderDelta): void {
    for (const [f, n] of later.incr) this.add(f, n);
    for (const [f, n] of later.float) this.float.set(f, (this.float.get(f) ?? 0) + n);
    for (const [f, v] of later.max) if (v > (this.max.get(f) ?? -1)) this.max.set(f, v);
    for (const [f, v] of later.min) if (v < (this.min.get(f) ?? Infinity)) this.min.set(f, v);
    if (later.lastKind !== undefined) {
      this.failedSince = later.succeeded ? later.failedSince : this.failedSince + later.failedSince;
      this.succeeded ||= later.succeeded;
      this.lastKind = later.lastKind;
    }
  }

  ops(): string[] {
    const out: string[] = [];
    for (const [f, n] of this.incr) out.push('i', f, String(n));
    for (const [f, v] of this.float) out.push('f', f, ms(v));
    for (const [f, v] of this.max) out.push('x', f, ms(v));
    for (const [f, v] of this.min) out.push('n', f, ms(v));
    if (this.lastKind !== undefined) {
      // A success among these calls ends the run of failures; else they lengthen it.
      out.push(this.succeeded ? 's' : 'i', FIELD.consecutive, String(this.failedSince));
      if (this.lastKind === null) out.push('d', FIELD.lastKind, '');
      else out.push('s', FIELD.lastKind, this.lastKind);
    }
    return out;
  }
}

/**
 * A worker's side: counts its provider calls (in its own `worker.metrics` as before, and for
 * the fleet) and sends the fleet's share to Redis once per provider job.
 */
export class FleetMetricsRecorder {
  private pending = new Map<string, ProviderDelta>();
  private readonly sending = new Set<Promise<void>>();
  private readonly apply: Apply;
  /** What the step processor records into: this process's metrics, and the fleet's counters. */
  readonly metrics: WorkflowMetrics;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    local?: WorkflowMetrics,
  ) {
    const r = redis as unknown as Record<string, Apply | undefined>;
    if (typeof r.pmFleetMetricsApply !== 'function') redis.defineCommand('pmFleetMetricsApply', { lua: APPLY });
    this.apply = (r.pmFleetMetricsApply as Apply).bind(redis);
    this.metrics = new FleetRecordingMetrics(this, local);
  }

  delta(provider: string): ProviderDelta {
    let d = this.pending.get(provider);
    if (!d) this.pending.set(provider, (d = new ProviderDelta()));
    return d;
  }

  /** Sends what was counted since the last batch, in one call (nothing when nothing was): a worker calls it when a provider job ends, without waiting for it. */
  flush(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    const batch = this.pending;
    this.pending = new Map();
    const keys: string[] = [];
    const args: string[] = [];
    for (const [provider, d] of batch) {
      const ops = d.ops();
      keys.push(providerMetricsKey(this.prefix, provider));
      args.push(String(ops.length / 3), ...ops);
    }
    const p = this.apply(keys.length, ...keys, ...args).then(
      () => undefined,
      () => {
        // Redis refused it (a reconnect waits instead): the counts go back in front of the next batch.
        for (const [provider, d] of batch) {
          const later = this.pending.get(provider);
          if (later) d.merge(later);
          this.pending.set(provider, d);
        }
      },
    );
    this.sending.add(p);
    void p.finally(() => this.sending.delete(p));
    return p;
  }

  /** Sends what is left, waiting up to `graceMs` for Redis (a worker that closes loses nothing it counted while Redis answers). */
  async close(graceMs = 5000): Promise<void> {
    const all = Promise.all([...this.sending, this.flush()]);
    let timer: unknown;
    await Promise.race([all, new Promise<void>((r) => (timer = systemClock.setTimeout(r, graceMs)))]);
    systemClock.clearTimeout(timer);
  }
}

/**
 * The metrics a worker's step processor records into: each provider figure goes to the
 * worker's own metrics (`worker.metrics`, this process's) and to the fleet's counters. Only the
 * provider figures are the fleet's: runs and steps are counted where they finish.
 */
class FleetRecordingMetrics extends WorkflowMetrics {
  constructor(
    private readonly fleet: FleetMetricsRecorder,
    private readonly local: WorkflowMetrics | undefined,
  ) {
    super(0);
  }

  /** A call admitted, after `waitMs` in its provider's queue (tokenTicket). */
  override recordAdmission(provider: string, waitMs: number): void {
    this.local?.recordAdmission(provider, waitMs);
    const d = this.fleet.delta(provider);
    d.add(FIELD.admitted);
    d.sample(FIELD.wait, waitMs);
  }

  override recordPause(provider: string): void {
    this.local?.recordPause(provider);
    this.fleet.delta(provider).add(FIELD.pauses);
  }

  override recordRequeue(provider: string): void {
    this.local?.recordRequeue(provider);
    this.fleet.delta(provider).add(FIELD.requeued);
  }

  override recordTokens(provider: string, tokens: number, source: 'reported' | 'estimated'): void {
    this.local?.recordTokens(provider, tokens, source);
    if (Number.isFinite(tokens) && tokens > 0) this.fleet.delta(provider).add(source === 'reported' ? FIELD.tokensReported : FIELD.tokensEstimated, Math.round(tokens));
  }

  override recordProviderCall(provider: string, durationMs: number, error?: { status?: number; kind?: ProviderFailureKind }): void {
    this.local?.recordProviderCall(provider, durationMs, error);
    const d = this.fleet.delta(provider);
    d.add(FIELD.calls);
    d.sample(FIELD.duration, durationMs);
    if (error) {
      const kind = error.kind ?? 'other';
      d.add(FIELD.failures);
      d.add(FIELD.byStatus + (error.status === undefined ? 'none' : String(error.status)));
      d.add(FIELD.byKind + kind);
      d.call(kind);
    } else d.call(undefined);
  }
}

/** How long a provider job waited in its queue before a worker took it: since it was added, or since it was sent back or its retry's backoff ended (`since`, kept in its data). */
export function queuedMsOf(job: { timestamp: number; processedOn?: number; data: unknown }): number {
  const since = (job.data as { since?: unknown } | undefined)?.since;
  const from = typeof since === 'number' && Number.isFinite(since) ? since : job.timestamp;
  // Job times are the machines' wall clocks: a clock behind another's reads as no wait, never a negative one.
  return Math.max(0, (job.processedOn ?? Date.now()) - from);
}
