/**
 * Putting a distributed run's jobs on their BullMQ queues (the starter's start and timeout
 * jobs, the workers' step jobs), and what a run's creation in Redis needs from its spec.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { analyseGraph } from '../workflow/precheck.js';
import { controlJobOptions, priorityRanks, queueOfStep, startJobId, STEPS_QUEUE, stepJobOptions, timeoutJobId, type JobData } from './jobs.js';
import type { RunSpec } from './runStore.js';
import { timeoutError } from './stepErrors.js';
import { DEFAULT_HISTORY_TTL_MS } from './connection.js';
import type { BullmqModule } from './redisClient.js';

export function stopChannel(prefix: string): string {
  return `${prefix}:stop`;
}

export function specFromJSON(json: string): RunSpec {
  const spec = JSON.parse(json) as RunSpec;
  if (spec.composition.maxParallel === null) spec.composition.maxParallel = Infinity;
  return spec;
}

export function specToJSON(spec: RunSpec): string {
  return JSON.stringify(spec);
}

/** What the Lua `create` needs beside the spec: the graph as counts and lists, the run's first event, its timeout error. */
export function runInit(spec: RunSpec, prefix: string, historyTtlMs = DEFAULT_HISTORY_TTL_MS) {
  const c = spec.composition;
  const { graph } = analyseGraph(c);
  const started = JSON.stringify({ type: 'workflow.started', steps: c.steps.map((s) => s.id), maxParallel: spec.maxParallel ?? null });
  return {
    dependents: graph.dependents.map((d) => [...d]),
    depCounts: graph.deps.map((d) => d.length),
    timeoutError: JSON.stringify(timeoutError(c.name, c.timeoutMs ?? 0)),
    ttlMs: historyTtlMs,
    channel: stopChannel(prefix),
    // The script adds the time, run id and composition in front.
    startedEvent: started.slice(1, -1),
  };
}

export class Enqueuer {
  private readonly queues = new Map<string, Queue>();
  private readonly ranks = new Map<string, number[]>();

  constructor(
    private readonly bull: BullmqModule,
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new this.bull.Queue(name, { connection: this.redis, prefix: this.prefix });
      q.on('error', () => undefined);
      this.queues.set(name, q);
    }
    return q;
  }

  private rankOf(spec: RunSpec): number[] {
    let r = this.ranks.get(spec.id);
    if (!r) {
      r = priorityRanks(spec.priority);
      if (this.ranks.size > 256) this.ranks.delete(this.ranks.keys().next().value!);
      this.ranks.set(spec.id, r);
    }
    return r;
  }

  /** The jobs of these steps, on their queues; a step whose job exists keeps it (BullMQ ignores a known id). */
  async steps(spec: RunSpec, steps: readonly number[]): Promise<void> {
    const rank = this.rankOf(spec);
    const byQueue = new Map<string, { name: string; data: JobData; opts: ReturnType<typeof stepJobOptions> }[]>();
    for (const i of steps) {
      const q = queueOfStep(spec.composition.steps[i]!);
      let list = byQueue.get(q);
      if (!list) byQueue.set(q, (list = []));
      list.push({ name: 'step', data: { kind: 'step', run: spec.id, step: i }, opts: stepJobOptions(spec.id, i, rank[i] ?? 1) });
    }
    // One job is added alone: a pipeline (addBulk) costs more to build than the add it sends (ioredis copies every script BullMQ defined onto each).
    await Promise.all([...byQueue].map(([q, jobs]) => (jobs.length === 1 ? this.queue(q).add(jobs[0]!.name, jobs[0]!.data, jobs[0]!.opts) : this.queue(q).addBulk(jobs))));
  }

  /** The job of a step whose first `base` attempts ran eagerly, its next attempt due in `delayMs`. */
  async retry(spec: RunSpec, step: number, base: number, delayMs: number): Promise<void> {
    const data: JobData = { kind: 'step', run: spec.id, step, base };
    const opts = { ...stepJobOptions(spec.id, step, this.rankOf(spec)[step] ?? 1), delay: Math.max(1, Math.ceil(delayMs)) };
    await this.queue(queueOfStep(spec.composition.steps[step]!)).add('step', data, opts);
  }

  /** The run's start job; `slotted` (a run under `maxConcurrentRuns`, runSlots.ts), held back `delayMs` until its run is created. */
  async start(spec: RunSpec, slotted?: { delayMs: number }): Promise<void> {
    const data: JobData = { kind: 'start', run: spec.id, spec: specToJSON(spec) };
    if (slotted) data.slotted = true;
    await this.queue(STEPS_QUEUE).add('start', data, controlJobOptions(startJobId(spec.id), slotted?.delayMs));
  }

  /** Sends a held-back start job to the workers now; a job not held back (being processed, or gone) looks at its run itself. */
  async promoteStart(runId: string): Promise<void> {
    const job = await this.queue(STEPS_QUEUE).getJob(startJobId(runId));
    await job?.promote().catch(() => undefined);
  }

  /** Removes a run's start job unless a worker holds it (a refused run's, or a lingering one before its id is used again). */
  async dropStart(runId: string): Promise<void> {
    await this.queue(STEPS_QUEUE).remove(startJobId(runId)).catch(() => 0);
  }

  async timeout(runId: string, ms: number): Promise<void> {
    const data: JobData = { kind: 'timeout', run: runId };
    await this.queue(STEPS_QUEUE).add('timeout', data, controlJobOptions(timeoutJobId(runId), ms));
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => undefined)));
    this.queues.clear();
  }
}
