/**
 * The BullMQ jobs of a distributed run: which queue a step goes to (one per provider, so that
 * BullMQ's global rate limit and concurrency of a queue are the provider's limits across every
 * worker; render-only steps and the run's own jobs on `steps`), their deterministic ids (adding
 * a job that exists is a no-op in BullMQ, which makes every enqueue safe to repeat), and the
 * options that map a step's retry policy onto BullMQ's retries.
 */
import type { JobsOptions } from 'bullmq';
import { MAX_ATTEMPTS } from '../workflow/bounds.js';
import type { ResolvedStep } from '../workflow/types.js';

export const STEPS_QUEUE = 'steps';
/** BullMQ's backoff type whose delay the worker's backoffStrategy reads from the failed attempt. */
export const BACKOFF_TYPE = 'promptmanager';

export function providerQueue(provider: string): string {
  return `provider.${provider}`;
}

/** The queue of a step: its provider's, or `steps` for a render-only step. */
export function queueOfStep(step: ResolvedStep): string {
  return step.model === undefined ? STEPS_QUEUE : providerQueue(step.model);
}

/** BullMQ refuses `:` in a custom id and an id that is an integer: both can never happen here. */
function idPart(runId: string): string {
  return `r${encodeURIComponent(runId).replace(/\./g, '%2E')}`;
}

export function stepJobId(runId: string, step: number): string {
  return `${idPart(runId)}.s${step}`;
}
export function startJobId(runId: string): string {
  return `${idPart(runId)}.start`;
}
export function timeoutJobId(runId: string): string {
  return `${idPart(runId)}.timeout`;
}

/**
 * `requeued`: [attempt, times] a 429 sent this attempt back to the provider's queue without using it.
 * `base`: attempts made before the job existed (a step run eagerly whose retry became this job).
 * `slotted`: a run under `maxConcurrentRuns`, which its starter creates; its start job begins it once it holds a slot (runSlots.ts).
 * `since`: when a provider step's call began waiting for its provider, when that is not when its
 * job was added (it was sent back after a 429, or its retry's backoff ended then); the fleet's
 * metrics measure the wait from it (fleetMetrics.ts).
 */
export type JobData = { kind: 'step'; run: string; step: number; requeued?: [number, number]; base?: number; since?: number } | { kind: 'start'; run: string; spec: string; slotted?: true } | { kind: 'timeout'; run: string };

/** BullMQ's priority: 1 is first. Within a run, the step on the longest remaining path; across runs, rank for rank (fair). */
export function priorityRanks(priority: readonly number[]): number[] {
  const order = priority.map((p, i) => [p, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const rank = new Array<number>(priority.length);
  order.forEach(([, i], r) => (rank[i] = Math.min(r + 1, 2 ** 21 - 1)));
  return rank;
}

/**
 * A step job: retried by BullMQ (each attempt a job run, possibly on another worker, the wait
 * spent in BullMQ's delayed set rather than holding a worker), with the wait our retry policy
 * computed (min(initial * coefficient^(n-1), max), Retry-After, the run's deadline): the worker
 * decides whether and how long, BullMQ does the waiting. Finished jobs are removed: the run's
 * state in Redis is the record.
 */
export function stepJobOptions(runId: string, step: number, rank: number): JobsOptions {
  return {
    jobId: stepJobId(runId, step),
    attempts: MAX_ATTEMPTS + 1,
    backoff: { type: BACKOFF_TYPE },
    priority: rank,
    removeOnComplete: true,
    removeOnFail: true,
  };
}

export function controlJobOptions(jobId: string, delayMs = 0): JobsOptions {
  return { jobId, removeOnComplete: true, removeOnFail: true, attempts: 25, backoff: { type: 'exponential', delay: 500 }, ...(delayMs > 0 ? { delay: Math.ceil(delayMs) } : {}) };
}
