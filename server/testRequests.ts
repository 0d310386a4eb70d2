/**
 * The prompt test requests of protocol/testTypes.ts: the tests of a workspace from the
 * validation its diagnostics come from (so the list follows the open buffers as you type), runs
 * of a selection on the core's runner (core/testing/runner.ts) with the open buffers' texts,
 * progress per test and cancellation through the request, and the recorded history. Also the
 * signature by which the server tells a client that a workspace's tests changed.
 */
import * as path from 'node:path';
import { ErrorCodes, ResponseError, type CancellationToken, type Connection } from 'vscode-languageserver/node';
import { summarizeTest, TestHistory } from '../core/testing/history.js';
import { testEntries, testFileProblems } from '../core/testing/listTests.js';
import { runPromptTests } from '../core/testing/runner.js';
import type { WorkspaceValidation } from '../core/validate/api.js';
import type { ResponseCache } from '../core/workflow/responseCache.js';
import { nodeFileSystem, type FileSystemHost } from '../core/workspace/fileSystem.js';
import { ListTestsRequest, RunTestsRequest, TestHistoryRequest, TestProgressNotification, type RunTestsResult, type WorkspaceParams, type WorkspaceTests } from '../protocol/protocol.js';
import { wireTestEvent, wireTestFileProblem, wireTestItem, wireTestReport } from './testWire.js';
import { wirePromptError } from './wire.js';
import type { ManagedWorkspace, WorkspaceManager } from './workspaceManager.js';
import type { WorkspaceSnapshot } from './workspaceSnapshot.js';

export interface TestRequestHost {
  connection: Connection;
  manager: WorkspaceManager;
  ready: Promise<void>;
  freshSnapshot(ws: ManagedWorkspace): WorkspaceSnapshot;
  /** The prompt workspace a request names (customRequests.ts's rules and errors). */
  workspaceOf(p: WorkspaceParams | null | undefined): ManagedWorkspace;
  /** The workspace's trust now: an untrusted one runs nothing live. */
  trusted(): boolean;
  /**
   * Where a live run keeps the model's answers: the workspace engine's cache in Redis when its
   * runs are distributed (promptManager.run.backend `bullmq`); undefined for the runner's own,
   * on disk in the workspace.
   */
  liveResponseCache?(ws: ManagedWorkspace): Promise<ResponseCache | undefined>;
}

/**
 * What `promptManager/listTests` says of a workspace, in short: when it changes, the server
 * says `testsChanged`. Computed after every validation, so it is made of what the list is made
 * of without building the list (labels, every range): each listed test's text and where it
 * starts (its target, assertions, labels and ranges are all read from them; a test file has no
 * defaults of its own), and the test files' errors (they decide which tests cannot run and
 * which problems the files have).
 */
export function testListSignature(v: WorkspaceValidation): string {
  if (!v.promptTestFiles.length) return '';
  const parts: unknown[] = [v.configErrorCount > 0, v.promptTestFiles];
  const seen = new Set<string>();
  for (const m of v.promptTests) {
    for (const t of m.tests) {
      // A name used again later is not listed (it is an error there), as in testEntries().
      if (seen.has(t.name)) continue;
      seen.add(t.name);
      const start = m.lines.positionAt(t.nameNode.start);
      parts.push(m.file, start.line, start.character, m.lines.text.slice(t.nameNode.start, t.node.end).trimEnd());
    }
  }
  const files = new Set(v.promptTestFiles);
  for (const d of v.diagnostics) if (d.severity === 'error' && files.has(d.file)) parts.push(d.file, d.range, d.code, d.message);
  return JSON.stringify(parts);
}

/** The most runs of each test a request may ask for (the runner's own bound). */
const MAX_REPEAT = 1000;

export function registerTestRequests(host: TestRequestHost): () => void {
  const { connection, manager } = host;
  /** Runs under way, to cancel on shutdown. */
  const running = new Set<AbortController>();
  let runs = 0;
  /** The open buffers win over disk, as for the diagnostics the tests' list comes from. */
  const liveFs: FileSystemHost = {
    ...nodeFileSystem,
    readFile: (f, maxBytes) => manager.open.get(f)?.text ?? nodeFileSystem.readFile(f, maxBytes),
    realpath: (f) => nodeFileSystem.realpath(f) ?? (manager.open.has(f) ? f : undefined),
    fileSize: (f) => manager.open.get(f)?.text.length ?? nodeFileSystem.fileSize(f),
  };

  const listOf = (ws: ManagedWorkspace): WorkspaceTests => {
    const snap = host.freshSnapshot(ws);
    const v = snap.validation;
    const uriOf = (f: string) => snap.uriOf(f);
    const entries = testEntries(v);
    const out: WorkspaceTests = {
      workspace: manager.uriOf(ws.root),
      name: path.relative(ws.folder, ws.root).split(path.sep).join('/') || '.',
      files: v.promptTestFiles.map(uriOf),
      tests: entries.map((e) => wireTestItem(e.info, uriOf)),
      problems: testFileProblems(v, entries).map((d) => wireTestFileProblem(d, uriOf)),
    };
    if (v.configErrorCount > 0) out.error = `its configuration has ${v.configErrorCount} error${v.configErrorCount === 1 ? '' : 's'} (see Problems): no test runs until they are fixed`;
    return out;
  };

  connection.onRequest(ListTestsRequest, async (p) => {
    await host.ready;
    const targets = p?.workspace ? [host.workspaceOf(p)] : [...manager.workspaces.values()].sort((a, b) => (a.root < b.root ? -1 : 1));
    return { workspaces: targets.map(listOf) };
  });

  connection.onRequest(RunTestsRequest, async (p, token: CancellationToken): Promise<RunTestsResult> => {
    await host.ready;
    const ws = host.workspaceOf(p);
    const runId = p.runId ?? `tests-${++runs}`;
    const workspace = manager.uriOf(ws.root);
    if (p.repeat !== undefined && !(Number.isInteger(p.repeat) && p.repeat >= 1 && p.repeat <= MAX_REPEAT)) {
      throw new ResponseError(ErrorCodes.InvalidParams, `repeat must be a whole number from 1 to ${MAX_REPEAT}, got ${String(p.repeat)}`);
    }
    if (p.live && !host.trusted()) {
      return { ok: false, runId, error: { code: 'access_denied', message: 'a live test run sends prompts to model providers, and this workspace is not trusted: trust it to run live tests (offline runs work without trust)' } };
    }
    const snap = host.freshSnapshot(ws);
    const uriOf = (f: string) => snap.uriOf(f);
    const controller = new AbortController();
    running.add(controller);
    const cancel = token.onCancellationRequested(() => controller.abort());
    const progress = connection.window.attachWorkDoneProgress(p.workDoneToken);
    let total = 0;
    let finished = 0;
    progress.begin('Running prompt tests', 0, undefined, false);
    try {
      const responseCache = p.live ? await host.liveResponseCache?.(ws) : undefined;
      const report = await runPromptTests({
        root: ws.root,
        validation: snap.validation,
        fs: liveFs,
        ...(p.ids ? { ids: p.ids } : {}),
        live: !!p.live,
        ...(responseCache ? { responseCache } : {}),
        ...(p.repeat !== undefined ? { repeat: p.repeat } : {}),
        ...(p.updateSnapshots ? { updateSnapshots: p.updateSnapshots } : {}),
        signal: controller.signal,
        trusted: host.trusted(),
        onProgress: (e) => {
          if (e.type === 'run.started') total = e.tests.length;
          if (e.type === 'test.finished') {
            finished++;
            progress.report(Math.round((finished / Math.max(1, total)) * 100), `${finished} of ${total}: ${e.result.id} ${e.result.outcome}`);
          }
          const event = wireTestEvent(e, uriOf);
          if (event) void connection.sendNotification(TestProgressNotification, { runId, workspace, event });
        },
      });
      return { ok: true, runId, report: wireTestReport(report, workspace, uriOf) };
    } catch (e) {
      return { ok: false, runId, error: wirePromptError(e, uriOf) };
    } finally {
      cancel.dispose();
      running.delete(controller);
      progress.done();
    }
  });

  connection.onRequest(TestHistoryRequest, async (p) => {
    await host.ready;
    const ws = host.workspaceOf(p);
    const limit = p?.limit !== undefined && Number.isInteger(p.limit) && p.limit >= 1 ? p.limit : 10;
    const recorded = await new TestHistory(ws.root).runs();
    const ids = p?.ids ?? [...new Set(recorded.flatMap((r) => Object.keys(r.tests)))].sort();
    return { workspace: manager.uriOf(ws.root), tests: ids.map((id) => summarizeTest(recorded, id, limit)).filter((s) => s.runs > 0) };
  });

  return () => {
    for (const c of running) c.abort();
  };
}
