/**
 * Virtual time for offline prompt tests: a mock's `delay_ms`, a 429's `Retry-After`, retry
 * backoffs and timeouts take no real time. Time jumps to the next timer as soon as the process
 * has nothing else to do (every promise settled: a few event-loop turns with nothing new), so
 * timers still fire in order and a test still sees what its waits would have done, only at
 * once. Offline tests do no real I/O while they run (mocks answer in memory, snapshots are read
 * synchronously), so "nothing else to do" means every run is waiting on a timer.
 *
 * Every running test holds a timer (its `timeout_ms`), so a run that waits on nothing (a mock
 * that hangs, with no timeout of its own) still ends: at its test's timeout.
 */
import type { Clock } from '../clock.js';

/** Event-loop turns with nothing new before time jumps. */
const IDLE_TURNS = 3;

export class VirtualClock implements Clock {
  private t = 0;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  private pendingCheck = false;
  /** Changes whenever a timer is set or fired: an idle check that sees it move starts over. */
  private activity = 0;

  constructor(private readonly wallStart = Date.now()) {}

  now(): number {
    return this.t;
  }

  wallNow(): number {
    return this.wallStart + this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + (Number.isFinite(ms) ? Math.max(0, ms) : Number.MAX_SAFE_INTEGER), fn });
    this.activity++;
    this.scheduleCheck();
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Timers waiting. */
  get pending(): number {
    return this.timers.size;
  }

  private scheduleCheck(): void {
    if (this.pendingCheck) return;
    this.pendingCheck = true;
    this.idle(IDLE_TURNS, this.activity);
  }

  private idle(turns: number, seen: number): void {
    setImmediate(() => {
      if (seen !== this.activity) return this.idle(IDLE_TURNS, this.activity);
      if (turns > 1) return this.idle(turns - 1, seen);
      this.pendingCheck = false;
      this.fireNext();
    });
  }

  private fireNext(): void {
    let next: [number, { at: number; fn: () => void }] | undefined;
    for (const e of this.timers) if (!next || e[1].at < next[1].at) next = e;
    if (!next) return;
    this.timers.delete(next[0]);
    this.t = Math.max(this.t, next[1].at);
    this.activity++;
    try {
      next[1].fn();
    } finally {
      if (this.timers.size) this.scheduleCheck();
    }
  }
}
