/**
 * The admission scheduler: one per workflow engine, so one per manager, for the provider calls
 * of every run. A call to a provider waits here until the provider's limits admit it:
 *
 * - `max_concurrency`: a slot among the calls in flight;
 * - `requests_per_minute` R: calls are spaced 60/R seconds apart, never in a burst, and no
 *   minute ever holds more than R as the provider counts them (core/workflow/requestPacer.ts);
 * - `tokens_per_minute` K: a call goes when the tokens of the calls before it have been paid
 *   for at K a minute; its own (estimated, core/workflow/tokens.ts) are then charged, and
 *   corrected when the answer reports its usage. A call larger than a minute's worth still
 *   goes, after its share of time.
 *
 * Fairness: the calls waiting on a provider are grouped by run, and the runs are served in
 * turn (round-robin, one call each), so a run with 100 ready calls cannot starve a run with
 * one; within a run the call with the longest remaining path (the run's critical path, from
 * core/workflow/dag.ts) goes first, then the earliest.
 *
 * A 429 answer slows the whole provider: no call to it is admitted, from any run, until its
 * `Retry-After` has passed (at most `maxRetryAfterMs`). Under limits, a 429 without
 * `Retry-After` pauses the provider too, 1 s doubling with each 429 in a row up to 30 s, and
 * the refused call goes back first (`first`); the rule about the step's attempts is the
 * runner's (`rateLimitRequeue` below, README "Provider limits and alerts").
 *
 * A provider without limits admits at once, except while paused. Waiting is on the engine's
 * clock (a test's fake clock drives it); a waiting call leaves the queue the moment its run
 * stops (`cancel`).
 */
import type { Clock } from '../clock.js';
import type { PromptError } from '../errors.js';
import { LIMITS } from '../limits.js';
import type { ProviderDef } from '../model/types.js';
import type { WorkflowMetrics } from './metrics.js';
import { Heap } from './priorityQueue.js';
import { RequestPacer } from './requestPacer.js';

/** A limited provider's pause after a 429 without `Retry-After`: this, doubling with each 429 in a row... */
export const RATE_LIMIT_PAUSE_MS = 1000;
/** ...up to this. */
export const MAX_RATE_LIMIT_PAUSE_MS = 30_000;
/** 429s answered to one attempt of a step that go back to the queue without using an attempt; the next one counts as the attempt's failure. */
export const MAX_RATE_LIMIT_REQUEUES = 5;

/** True when the provider sets any of `max_concurrency`, `requests_per_minute`, `tokens_per_minute`. */
export function hasLimits(p: Pick<ProviderDef, 'maxConcurrency' | 'requestsPerMinute' | 'tokensPerMinute'>): boolean {
  return p.maxConcurrency !== undefined || p.requestsPerMinute !== undefined || p.tokensPerMinute !== undefined;
}

export interface AdmissionRequest {
  /** Its name keys the queue; its limits, as of this call, apply (a reload's new limits apply from its next call). */
  provider: ProviderDef;
  /** The run the call belongs to: the unit of fairness. */
  run: string;
  /** Larger goes first within the run (the step's remaining path). */
  priority: number;
  /** Tokens charged against `tokens_per_minute` (an estimate until `reportTokens`). */
  tokens: number;
  /** A call the provider refused with 429: it goes before every other call waiting on the provider. */
  first?: boolean;
}

export interface Admission {
  /** Milliseconds the call waited for admission. */
  readonly waitedMs: number;
  /** The tokens the answer says the call used: the token budget is corrected from the estimate. */
  reportTokens(total: number): void;
  /**
   * The call has ended: frees its slot. `ok` when it succeeded (a run of 429s is over);
   * `rateLimited` when the provider answered 429 (pauses the provider). Once; later calls do nothing.
   */
  release(outcome?: { ok?: boolean; rateLimited?: { retryAfterMs?: number } }): void;
}

export interface AdmissionTicket {
  /** Resolves when the call may go; rejects with the reason given to `cancel`. */
  readonly admitted: Promise<Admission>;
  /** Leaves the queue at once (its run stopped). Nothing once admitted: release the admission instead. */
  cancel(reason: PromptError): void;
}

/** What a provider's queue holds now, for metrics. */
export interface AdmissionGauges {
  /** Calls waiting for admission. */
  queued: number;
  /** Calls admitted and not yet ended. */
  inFlight: number;
  /** Milliseconds left of a pause after a 429; 0 when not paused. */
  pausedMs: number;
}

interface Waiter {
  seq: number;
  req: AdmissionRequest;
  enqueuedAt: number;
  state: 'waiting' | 'admitted' | 'cancelled';
  resolve: (a: Admission) => void;
  reject: (e: PromptError) => void;
  runQueue?: RunQueue;
}

interface RunQueue {
  key: string;
  heap: Heap<Waiter>;
  /** Waiters of this run still waiting (the heap may also hold cancelled ones, dropped when they reach the top). */
  live: number;
}

const beforeInRun = (a: Waiter, b: Waiter) => a.req.priority > b.req.priority || (a.req.priority === b.req.priority && a.seq < b.seq);

/** One provider's queue, slots and pacers. */
class Lane {
  maxConcurrency?: number;
  /** `requests_per_minute`, when set. */
  requests?: RequestPacer;
  /** Milliseconds a token costs (60,000 / tokens_per_minute). */
  tokenInterval?: number;
  limited = false;
  inFlight = 0;
  queued = 0;
  /** When the tokens charged so far are paid for. */
  nextTokenAt = -Infinity;
  pausedUntil = -Infinity;
  consecutive429 = 0;
  /** Calls refused with 429, served before the round-robin. */
  readonly first: Waiter[] = [];
  readonly runs = new Map<string, RunQueue>();
  /** Runs with waiters, in turn; `ring[ringHead]` is served next. */
  ring: RunQueue[] = [];
  ringHead = 0;
  timer: unknown;
  timerAt = Infinity;

  constructor(readonly name: string) {}

  setLimits(p: ProviderDef): void {
    this.maxConcurrency = p.maxConcurrency;
    // A reload that keeps the rate keeps the pacer (and its log of the last minute).
    if (p.requestsPerMinute === undefined) this.requests = undefined;
    else if (this.requests?.perMinute !== p.requestsPerMinute) this.requests = new RequestPacer(p.requestsPerMinute);
    this.tokenInterval = p.tokensPerMinute !== undefined ? 60_000 / p.tokensPerMinute : undefined;
    this.limited = hasLimits(p);
  }

  enqueue(w: Waiter): void {
    this.queued++;
    if (w.req.first) {
      this.first.push(w);
      return;
    }
    let rq = this.runs.get(w.req.run);
    if (!rq) {
      rq = { key: w.req.run, heap: new Heap(beforeInRun), live: 0 };
      this.runs.set(rq.key, rq);
      this.ring.push(rq);
    }
    rq.live++;
    rq.heap.push(w);
    w.runQueue = rq;
  }

  /** The call served next, without taking it. */
  peek(): Waiter | undefined {
    while (this.first.length && this.first[0]!.state !== 'waiting') this.first.shift();
    if (this.first.length) return this.first[0];
    while (this.ringHead < this.ring.length) {
      const rq = this.ring[this.ringHead]!;
      while (rq.heap.size && rq.heap.peek()!.state !== 'waiting') rq.heap.pop();
      if (rq.heap.size) return rq.heap.peek();
      this.dropRun(rq);
      this.ringHead++;
    }
    this.ring = [];
    this.ringHead = 0;
    return undefined;
  }

  /** Takes `w`, the call `peek` returned, and moves its run to the back of the turn. */
  take(w: Waiter): void {
    this.queued--;
    if (this.first[0] === w) {
      this.first.shift();
      return;
    }
    const rq = this.ring[this.ringHead++]!;
    rq.heap.pop();
    rq.live--;
    if (rq.live > 0) this.ring.push(rq);
    else this.dropRun(rq);
    // The served part of the ring is garbage: drop it once it is most of the array.
    if (this.ringHead > 64 && this.ringHead * 2 > this.ring.length) {
      this.ring = this.ring.slice(this.ringHead);
      this.ringHead = 0;
    }
  }

  cancel(w: Waiter): void {
    this.queued--;
    if (w.runQueue) w.runQueue.live--;
  }

  private dropRun(rq: RunQueue): void {
    if (this.runs.get(rq.key) === rq && rq.live === 0) this.runs.delete(rq.key);
  }
}

export class AdmissionScheduler {
  private readonly lanes = new Map<string, Lane>();
  private seq = 0;

  constructor(
    private readonly clock: Clock,
    private readonly metrics?: WorkflowMetrics,
  ) {}

  /** Queues a call; it is admitted at once when its provider's limits allow. */
  admit(req: AdmissionRequest): AdmissionTicket {
    const lane = this.lane(req.provider);
    let w!: Waiter;
    const admitted = new Promise<Admission>((resolve, reject) => {
      w = { seq: ++this.seq, req, enqueuedAt: this.clock.now(), state: 'waiting', resolve, reject };
    });
    lane.enqueue(w);
    this.pump(lane);
    return {
      admitted,
      cancel: (reason) => {
        if (w.state !== 'waiting') return;
        w.state = 'cancelled';
        lane.cancel(w);
        w.reject(reason);
        // The next call may be due now (the cancelled one was at the head, waiting for tokens).
        this.pump(lane);
      },
    };
  }

  /** When the provider's pause after a 429 ends (clock time); -Infinity when it is not paused. */
  pausedUntil(provider: string): number {
    return this.lanes.get(provider)?.pausedUntil ?? -Infinity;
  }

  /** Queued and in-flight calls and pauses, by provider. */
  gauges(): Map<string, AdmissionGauges> {
    const now = this.clock.now();
    const out = new Map<string, AdmissionGauges>();
    for (const [name, l] of this.lanes) out.set(name, { queued: l.queued, inFlight: l.inFlight, pausedMs: Math.max(0, l.pausedUntil - now) });
    return out;
  }

  private lane(p: ProviderDef): Lane {
    let lane = this.lanes.get(p.name);
    if (!lane) this.lanes.set(p.name, (lane = new Lane(p.name)));
    lane.setLimits(p);
    return lane;
  }

  /** Admits every call that may go now; arms a timer for the first that may go later. */
  private pump(lane: Lane): void {
    for (;;) {
      const w = lane.peek();
      if (!w) return this.disarm(lane);
      // A slot frees only on release, which pumps again.
      if (lane.maxConcurrency !== undefined && lane.inFlight >= lane.maxConcurrency) return this.disarm(lane);
      const now = this.clock.now();
      let at = lane.pausedUntil;
      if (lane.requests) at = Math.max(at, lane.requests.readyAt());
      if (lane.tokenInterval !== undefined && lane.nextTokenAt > at) at = lane.nextTokenAt;
      if (at > now) return this.arm(lane, at, now);
      lane.take(w);
      this.grant(lane, w, now);
    }
  }

  private grant(lane: Lane, w: Waiter, now: number): void {
    w.state = 'admitted';
    lane.inFlight++;
    const pacer = lane.requests;
    const paced = pacer?.take(now);
    let charged = w.req.tokens;
    if (lane.tokenInterval !== undefined) lane.nextTokenAt = Math.max(lane.nextTokenAt, now) + charged * lane.tokenInterval;
    const waitedMs = now - w.enqueuedAt;
    this.metrics?.recordAdmission(lane.name, waitedMs);
    let reported: number | undefined;
    let released = false;
    w.resolve({
      waitedMs,
      reportTokens: (total) => {
        if (!(typeof total === 'number' && Number.isFinite(total) && total >= 0)) return;
        const before = charged;
        // Calls already admitted keep their time; the calls after them move by the difference.
        if (lane.tokenInterval !== undefined) lane.nextTokenAt += (total - before) * lane.tokenInterval;
        charged = total;
        if (!released) reported = total;
        if (total < before) this.pump(lane);
      },
      release: (outcome) => {
        if (released) return;
        released = true;
        lane.inFlight--;
        // The provider counted the call by now: the minute's log may let the next one go sooner.
        if (lane.requests === pacer) pacer?.ended(paced, this.clock.now());
        this.metrics?.recordTokens(lane.name, reported ?? w.req.tokens, reported !== undefined ? 'reported' : 'estimated');
        const limited = outcome?.rateLimited;
        if (limited) this.pause(lane, limited.retryAfterMs);
        else if (outcome?.ok) lane.consecutive429 = 0;
        this.pump(lane);
      },
    });
  }

  /** A 429: no call to this provider is admitted until `Retry-After` (or, under limits, a growing pause) has passed. */
  private pause(lane: Lane, retryAfterMs: number | undefined): void {
    lane.consecutive429++;
    let ms: number;
    if (typeof retryAfterMs === 'number' && retryAfterMs >= 0) ms = retryAfterMs;
    else if (lane.limited) ms = Math.min(MAX_RATE_LIMIT_PAUSE_MS, RATE_LIMIT_PAUSE_MS * 2 ** Math.min(lane.consecutive429 - 1, 16));
    else return;
    ms = Math.min(ms, LIMITS.maxRetryAfterMs);
    lane.pausedUntil = Math.max(lane.pausedUntil, this.clock.now() + ms);
    this.metrics?.recordPause(lane.name);
  }

  private arm(lane: Lane, at: number, now: number): void {
    if (lane.timer !== undefined && lane.timerAt <= at) return;
    this.disarm(lane);
    lane.timerAt = at;
    lane.timer = this.clock.setTimeout(() => {
      lane.timer = undefined;
      lane.timerAt = Infinity;
      this.pump(lane);
    }, at - now);
    // systemClock unrefs its timers; a call waiting for admission is work in progress, and a
    // CLI awaiting its run must not exit in the middle.
    (lane.timer as { ref?: () => void } | null)?.ref?.();
  }

  private disarm(lane: Lane): void {
    if (lane.timer === undefined) return;
    this.clock.clearTimeout(lane.timer);
    lane.timer = undefined;
    lane.timerAt = Infinity;
  }
}
