/**
 * A worker process's side of the BullMQ back end: BullMQ workers on the `steps` queue and on
 * one queue per provider, handing each job to the StepProcessor; the subscription that stops a
 * run's attempts when any process cancels it (or its deadline passes); the provider limits set
 * on the provider queues; a graceful close.
 *
 * Recovery is BullMQ's: a job whose worker died keeps no lock, and after `stalledInterval`
 * another worker takes it (its lock was renewed every lockDuration/2 while the worker lived).
 */
import { systemClock } from '../clock.js';
import { PromptError } from '../errors.js';
import { DEFAULT_HISTORY_TTL_MS, DEFAULT_PREFIX } from './connection.js';
import { connectRedis, loadBullmq } from './redisClient.js';
import { DEFAULT_LOCK_DURATION_MS, DEFAULT_STALLED_INTERVAL_MS, MAX_STALLED_COUNT, type StepWorkerOptions } from './workerTypes.js';
import { BACKOFF_TYPE, providerQueue, STEPS_QUEUE, type JobData } from './jobs.js';
import { createRedisResponseCache } from './redisResponseCache.js';
import type { ResponseCache } from '../workflow/responseCache.js';
import { applyQueueLimits, ProviderBusy, RateLimitRequeue, SharedProviderLimits } from './providerLimits.js';
import { RunStore } from './runStore.js';
import { Enqueuer, runInit, specFromJSON } from './enqueue.js';
import { StepProcessor } from './stepProcessor.js';
import { RetryLater } from './stepErrors.js';
import { grantedChannel, holdsSlot, queuedPollMs } from './runSlots.js';
import { FleetMetricsRecorder, queuedMsOf } from './fleetMetrics.js';
import type { Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';

export class DistributedStepWorker {
  private readonly workers = new Map<string, Worker>();
  private readonly stopListeners = new Map<string, Set<(reason: PromptError) => void>>();
  private closing?: Promise<void>;
  private running = 0;
  /** The response caches in Redis of the runs that asked for one, by time to live. */
  private readonly caches = new Map<number, ResponseCache>();
  readonly processor: StepProcessor;
  /** The provider figures this worker adds to the fleet's, in Redis (fleetMetrics.ts). */
  private readonly fleet: FleetMetricsRecorder;

  private constructor(
    private readonly opts: StepWorkerOptions,
    private readonly bull: typeof import('bullmq'),
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    readonly store: RunStore,
    private readonly enqueuer: Enqueuer,
    private readonly limits: SharedProviderLimits,
  ) {
    this.fleet = new FleetMetricsRecorder(redis, opts.prefix ?? DEFAULT_PREFIX, opts.metrics);
    this.processor = new StepProcessor({
      store,
      resolvePin: opts.resolvePin,
      describeServed: opts.describeServed,
      executors: opts.executors,
      env: opts.env ?? ((n) => process.env[n]),
      metrics: this.fleet.metrics,
      enqueue: (spec, steps) => enqueuer.steps(spec, steps),
      enqueueRetry: (spec, step, base, delayMs) => enqueuer.retry(spec, step, base, delayMs),
      ...(opts.eagerSteps !== undefined ? { eagerSteps: opts.eagerSteps } : {}),
      accepting: () => !this.closing,
      onEager: (runId, step, outcome) => opts.onJob?.('step', outcome, { runId, step, eager: true }),
      onRunStop: (runId, f) => {
        let set = this.stopListeners.get(runId);
        if (!set) this.stopListeners.set(runId, (set = new Set()));
        set.add(f);
        return () => {
          set.delete(f);
          if (!set.size) this.stopListeners.delete(runId);
        };
      },
      notice: (runId, text) => store.notice(runId, text),
      responseCache: (ttlMs) => {
        let c = this.caches.get(ttlMs);
        if (!c) this.caches.set(ttlMs, (c = createRedisResponseCache(redis, { prefix: opts.prefix ?? DEFAULT_PREFIX, ttlMs })));
        return c;
      },
      limits: {
        admitTokens: (provider, tokens) => limits.admitTokens(provider, tokens),
        correctTokens: (provider, estimated, reported) => limits.correctTokens(provider, estimated, reported),
        rateLimited: (provider, retryAfterMs) => limits.rateLimited(this.queue(providerQueue(provider.name)), provider, retryAfterMs),
        answered: (provider) => limits.answered(provider),
      },
    });
  }

  static async start(opts: StepWorkerOptions): Promise<DistributedStepWorker> {
    const bull = await loadBullmq();
    const prefix = opts.prefix ?? DEFAULT_PREFIX;
    const redis = await connectRedis(opts.connection);
    const subscriber = await connectRedis(opts.connection);
    const store = new RunStore(redis, prefix);
    const enqueuer = new Enqueuer(bull, redis, prefix);
    const w = new DistributedStepWorker(opts, bull, redis, subscriber, store, enqueuer, new SharedProviderLimits(redis, prefix));
    const granted = grantedChannel(prefix);
    await subscriber.subscribe(`${prefix}:stop`, granted);
    // A run given a run slot: its held-back start job goes now (whichever worker gets there first).
    subscriber.on('message', (channel: string, runId: string) => (channel === granted ? void enqueuer.promoteStart(runId) : w.runStopped(runId)));
    w.work(STEPS_QUEUE);
    await w.refreshProviders();
    return w;
  }

  private get prefix(): string {
    return this.opts.prefix ?? DEFAULT_PREFIX;
  }

  private queue(name: string): Queue {
    return this.enqueuer.queue(name);
  }

  /** A run was cancelled or timed out somewhere: its attempts running here stop now. */
  private runStopped(runId: string): void {
    const set = this.stopListeners.get(runId);
    if (!set) return;
    const reason = new PromptError('cancelled', `run ${runId} was stopped`, {});
    for (const f of [...set]) f(reason);
  }

  /** Works the queues of providers that appeared (after a reload) and sets every provider's limits. */
  async refreshProviders(): Promise<void> {
    for (const p of this.opts.providers()) {
      const name = providerQueue(p.name);
      this.work(name);
      await applyQueueLimits(this.queue(name), p);
    }
  }

  private work(name: string): void {
    if (this.workers.has(name) || this.closing) return;
    const worker = new this.bull.Worker(
      name,
      async (job: Job, token?: string) => {
        this.running++;
        try {
          return await this.process(name, job, token);
        } finally {
          this.running--;
          // What a provider's job counted goes to the fleet's metrics, not waited for; a render-only step's made no call and sends nothing.
          if (name !== STEPS_QUEUE) void this.fleet.flush();
        }
      },
      {
      connection: this.redis,
      prefix: this.prefix,
      concurrency: this.opts.concurrency ?? 4,
      lockDuration: this.opts.lockDurationMs ?? DEFAULT_LOCK_DURATION_MS,
      stalledInterval: this.opts.stalledIntervalMs ?? DEFAULT_STALLED_INTERVAL_MS,
      maxStalledCount: MAX_STALLED_COUNT,
      settings: {
        backoffStrategy: (_made: number, type?: string, err?: Error) => (type === BACKOFF_TYPE && err instanceof RetryLater ? err.waitMs : 1000),
      },
      },
    );
    // A connection error is retried by BullMQ; a job that failed for good is reported to its run.
    worker.on('error', () => undefined);
    worker.on('failed', (job, err) => void this.gaveUp(job, err));
    this.workers.set(name, worker);
  }

  private async process(queueName: string, job: Job, token: string | undefined): Promise<void> {
    const d = job.data as JobData;
    if (d.kind === 'start' && d.slotted) return this.startSlotted(d.run, job, token);
    if (d.kind === 'start') {
      const spec = specFromJSON(d.spec);
      const init = runInit(spec, this.prefix, this.opts.historyTtlMs);
      // The run's deadline job before any step runs here (the starter added it too, unless it died first).
      if (spec.composition.timeoutMs !== undefined) await this.enqueuer.timeout(spec.id, spec.composition.timeoutMs);
      await this.processor.start(spec, () => this.store.create(spec, init), job.attemptsMade === 0 && !job.stalledCounter, () => this.opts.onJob?.('start', 'done', { runId: d.run }));
      return;
    }
    const spec = await this.store.spec(d.run);
    if (!spec) return; // kept no longer (history TTL): nothing to do
    if (d.kind === 'timeout') {
      const left = await this.store.expire(d.run);
      if (left > 0) {
        await job.moveToDelayed(Date.now() + left, token);
        throw new this.bull.DelayedError();
      }
      this.opts.onJob?.('timeout', 'done', { runId: d.run });
      return;
    }
    const attempt = job.attemptsMade + 1 + (d.base ?? 0);
    try {
      const outcome = await this.processor.step(spec, d.step, attempt, d.requeued?.[0] === attempt ? d.requeued[1] : 0, (o) => this.opts.onJob?.('step', o, { runId: d.run, step: d.step }), queueName === STEPS_QUEUE ? 0 : queuedMsOf(job));
      // The spec stays cached while the run goes on (it is large for a big composition, and never changes).
      if (outcome === 'ended') this.processor.forget(d.run);
    } catch (e) {
      // Both go back to the provider's queue when it may take them, the attempt not used: a
      // delayed job (BullMQ wakes the workers when it is due; a job put back to wait with a
      // priority would wake none), with the provider's queue paused meanwhile for every worker.
      if (e instanceof ProviderBusy) {
        this.opts.onJob?.('step', 'busy', { runId: d.run, step: d.step });
        await this.limits.hold(this.queue(queueName), e.waitMs);
        await job.moveToDelayed(Date.now() + Math.max(1, Math.ceil(e.waitMs)), token);
        throw new this.bull.DelayedError();
      }
      if (e instanceof RateLimitRequeue) {
        // Before the calls waiting on the provider: the highest priority.
        this.opts.onJob?.('step', 'requeued', { runId: d.run, step: d.step });
        const n = d.requeued?.[0] === attempt ? d.requeued[1] + 1 : 1;
        await job.updateData({ ...d, requeued: [attempt, n], since: Date.now() });
        await job.changePriority({ priority: 1 });
        await job.moveToDelayed(Date.now() + Math.max(1, e.pausedMs), token);
        throw new this.bull.DelayedError();
      }
      if (e instanceof RetryLater) {
        this.opts.onJob?.('step', 'retry', { runId: d.run, step: d.step });
        // The next attempt's call waits for its provider from the end of this backoff, not from when the job was added.
        if (queueName !== STEPS_QUEUE) await job.updateData({ ...d, since: Date.now() + e.waitMs }).catch(() => undefined);
      }
      throw e;
    }
  }

  /**
   * The start job of a run under the run limit (runSlots.ts): its starter created the run; the
   * job begins it once it holds a slot, and while it waits looks again later (a worker promotes
   * it sooner when the run is given a slot).
   */
  private async startSlotted(runId: string, job: Job, token: string | undefined): Promise<void> {
    const b = await this.store.begin(runId, this.opts.historyTtlMs ?? DEFAULT_HISTORY_TTL_MS);
    if (b.kind === 'queued') {
      await job.moveToDelayed(Date.now() + queuedPollMs(b.position), token);
      // Given its slot in the meantime (its announcement found this job still running): at once.
      if (await holdsSlot(this.redis, this.prefix, runId)) await job.promote().catch(() => undefined);
      throw new this.bull.DelayedError();
    }
    // The run as Redis keeps it (a job left from an earlier run of the same id carries another spec).
    const spec = b.kind === 'gone' ? undefined : await this.store.spec(runId);
    if (spec) {
      await this.processor.resume(spec);
      if (spec.composition.timeoutMs !== undefined) await this.enqueuer.timeout(spec.id, spec.composition.timeoutMs);
    }
    this.opts.onJob?.('start', 'done', { runId });
  }

  /** BullMQ gave a step job up (its worker died MAX_STALLED_COUNT times, or it kept failing): the step fails, saying why. */
  private async gaveUp(job: Job | undefined, err: Error): Promise<void> {
    if (!job || err instanceof RetryLater) return;
    const d = job.data as JobData;
    if (d.kind !== 'step' || job.attemptsMade < (job.opts.attempts ?? 1)) {
      if (!/stalled/i.test(err.message)) return;
    }
    const spec = await this.store.spec(d.run).catch(() => undefined);
    if (!spec || d.kind !== 'step') return;
    const why = new PromptError('provider_error', `step "${spec.composition.steps[d.step]?.id}" was given up by the queue: ${err.message}`, { composition: spec.composition.name, step: spec.composition.steps[d.step]?.id });
    await this.processor.abandon(spec, d.step, why).catch(() => undefined);
  }

  /** Jobs running here now. */
  get active(): number {
    return this.running;
  }

  /**
   * Stops taking jobs and waits up to `graceMs` for the running ones to finish; past it the
   * connections close, and the unfinished jobs, their locks expiring, are taken up by other
   * workers (released, not lost).
   */
  close(graceMs = 30_000): Promise<void> {
    this.closing ??= (async () => {
      const all = [...this.workers.values()];
      const graceful = Promise.all(all.map((w) => w.close()));
      let timer: unknown;
      const timedOut = new Promise<'timeout'>((r) => (timer = systemClock.setTimeout(() => r('timeout'), graceMs)));
      const r = await Promise.race([graceful.then(() => 'ok' as const), timedOut]);
      systemClock.clearTimeout(timer);
      if (r === 'timeout') await Promise.all(all.map((w) => w.close(true).catch(() => undefined)));
      await this.fleet.close();
      await this.enqueuer.close();
      await this.subscriber.quit().catch(() => undefined);
      await this.redis.quit().catch(() => undefined);
    })();
    return this.closing;
  }
}

