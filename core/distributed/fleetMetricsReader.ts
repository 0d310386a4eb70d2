/**
 * A starting process's side of the fleet's provider figures (fleetMetrics.ts): the counters
 * every worker adds to in Redis, and the provider queues' gauges read at the moment (calls
 * waiting, in flight, the pause in force), as the same `ProviderMetricsJSON` the in-process
 * engine gives, so that the Prometheus text and JSON keep their names and labels.
 *
 * The manager's metrics calls are synchronous: they answer from the last read, and start a new
 * one when it is older than `maxAgeMs` (the text says its age); `refresh()` reads now, for a
 * scrape handler that can wait.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { systemClock } from '../clock.js';
import { PromptError } from '../errors.js';
import { LatencyHistogram, type HistogramSummary } from '../stats/histogram.js';
import type { ProviderMetricsJSON } from '../workflow/metrics.js';
import type { ProviderFailureKind } from '../workflow/providerFailure.js';
import { FIELD, providerMetricsKey } from './fleetMetrics.js';
import { providerQueue } from './jobs.js';
import { SharedProviderLimits } from './providerLimits.js';
import { loadBullmq } from './redisClient.js';

/** A synchronous read answers from a read at most this old; an older one starts a new read. */
export const FLEET_METRICS_MAX_AGE_MS = 5000;
/** A read that Redis does not answer within this fails (the client waits for a reconnect forever). */
const READ_TIMEOUT_MS = 5000;

export interface FleetProviderFigures {
  providers: Record<string, ProviderMetricsJSON>;
  /** When they were read (milliseconds since the epoch). */
  readAt: number;
}

function histogram(h: Record<string, string>, prefix: string): LatencyHistogram {
  const buckets: [number, number][] = [];
  for (const [f, v] of Object.entries(h)) {
    if (!f.startsWith(prefix)) continue;
    const i = Number(f.slice(prefix.length));
    if (f.length > prefix.length && Number.isInteger(i)) buckets.push([i, Number(v)]);
  }
  const num = (f: string) => Number(h[prefix + f] ?? 0) || 0;
  return LatencyHistogram.fromBuckets(buckets, num('sum'), num('min'), num('max'));
}

/** One provider's figures from its hash and its queue's gauges. */
export function providerFigures(h: Record<string, string>, gauges: { queued: number; inFlight: number; pausedMs: number }): ProviderMetricsJSON {
  const n = (f: string) => Number(h[f] ?? 0) || 0;
  const failuresByStatus: Record<string, number> = Object.create(null);
  const failuresByKind: Partial<Record<ProviderFailureKind, number>> = Object.create(null);
  for (const [f, v] of Object.entries(h)) {
    if (f.startsWith(FIELD.byStatus)) failuresByStatus[f.slice(FIELD.byStatus.length)] = Number(v) || 0;
    else if (f.startsWith(FIELD.byKind)) failuresByKind[f.slice(FIELD.byKind.length) as ProviderFailureKind] = Number(v) || 0;
  }
  const d = histogram(h, FIELD.duration).summary();
  const wait: HistogramSummary = histogram(h, FIELD.wait).summary();
  const last = h[FIELD.lastKind];
  return {
    calls: n(FIELD.calls),
    failures: n(FIELD.failures),
    failuresByStatus,
    failuresByKind,
    consecutiveFailures: n(FIELD.consecutive),
    ...(last ? { lastFailureKind: last as ProviderFailureKind } : {}),
    durationMs: { count: d.count, p50: d.p50, p95: d.p95, mean: d.mean, max: d.max },
    admission: {
      ...gauges,
      admitted: n(FIELD.admitted),
      pauses: n(FIELD.pauses),
      requeued: n(FIELD.requeued),
      waitMs: wait,
      tokens: { reported: n(FIELD.tokensReported), estimated: n(FIELD.tokensEstimated) },
    },
  };
}

export class FleetMetricsReader {
  private readonly queues = new Map<string, Queue>();
  private readonly limits: SharedProviderLimits;
  private last?: FleetProviderFigures & { names: string };
  private reading?: { names: string; done: Promise<FleetProviderFigures> };
  private closed = false;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly maxAgeMs = FLEET_METRICS_MAX_AGE_MS,
  ) {
    this.limits = new SharedProviderLimits(redis, prefix);
  }

  /** The queue of a provider; only those of the providers asked for are kept (a reload may drop some). */
  private async queues_(names: readonly string[]): Promise<Queue[]> {
    const bull = await loadBullmq();
    const wanted = new Set(names);
    for (const [name, q] of this.queues) {
      if (wanted.has(name)) continue;
      this.queues.delete(name);
      void q.close().catch(() => undefined);
    }
    return names.map((name) => {
      let q = this.queues.get(name);
      if (!q) {
        q = new bull.Queue(providerQueue(name), { connection: this.redis, prefix: this.prefix });
        q.on('error', () => undefined);
        this.queues.set(name, q);
      }
      return q;
    });
  }

  private async read(names: readonly string[]): Promise<FleetProviderFigures> {
    const queues = await this.queues_(names);
    const providers: Record<string, ProviderMetricsJSON> = Object.create(null);
    await Promise.all(
      names.map(async (name, i) => {
        const q = queues[i]!;
        const [h, counts, pausedMs] = await Promise.all([this.redis.hgetall(providerMetricsKey(this.prefix, name)), q.getJobCounts('waiting', 'prioritized', 'delayed', 'active'), this.limits.pausedMs(q)]);
        const queued = (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0);
        providers[name] = providerFigures(h, { queued, inFlight: counts.active ?? 0, pausedMs });
      }),
    );
    return { providers, readAt: Date.now() };
  }

  /** Reads the figures of these providers now (a read under way for the same ones is joined). */
  refresh(names: readonly string[]): Promise<FleetProviderFigures> {
    const key = names.join('\n');
    if (this.reading?.names === key) return this.reading.done;
    let timer: unknown;
    const timeout = new Promise<never>((_, reject) => {
      timer = systemClock.setTimeout(() => reject(new PromptError('timeout', `Redis did not answer the read of the providers' metrics within ${READ_TIMEOUT_MS} ms`)), READ_TIMEOUT_MS);
    });
    const done = Promise.race([this.read(names), timeout]).finally(() => {
      systemClock.clearTimeout(timer);
      if (this.reading?.done === done) this.reading = undefined;
    });
    this.reading = { names: key, done };
    void done.then(
      (f) => {
        if (!this.closed) this.last = { ...f, names: key };
      },
      () => undefined,
    );
    return done;
  }

  /**
   * The last figures read of these providers (undefined before the first read ends); a new
   * read starts when they are older than `maxAgeMs` or were read for other providers.
   */
  latest(names: readonly string[]): FleetProviderFigures | undefined {
    const key = names.join('\n');
    const last = this.last;
    if (!this.closed && !this.reading && (!last || last.names !== key || Date.now() - last.readAt > this.maxAgeMs)) void this.refresh(names).catch(() => undefined);
    if (!last) return undefined;
    if (last.names === key) return { providers: last.providers, readAt: last.readAt };
    // Providers the configuration no longer has are left out until the next read.
    const providers: Record<string, ProviderMetricsJSON> = Object.create(null);
    for (const n of names) if (last.providers[n]) providers[n] = last.providers[n];
    return { providers, readAt: last.readAt };
  }

  /** The calls the last read counted of a provider (0 before the first read); starts no read. */
  callsOf(name: string): number {
    return this.last?.providers[name]?.calls ?? 0;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.reading?.done.catch(() => undefined);
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => undefined)));
    this.queues.clear();
  }
}
