/**
 * The PromptManager VS Code extension: a thin UI over the language server. The server (bundled
 * as dist/server.js, started over IPC) validates, completes, renders, runs and lists; this
 * client calls its typed custom requests (protocol/protocol.ts, shared with the server as
 * vscode-eslint shares its protocol module) and shows the answers: previews, runs with
 * progress, the workflow graph, CodeLenses, the status bar, the prompt tests in the Testing view.
 */
import * as vscode from 'vscode';
import { IndexedNotification, SetTrustNotification, StepProgressNotification, TestProgressNotification, TestsChangedNotification } from '../protocol/protocol.js';
import { COMPOSITION_RULES_FILE } from '../protocol/configFiles.js';
import { CompositionLensProvider } from './codeLens.js';
import { ReportDocuments, reloadConfiguration, setProviderApiKey, showHealth, showMetrics, validateWorkspace } from './commands.js';
import { formatDuration } from './format.js';
import { GraphPanels, type GraphArgs } from './graphPanel.js';
import { PreviewManager, type PreviewArgs } from './preview.js';
import { RunStore } from './runStore.js';
import { runWorkflow, type RunArgs } from './runWorkflow.js';
import { requestErrorMessage, ServerController } from './serverController.js';
import { StatusBar } from './statusBar.js';
import { PromptTestController } from './testController.js';

/** What the extension exports (for the integration tests and other extensions). */
export interface PromptManagerApi {
  /** Resolves when the language server is running and has indexed the workspace. */
  ready: Promise<void>;
  /** The server's typed custom requests (protocol/protocol.ts). */
  request: ServerController['request'];
}

let controller: ServerController | undefined;

export function activate(context: vscode.ExtensionContext): PromptManagerApi {
  const t0 = performance.now();
  const out = vscode.window.createOutputChannel('PromptManager');
  const server = (controller = new ServerController(context));
  const runs = new RunStore();
  const preview = new PreviewManager(server, out, context.workspaceState);
  const graphs = new GraphPanels(server, runs);
  const lenses = new CompositionLensProvider(server);
  const status = new StatusBar(server, runs);
  const reports = new ReportDocuments();
  const tests = new PromptTestController(server, out);
  context.subscriptions.push(out, server, preview, graphs, lenses, status, reports, tests);

  let firstIndexed = true;
  let resolveIndexed!: () => void;
  const indexed = new Promise<void>((r) => (resolveIndexed = r));
  context.subscriptions.push(
    server.onNotification(StepProgressNotification, (p) => runs.onProgress(p)),
    server.onNotification(TestProgressNotification, (p) => tests.onProgress(p)),
    server.onNotification(TestsChangedNotification, () => tests.onTestsChanged()),
    server.onNotification(IndexedNotification, (p) => {
      resolveIndexed();
      // The first indexing (and a restarted server's): the Testing view's tree, with the history.
      void tests.refresh({ history: firstIndexed || p.durationMs > 0 });
      lenses.refresh();
      graphs.refreshAll();
      void status.refreshWorkspaces();
      // The first time: how long after activation the first diagnostics were published (they go out just before).
      const sinceActivation = firstIndexed ? ` (first diagnostics ${formatDuration(performance.now() - t0)} after activation)` : '';
      firstIndexed = false;
      if (p.durationMs > 0) out.appendLine(`Indexed ${p.workspaces.length} prompt workspace${p.workspaces.length === 1 ? '' : 's'} in ${formatDuration(p.durationMs)}${sinceActivation}`);
    }),
  );

  /** A command that reports its failure instead of throwing into the void. */
  const command = <A extends unknown[]>(id: string, fn: (...args: A) => unknown) =>
    vscode.commands.registerCommand(id, async (...args: A) => {
      try {
        await fn(...args);
      } catch (e) {
        const msg = requestErrorMessage(e);
        out.appendLine(msg);
        void vscode.window.showErrorMessage(msg);
      }
    });

  context.subscriptions.push(
    command('promptManager.previewRender', (a?: PreviewArgs) => preview.preview(toArgs(a))),
    command('promptManager.runWorkflow', (a?: RunArgs) => runWorkflow(server, runs, out, context.workspaceState, toArgs(a))),
    command('promptManager.showGraph', (a?: GraphArgs) => graphs.show(toArgs(a))),
    command('promptManager.validateWorkspace', () => validateWorkspace(server, out)),
    command('promptManager.showHealth', () => showHealth(server, out)),
    command('promptManager.showMetrics', () => showMetrics(server, reports)),
    command('promptManager.showMetricsJson', (from?: unknown) => showMetrics(server, reports, true, from)),
    command('promptManager.reloadConfiguration', () => reloadConfiguration(server, out)),
    command('promptManager.setApiKey', (a?: { env?: string }) => setProviderApiKey(server, runs, toArgs(a))),
    command('promptManager.showOutput', () => out.show()),
    command('promptManager.restartServer', async () => {
      out.appendLine('Restarting the language server…');
      await server.restart();
      out.appendLine('Language server restarted.');
      void vscode.window.setStatusBarMessage('PromptManager: language server restarted', 4000);
    }),
    vscode.languages.registerCodeLensProvider({ language: 'yaml', pattern: `**/${COMPOSITION_RULES_FILE}` }, lenses),
    server.onDidChangeState((s) => s === 'running' && lenses.refresh()),
    // Trust only goes from untrusted to trusted while a window is open.
    vscode.workspace.onDidGrantWorkspaceTrust(() => server.notify(SetTrustNotification, { trusted: true })),
  );

  const started = server.start().then(
    () => {
      // Where the time went: the server's process says how long it had run when it answered `initialize`.
      const uptime = (server.client.initializeResult as { promptManager?: { processUptimeMs?: unknown } } | undefined)?.promptManager?.processUptimeMs;
      const split = typeof uptime === 'number' ? ` (its process answered initialize ${formatDuration(uptime)} after it started)` : '';
      out.appendLine(`PromptManager language server started in ${formatDuration(performance.now() - t0)} from activation${split}`);
    },
    (e: unknown) => {
      const msg = `PromptManager: the language server could not start: ${(e as Error)?.message ?? e}`;
      out.appendLine(msg);
      void vscode.window.showErrorMessage(msg, 'Show Server Log').then((a) => a && server.client.outputChannel.show());
      throw e;
    },
  );
  // Ready = started and indexed (a server that never says "indexed" is ready after starting).
  const ready = started.then(() => Promise.race([indexed, new Promise<void>((r) => setTimeout(r, 5000))]));
  ready.catch(() => undefined);
  return { ready, request: server.request.bind(server) };
}

export async function deactivate(): Promise<void> {
  const c = controller;
  controller = undefined;
  if (c?.isRunning) await c.client.stop(2000).catch(() => undefined);
  c?.retireProcess();
}

/** Command arguments: objects from CodeLenses and webviews, a Uri from an editor menu, nothing from the palette. */
function toArgs(a: unknown): Record<string, string> {
  if (a instanceof vscode.Uri) return { workspace: a.toString() };
  if (typeof a === 'object' && a !== null) return a as Record<string, string>;
  return {};
}
