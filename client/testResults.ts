/**
 * What the Testing view shows of a test's result, as plain data (testController.ts turns it
 * into `TestRun` calls): its state, its messages, each at the line of the assertion that
 * failed, a snapshot mismatch or a failed `equals` as an expected/actual pair (shown as a
 * diff), the pass rate of a repeated test ("passed 7 of 10 runs"), and the lines its run
 * writes to the test output. Pure (no `vscode` import), so that it is unit-tested as it is.
 */
import type { PromptTestResultInfo, TestFileProblem, TestRunReportInfo } from '../protocol/protocol.js';
import { COMPOSITION_RULES_FILE } from '../protocol/configFiles.js';
import { formatDuration } from './format.js';

type Range = PromptTestResultInfo['range'];

export interface TestMessagePlan {
  message: string;
  /** Both present: a diff (`TestMessage.diff`). */
  expected?: string;
  actual?: string;
  location?: { uri: string; range: Range };
}

export interface TestOutcomePlan {
  /** `errored`: the test could not run as written (its errors say why). */
  state: 'passed' | 'failed' | 'skipped' | 'errored';
  durationMs: number;
  messages: TestMessagePlan[];
  /** Lines for the run's output, at the test. */
  output: string[];
}

const pct = (x: number) => `${Math.round(x * 100)}%`;

/** "passed 7 of 10 runs (70%; 80% required)" for a test that ran more than once; undefined otherwise. */
export function passRatePhrase(r: Pick<PromptTestResultInfo, 'repetitions' | 'requiredPassRate'>): string | undefined {
  const n = r.repetitions.length;
  if (n <= 1) return undefined;
  const passed = r.repetitions.filter((x) => x.passed).length;
  return `passed ${passed} of ${n} runs (${pct(passed / n)}; ${pct(r.requiredPassRate)} required)`;
}

/** The Testing view's account of one test's result. */
export function outcomePlan(r: PromptTestResultInfo): TestOutcomePlan {
  const at = (range: Range) => ({ uri: r.uri, range });
  const rate = passRatePhrase(r);
  const output: string[] = [];
  const head = `${r.outcome === 'passed' ? '✓' : r.outcome === 'failed' ? '✗' : '–'} ${r.id}  ${r.outcome}${rate ? `: ${rate}` : ''}  ${formatDuration(r.durationMs)}`;
  output.push(head);
  if (r.outcome === 'skipped') {
    if (r.reason) output.push(`    skipped: ${r.reason}`);
    return { state: 'skipped', durationMs: r.durationMs, messages: [], output };
  }
  if (r.outcome === 'passed') return { state: 'passed', durationMs: r.durationMs, messages: [], output };
  // Failed without a single run: the test cannot run as written.
  if (!r.repetitions.length) {
    const message = r.reason ?? 'the test could not run';
    output.push(`    ${message}`);
    return { state: 'errored', durationMs: r.durationMs, messages: [{ message, location: at(r.range) }], output };
  }
  const messages: TestMessagePlan[] = [];
  const prefix = rate ? `${rate}; in the first failed run: ` : '';
  for (const a of r.assertions) {
    if (a.passed) continue;
    const text = `${prefix}${a.label}: ${a.message ?? 'failed'}`;
    const m: TestMessagePlan = { message: text, location: at(a.range) };
    if (a.expected !== undefined && a.actual !== undefined) {
      m.expected = a.expected;
      m.actual = a.actual;
    }
    messages.push(m);
    output.push(`    ${a.label}: ${a.message ?? 'failed'}`);
  }
  if (!messages.length) {
    // Every assertion of the run shown passed, yet the test failed: its pass rate was too low.
    const message = rate ? `${rate}` : (r.reason ?? 'failed');
    messages.push({ message, location: at(r.range) });
    if (!rate) output.push(`    ${message}`);
  }
  return { state: 'failed', durationMs: r.durationMs, messages, output };
}

/** A workspace's name for people: its folder relative to the editor's, or its own name when it is the editor's folder. */
export function workspaceName(uri: string, relative: string | undefined): string {
  if (relative && relative !== '.') return relative;
  return decodeURIComponent(uri.replace(/\/+$/, '').split('/').pop() ?? uri);
}

/** The run's last line in the test output: counts, time, and the golden files it wrote. */
export function runSummaryLine(report: TestRunReportInfo, workspaceName: string): string {
  const s = report.summary;
  const parts = [`${s.passed} passed`, `${s.failed} failed`];
  if (s.skipped) parts.push(`${s.skipped} skipped`);
  let line = `${workspaceName}: ${s.total} test${s.total === 1 ? '' : 's'}${report.live ? ' (live)' : ''}: ${parts.join(', ')} in ${formatDuration(report.durationMs)}`;
  const n = report.problems.length;
  if (n) line += `; ${n} problem${n === 1 ? '' : 's'} in the test files fail${n === 1 ? 's' : ''} the run`;
  if (report.snapshotsWritten.length) line += `; wrote ${report.snapshotsWritten.length} snapshot${report.snapshotsWritten.length === 1 ? '' : 's'}`;
  if (report.historyError) line += `; not recorded in the history: ${report.historyError}`;
  return line;
}

/** The reason the live profile gives in an untrusted workspace. */
export const UNTRUSTED_LIVE_MESSAGE = `Not run: this workspace is not trusted, and a live run sends prompts to the model providers of ${COMPOSITION_RULES_FILE}. Trust the workspace to run with a live model; the offline Run profile works without trust.`;

/** Checks the number of runs asked for by "Run N Times"; undefined when it is fine. */
export function repeatCountError(text: string): string | undefined {
  const n = Number(text.trim());
  return /^\d+$/.test(text.trim()) && n >= 1 && n <= 1000 ? undefined : 'A whole number of runs, from 1 to 1000';
}

/** A test file's problem, as a line of the run's output: `prompt_tests/x.yaml:4:7 yaml-syntax ...`. */
export function problemLine(p: TestFileProblem, fileLabel: (uri: string) => string): string {
  return `${fileLabel(p.uri)}:${p.range.start.line + 1}:${p.range.start.character + 1} ${p.code} ${p.message}`;
}
