/**
 * Time as the engine sees it. Injected so that tests run retries, timeouts and percentiles on
 * a fake clock without sleeping.
 */
export interface Clock {
  /** Milliseconds, monotonic within a process: what durations are measured with. */
  now(): number;
  /**
   * Wall-clock milliseconds since the epoch, for timestamps people and logs read (a run's
   * `startedAt`). Default `Date.now()`. Read once per run: later timestamps add `now()`
   * differences to it, so they never go backwards when the system clock is set.
   */
  wallNow?(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // A pending retry or watcher debounce must never keep a finished process alive.
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** A manual clock for tests: time moves only when `advance` is called. */
export class FakeClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();

  /** `wallStart`: the wall-clock time (epoch milliseconds) at fake time 0; default 0. */
  constructor(private readonly wallStart = 0) {}

  now(): number {
    return this.t;
  }
  wallNow(): number {
    return this.wallStart + this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  /** Number of timers waiting. */
  get pending(): number {
    return this.timers.size;
  }
  /** Moves time forward, firing due timers in order; awaits microtasks between them. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flushMicrotasks();
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
    await flushMicrotasks();
  }
  /** Fires everything pending, however far ahead. */
  async runAll(limit = 100_000): Promise<void> {
    for (let i = 0; i < limit && this.timers.size; i++) {
      const at = Math.min(...[...this.timers.values()].map((x) => x.at));
      await this.advance(at - this.t);
    }
  }
}

export async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}
