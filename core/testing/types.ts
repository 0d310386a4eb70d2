/**
 * The prompt test runner's public types: the tests a workspace holds (with their source ranges,
 * for an editor's test tree and gutter), the results of a run (per test, per repetition, per
 * assertion with its range and, for a diff, what was expected and what came), and the
 * progress events a caller follows a run with. Plain data: they go to JSON, the CLI's reporters
 * and the editor as they are.
 */
import type { AssertionKind } from '../model/testTypes.js';
import type { Range } from '../text/range.js';
import type { ResponseCacheStats } from '../workflow/responseCache.js';

export type TestOutcome = 'passed' | 'failed' | 'skipped';

export interface AssertionInfo {
  /** Position in the test's `expect` list (0-based); -1 for an implicit check. */
  index: number;
  kind?: AssertionKind;
  /** What it checks, in words (`steps.draft.output contains "Dear"`), or its `description`. */
  label: string;
  /** The assertion's list item in the test file (for an implicit check, the test's name). */
  range: Range;
}

export interface PromptTestInfo {
  /** The test's name: unique in the workspace, its id in results, history and snapshots. */
  id: string;
  /** Absolute path of its file. */
  file: string;
  /** Its name (the key). */
  range: Range;
  /** The whole test, from its name to its last line. */
  fullRange: Range;
  description?: string;
  kind: 'template' | 'composition';
  /** The template or composition it renders or runs. */
  target: string;
  service?: string;
  /** It calls the real provider for its unmocked model steps: it runs only in a live run. */
  live: boolean;
  repeat: number;
  passRate: number;
  assertions: AssertionInfo[];
  /** Its first error diagnostic, when it has one: it is not run, and fails with this. */
  error?: string;
}

export type SnapshotStatus = 'matched' | 'written' | 'updated' | 'mismatch' | 'missing';

export interface SnapshotResult {
  /** Absolute path of the golden file. */
  file: string;
  status: SnapshotStatus;
}

export interface AssertionResult extends AssertionInfo {
  passed: boolean;
  /** Why it failed; absent when it passed. */
  message?: string;
  /** For a diff (an editor's expected/actual view): the golden text or the `equals` value, and what came. */
  expected?: string;
  actual?: string;
  snapshot?: SnapshotResult;
  /** A check no assertion was written for: the render succeeds, the run ends `succeeded`. */
  implicit?: boolean;
}

export interface RepetitionResult {
  /** 1 for the first run of the test. */
  repetition: number;
  passed: boolean;
  durationMs: number;
  /** How the render (`succeeded`, `fallback`, `failed`) or run (`succeeded`, `partial`...) ended. */
  status: string;
  assertions: AssertionResult[];
}

export interface PromptTestResult {
  id: string;
  file: string;
  range: Range;
  outcome: TestOutcome;
  /** Why it was skipped (it needs a live model), or why it failed without running (its errors). */
  reason?: string;
  /** Wall time of all its runs. */
  durationMs: number;
  repetitions: RepetitionResult[];
  /** Share of the runs that passed (0 when none ran). */
  passRate: number;
  /** Share that must pass (the test's `pass_rate`). */
  requiredPassRate: number;
  /** The assertions of its first failed run, else of its last run: where the editor shows them. */
  assertions: AssertionResult[];
  live: boolean;
  /** SHA-256 (16 hex digits) of each snapshot assertion's text, by golden file name: history compares them. */
  snapshotDigests?: Record<string, string>;
}

export interface TestRunSummary {
  total: number;
  passed: number;
  failed: number;
  skipped: number;
}

export interface TestRunReport {
  /** The prompt workspace (absolute). */
  root: string;
  /** Wall-clock epoch milliseconds. */
  startedAt: number;
  durationMs: number;
  /** Whether live tests ran (`--live`). */
  live: boolean;
  /** In file order, then the order of the tests in each file. */
  results: PromptTestResult[];
  summary: TestRunSummary;
  /**
   * Errors of the test files that no test carries (a file that does not parse, a test name used
   * twice): they fail the run, which must not pass by running nothing. Empty for a run narrowed
   * by `ids` or `filter`.
   */
  problems: { file: string; range: Range; code: string; message: string }[];
  /** Golden files written or rewritten by this run. */
  snapshotsWritten: string[];
  /** The response cache of the live runs, when there were some. */
  cache?: ResponseCacheStats;
  /** The history file this run was recorded in. */
  historyFile?: string;
  /** Why it could not be recorded (a read-only folder): the run's results stand. */
  historyError?: string;
}

export type TestProgressEvent =
  | { type: 'run.started'; tests: string[] }
  | { type: 'test.started'; id: string }
  | { type: 'test.repetition'; id: string; result: RepetitionResult; of: number }
  | { type: 'test.finished'; result: PromptTestResult }
  | { type: 'run.finished'; report: TestRunReport };
