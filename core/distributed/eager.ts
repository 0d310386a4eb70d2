/**
 * Eager dispatch (as Temporal's eager activity execution): when a job's step finishes and makes
 * a render-only step of the same run ready, the worker runs that step at once, in the same job,
 * instead of putting it on the queue for some worker to take. The step's state in Redis is the
 * same either way (dispatched, claimed, finished by the same Lua; the claim rides on the call
 * that finished the step before); what is saved is the four trips through BullMQ (add, wake,
 * take, finish). The job's lock covers the steps it runs: a worker that dies meanwhile leaves the
 * job stalled, and the worker that takes it up finds its step finished and re-enqueues what
 * holds a slot (`resume`), as for any dead worker. A provider step is never run eagerly (its
 * queue is where its limits hold), and a job runs at most `eagerSteps` in a row before the next
 * one goes to the queue to take its turn with other runs.
 */
import type { Claim } from './runStore.js';

export const DEFAULT_EAGER_STEPS = 16;

/** What is left of a job's eager steps, and the next one to run (the job runs them one after another, never nested). */
export interface EagerBudget {
  left: number;
  next?: { step: number; claim?: Claim };
}
