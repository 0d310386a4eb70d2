/**
 * What changed since the previous runs (`promptmanager test --compare`): each test of this run
 * against its own latest recorded result (the newest earlier run in which it ran: a filtered
 * run compares what it ran), so tests that start failing or pass again, snapshots whose text
 * changed, tests never seen before, and notable changes of time.
 */
import type { HistoryRun, HistoryTestEntry } from './history.js';
import type { TestRunReport } from './types.js';

/** A test counts as slower or faster past this ratio and this many milliseconds. */
const TIME_RATIO = 1.5;
const TIME_MIN_DELTA_MS = 20;
/** Timing changes listed, largest first. */
const MAX_TIMING = 10;

export interface TimingChange {
  id: string;
  beforeMs: number;
  afterMs: number;
}

export interface RunComparison {
  /** The newest earlier run, when there is one. */
  previous?: { startedAt: number; durationMs: number; tests: number };
  newlyFailing: { id: string; failures: string[] }[];
  newlyPassing: string[];
  stillFailing: string[];
  /** Tests no earlier run ran. */
  newTests: string[];
  /** Snapshot assertions whose text is not the one recorded last time (whether or not the golden file was updated). */
  changedSnapshots: { id: string; file: string }[];
  slower: TimingChange[];
  faster: TimingChange[];
  durationMs: { before?: number; after: number };
}

function latest(runs: readonly HistoryRun[], id: string): HistoryTestEntry | undefined {
  for (const r of runs) {
    const e = Object.prototype.hasOwnProperty.call(r.tests, id) ? r.tests[id] : undefined;
    if (e && e.outcome !== 'skipped') return e;
  }
  return undefined;
}

/** `report` against `previous` (newest first; the report's own run must not be among them). */
export function compareWithHistory(report: TestRunReport, previous: readonly HistoryRun[]): RunComparison {
  const c: RunComparison = { newlyFailing: [], newlyPassing: [], stillFailing: [], newTests: [], changedSnapshots: [], slower: [], faster: [], durationMs: { after: report.durationMs } };
  const last = previous[0];
  if (last) {
    c.previous = { startedAt: last.startedAt, durationMs: last.durationMs, tests: Object.keys(last.tests).length };
    c.durationMs.before = last.durationMs;
  }
  for (const r of report.results) {
    if (r.outcome === 'skipped') continue;
    const before = latest(previous, r.id);
    if (!before) {
      c.newTests.push(r.id);
      continue;
    }
    if (r.outcome === 'failed' && before.outcome === 'passed') {
      c.newlyFailing.push({ id: r.id, failures: r.assertions.filter((a) => !a.passed).map((a) => `${a.label}: ${a.message ?? 'failed'}`).slice(0, 3) });
    } else if (r.outcome === 'passed' && before.outcome === 'failed') c.newlyPassing.push(r.id);
    else if (r.outcome === 'failed') c.stillFailing.push(r.id);
    for (const [file, digest] of Object.entries(r.snapshotDigests ?? {})) {
      const was = before.snapshots?.[file];
      if (was !== undefined && was !== digest) c.changedSnapshots.push({ id: r.id, file });
    }
    const delta = r.durationMs - before.durationMs;
    if (Math.abs(delta) >= TIME_MIN_DELTA_MS) {
      if (r.durationMs >= before.durationMs * TIME_RATIO) c.slower.push({ id: r.id, beforeMs: before.durationMs, afterMs: r.durationMs });
      else if (before.durationMs >= r.durationMs * TIME_RATIO) c.faster.push({ id: r.id, beforeMs: before.durationMs, afterMs: r.durationMs });
    }
  }
  const byDelta = (a: TimingChange, b: TimingChange) => Math.abs(b.afterMs - b.beforeMs) - Math.abs(a.afterMs - a.beforeMs);
  c.slower = c.slower.sort(byDelta).slice(0, MAX_TIMING);
  c.faster = c.faster.sort(byDelta).slice(0, MAX_TIMING);
  return c;
}
