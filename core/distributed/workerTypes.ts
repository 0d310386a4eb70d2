/**
 * What a worker of the distributed back end is given: the options of its BullMQ workers, the
 * configuration of a pinned run as it serves it, and its defaults. Types and constants only
 * (no BullMQ or ioredis types), for the library's public declarations.
 */
import type { ProviderDef } from '../model/types.js';
import type { ExecutorRegistry } from '../workflow/executors.js';
import type { WorkflowMetrics } from '../workflow/metrics.js';
import type { WorkflowHost } from '../workflow/types.js';
import type { RedisConnectionOptions } from './connection.js';

/** Defaults for how a dead worker's job is found: see the README's "Scaling out". */
export const DEFAULT_LOCK_DURATION_MS = 30_000;
export const DEFAULT_STALLED_INTERVAL_MS = 15_000;
/** A job whose worker died this many times is given up (its step fails, saying so). */
export const MAX_STALLED_COUNT = 3;

/** The configuration a run pinned, as this worker can serve it. */
export interface PinnedConfig {
  host: WorkflowHost;
  providers: ReadonlyMap<string, ProviderDef>;
  /**
   * The step ids a template reads as `steps.<id>` (its partials included), or `all` when it
   * reads `steps` as a whole (`{{#each steps}}`); undefined when this configuration cannot say.
   */
  stepReads?(template: string): ReadonlySet<string> | 'all';
}

/** How a step job ended on this worker: done, a step already finished (a repeated job), its run over, its provider busy, its call refused with 429 and sent back. */
export type StepOutcome = 'done' | 'duplicate' | 'ended' | 'busy' | 'requeued';

export interface StepWorkerOptions {
  connection: RedisConnectionOptions;
  prefix?: string;
  /** Jobs this process runs at once, per queue. Default 4. */
  concurrency?: number;
  resolvePin(pin: string): PinnedConfig | undefined;
  describeServed(): string;
  /** The providers this worker serves (their queues are worked and their limits set). */
  providers(): Iterable<ProviderDef>;
  executors: ExecutorRegistry;
  env?: (name: string) => string | undefined;
  metrics?: WorkflowMetrics;
  /** How long a job's lock lasts without renewal (renewed every half of it): a dead worker's job is free after at most this plus `stalledIntervalMs`. */
  lockDurationMs?: number;
  /** How often workers look for jobs whose worker died. */
  stalledIntervalMs?: number;
  historyTtlMs?: number;
  /** Render-only steps a job may run itself when its step made them ready, before the next goes to the queue (eager dispatch). Default 16; 0: none. */
  eagerSteps?: number;
  /** Each job this worker finished, by outcome, and each step it ran eagerly (`eager`: true) (tests and benchmarks count them). */
  onJob?(kind: 'step' | 'start' | 'timeout', outcome: StepOutcome | 'retry', job: { runId: string; step?: number; eager?: true }): void;
}
