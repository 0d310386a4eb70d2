/**
 * The prompt tests between client and server: listing a workspace's tests (with the ranges an
 * editor's test tree and gutter need) and hearing when the list changes as you type, running a
 * selection in the server (progress per test, cancellable, offline or live, repeated), and the
 * history of past runs. The wire shapes are the protocol's own: the server maps the core's
 * (core/testing/) to these in server/testWire.ts, files as URIs.
 *
 * Imports only `vscode-languageserver-protocol` (test/repository/boundaries.test.ts), so any
 * client can bundle it; protocol.ts re-exports it.
 */
import { NotificationType, ProtocolRequestType, RequestType, type Range, type WorkDoneProgressParams } from 'vscode-languageserver-protocol';
import type { PromptErrorInfo } from './protocol.js';

/** An assertion of a test: where it is written and what it checks, in words. */
export interface TestAssertionInfo {
  /** Position in the test's `expect` list (0-based); -1 for a check no assertion was written for. */
  index: number;
  /** `contains`, `snapshot`...; absent for an item that names no kind. */
  kind?: string;
  /** What it checks (`steps.draft.output contains "Dear"`), or its `description`. */
  label: string;
  /** The assertion's list item (for an implicit check, the test's name). */
  range: Range;
}

/** A test of a prompt workspace. */
export interface PromptTestItem {
  /** The test's name: unique in its workspace. */
  id: string;
  /** Its file. */
  uri: string;
  /** Its name. */
  range: Range;
  /** The whole test, from its name to its last line. */
  fullRange: Range;
  description?: string;
  kind: 'template' | 'composition';
  /** The template or composition it renders or runs. */
  target: string;
  service?: string;
  /** It calls the real provider: it runs only in a live run. */
  live: boolean;
  /** Runs of the test (its `repeat`), and the share that must pass (its `pass_rate`). */
  repeat: number;
  passRate: number;
  assertions: TestAssertionInfo[];
  /** Its first error: it cannot run as written (it fails, with this as the reason). */
  error?: string;
}

/** An error of a test file that no test carries: the file does not parse, a test's name is refused or used twice. */
export interface TestFileProblem {
  uri: string;
  range: Range;
  /** The diagnostic's code (`yaml-syntax`, `schema`, `invalid-test`...). */
  code: string;
  message: string;
}

export interface ListTestsParams {
  /** A prompt workspace (its folder or any file in it); without it, every workspace's tests. */
  workspace?: string;
}

export interface WorkspaceTests {
  /** The prompt workspace folder. */
  workspace: string;
  /** The folder relative to its editor workspace folder (`.` for the folder itself). */
  name: string;
  /** Its prompt test files, in the order their tests are listed (a file with no test included). */
  files: string[];
  /** In file order, then the order of the tests in each file; a name used twice only once. */
  tests: PromptTestItem[];
  /** Errors of its test files that no listed test carries: a run of all its tests fails with them. */
  problems: TestFileProblem[];
  /** Why its tests cannot run now (its configuration has errors), when they cannot. */
  error?: string;
}

export interface ListTestsResult {
  workspaces: WorkspaceTests[];
}

/** The tests of one or every prompt workspace, from the validation its diagnostics come from (open buffers included). */
export const ListTestsRequest = new RequestType<ListTestsParams, ListTestsResult, void>('promptManager/listTests');

export interface TestsChangedParams {
  /** The prompt workspaces (folder URIs) whose tests changed: added, removed, renamed, moved, or now (not) runnable. */
  workspaces: string[];
}
/** Server → client: a workspace's tests changed (as you type, or on disk); ask `listTests` again. */
export const TestsChangedNotification = new NotificationType<TestsChangedParams>('promptManager/testsChanged');

// ---------------------------------------------------------------------------------------
// Runs

export type TestOutcome = 'passed' | 'failed' | 'skipped';

/** The result of one assertion in one run of a test. */
export interface TestAssertionResult extends TestAssertionInfo {
  passed: boolean;
  /** Why it failed; absent when it passed. */
  message?: string;
  /** For a diff: the golden file's or `equals`'s text, and the text that came. */
  expected?: string;
  actual?: string;
  /** A snapshot assertion's golden file and what happened to it. */
  snapshot?: { uri: string; status: 'matched' | 'written' | 'updated' | 'mismatch' | 'missing' };
  /** A check no assertion was written for: the render succeeds, the run ends `succeeded`. */
  implicit?: boolean;
}

/** One run of a repeated test. */
export interface TestRepetitionInfo {
  /** 1 for the first run. */
  repetition: number;
  passed: boolean;
  durationMs: number;
  /** How the render or run ended (`succeeded`, `fallback`, `failed`, `partial`...). */
  status: string;
}

export interface PromptTestResultInfo {
  id: string;
  uri: string;
  /** The test's name in its file. */
  range: Range;
  outcome: TestOutcome;
  /** Why it was skipped (it needs a live run), or why it failed without running. */
  reason?: string;
  /** Wall time of all its runs. */
  durationMs: number;
  repetitions: TestRepetitionInfo[];
  /** Share of its runs that passed (0 when none ran), and the share that had to. */
  passRate: number;
  requiredPassRate: number;
  /** The assertions of its first failed run, else of its last run. */
  assertions: TestAssertionResult[];
  live: boolean;
}

export interface TestRunReportInfo {
  /** The prompt workspace folder. */
  workspace: string;
  /** Wall-clock epoch milliseconds. */
  startedAt: number;
  durationMs: number;
  live: boolean;
  results: PromptTestResultInfo[];
  summary: { total: number; passed: number; failed: number; skipped: number };
  /** Errors of the test files that no test carries: they fail a run of all the tests (a run narrowed by `ids` has none). */
  problems: TestFileProblem[];
  /** Golden files this run wrote or rewrote. */
  snapshotsWritten: string[];
  /** Why the run could not be recorded in the history (its results stand). */
  historyError?: string;
}

export interface RunTestsParams extends WorkDoneProgressParams {
  /** The prompt workspace (its folder or any file in it); may be left out when the server knows one. */
  workspace?: string;
  /** The tests to run, by name; all of the workspace's when absent. */
  ids?: string[];
  /** Run the tests marked `live: true` against their providers (refused in an untrusted workspace); without it they are skipped. */
  live?: boolean;
  /** Runs of each test, instead of its `repeat` (1 to 1000). */
  repeat?: number;
  /** Golden files: `new` writes missing ones (default), `all` rewrites differing ones too, `none` writes nothing. */
  updateSnapshots?: 'none' | 'new' | 'all';
  /** The run's id in `promptManager/testProgress`; generated when absent. */
  runId?: string;
}

/** `ok: false` when the tests could not run: the workspace's configuration has errors (`invalid_configuration`), or a live run in an untrusted workspace (`access_denied`). */
export type RunTestsResult = { ok: true; runId: string; report: TestRunReportInfo } | { ok: false; runId: string; error: PromptErrorInfo };

/**
 * Runs tests of a workspace in the server, on the engine the previews use (open buffers
 * included), and resolves with the report. Progress: `promptManager/testProgress` per test and
 * work-done progress; cancelling the request (`$/cancelRequest`) cancels the runs under way
 * (the tests not finished are reported skipped).
 */
export const RunTestsRequest = new ProtocolRequestType<RunTestsParams, RunTestsResult, never, void, void>('promptManager/runTests');

/** What happened in a test run, in order. */
export type TestProgressEventInfo =
  | { type: 'run.started'; tests: string[] }
  | { type: 'test.started'; id: string }
  | { type: 'test.repetition'; id: string; of: number; result: TestRepetitionInfo }
  | { type: 'test.finished'; result: PromptTestResultInfo };

export interface TestProgressParams {
  runId: string;
  /** The prompt workspace folder the run belongs to. */
  workspace: string;
  event: TestProgressEventInfo;
}
/** Server → client: one event of a run started by `promptManager/runTests`, as it happens. */
export const TestProgressNotification = new NotificationType<TestProgressParams>('promptManager/testProgress');

// ---------------------------------------------------------------------------------------
// History

export interface TestHistoryParams {
  workspace?: string;
  /** Only these tests; every test the history knows when absent. */
  ids?: string[];
  /** Look at each test's newest this many runs (default 10). */
  limit?: number;
}

export interface TestHistoryInfo {
  id: string;
  /** Runs looked at in which the test ran or was skipped, and how they ended. */
  runs: number;
  passed: number;
  failed: number;
  skipped: number;
  /** Newest first. */
  recent: { startedAt: number; outcome: TestOutcome; durationMs: number; passRate: number }[];
}

export interface TestHistoryResult {
  workspace: string;
  tests: TestHistoryInfo[];
}

/** The recorded runs of a workspace's tests (the editor's and `promptmanager test`'s): "failed in 3 of the last 10 runs". */
export const TestHistoryRequest = new RequestType<TestHistoryParams, TestHistoryResult, void>('promptManager/testHistory');
