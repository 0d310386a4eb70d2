/**
 * How `promptmanager test` shows a run in a terminal: each test as it finishes, grouped by
 * file, a failure's assertions at their file and line with what was expected and what came
 * (the first lines that differ), then the summary and, with `--compare`, what changed since
 * the previous run. JUnit XML is the core's (core/testing/junit.ts); JSON is the report itself.
 */
import * as path from 'node:path';
import { plural } from '../core/plural.js';
import type { RunComparison } from '../core/testing/compare.js';
import type { AssertionResult, PromptTestResult, TestRunReport } from '../core/testing/types.js';

/** Around the first line that differs: a few lines of each side. */
export function lineDiff(expected: string, actual: string, context = 2): string[] {
  const e = expected.split('\n');
  const a = actual.split('\n');
  let i = 0;
  while (i < e.length && i < a.length && e[i] === a[i]) i++;
  const from = Math.max(0, i - context);
  const out: string[] = [`first difference at line ${i + 1}:`];
  for (let k = from; k < i; k++) out.push(`    ${e[k]}`);
  for (let k = i; k < Math.min(e.length, i + context + 1); k++) out.push(`  - ${e[k]}`);
  for (let k = i; k < Math.min(a.length, i + context + 1); k++) out.push(`  + ${a[k]}`);
  return out;
}

function assertionLines(a: AssertionResult, rel: string): string[] {
  const lines = [`      ${rel}:${a.range.start.line + 1}: ${a.label}`, `        ${a.message ?? 'failed'}`];
  if (a.expected !== undefined && a.actual !== undefined && (a.kind === 'equals' || a.kind === 'snapshot')) {
    lines.push(...lineDiff(a.expected, a.actual).map((l) => `        ${l}`));
  }
  return lines;
}

const ms = (n: number) => (n < 10 ? `${n.toFixed(1)} ms` : `${Math.round(n)} ms`);

/** One test's lines, as it finishes. */
export function formatTestResult(r: PromptTestResult, root: string): string[] {
  const rel = path.relative(root, r.file).split(path.sep).join('/');
  const reps = r.repetitions.length > 1 ? `, ${r.repetitions.filter((x) => x.passed).length}/${r.repetitions.length} runs` : '';
  if (r.outcome === 'skipped') return [`  – ${r.id} (skipped: ${r.reason ?? 'not run'})`];
  if (r.outcome === 'passed') return [`  ✔ ${r.id} (${ms(r.durationMs)}${reps})`];
  const lines = [`  ✖ ${r.id} (${ms(r.durationMs)}${reps})`];
  if (r.repetitions.length > 1 && r.reason) lines.push(`      ${r.reason}`);
  const failed = r.assertions.filter((a) => !a.passed);
  if (!failed.length && r.reason) lines.push(`      ${r.reason}`);
  for (const a of failed) lines.push(...assertionLines(a, rel));
  return lines;
}

export function formatSummary(reports: readonly TestRunReport[], cwd: string): string[] {
  const sum = { total: 0, passed: 0, failed: 0, skipped: 0 };
  let time = 0;
  const written: string[] = [];
  for (const r of reports) {
    for (const k of ['total', 'passed', 'failed', 'skipped'] as const) sum[k] += r.summary[k];
    time += r.durationMs;
    written.push(...r.snapshotsWritten);
  }
  const parts = [sum.failed ? `${sum.failed} failed` : '', `${sum.passed} passed`, sum.skipped ? `${sum.skipped} skipped` : ''].filter(Boolean);
  const lines: string[] = [];
  const problems = reports.flatMap((r) => r.problems);
  if (problems.length) {
    lines.push(`Test files with errors (fix them: 'promptmanager validate' shows the same):`);
    for (const p of problems) lines.push(`  ${path.relative(cwd, p.file)}:${p.range.start.line + 1}:${p.range.start.character + 1}: error ${p.code} ${p.message}`);
  }
  lines.push(`Tests: ${parts.join(', ')}, ${plural(sum.total, 'test')} in ${(time / 1000).toFixed(2)} s${problems.length ? `; ${plural(new Set(problems.map((p) => p.file)).size, 'test file')} with errors` : ''}`);
  if (written.length) lines.push(`Snapshots: ${plural(written.length, 'file')} written (review and commit): ${written.map((f) => path.relative(cwd, f)).join(', ')}`);
  for (const r of reports) {
    if (r.cache && (r.cache.hits || r.cache.misses)) lines.push(`Response cache: ${r.cache.hits} of ${r.cache.hits + r.cache.misses} model calls answered from the cache`);
    if (r.cache?.lastError) lines.push(`Response cache not used (${r.cache.errors} time${r.cache.errors === 1 ? '' : 's'}): ${r.cache.lastError}`);
    if (r.historyError) lines.push(r.historyError);
  }
  return lines;
}

/** The comparison with the previous runs, in lines. */
export function formatComparison(c: RunComparison, workspace?: string): string[] {
  const head = workspace ? ` (${workspace})` : '';
  if (!c.previous) return [`Compare${head}: no earlier run recorded; this run is the baseline for the next --compare`];
  const when = new Date(c.previous.startedAt).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const lines = [`Compared with the run of ${when}${head}: ${(c.previous.durationMs / 1000).toFixed(2)} s then, ${(c.durationMs.after / 1000).toFixed(2)} s now`];
  for (const f of c.newlyFailing) lines.push(`  newly failing: ${f.id}${f.failures[0] ? `: ${f.failures[0]}` : ''}`);
  for (const id of c.newlyPassing) lines.push(`  newly passing: ${id}`);
  if (c.stillFailing.length) lines.push(`  still failing: ${c.stillFailing.join(', ')}`);
  for (const s of c.changedSnapshots) lines.push(`  snapshot changed: ${s.id} (${s.file})`);
  if (c.newTests.length) lines.push(`  new: ${c.newTests.join(', ')}`);
  for (const t of c.slower) lines.push(`  slower: ${t.id} ${ms(t.beforeMs)} -> ${ms(t.afterMs)}`);
  for (const t of c.faster) lines.push(`  faster: ${t.id} ${ms(t.beforeMs)} -> ${ms(t.afterMs)}`);
  if (lines.length === 1) lines.push('  nothing changed: same outcomes, same snapshots, no notable change of time');
  return lines;
}
