/**
 * When a changed prompt workspace is validated for its diagnostics: the debounce policy, and
 * the timers that apply it per workspace.
 *
 * A burst of keystrokes is checked once per pause, after half the last validation's time
 * (between 10 and 50 ms): typing in a big file spends at most about two thirds of the time
 * validating, well under the 100 ms the contract allows. The first change after a pause (longer
 * than a debounce and a validation) is validated at once: waiting would coalesce nothing, and
 * the user sees the result that much sooner. A fixed debounce (initializationOptions.debounceMs,
 * or the server's option in tests) replaces all of this.
 */

/** The longest debounce the contract allows, and the most a client may ask for. */
export const MAX_DEBOUNCE_MS = 100;
const MIN_ADAPTIVE_MS = 10;
const MAX_ADAPTIVE_MS = 50;

/** The debounce of a burst: half the workspace's last validation time, between 10 and 50 ms. */
export function adaptiveDelay(lastDurationMs: number): number {
  return Math.round(Math.min(MAX_ADAPTIVE_MS, Math.max(MIN_ADAPTIVE_MS, lastDurationMs / 2)));
}

export interface DebounceInput {
  /** When this change happened (ms, any monotonic clock). */
  now: number;
  /** When the workspace last changed before it, if it ever did. */
  previousChangeAt: number | undefined;
  /** Whether a validation of the workspace is already scheduled (the change is part of a burst). */
  pending: boolean;
  /** How long the workspace's last validation took. */
  lastDurationMs: number;
  /** A fixed debounce, when one is set. */
  fixedMs: number | undefined;
}

/** How long to wait before validating after this change. */
export function debounceDelay(i: DebounceInput): number {
  if (i.fixedMs !== undefined) return i.fixedMs;
  const delay = adaptiveDelay(i.lastDurationMs);
  const afterPause = !i.pending && (i.previousChangeAt === undefined || i.now - i.previousChangeAt > delay + i.lastDurationMs);
  return afterPause ? 0 : delay;
}

/** A debounce asked for in initializationOptions, held to 0..100 ms. */
export function clampDebounceMs(ms: number): number {
  return Math.min(MAX_DEBOUNCE_MS, Math.max(0, ms));
}

/** The clock and timers the scheduler uses (the real ones but in tests). */
export interface DebounceTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: DebounceTimers = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** One pending validation per key (a workspace root), rescheduled by each change. */
export class DebouncedValidations<K> {
  /** A fixed debounce in ms; undefined for the adaptive policy. */
  fixedMs: number | undefined;
  private readonly timers = new Map<K, unknown>();
  /** When each key last changed, to tell a pause from a burst. */
  private readonly lastChangeAt = new Map<K, number>();

  constructor(
    fixedMs: number | undefined,
    private readonly clock: DebounceTimers = realTimers,
  ) {
    this.fixedMs = fixedMs;
  }

  /** Schedules `run` after the policy's delay, replacing a pending one; returns the delay. */
  schedule(key: K, lastDurationMs: number, run: () => void): number {
    const old = this.timers.get(key);
    if (old !== undefined) this.clock.clearTimeout(old);
    const now = this.clock.now();
    const previousChangeAt = this.lastChangeAt.get(key);
    this.lastChangeAt.set(key, now);
    const delay = debounceDelay({ now, previousChangeAt, pending: old !== undefined, lastDurationMs, fixedMs: this.fixedMs });
    this.timers.set(
      key,
      this.clock.setTimeout(() => {
        this.timers.delete(key);
        run();
      }, delay),
    );
    return delay;
  }

  /** Drops the key's pending validation (it is being validated now, or is gone). */
  cancel(key: K): void {
    const t = this.timers.get(key);
    if (t === undefined) return;
    this.clock.clearTimeout(t);
    this.timers.delete(key);
  }

  cancelAll(): void {
    for (const t of this.timers.values()) this.clock.clearTimeout(t);
    this.timers.clear();
  }

  isPending(key: K): boolean {
    return this.timers.has(key);
  }
}
