/**
 * A test run as JUnit XML, the format CI systems read (Jenkins, GitLab, GitHub Actions'
 * reporters, Azure Pipelines, CircleCI), held to the common Jenkins/Surefire schema (the
 * Jenkins xUnit plugin's junit-10.xsd, which allows no other attribute): `testsuites` >
 * `testsuite` (one per test file, its `file` attribute the file) > `testcase` (`name`,
 * `classname`, `time`), with `failure` (a message, and the failed assertions in its text, each
 * at its file and line) or `skipped` (with why). A skipped test is never reported as passed.
 * A repeated test's runs and pass rate go in its `system-out`.
 */
import * as path from 'node:path';
import type { PromptTestResult, TestRunReport } from './types.js';

/** Characters XML 1.0 does not allow at all (control characters but tab, newline, return; lone surrogates). */
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export function xmlEscape(s: string): string {
  return s
    .replace(INVALID_XML, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\r/g, '&#13;')
    .replace(/\n/g, '&#10;')
    .replace(/\t/g, '&#9;');
}

/** Element text: escaped, line breaks kept as they are. */
function text(s: string): string {
  return s.replace(INVALID_XML, '\uFFFD').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const seconds = (ms: number) => (ms / 1000).toFixed(3);
const one = (s: string) => s.replace(/\s+/g, ' ').trim();

function failureOf(r: PromptTestResult, rel: string): { message: string; type: string; body: string } {
  const failed = r.assertions.filter((a) => !a.passed);
  const first = failed[0];
  const message = r.reason && !first ? r.reason : first ? `${first.label}: ${first.message ?? 'failed'}` : (r.reason ?? 'failed');
  const lines: string[] = [];
  if (r.repetitions.length > 1 || r.requiredPassRate < 1) lines.push(`${r.reason ?? ''}`.trim());
  for (const a of failed) {
    lines.push(`${rel}:${a.range.start.line + 1}: ${a.label}`);
    if (a.message) lines.push(`  ${a.message}`);
    if (a.expected !== undefined && a.actual !== undefined && a.kind !== 'contains') {
      lines.push('  expected:', ...a.expected.split('\n').slice(0, 40).map((l) => `    ${l}`));
      lines.push('  actual:', ...a.actual.split('\n').slice(0, 40).map((l) => `    ${l}`));
    }
  }
  return { message: one(message).slice(0, 1000), type: first?.kind ?? 'error', body: lines.filter(Boolean).join('\n') };
}

/**
 * Test runs as one JUnit XML document: a `testsuite` per test file, named by its path from
 * `base` (default: the workspace, for one report; the current folder for several).
 * `name` names the whole run (default `promptmanager`).
 */
export function toJUnitXml(reports: TestRunReport | readonly TestRunReport[], options: { name?: string; base?: string } = {}): string {
  const list: readonly TestRunReport[] = Array.isArray(reports) ? reports : [reports as TestRunReport];
  const base = options.base ?? (list.length === 1 ? list[0]!.root : process.cwd());
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const total = { tests: 0, failed: 0, errors: 0, ms: 0 };
  for (const r of list) {
    total.tests += r.summary.total + new Set(r.problems.map((p) => p.file)).size;
    total.failed += r.summary.failed;
    total.errors += new Set(r.problems.map((p) => p.file)).size;
    total.ms += r.durationMs;
  }
  out.push(`<testsuites name="${xmlEscape(options.name ?? 'promptmanager')}" tests="${total.tests}" failures="${total.failed}" errors="${total.errors}" time="${seconds(total.ms)}">`);
  let id = 0;
  for (const report of list) {
    const byFile = new Map<string, PromptTestResult[]>();
    for (const r of report.results) byFile.set(r.file, [...(byFile.get(r.file) ?? []), r]);
    const timestamp = new Date(report.startedAt).toISOString().replace(/\.\d+Z$/, '');
    for (const [file, results] of byFile) {
      const rel = path.relative(base, file).split(path.sep).join('/') || path.basename(file);
      const failures = results.filter((r) => r.outcome === 'failed').length;
      const skipped = results.filter((r) => r.outcome === 'skipped').length;
      const time = results.reduce((n, r) => n + r.durationMs, 0);
      out.push(`  <testsuite name="${xmlEscape(rel)}" tests="${results.length}" failures="${failures}" errors="0" skipped="${skipped}" time="${seconds(time)}" timestamp="${timestamp}" id="${id++}" package="${xmlEscape(path.basename(report.root))}" file="${xmlEscape(rel)}">`);
      for (const r of results) {
        const attrs = `name="${xmlEscape(r.id)}" classname="${xmlEscape(rel.replace(/\.yaml$/, '').replace(/\//g, '.'))}" time="${seconds(r.durationMs)}"`;
        const runs = r.repetitions.length > 1 ? `${r.repetitions.filter((x) => x.passed).length} of ${r.repetitions.length} runs passed (pass rate ${Math.round(r.passRate * 100)}%, ${Math.round(r.requiredPassRate * 100)}% required)` : '';
        if (r.outcome === 'passed' && !runs) {
          out.push(`    <testcase ${attrs}/>`);
          continue;
        }
        out.push(`    <testcase ${attrs}>`);
        if (r.outcome === 'skipped') out.push(`      <skipped message="${xmlEscape(r.reason ?? 'skipped')}"/>`);
        else if (r.outcome === 'failed') {
          const f = failureOf(r, rel);
          out.push(`      <failure message="${xmlEscape(f.message)}" type="${xmlEscape(f.type)}">${text(f.body)}</failure>`);
        }
        if (runs) out.push(`      <system-out>${text(runs)}</system-out>`);
        out.push('    </testcase>');
      }
      out.push('  </testsuite>');
    }
    // A test file that does not load is an error of its own suite: CI shows it, never a pass.
    const broken = new Map<string, TestRunReport['problems']>();
    for (const p of report.problems) broken.set(p.file, [...(broken.get(p.file) ?? []), p]);
    for (const [file, problems] of broken) {
      const rel = path.relative(base, file).split(path.sep).join('/') || path.basename(file);
      out.push(`  <testsuite name="${xmlEscape(rel)}" tests="1" failures="0" errors="1" skipped="0" time="0.000" timestamp="${timestamp}" id="${id++}" package="${xmlEscape(path.basename(report.root))}" file="${xmlEscape(rel)}">`);
      out.push(`    <testcase name="${xmlEscape(`${rel} is a valid test file`)}" classname="${xmlEscape(rel.replace(/\.yaml$/, '').replace(/\//g, '.'))}" time="0.000">`);
      const first = problems[0]!;
      const body = problems.map((p) => `${rel}:${p.range.start.line + 1}:${p.range.start.character + 1}: ${p.code} ${p.message}`).join('\n');
      out.push(`      <error message="${xmlEscape(one(`${first.code} ${first.message}`).slice(0, 1000))}" type="${xmlEscape(first.code)}">${text(body)}</error>`);
      out.push('    </testcase>');
      out.push('  </testsuite>');
    }
  }
  out.push('</testsuites>');
  return out.join('\n') + '\n';
}
