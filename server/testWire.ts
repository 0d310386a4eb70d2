/**
 * The core's prompt test values (core/testing/types.ts) as the protocol sends them
 * (protocol/testTypes.ts): files become URIs, a report loses what only the CLI needs (its
 * history file's path, the response cache's counters, each run's own assertions), nothing
 * else changes. One function per shape, each checked field by field by the compiler.
 */
import type { AssertionInfo, AssertionResult, PromptTestInfo, PromptTestResult, RepetitionResult, TestProgressEvent, TestRunReport } from '../core/testing/types.js';
import type { PromptTestItem, PromptTestResultInfo, TestAssertionInfo, TestAssertionResult, TestFileProblem, TestProgressEventInfo, TestRepetitionInfo, TestRunReportInfo } from '../protocol/protocol.js';

export type UriOf = (file: string) => string;

function wireAssertionInfo(a: AssertionInfo): TestAssertionInfo {
  const out: TestAssertionInfo = { index: a.index, label: a.label, range: a.range };
  if (a.kind !== undefined) out.kind = a.kind;
  return out;
}

export function wireTestItem(t: PromptTestInfo, uriOf: UriOf): PromptTestItem {
  const out: PromptTestItem = {
    id: t.id,
    uri: uriOf(t.file),
    range: t.range,
    fullRange: t.fullRange,
    kind: t.kind,
    target: t.target,
    live: t.live,
    repeat: t.repeat,
    passRate: t.passRate,
    assertions: t.assertions.map(wireAssertionInfo),
  };
  if (t.description !== undefined) out.description = t.description;
  if (t.service !== undefined) out.service = t.service;
  if (t.error !== undefined) out.error = t.error;
  return out;
}

function wireAssertionResult(a: AssertionResult, uriOf: UriOf): TestAssertionResult {
  const out: TestAssertionResult = { ...wireAssertionInfo(a), passed: a.passed };
  if (a.message !== undefined) out.message = a.message;
  if (a.expected !== undefined) out.expected = a.expected;
  if (a.actual !== undefined) out.actual = a.actual;
  if (a.snapshot) out.snapshot = { uri: uriOf(a.snapshot.file), status: a.snapshot.status };
  if (a.implicit) out.implicit = true;
  return out;
}

function wireRepetition(r: RepetitionResult): TestRepetitionInfo {
  return { repetition: r.repetition, passed: r.passed, durationMs: r.durationMs, status: r.status };
}

export function wireTestResult(r: PromptTestResult, uriOf: UriOf): PromptTestResultInfo {
  const out: PromptTestResultInfo = {
    id: r.id,
    uri: uriOf(r.file),
    range: r.range,
    outcome: r.outcome,
    durationMs: r.durationMs,
    repetitions: r.repetitions.map(wireRepetition),
    passRate: r.passRate,
    requiredPassRate: r.requiredPassRate,
    assertions: r.assertions.map((a) => wireAssertionResult(a, uriOf)),
    live: r.live,
  };
  if (r.reason !== undefined) out.reason = r.reason;
  return out;
}

export function wireTestFileProblem(d: { file: string; range: TestFileProblem['range']; code: string; message: string }, uriOf: UriOf): TestFileProblem {
  return { uri: uriOf(d.file), range: d.range, code: d.code, message: d.message };
}

export function wireTestReport(r: TestRunReport, workspace: string, uriOf: UriOf): TestRunReportInfo {
  const out: TestRunReportInfo = {
    workspace,
    startedAt: r.startedAt,
    durationMs: r.durationMs,
    live: r.live,
    results: r.results.map((x) => wireTestResult(x, uriOf)),
    summary: { ...r.summary },
    problems: r.problems.map((x) => wireTestFileProblem(x, uriOf)),
    snapshotsWritten: r.snapshotsWritten.map(uriOf),
  };
  if (r.historyError !== undefined) out.historyError = r.historyError;
  return out;
}

/** A progress event for the client; the run's end is the request's answer, not an event. */
export function wireTestEvent(e: TestProgressEvent, uriOf: UriOf): TestProgressEventInfo | undefined {
  switch (e.type) {
    case 'run.started':
      return { type: 'run.started', tests: [...e.tests] };
    case 'test.started':
      return { type: 'test.started', id: e.id };
    case 'test.repetition':
      return { type: 'test.repetition', id: e.id, of: e.of, result: wireRepetition(e.result) };
    case 'test.finished':
      return { type: 'test.finished', result: wireTestResult(e.result, uriOf) };
    case 'run.finished':
      return undefined;
  }
}
