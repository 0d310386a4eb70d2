/**
 * The starting side of the BullMQ back end: starts runs (a start job carrying the run's spec,
 * and the run created in Redis at once so that its status is readable), hands back the same run
 * handle as the in-process engine (events from the run's stream, `done`, `cancel`), reads any
 * run's status and cancels any run, from any process, and re-attaches to a run after a restart.
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { PromptError } from '../errors.js';
import { EventLog } from '../workflow/eventLog.js';
import type { WorkflowEngineEvents, RunSummary } from '../workflow/engine.js';
import type { ErrorJSON, ResolvedComposition, WorkflowEvent, WorkflowResult, WorkflowRun, WorkflowStatus } from '../workflow/types.js';
import { DEFAULT_HISTORY_TTL_MS, DEFAULT_PREFIX, type BullmqBackendConfig } from './connection.js';
import { connectRedis, loadBullmq } from './redisClient.js';
import { Enqueuer, runInit } from './enqueue.js';
import { EventPump } from './eventPump.js';
import { eventsKey, RunStore, type RunSpec } from './runStore.js';
import { StatusMirror } from './statusMirror.js';
import { slotCounts, START_GRACE_MS } from './runSlots.js';
import { runQueueFull, type RunLimits } from '../workflow/runLimits.js';

export interface DistributedStart {
  workflowId: string;
  composition: ResolvedComposition;
  input: Record<string, unknown>;
  serviceName?: string;
  maxParallel: number;
  pin: string;
  /** Per step, its remaining-path priority. */
  priority: ArrayLike<number>;
  /** The model steps answer from the response cache in Redis, entries kept this long. */
  responseCacheTtlMs?: number;
  /** The run limit of the whole deployment (runSlots.ts), when `maxConcurrentRuns` is set. */
  limits?: RunLimits;
}

interface Watched {
  log: EventLog<WorkflowEvent>;
  mirror: StatusMirror;
  done: Promise<WorkflowResult>;
  resolve(r: WorkflowResult): void;
}

/** Sends one run's events to its log and the back end's listeners, and resolves its `done` at its end. */
export class BullmqWorkflowBackend extends EventEmitter<WorkflowEngineEvents> {
  private readonly watched = new Map<string, Watched>();
  private closed = false;
  /** Runs holding a run slot and waiting for one, across the deployment, as the last start or `refreshSlots` saw them. */
  slots = { running: 0, queued: 0 };

  private constructor(
    readonly config: BullmqBackendConfig,
    /** The back end's command connection: other features that want this Redis (a model-response cache) may use it. */
    readonly redis: Redis,
    readonly store: RunStore,
    private readonly enqueuer: Enqueuer,
    private readonly pump: EventPump,
  ) {
    super();
  }

  static async connect(config: BullmqBackendConfig): Promise<BullmqWorkflowBackend> {
    const bull = await loadBullmq();
    const prefix = config.prefix ?? DEFAULT_PREFIX;
    const redis = await connectRedis(config.connection);
    const reader = await connectRedis(config.connection);
    return new BullmqWorkflowBackend(config, redis, new RunStore(redis, prefix), new Enqueuer(bull, redis, prefix), new EventPump(reader, redis, prefix));
  }

  get prefix(): string {
    return this.config.prefix ?? DEFAULT_PREFIX;
  }

  /**
   * Starts a run that passed the precheck. The start job goes first: were this process to die
   * right after it, a worker creates the run from the job (under the run limit, see startLimited).
   * A run id still running is refused.
   */
  async start(s: DistributedStart): Promise<WorkflowRun> {
    if (this.closed) throw new PromptError('invalid_configuration', 'the workflow back end is closed');
    const existing = await this.store.pending(s.workflowId);
    if (existing.state === 'running' || existing.state === 'finishing' || existing.state === 'queued') {
      throw new PromptError('invalid_configuration', `a run with the id "${s.workflowId}" is still running`, { composition: s.composition.name });
    }
    if (existing.state !== 'gone') {
      await this.store.remove(s.workflowId);
      await this.enqueuer.dropStart(s.workflowId);
    }
    const spec: RunSpec = {
      v: 1,
      id: s.workflowId,
      composition: s.composition,
      input: s.input,
      maxParallel: s.maxParallel === Infinity ? null : s.maxParallel,
      pin: s.pin,
      priority: Array.from(s.priority),
      startedBy: `${hostname()}:${process.pid}`,
    };
    if (s.serviceName !== undefined) spec.serviceName = s.serviceName;
    if (s.responseCacheTtlMs !== undefined) spec.responseCache = { ttlMs: s.responseCacheTtlMs };
    // JSON: what a worker on another machine will see (Infinity and undefined do not survive it).
    const wire = JSON.parse(JSON.stringify(spec)) as RunSpec;
    if (wire.composition.maxParallel === null) wire.composition.maxParallel = Infinity;
    if (s.limits) return this.startLimited(wire, s.limits);
    const handle = this.handle(wire);
    await this.enqueuer.start(wire);
    await this.store.create(wire, runInit(wire, this.prefix, this.config.historyTtlMs ?? DEFAULT_HISTORY_TTL_MS));
    if (s.composition.timeoutMs !== undefined) await this.enqueuer.timeout(wire.id, s.composition.timeoutMs);
    return handle;
  }

  /**
   * A run under the deployment's run limit (runSlots.ts). Its start job goes first, held back:
   * only this call creates the run, taking a slot or a place in the queue, or refusing it when
   * the queue is full (the job removed). Were this process to die before creating it, the job
   * finds no run and leaves a tombstone; after, the job begins the run once it holds its slot.
   */
  private async startLimited(wire: RunSpec, limits: RunLimits): Promise<WorkflowRun> {
    await this.enqueuer.start(wire, { delayMs: START_GRACE_MS });
    const a = await this.store.admit(wire, runInit(wire, this.prefix, this.config.historyTtlMs ?? DEFAULT_HISTORY_TTL_MS), limits);
    if (a.kind === 'started' || a.kind === 'queued' || a.kind === 'full') this.slots = { running: a.running, queued: a.queued };
    const name = wire.composition.name;
    if (a.kind === 'full') {
      await this.enqueuer.dropStart(wire.id);
      throw runQueueFull(name, a.running, a.queued, limits);
    }
    if (a.kind === 'exists') throw new PromptError('invalid_configuration', `a run with the id "${wire.id}" is still running`, { composition: name });
    if (a.kind === 'abandoned') {
      throw new PromptError('timeout', `run ${wire.id} was not started: Redis took longer than ${START_GRACE_MS} ms to create it, and a worker gave its start up; start it again`, { composition: name });
    }
    const handle = this.handle(wire, a.kind === 'queued' ? a.now : undefined);
    if (a.kind === 'started') await this.enqueuer.promoteStart(wire.id);
    if (wire.composition.timeoutMs !== undefined) await this.enqueuer.timeout(wire.id, wire.composition.timeoutMs);
    return handle;
  }

  /** Whether a queue has jobs waiting or running (a provider's calls on the workers). */
  async queueBusy(name: string): Promise<boolean> {
    const c = await this.enqueuer.queue(name).getJobCounts('active', 'waiting', 'prioritized');
    return (c.active ?? 0) + (c.waiting ?? 0) + (c.prioritized ?? 0) > 0;
  }

  async refreshSlots(): Promise<{ running: number; queued: number }> {
    if (!this.closed) this.slots = await slotCounts(this.redis, this.prefix);
    return this.slots;
  }

  /** A handle on a run started anywhere (by another process, or by this one before it restarted); undefined when no such run is kept. */
  async attach(runId: string): Promise<WorkflowRun | undefined> {
    const spec = await this.store.spec(runId);
    if (!spec) return undefined;
    return this.handle(spec);
  }

  /** `queuedAt`: the run waits for a run slot since then (its `workflow.queued` event is on its way). */
  private handle(spec: RunSpec, queuedAt?: number): WorkflowRun {
    let w = this.watched.get(spec.id);
    if (!w) {
      let resolve!: (r: WorkflowResult) => void;
      const done = new Promise<WorkflowResult>((r) => (resolve = r));
      const mirror = new StatusMirror(spec, queuedAt ?? Date.now());
      if (queuedAt !== undefined) mirror.queued(queuedAt);
      const watched: Watched = { log: new EventLog<WorkflowEvent>(), mirror, done, resolve };
      w = watched;
      this.watched.set(spec.id, watched);
      this.pump.watch(spec.id, eventsKey(this.prefix, spec.id), (e) => this.onEvent(spec.id, watched, e));
      // A run that ended before its stream was read (or whose events expired) ends its handle at once.
      void this.store.read(spec.id).then((st) => {
        if (st && st.status !== 'running' && st.status !== 'pending' && watched.log.length === 0) void this.settle(spec.id, watched, st);
      });
    }
    const watched = w;
    const id = spec.id;
    return {
      id,
      done: watched.done,
      status: () => watched.mirror.snapshot(),
      cancel: (reason?: string) => void this.cancel(id, reason),
      [Symbol.asyncIterator]: () => watched.log.iterate(),
    };
  }

  private onEvent(runId: string, w: Watched, e: WorkflowEvent): void {
    w.log.push(e);
    w.mirror.apply(e);
    this.emit('progress', e);
    (this.emit as (name: string, e: WorkflowEvent) => boolean)(e.type, e);
    if (e.type === 'workflow.finished') void this.settle(runId, w);
  }

  private async settle(runId: string, w: Watched, known?: WorkflowStatus): Promise<void> {
    this.pump.unwatch(runId);
    const st = known ?? (await this.store.read(runId).catch(() => undefined)) ?? w.mirror.snapshot();
    w.log.close();
    this.watched.delete(runId);
    this.store.forget(runId);
    w.resolve(st as WorkflowResult);
  }

  async getStatus(runId: string): Promise<WorkflowStatus | undefined> {
    return this.store.read(runId);
  }

  /** From any process: no new step starts, running steps get the abort (on whichever worker), the run ends `cancelled`. False when no such run is running. */
  async cancel(runId: string, reason?: string): Promise<boolean> {
    const spec = await this.store.spec(runId);
    if (!spec) return false;
    const err: ErrorJSON = new PromptError('cancelled', reason ?? 'the run was cancelled', { composition: spec.composition.name }).toJSON();
    return this.store.stop(runId, 'cancelled', err);
  }

  async listRuns(limit?: number): Promise<RunSummary[]> {
    const ids = await this.store.runIds(limit);
    const out: RunSummary[] = [];
    for (const id of ids) {
      const s = await this.store.read(id);
      if (s) out.push({ id: s.id, composition: s.composition, status: s.status, startedAt: s.startedAt });
    }
    return out.sort((a, b) => a.startedAt - b.startedAt);
  }

  get activeRuns(): number {
    return this.watched.size;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pump.close();
    await this.enqueuer.close();
    await this.redis.quit().catch(() => undefined);
  }
}
