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

/**
 * The longest delay Node's timers take (2^31-1 ms, about 24.8 days). A longer one, or a value
 * that is not a number, fires after 1 ms with a TimeoutOverflowWarning: a 30-day run timeout
 * ended the run at once. `systemClock` chains timers past it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The timer functions a chained timer is built on (Node's, or a test's). */
export interface TimerPrimitives {
  now(): number;
  set(fn: () => void, ms: number): NodeJS.Timeout;
  clear(t: NodeJS.Timeout): void;
}

const nodeTimers: TimerPrimitives = {
  now: () => performance.now(),
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (t) => clearTimeout(t),
};

/**
 * A timer of any length: waits of at most MAX_TIMER_MS at a time until the due time, read on
 * the monotonic clock, has come. `Infinity` never fires. Unref'd unless `ref()` is called,
 * like systemClock's other timers.
 */
export class ChainedTimer {
  private timer?: NodeJS.Timeout;
  private refed = false;
  private readonly due: number;

  constructor(
    private readonly fn: () => void,
    ms: number,
    private readonly timers: TimerPrimitives = nodeTimers,
  ) {
    this.due = timers.now() + (Number.isNaN(ms) ? 0 : Math.max(0, ms));
    this.arm();
  }

  private arm(): void {
    const left = this.due - this.timers.now();
    if (left === Infinity) return;
    if (left <= 0 && this.timer !== undefined) {
      this.timer = undefined;
      this.fn();
      return;
    }
    this.timer = this.timers.set(() => this.arm(), Math.min(Math.max(left, 0), MAX_TIMER_MS));
    if (!this.refed) this.timer.unref?.();
  }

  clear(): void {
    if (this.timer !== undefined) this.timers.clear(this.timer);
    this.timer = undefined;
  }

  ref(): this {
    this.refed = true;
    this.timer?.ref?.();
    return this;
  }

  unref(): this {
    this.refed = false;
    this.timer?.unref?.();
    return this;
  }
}

export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimeout: (fn, ms) => {
    // Past Node's limit (or not a number) a timer would fire at once: chain it instead.
    if (!(ms <= MAX_TIMER_MS)) return new ChainedTimer(fn, ms);
    const t = setTimeout(fn, ms);
    // A pending retry or watcher debounce must never keep a finished process alive.
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => {
    if (h instanceof ChainedTimer) h.clear();
    else clearTimeout(h as NodeJS.Timeout);
  },
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
