/**
 * The prompt tests of a workspace as an editor lists them: from a validation (the same one its
 * diagnostics come from, so the list follows the open buffers as you type), each test with its
 * ranges, its assertions' labels and ranges, and its first error when it cannot run.
 */
import type { PromptDiagnostic } from '../model/diagnostics.js';
import { snapshotFileName, type PromptTestDef, type PromptTestFileModel } from '../model/testTypes.js';
import type { Range } from '../text/range.js';
import type { WorkspaceValidation } from '../validate/api.js';
import { assertionLabel } from './assertions.js';
import type { PromptTestInfo } from './types.js';

/** A test with what its file knows. */
export interface TestEntry {
  def: PromptTestDef;
  model: PromptTestFileModel;
  info: PromptTestInfo;
}

/** A range without the blank lines and comments' whitespace a block node ends with. */
function rangeOf(model: PromptTestFileModel, start: number, end: number): Range {
  const text = model.lines.text;
  while (end > start && /\s/.test(text[end - 1]!)) end--;
  return model.lines.range(start, end);
}

function inside(d: PromptDiagnostic, r: Range): boolean {
  const s = d.range.start;
  const afterStart = s.line > r.start.line || (s.line === r.start.line && s.character >= r.start.character);
  const beforeEnd = s.line < r.end.line || (s.line === r.end.line && s.character <= r.end.character);
  return afterStart && beforeEnd;
}

/** Every test of the workspace, in file order; a name repeated in a later file is left out (it is an error there). */
export function testEntries(v: WorkspaceValidation): TestEntry[] {
  const out: TestEntry[] = [];
  const seen = new Set<string>();
  const errors = v.diagnostics.filter((d) => d.severity === 'error');
  for (const model of v.promptTests) {
    const mine = errors.filter((d) => d.file === model.file);
    for (const t of model.tests) {
      if (seen.has(t.name)) continue;
      seen.add(t.name);
      const fullRange = rangeOf(model, t.nameNode.start, t.node.end);
      const problem = mine.find((d) => inside(d, fullRange));
      const info: PromptTestInfo = {
        id: t.name,
        file: model.file,
        range: rangeOf(model, t.nameNode.start, t.nameNode.end),
        fullRange,
        kind: t.template && !t.composition ? 'template' : 'composition',
        target: t.template?.name ?? t.composition?.name ?? '',
        live: t.live,
        repeat: t.repeat ?? 1,
        passRate: t.passRate ?? 1,
        assertions: t.expect.map((a) => ({
          index: a.index,
          ...(a.kind ? { kind: a.kind } : {}),
          label: assertionLabel(t, a, a.kind === 'snapshot' ? snapshotFileName(a) : undefined),
          range: rangeOf(model, a.node.start, a.node.end),
        })),
      };
      if (t.description !== undefined) info.description = t.description;
      if (t.service) info.service = t.service.name;
      if (problem) info.error = `line ${problem.range.start.line + 1}: ${problem.code} ${problem.message}`;
      out.push({ def: t, model, info });
    }
  }
  return out;
}

/**
 * The errors of the test files that belong to no test a run could list: a file that does not
 * parse, a test name the schema refuses, a name used twice. They fail a run: a broken test file
 * must never pass CI by running nothing.
 */
export function testFileProblems(v: WorkspaceValidation, entries: readonly TestEntry[], files?: ReadonlySet<string>): PromptDiagnostic[] {
  const tests = new Set(v.promptTestFiles);
  return v.diagnostics.filter(
    (d) => d.severity === 'error' && tests.has(d.file) && (!files || files.has(d.file)) && !entries.some((e) => e.info.file === d.file && inside(d, e.info.fullRange)),
  );
}

/** The tests of a workspace with their ranges: what an editor shows in its test tree and gutter. */
export function listPromptTests(v: WorkspaceValidation): PromptTestInfo[] {
  return testEntries(v).map((e) => e.info);
}
