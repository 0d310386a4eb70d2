/**
 * The history of prompt test runs: one small JSON file per run in `.promptmanager/test-history/`
 * of the workspace (core/workspace/stateDir.ts: never committed), the newest 100 kept. In the
 * workspace rather than a user folder so that the editor and the CLI see the same runs ("failed
 * in 3 of the last 10 runs" counts a CI-like `promptmanager test` as well as the Testing view's),
 * and a CI job can cache the folder to compare with the previous pipeline (`--compare`).
 *
 * Each run writes its own file (a temporary file renamed into place), so two runs finishing at
 * once (the editor and a terminal) both land; pruning tolerates a file another process already
 * removed. A file that does not parse is skipped.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureStateDir, statePath, writeFileAtomic } from '../workspace/stateDir.js';
import type { TestOutcome, TestRunReport } from './types.js';

export const HISTORY_DIR = 'test-history';
export const DEFAULT_HISTORY_RUNS = 100;
/** Failure messages kept per test and run, and their length. */
const MAX_FAILURES = 3;
const MAX_FAILURE_CHARS = 300;

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
    if (!e) continue;
    s.runs++;
    s[e.outcome]++;
    s.recent.push({ startedAt: run.startedAt, outcome: e.outcome, durationMs: e.durationMs, passRate: e.passRate });
  }
  return s;
}

function isRun(v: unknown): v is HistoryRun {
  const r = v as HistoryRun | null;
  return !!r && typeof r === 'object' && typeof r.startedAt === 'number' && !!r.tests && typeof r.tests === 'object';
}

export class TestHistory {
  readonly dir: string;
  readonly maxRuns: number;
  private readonly custom: boolean;

  constructor(
    readonly root: string,
    options: TestHistoryOptions = {},
  ) {
    this.custom = options.dir !== undefined;
    this.dir = path.resolve(options.dir ?? statePath(root, HISTORY_DIR));
    this.maxRuns = options.maxRuns ?? DEFAULT_HISTORY_RUNS;
    if (!(this.maxRuns >= 1)) throw new RangeError('maxRuns must be at least 1');
  }

  /** Records a run; returns its file. Older runs past `maxRuns` are removed. */
  async record(report: TestRunReport): Promise<string> {
    if (this.custom) await fs.promises.mkdir(this.dir, { recursive: true });
    else await ensureStateDir(this.root, HISTORY_DIR);
    const stamp = new Date(report.startedAt).toISOString().replace(/[:.]/g, '-');
    const id = `${stamp}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    const file = path.join(this.dir, `${id}.json`);
    await writeFileAtomic(file, JSON.stringify(historyRunOf(report, id)) + '\n');
    await this.prune();
    return file;
  }

  private async names(): Promise<string[]> {
    try {
      return (await fs.promises.readdir(this.dir)).filter((n) => n.endsWith('.json')).sort();
    } catch {
      return [];
    }
  }

  private async prune(): Promise<void> {
    const names = await this.names();
    for (const n of names.slice(0, Math.max(0, names.length - this.maxRuns))) await fs.promises.rm(path.join(this.dir, n), { force: true });
  }

  /** The recorded runs, newest first (at most `limit`). */
  async runs(limit = this.maxRuns): Promise<HistoryRun[]> {
    const out: HistoryRun[] = [];
    for (const n of (await this.names()).reverse()) {
      if (out.length >= limit) break;
      try {
        const v = JSON.parse(await fs.promises.readFile(path.join(this.dir, n), 'utf8')) as unknown;
        if (isRun(v)) out.push({ ...v, id: n.slice(0, -'.json'.length) });
      } catch {
        // Removed by another process meanwhile, or not a run: skipped.
      }
    }
    return out;
  }

  /** A test's recent outcomes: "failed in 3 of the last 10 runs". */
  async forTest(id: string, limit = 10): Promise<TestHistorySummary> {
    return summarizeTest(await this.runs(), id, limit);
  }
}
