/**
 * Prompt tests in VS Code's Testing view: a test controller whose tree is the server's list of
 * every workspace's tests (`promptManager/listTests`, refreshed on `promptManager/testsChanged`
 * as you type), with run profiles that run the tests in the server (`promptManager/runTests`,
 * followed through `promptManager/testProgress`, cancelled through the request): Run
 * (offline), Run with Live Model (refused in an untrusted workspace, saying why), Run N Times
 * (the pass rate of each test, in its output and its description) and Run and Update
 * Snapshots. A failure is shown at its assertion's line, a snapshot or `equals` mismatch as a
 * diff, and each test's description says how it fared in its last runs
 * (`promptManager/testHistory`).
 *
 * The tree and the results are computed by pure functions (testTree.ts, testResults.ts); this
 * module only turns them into Testing API calls.
 */
import * as vscode from 'vscode';
import {
  ListTestsRequest,
  RunTestsRequest,
  TestHistoryRequest,
  type PromptTestResultInfo,
  type RunTestsParams,
  type TestHistoryInfo,
  type TestProgressEventInfo,
  type TestProgressParams,
  type WorkspaceTests,
} from '../protocol/protocol.js';
import { formatDuration } from './format.js';
import { outcomePlan, passRatePhrase, problemLine, repeatCountError, runSummaryLine, UNTRUSTED_LIVE_MESSAGE, workspaceName, type TestOutcomePlan } from './testResults.js';
import { selectTests, testTree, type RepeatedRun, type TestTreeFile } from './testTree.js';
import { isConnectionLost, requestErrorMessage, type ServerController } from './serverController.js';

type RunOptions = Pick<RunTestsParams, 'live' | 'repeat' | 'updateSnapshots'>;

/** How long the tree waits after a `testsChanged` before asking again: a burst of keystrokes is one refresh. */
const REFRESH_DELAY_MS = 150;
/** Runs of each test the description's history looks at. */
const HISTORY_RUNS = 10;

const toRange = (r: { start: { line: number; character: number }; end: { line: number; character: number } }) => new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character);
/** Output of a test run: the Testing view's terminal wants CRLF. */
const crlf = (lines: string[]) => lines.join('\r\n') + '\r\n';

export class PromptTestController implements vscode.Disposable {
  readonly controller: vscode.TestController;
  private lists: WorkspaceTests[] = [];
  private tree: TestTreeFile[] = [];
  private readonly history = new Map<string, Map<string, TestHistoryInfo>>();
  /** The last run of each test that was repeated, by workspace: its pass rate stays in its description until it runs again. */
  private readonly repeated = new Map<string, Map<string, RepeatedRun>>();
  /** Progress listeners of the runs under way, by run id. */
  private readonly progress = new Map<string, (e: TestProgressEventInfo) => void>();
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private lastRepeat = 10;
  private runCounter = 0;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly server: ServerController,
    private readonly out: vscode.OutputChannel,
  ) {
    const c = (this.controller = vscode.tests.createTestController('promptManager.tests', 'Prompt Tests'));
    c.refreshHandler = () => this.refresh({ history: true });
    c.createRunProfile('Run', vscode.TestRunProfileKind.Run, (r, t) => this.run(r, t, {}), true);
    c.createRunProfile('Run with Live Model', vscode.TestRunProfileKind.Run, (r, t) => this.run(r, t, { live: true }), false);
    c.createRunProfile('Run N Times…', vscode.TestRunProfileKind.Run, (r, t) => this.runRepeated(r, t), false);
    c.createRunProfile('Run and Update Snapshots', vscode.TestRunProfileKind.Run, (r, t) => this.run(r, t, { updateSnapshots: 'all' }), false);
    this.disposables.push(c);
  }

  /** `promptManager/testProgress`: to the run it belongs to. */
  onProgress(p: TestProgressParams): void {
    this.progress.get(p.runId)?.(p.event);
  }

  /** `promptManager/testsChanged`: the tree is asked for again shortly. */
  onTestsChanged(): void {
    if (this.refreshTimer !== undefined) clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      void this.refresh();
    }, REFRESH_DELAY_MS);
  }

  /** Lists every workspace's tests again (and, when asked, their history); one refresh at a time. */
  refresh(options: { history?: boolean } = {}): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      try {
        do {
          this.refreshAgain = false;
          const r = await this.server.request(ListTestsRequest, {});
          this.lists = r.workspaces;
          const missing = this.lists.filter((w) => w.tests.length && (options.history || !this.history.has(w.workspace))).map((w) => w.workspace);
          await this.loadHistory(missing);
          this.apply();
        } while (this.refreshAgain);
      } catch (e) {
        if (!isConnectionLost(e)) this.out.appendLine(`Prompt tests: could not list the tests: ${requestErrorMessage(e)}`);
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  private async loadHistory(workspaces: string[]): Promise<void> {
    await Promise.all(
      workspaces.map(async (workspace) => {
        try {
          const h = await this.server.request(TestHistoryRequest, { workspace, limit: HISTORY_RUNS });
          this.history.set(workspace, new Map(h.tests.map((t) => [t.id, t])));
        } catch {
          // No history is no description; the tests are listed all the same.
        }
      }),
    );
  }

  /** Makes the controller's items the tree's: items kept by id (and with them their results). */
  private apply(): void {
    const multipleRoots = (vscode.workspace.workspaceFolders?.length ?? 0) > 1;
    this.tree = testTree(this.lists, this.history, (uri) => vscode.workspace.asRelativePath(vscode.Uri.parse(uri), multipleRoots), this.repeated);
    const files: vscode.TestItem[] = [];
    for (const f of this.tree) {
      const fileItem = this.controller.items.get(f.id) ?? this.controller.createTestItem(f.id, f.label, vscode.Uri.parse(f.uri));
      fileItem.label = f.label;
      fileItem.error = f.error;
      const tests: vscode.TestItem[] = [];
      for (const t of f.tests) {
        const item = fileItem.children.get(t.id) ?? this.controller.createTestItem(t.id, t.label, vscode.Uri.parse(t.uri));
        item.range = toRange(t.range);
        item.description = t.description;
        item.error = t.error;
        tests.push(item);
      }
      fileItem.children.replace(tests);
      files.push(fileItem);
    }
    this.controller.items.replace(files);
  }

  private async runRepeated(request: vscode.TestRunRequest, token: vscode.CancellationToken): Promise<void> {
    const text = await vscode.window.showInputBox({
      title: 'Run N Times',
      prompt: 'How many times to run each test: each reports how many of its runs passed',
      value: String(this.lastRepeat),
      validateInput: repeatCountError,
      ignoreFocusOut: true,
    });
    if (text === undefined) return;
    this.lastRepeat = Number(text.trim());
    await this.run(request, token, { repeat: this.lastRepeat });
  }

  /** Where a request's item is in the tree: a file, or a test of a file. */
  private static place(item: vscode.TestItem): { fileId: string; testId?: string } {
    return item.parent ? { fileId: item.parent.id, testId: item.id } : { fileId: item.id };
  }

  private itemOf(fileId: string, testId: string): vscode.TestItem | undefined {
    return this.controller.items.get(fileId)?.children.get(testId);
  }

  private async run(request: vscode.TestRunRequest, token: vscode.CancellationToken, options: RunOptions): Promise<void> {
    // Make sure the tree is the server's current one (a run right after typing).
    if (this.refreshTimer !== undefined || this.refreshing) await this.refresh();
    const selection = selectTests(this.tree, request.include?.map(PromptTestController.place), request.exclude?.map(PromptTestController.place));
    const what = options.live ? 'live ' : options.repeat ? `${options.repeat}× ` : '';
    const run = this.controller.createTestRun(request, `Prompt tests (${what}run)`, true);
    const items = new Map<string, Map<string, vscode.TestItem>>();
    for (const [ws, sel] of selection) {
      const m = new Map<string, vscode.TestItem>();
      for (const t of sel.tests) {
        const fileId = this.tree.find((f) => f.tests.includes(t))!.id;
        const item = this.itemOf(fileId, t.id);
        if (item) m.set(t.id, item);
      }
      items.set(ws, m);
    }
    try {
      if (options.live && !vscode.workspace.isTrusted) {
        run.appendOutput(crlf([UNTRUSTED_LIVE_MESSAGE]));
        for (const m of items.values()) for (const item of m.values()) run.errored(item, new vscode.TestMessage(UNTRUSTED_LIVE_MESSAGE));
        void vscode.window.showWarningMessage(`PromptManager: ${UNTRUSTED_LIVE_MESSAGE}`);
        return;
      }
      for (const m of items.values()) for (const item of m.values()) run.enqueued(item);
      for (const [workspace, sel] of selection) {
        if (token.isCancellationRequested) break;
        const everything = !request.include && !request.exclude?.length;
        await this.runWorkspace(run, workspace, sel.ids, everything, items.get(workspace)!, token, options);
      }
    } finally {
      run.end();
    }
    await this.loadHistory([...selection.keys()]);
    this.apply();
  }

  private async runWorkspace(run: vscode.TestRun, workspace: string, ids: string[], all: boolean, items: Map<string, vscode.TestItem>, token: vscode.CancellationToken, options: RunOptions): Promise<void> {
    const runId = `tests-${Date.now().toString(36)}-${++this.runCounter}`;
    const done = new Set<string>();
    const name = workspaceName(workspace, this.lists.find((w) => w.workspace === workspace)?.name);
    const finish = (r: PromptTestResultInfo) => {
      const item = items.get(r.id);
      if (!item || done.has(r.id)) return;
      done.add(r.id);
      this.report(run, item, outcomePlan(r));
      let rates = this.repeated.get(workspace);
      if (!rates) this.repeated.set(workspace, (rates = new Map()));
      if (r.repetitions.length > 1) rates.set(r.id, { passed: r.repetitions.filter((x) => x.passed).length, runs: r.repetitions.length });
      else rates.delete(r.id);
    };
    this.progress.set(runId, (e) => {
      if (e.type === 'test.started') {
        const item = items.get(e.id);
        if (item) run.started(item);
      } else if (e.type === 'test.repetition' && e.of > 1) {
        const item = items.get(e.id);
        const r = e.result;
        if (item) run.appendOutput(crlf([`  ${e.id}: run ${r.repetition} of ${e.of} ${r.passed ? 'passed' : 'failed'} (${r.status}, ${formatDuration(r.durationMs)})`]), undefined, item);
      } else if (e.type === 'test.finished') finish(e.result);
    });
    const leftOver = (state: 'skipped' | 'errored', message: string) => {
      for (const [id, item] of items) {
        if (done.has(id)) continue;
        if (state === 'skipped') run.skipped(item);
        else run.errored(item, new vscode.TestMessage(message));
      }
      run.appendOutput(crlf([`${name}: ${message}`]));
    };
    try {
      // Every test of the workspace: no ids, so that the run also fails on its test files' problems.
      const params: RunTestsParams = { workspace, runId, ...options, ...(all ? {} : { ids }) };
      const res = await this.server.request(RunTestsRequest, params, token);
      if (!res.ok) return leftOver('errored', res.error.message);
      for (const r of res.report.results) finish(r);
      if (token.isCancellationRequested) leftOver('skipped', 'cancelled');
      const line = runSummaryLine(res.report, name);
      for (const p of res.report.problems) {
        const text = problemLine(p, (u) => vscode.workspace.asRelativePath(vscode.Uri.parse(u)));
        run.appendOutput(crlf([text]), new vscode.Location(vscode.Uri.parse(p.uri), toRange(p.range)));
        this.out.appendLine(`Prompt tests: ${text}`);
      }
      run.appendOutput(crlf([line]));
      this.out.appendLine(`Prompt tests: ${line}`);
      // A repeated run's point is each test's pass rate: kept in the output channel too.
      for (const r of res.report.results) {
        const rate = passRatePhrase(r);
        if (rate) this.out.appendLine(`Prompt tests: ${r.id} ${r.outcome}: ${rate}`);
      }
    } catch (e) {
      if (token.isCancellationRequested) leftOver('skipped', 'cancelled');
      else leftOver('errored', requestErrorMessage(e));
    } finally {
      this.progress.delete(runId);
    }
  }

  private report(run: vscode.TestRun, item: vscode.TestItem, plan: TestOutcomePlan): void {
    run.appendOutput(crlf(plan.output), undefined, item);
    const messages = plan.messages.map((m) => {
      const msg = m.expected !== undefined && m.actual !== undefined ? vscode.TestMessage.diff(m.message, m.expected, m.actual) : new vscode.TestMessage(m.message);
      if (m.location) msg.location = new vscode.Location(vscode.Uri.parse(m.location.uri), toRange(m.location.range));
      return msg;
    });
    switch (plan.state) {
      case 'passed':
        return run.passed(item, plan.durationMs);
      case 'skipped':
        return run.skipped(item);
      case 'failed':
        return run.failed(item, messages, plan.durationMs);
      case 'errored':
        return run.errored(item, messages, plan.durationMs);
    }
  }

  dispose(): void {
    if (this.refreshTimer !== undefined) clearTimeout(this.refreshTimer);
    for (const d of this.disposables) d.dispose();
  }
}
