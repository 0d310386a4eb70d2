/** The diagnostics' debounce policy (server/debounce.ts), on a clock that moves only when told. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { adaptiveDelay, clampDebounceMs, debounceDelay, DebouncedValidations, MAX_DEBOUNCE_MS, type DebounceTimers } from '../../server/debounce.js';

/** Timers that fire only when the test advances the clock. */
class FakeTimers implements DebounceTimers {
  t = 0;
  private seq = 0;
  private readonly due = new Map<number, { at: number; fn: () => void }>();
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    const id = ++this.seq;
    this.due.set(id, { at: this.t + ms, fn });
    return id;
  };
  clearTimeout = (h: unknown) => void this.due.delete(h as number);
  advance(ms: number): void {
    this.t += ms;
    for (const [id, d] of [...this.due].sort((a, b) => a[1].at - b[1].at)) {
      if (d.at > this.t || !this.due.has(id)) continue;
      this.due.delete(id);
      d.fn();
    }
  }
  get pending(): number {
    return this.due.size;
  }
}

test('a burst waits half the last validation time, between 10 and 50 ms', () => {
  assert.equal(adaptiveDelay(0), 10);
  assert.equal(adaptiveDelay(21), 11);
  assert.equal(adaptiveDelay(30), 15);
  assert.equal(adaptiveDelay(100), 50);
  assert.equal(adaptiveDelay(5_000), 50);
});

test('the first change after a pause is validated at once; changes in a burst are debounced; a fixed debounce is always that', () => {
  const base = { lastDurationMs: 40, fixedMs: undefined };
  assert.equal(debounceDelay({ ...base, now: 1_000, previousChangeAt: undefined, pending: false }), 0, 'the first change ever');
  // A pause is longer than the debounce (20 ms) and a validation (40 ms).
  assert.equal(debounceDelay({ ...base, now: 1_000, previousChangeAt: 939, pending: false }), 0);
  assert.equal(debounceDelay({ ...base, now: 1_000, previousChangeAt: 940, pending: false }), 20, 'right after the last validation: still a burst');
  assert.equal(debounceDelay({ ...base, now: 1_000, previousChangeAt: 100, pending: true }), 20, 'a validation is already waiting');
  for (const previousChangeAt of [undefined, 0, 995]) {
    assert.equal(debounceDelay({ now: 1_000, previousChangeAt, pending: false, lastDurationMs: 40, fixedMs: 75 }), 75);
    assert.equal(debounceDelay({ now: 1_000, previousChangeAt, pending: true, lastDurationMs: 40, fixedMs: 0 }), 0);
  }
});

test('a client asks for 0 to 100 ms', () => {
  assert.equal(MAX_DEBOUNCE_MS, 100);
  assert.equal(clampDebounceMs(-5), 0);
  assert.equal(clampDebounceMs(30), 30);
  assert.equal(clampDebounceMs(1_000), 100);
});

test('one validation per burst and per key; cancel drops it; a fixed debounce set later applies', () => {
  const clock = new FakeTimers();
  const d = new DebouncedValidations<string>(undefined, clock);
  const runs: string[] = [];
  const run = (k: string) => () => runs.push(`${k}@${clock.t}`);

  assert.equal(d.schedule('a', 30, run('a')), 0, 'after a pause: at once');
  clock.advance(0);
  assert.deepEqual(runs, ['a@0']);
  // A burst: each keystroke 5 ms after the last, the validation 15 ms after the last one.
  for (let i = 0; i < 4; i++) {
    assert.equal(d.schedule('a', 30, run('a')), 15);
    clock.advance(5);
  }
  assert.ok(d.isPending('a'));
  clock.advance(10);
  assert.deepEqual(runs, ['a@0', 'a@30']);
  assert.ok(!d.isPending('a'));

  // Keys are independent; cancel and cancelAll drop what waits.
  clock.advance(1_000);
  d.schedule('b', 0, run('b'));
  d.schedule('b', 0, run('b'));
  d.schedule('c', 0, run('c'));
  d.cancel('b');
  d.cancel('nothing');
  clock.advance(100);
  assert.deepEqual(runs.slice(2), ['c@1130']);
  d.schedule('c', 0, run('c'));
  d.cancelAll();
  clock.advance(100);
  assert.equal(clock.pending, 0);
  assert.equal(runs.length, 3);

  d.fixedMs = 60;
  assert.equal(d.schedule('a', 30, run('a')), 60);
  clock.advance(59);
  assert.equal(runs.length, 3);
  clock.advance(1);
  assert.deepEqual(runs.slice(3), ['a@1290']);
});
