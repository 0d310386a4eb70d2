/**
 * The Testing view's tree of prompt tests, as plain data from the server's lists
 * (`promptManager/listTests`) and history (`promptManager/testHistory`): one item per test
 * file, its tests below it at their ranges (which gives them their gutter icons), each with a
 * description saying what it runs, the pass rate of its last run when it was repeated ("pass
 * rate 80% (4 of 5)") and how it fared lately ("failed in 3 of the last 10 runs").
 * Pure (no `vscode` import), so that it is unit-tested as it is; testController.ts applies it.
 *
 * Ids are what the Testing view keeps between refreshes (its results, "Rerun Failed Tests"): a
 * file's is its URI, a test's its name (unique in its workspace), so an edit that moves a test
 * keeps its item and its last result.
 */
import type { PromptTestItem, TestHistoryInfo, WorkspaceTests } from '../protocol/protocol.js';

type Range = PromptTestItem['range'];

export interface TestTreeTest {
  /** The test's name: its item's id below its file. */
  id: string;
  uri: string;
  /** The whole test: the gutter icon goes on its first line, "run test at cursor" finds it. */
  range: Range;
  label: string;
  description: string;
  /** Why it cannot run as written. */
  error?: string;
  live: boolean;
  /** The prompt workspace folder it belongs to. */
  workspace: string;
}

export interface TestTreeFile {
  /** The file's URI: its item's id. */
  id: string;
  uri: string;
  label: string;
  workspace: string;
  /** Why no test of the workspace can run now (its configuration has errors), and the file's own problems (it does not parse...). */
  error?: string;
  tests: TestTreeTest[];
}

/** "failed in 3 of the last 10 runs", "passed the last 4 runs", "passed its only run"; undefined without history. */
export function historyPhrase(h: TestHistoryInfo | undefined): string | undefined {
  if (!h || h.runs === 0) return undefined;
  if (h.runs === 1) return `${h.failed ? 'failed' : h.passed ? 'passed' : 'skipped in'} its only run`;
  const last = `the last ${h.runs} runs`;
  if (h.failed > 0) return `failed in ${h.failed} of ${last}`;
  if (h.passed === 0) return `skipped in ${last}`;
  if (h.skipped > 0) return `passed ${h.passed} of ${last} (skipped in ${h.skipped})`;
  return `passed ${last}`;
}

/** What a test runs, in a few words: `template analysis/summary` or `composition reply_drafter as drafting_service`. */
export function targetPhrase(t: Pick<PromptTestItem, 'kind' | 'target' | 'service' | 'live'>): string {
  return `${t.live ? 'live · ' : ''}${t.kind} ${t.target}${t.service ? ` as ${t.service}` : ''}`;
}

/** How many repetitions of a test's last run passed, kept by the client until the test runs again. */
export interface RepeatedRun {
  passed: number;
  runs: number;
}

/** "pass rate 80% (4 of 5)" for a last run of more than one repetition; undefined otherwise. */
export function passRateOfLastRun(r: RepeatedRun | undefined): string | undefined {
  if (!r || r.runs <= 1) return undefined;
  return `pass rate ${Math.round((r.passed / r.runs) * 100)}% (${r.passed} of ${r.runs})`;
}

/** A test item's description: what it runs, the pass rate of its last run when it was repeated, and how it fared lately. */
export function describeTest(t: PromptTestItem, h: TestHistoryInfo | undefined, last?: RepeatedRun): string {
  return [targetPhrase(t), passRateOfLastRun(last), historyPhrase(h)].filter(Boolean).join(' · ');
}

/**
 * The tree of every workspace's tests: files in the order the server lists them (a file
 * with no test is left out, unless it has problems to show), tests in file order.
 * `history` and `repeated` (the last runs that were repeated) are by workspace, then test
 * name; `fileLabel` names a file for people.
 */
export function testTree(
  workspaces: readonly WorkspaceTests[],
  history: ReadonlyMap<string, ReadonlyMap<string, TestHistoryInfo>>,
  fileLabel: (uri: string) => string,
  repeated: ReadonlyMap<string, ReadonlyMap<string, RepeatedRun>> = new Map(),
): TestTreeFile[] {
  const out: TestTreeFile[] = [];
  for (const w of workspaces) {
    const byFile = new Map<string, TestTreeTest[]>();
    for (const t of w.tests) {
      const description = describeTest(t, history.get(w.workspace)?.get(t.id), repeated.get(w.workspace)?.get(t.id));
      const item: TestTreeTest = { id: t.id, uri: t.uri, range: t.fullRange, label: t.id, description, live: t.live, workspace: w.workspace };
      if (t.error) item.error = t.error;
      const list = byFile.get(t.uri);
      if (list) list.push(item);
      else byFile.set(t.uri, [item]);
    }
    const files = [...w.files, ...[...byFile.keys()].filter((f) => !w.files.includes(f))];
    for (const f of files) {
      const tests = byFile.get(f) ?? [];
      // A file with no test is left out, unless it has problems (it does not parse...): then it shows them.
      const problems = w.problems.filter((p) => p.uri === f).map((p) => `line ${p.range.start.line + 1}: ${p.message}`);
      if (!tests.length && !problems.length) continue;
      const file: TestTreeFile = { id: f, uri: f, label: fileLabel(f), workspace: w.workspace, tests };
      const error = [w.error, ...problems].filter(Boolean).join('\n');
      if (error) file.error = error;
      out.push(file);
    }
  }
  return out;
}

/** The tests a run request selects: the items it names (a file meaning all its tests) minus the excluded ones, by workspace. */
export function selectTests(tree: readonly TestTreeFile[], include: readonly { fileId: string; testId?: string }[] | undefined, exclude: readonly { fileId: string; testId?: string }[] = []): Map<string, { workspace: string; ids: string[]; tests: TestTreeTest[] }> {
  const out = new Map<string, { workspace: string; ids: string[]; tests: TestTreeTest[] }>();
  const excluded = (f: TestTreeFile, t?: TestTreeTest) => exclude.some((e) => e.fileId === f.id && (e.testId === undefined || e.testId === t?.id));
  const add = (f: TestTreeFile, t: TestTreeTest) => {
    if (excluded(f, t)) return;
    let w = out.get(f.workspace);
    if (!w) out.set(f.workspace, (w = { workspace: f.workspace, ids: [], tests: [] }));
    if (!w.ids.includes(t.id)) {
      w.ids.push(t.id);
      w.tests.push(t);
    }
  };
  for (const f of tree) {
    if (excluded(f)) continue;
    if (!include) {
      for (const t of f.tests) add(f, t);
      continue;
    }
    for (const i of include) {
      if (i.fileId !== f.id) continue;
      if (i.testId === undefined) for (const t of f.tests) add(f, t);
      else {
        const t = f.tests.find((x) => x.id === i.testId);
        if (t) add(f, t);
      }
    }
  }
  return out;
}
