/**
 * The pacer of a provider's `requests_per_minute` R: when its next call may go.
 *
 * Calls go on a grid of slots 60/R seconds apart (GCRA), the first one a slot after the call
 * that opened it. A timer fires late on a busy machine, and a grid restarted at every late call
 * would carry each delay forward (at load 10 on two cores, 3 to 5% of the rate lost); so while
 * calls keep coming (a call at most one interval after its slot) the grid stays, and the call
 * after a late one catches up, but never closer than half an interval (30/R seconds) to it. A
 * call after a longer pause starts a new grid.
 *
 * What a provider counts per minute is held by a log of the last R calls: a call goes only when
 * the R-th call before it was counted by the provider a minute ago. The provider counted that
 * call when it arrived, which is no later than its answer, and (we take it) no later than
 * SEND_MARGIN_MS after it was admitted: a first request that opens connections, or a stalled
 * event loop, can take hundreds of milliseconds to reach the provider, and a log of admission
 * times alone then lets a 429 through. So a call's time in the log is the earlier of its answer
 * and its admission plus the margin. The rate lost is at most the margin a minute (for quick
 * answers, their latency a minute). Above 100,000 a minute the log is not kept.
 */

/** Largest `requests_per_minute` whose calls are logged (24 bytes a call). */
export const MAX_LOGGED_REQUESTS_PER_MINUTE = 100_000;
/** How late after its admission a call may reach the provider, at most, as the log counts it. */
export const SEND_MARGIN_MS = 1000;

const MINUTE_MS = 60_000;

/** A call's place in the log, to record its end. */
export interface PacedCall {
  slot: number;
  seq: number;
}

export class RequestPacer {
  /** Milliseconds between two calls on the grid. */
  readonly interval: number;
  /** The grid's next slot (GCRA's theoretical arrival time). */
  private next = -Infinity;
  /** The last R calls: admission times, answer times (NaN while in flight), and which call each slot holds. */
  private readonly starts?: Float64Array;
  private readonly ends?: Float64Array;
  private readonly seqs?: Float64Array;
  /** The oldest call once the log is full; the next slot written. */
  private head = 0;
  private count = 0;
  private seq = 0;

  constructor(readonly perMinute: number) {
    this.interval = MINUTE_MS / perMinute;
    const size = Math.floor(perMinute);
    if (size >= 1 && size <= MAX_LOGGED_REQUESTS_PER_MINUTE) {
      this.starts = new Float64Array(size);
      this.ends = new Float64Array(size);
      this.seqs = new Float64Array(size);
    }
  }

  /** The earliest clock time the next call may go. */
  readyAt(): number {
    const starts = this.starts;
    if (!starts || this.count < starts.length) return this.next;
    const h = this.head;
    const sent = starts[h]! + SEND_MARGIN_MS;
    const end = this.ends![h]!;
    const counted = Number.isNaN(end) ? sent : Math.min(end, sent);
    return Math.max(this.next, counted + MINUTE_MS);
  }

  /** A call goes at `now` (not before `readyAt()`); `ended` records its answer. */
  take(now: number): PacedCall | undefined {
    const t = this.interval;
    this.next = now - this.next <= t ? Math.max(this.next + t, now + t / 2) : now + t;
    const starts = this.starts;
    if (!starts) return undefined;
    const slot = this.head;
    const seq = ++this.seq;
    starts[slot] = now;
    this.ends![slot] = NaN;
    this.seqs![slot] = seq;
    this.head = (slot + 1) % starts.length;
    if (this.count < starts.length) this.count++;
    return { slot, seq };
  }

  /** The call answered (or ended without an answer) at `at`; nothing when the log has moved past it. */
  ended(call: PacedCall | undefined, at: number): void {
    if (call && this.seqs?.[call.slot] === call.seq) this.ends![call.slot] = at;
  }
}
