/**
 * The history of prompt test runs: one small JSON file per run in `.promptmanager/test-history/`
 * of the workspace (core/workspace/stateDir.ts: never committed), the newest 100 kept. In the
 * workspace rather than a user folder so that the editor and the CLI see the same runs ("failed
 * in 3 of the last 10 runs" counts a CI-like `promptmanager test` as well as the Testing view's),
 * and a CI job can cache the folder to compare with the previous pipeline (`--compare`).
 *
 * Each run writes its own file (a temporary file renamed into place), so two runs finishing at
 * once (the editor and a terminal) both land; pruning tolerates a file another process already
 * removed.
 *
 * The folder may come from a repository (a committed `.promptmanager/`), so nothing in it is
 * trusted: it is written, read, listed and pruned only through real folders
 * (core/workspace/safeWrite.ts: a link to a folder of the user's is refused, never written to
 * or pruned); each file is read up to MAX_HISTORY_FILE_BYTES and at most MAX_HISTORY_READ_BYTES
 * in all; a file that does not parse, or is not a run, is skipped, and every entry of one that
 * is is checked field by field (a wrong type, an unknown outcome or a `__proto__` key never
 * reaches a summary or a comparison).
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { listFolderInside, readTextInsideSync, realFolderSync, removeOwnFile, writeFileInsideSync } from '../workspace/safeWrite.js';
import { ensureStateDir, statePath } from '../workspace/stateDir.js';
import type { TestOutcome, TestRunReport } from './types.js';

export const HISTORY_DIR = 'test-history';
export const DEFAULT_HISTORY_RUNS = 100;
/** Failure messages kept per test and run, and their length. */
const MAX_FAILURES = 3;
const MAX_FAILURE_CHARS = 300;
/** One run's file at most (a run of thousands of failing tests, with their messages, fits). */
export const MAX_HISTORY_FILE_BYTES = 4 * 1024 * 1024;
/** What one reading of the history reads at most, all files together: older runs past it are not read. */
const MAX_HISTORY_READ_BYTES = 32 * 1024 * 1024;
/** Snapshot digests kept per test and run. */
const MAX_SNAPSHOTS = 1000;
/** A crashed writer's temporary file is removed by the next prune after this long. */
const STALE_TMP_MS = 60 * 60 * 1000;
/** The largest time a Date can hold. */
const MAX_TIME = 8.64e15;
const OUTCOMES: ReadonlySet<string> = new Set<TestOutcome>(['passed', 'failed', 'skipped']);

export interface HistoryTestEntry {
  outcome: TestOutcome;
  durationMs: number;
  /** Repetitions run, and the share that passed. */
  repetitions: number;
  passRate: number;
  /** `label: message` of its first failed assertions. */
  failures?: string[];
  /** Digest of each snapshot assertion's text, by golden file name. */
  snapshots?: Record<string, string>;
}

export interface HistoryRun {
  /** The file's name without `.json`: sorts by time. */
  id: string;
  startedAt: number;
  durationMs: number;
  live: boolean;
  tests: Record<string, HistoryTestEntry>;
}

export interface TestHistorySummary {
  id: string;
  /** Runs (of those looked at) in which the test ran or was skipped. */
  runs: number;
  passed: number;
  failed: number;
  skipped: number;
  /** Newest first. */
  recent: { startedAt: number; outcome: TestOutcome; durationMs: number; passRate: number }[];
}

export interface TestHistoryOptions {
  /** Default `.promptmanager/test-history/` in the workspace. */
  dir?: string;
  /** Runs kept; default 100. */
  maxRuns?: number;
}

/** A short digest of a snapshot's text: enough to tell a change, not the text. */
export function textDigest(text: string): string {
  return createHash('sha256').update(text.replace(/\r\n/g, '\n')).digest('hex').slice(0, 16);
}

function cut(s: string): string {
  return s.length > MAX_FAILURE_CHARS ? s.slice(0, MAX_FAILURE_CHARS) + '…' : s;
}

/** What a run's history file holds of a report. */
export function historyRunOf(report: TestRunReport, id: string): HistoryRun {
  const tests: Record<string, HistoryTestEntry> = {};
  for (const r of report.results) {
    const e: HistoryTestEntry = { outcome: r.outcome, durationMs: Math.round(r.durationMs * 1000) / 1000, repetitions: r.repetitions.length, passRate: r.passRate };
    const failures = r.assertions.filter((a) => !a.passed).map((a) => cut(`${a.label}: ${a.message ?? 'failed'}`));
    if (r.outcome === 'failed') e.failures = (failures.length ? failures : [cut(r.reason ?? 'failed')]).slice(0, MAX_FAILURES);
    if (r.snapshotDigests && Object.keys(r.snapshotDigests).length) e.snapshots = r.snapshotDigests;
    Object.defineProperty(tests, r.id, { value: e, enumerable: true, writable: true, configurable: true });
  }
  return { id, startedAt: report.startedAt, durationMs: Math.round(report.durationMs), live: report.live, tests };
}

/** Counts of a test over runs (newest first), looking at the newest `limit` runs it appears in. */
export function summarizeTest(runs: readonly HistoryRun[], id: string, limit = 10): TestHistorySummary {
  const s: TestHistorySummary = { id, runs: 0, passed: 0, failed: 0, skipped: 0, recent: [] };
  for (const run of runs) {
    if (s.runs >= limit) break;
    const e = Object.prototype.hasOwnProperty.call(run.tests, id) ? run.tests[id] : undefined;
    if (!e || !OUTCOMES.has(e.outcome)) continue;
    s.runs++;
    s[e.outcome]++;
    s.recent.push({ startedAt: run.startedAt, outcome: e.outcome, durationMs: e.durationMs, passRate: e.passRate });
  }
  return s;
}

const finite = (v: unknown, min: number, max: number): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max ? v : undefined);
const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** A recorded test entry as this version writes it, or undefined: the file is not trusted. */
function entryOf(v: unknown): HistoryTestEntry | undefined {
  if (!isObject(v) || typeof v.outcome !== 'string' || !OUTCOMES.has(v.outcome)) return undefined;
  const e: HistoryTestEntry = {
    outcome: v.outcome as TestOutcome,
    durationMs: finite(v.durationMs, 0, MAX_TIME) ?? 0,
    repetitions: finite(v.repetitions, 0, 1e9) ?? 0,
    passRate: finite(v.passRate, 0, 1) ?? 0,
  };
  if (Array.isArray(v.failures)) e.failures = v.failures.filter((f): f is string => typeof f === 'string').slice(0, MAX_FAILURES).map(cut);
  if (isObject(v.snapshots)) {
    const snaps: Record<string, string> = Object.create(null) as Record<string, string>;
    let n = 0;
    for (const [k, d] of Object.entries(v.snapshots)) {
      if (typeof d !== 'string' || n++ >= MAX_SNAPSHOTS) continue;
      snaps[k] = d.slice(0, 64);
    }
    e.snapshots = snaps;
  }
  return e;
}

/** A run read from a file, checked field by field; undefined when it is not one. */
export function historyRunFrom(v: unknown, id: string): HistoryRun | undefined {
  if (!isObject(v) || !isObject(v.tests)) return undefined;
  const startedAt = finite(v.startedAt, -MAX_TIME, MAX_TIME);
  if (startedAt === undefined) return undefined;
  // Test names are keys of a null-prototype object: `__proto__` is a test like any other.
  const tests: Record<string, HistoryTestEntry> = Object.create(null) as Record<string, HistoryTestEntry>;
  for (const [name, raw] of Object.entries(v.tests)) {
    const e = entryOf(raw);
    if (e) tests[name] = e;
  }
  return { id, startedAt, durationMs: finite(v.durationMs, 0, MAX_TIME) ?? 0, live: v.live === true, tests };
}

export class TestHistory {
  readonly dir: string;
  readonly maxRuns: number;
  /** The folder below which nothing is a link: the workspace, or the folder the caller chose. */
  private readonly base: string;
  private readonly custom: boolean;

  constructor(
    readonly root: string,
    options: TestHistoryOptions = {},
  ) {
    this.custom = options.dir !== undefined;
    this.dir = path.resolve(options.dir ?? statePath(root, HISTORY_DIR));
    this.base = this.custom ? this.dir : path.resolve(root);
    this.maxRuns = options.maxRuns ?? DEFAULT_HISTORY_RUNS;
    if (!(this.maxRuns >= 1)) throw new RangeError('maxRuns must be at least 1');
  }

  /** Records a run; returns its file. Older runs past `maxRuns` are removed. */
  async record(report: TestRunReport): Promise<string> {
    if (this.custom) realFolderSync(this.dir, this.dir, { create: true });
    else await ensureStateDir(this.root, HISTORY_DIR);
    const stamp = new Date(report.startedAt).toISOString().replace(/[:.]/g, '-');
    const id = `${stamp}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    const file = path.join(this.dir, `${id}.json`);
    const run = historyRunOf(report, id);
    let text = JSON.stringify(run) + '\n';
    if (Buffer.byteLength(text) > MAX_HISTORY_FILE_BYTES) {
      // The failures' messages go first: outcomes and times are what the history is for.
      for (const e of Object.values(run.tests)) delete e.failures;
      text = JSON.stringify(run) + '\n';
      if (Buffer.byteLength(text) > MAX_HISTORY_FILE_BYTES) throw new RangeError(`a run of ${report.results.length} tests takes more than ${MAX_HISTORY_FILE_BYTES} bytes to record`);
    }
    writeFileInsideSync(this.base, file, text);
    await this.prune();
    return file;
  }

  /** The runs' files, oldest first (names sort by time). */
  private async files(): Promise<{ name: string; path: string; kind: string; mtimeMs: number }[]> {
    return (await listFolderInside(this.base, this.dir)).filter((e) => e.name.endsWith('.json') && e.kind !== 'folder').sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  private async prune(): Promise<void> {
    const entries = await listFolderInside(this.base, this.dir);
    const now = Date.now();
    for (const e of entries) if (e.name.endsWith('.tmp') && e.kind !== 'folder' && now - e.mtimeMs > STALE_TMP_MS) await removeOwnFile(e.path);
    const runs = await this.files();
    // Only the runs' own files, in a folder checked to be the workspace's: a link is removed as a link.
    for (const f of runs.slice(0, Math.max(0, runs.length - this.maxRuns))) await removeOwnFile(f.path);
  }

  /**
   * The recorded runs, newest first (at most `limit`). Throws an `UnsafePathError` when the
   * history folder, or one above it in the workspace, is a link.
   */
  async runs(limit = this.maxRuns): Promise<HistoryRun[]> {
    const out: HistoryRun[] = [];
    let read = 0;
    for (const f of (await this.files()).reverse()) {
      if (out.length >= limit || read > MAX_HISTORY_READ_BYTES) break;
      if (f.kind !== 'file') continue;
      try {
        const text = readTextInsideSync(this.base, f.path, MAX_HISTORY_FILE_BYTES);
        if (text === undefined) continue;
        read += text.length;
        const run = historyRunFrom(JSON.parse(text) as unknown, f.name.slice(0, -'.json'.length));
        if (run) out.push(run);
      } catch {
        // Removed by another process meanwhile, too large, not JSON, not a run: skipped.
      }
    }
    return out;
  }

  /** A test's recent outcomes: "failed in 3 of the last 10 runs". */
  async forTest(id: string, limit = 10): Promise<TestHistorySummary> {
    return summarizeTest(await this.runs(), id, limit);
  }
}
