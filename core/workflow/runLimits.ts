/**
 * The limit on concurrent runs and its queue (`maxConcurrentRuns`, `maxQueuedRuns`): their
 * defaults, their checks and the refusal of a run past a full queue, written once for both back
 * ends (the in-process engine, engine.ts, and the BullMQ back end, where the limit holds for
 * every starting process on one Redis prefix: core/distributed/runSlots.ts).
 */
import { PromptError } from '../errors.js';

/** Runs that may wait for a slot when `maxConcurrentRuns` is set and `maxQueuedRuns` is not. */
export const DEFAULT_MAX_QUEUED_RUNS = 1000;

export interface RunLimits {
  /** Infinity: no limit. */
  maxConcurrentRuns: number;
  /** Infinity: no bound on the queue; 0: no queue. */
  maxQueuedRuns: number;
}

/** The limits in force for these options, checked (a TypeError names the wrong one). */
export function runLimits(options: { maxConcurrentRuns?: number | undefined; maxQueuedRuns?: number | undefined }): RunLimits {
  const maxConcurrentRuns = options.maxConcurrentRuns ?? Infinity;
  const maxQueuedRuns = options.maxQueuedRuns ?? DEFAULT_MAX_QUEUED_RUNS;
  if (!(maxConcurrentRuns === Infinity || (Number.isInteger(maxConcurrentRuns) && maxConcurrentRuns >= 1))) {
    throw new TypeError(`maxConcurrentRuns must be a whole number from 1 up, not ${options.maxConcurrentRuns}`);
  }
  if (!(maxQueuedRuns === Infinity || (Number.isInteger(maxQueuedRuns) && maxQueuedRuns >= 0))) {
    throw new TypeError(`maxQueuedRuns must be a whole number from 0 up, not ${options.maxQueuedRuns}`);
  }
  return { maxConcurrentRuns, maxQueuedRuns };
}

/** Why a run was not started: `running` runs hold the slots and `waiting` runs fill the queue. */
export function runQueueFull(composition: string, running: number, waiting: number, limits: RunLimits): PromptError {
  return new PromptError(
    'limit_exceeded',
    `composition "${composition}" was not started: ${running} runs are running (maxConcurrentRuns ${limits.maxConcurrentRuns}) and ${waiting} are waiting (maxQueuedRuns ${limits.maxQueuedRuns}); try again when a run has ended, or raise the limits`,
    { composition },
  );
}
