/**
 * The smaller commands: Validate Workspace, Show Health, Show Metrics (a readable report, or
 * the JSON), Reload Configuration and Set Provider API Key. Each asks the server and shows the
 * answer; none holds logic of its own.
 */
import * as vscode from 'vscode';
import { DidChangeConfigurationNotification } from 'vscode-languageclient/node';
import { HealthRequest, ListProvidersRequest, MetricsRequest, type ProviderInfo } from '../protocol/protocol.js';
import { formatHealth, formatWorkspaceLine } from './format.js';
import { formatMetricsReport } from './metricsReport.js';
import { envNameError } from './policy.js';
import type { RunStore } from './runStore.js';
import { isMethodNotFound, readSettings, type ServerController } from './serverController.js';
import { listWorkspaces, NO_WORKSPACE_MESSAGE, pickWorkspace } from './workspaces.js';

export const REPORT_SCHEME = 'promptmanager-report';

/** Read-only documents for reports (metrics, as a report or as JSON), each remembering its prompt workspace. */
export class ReportDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly texts = new Map<string, string>();
  private readonly workspaces = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly reg = vscode.workspace.registerTextDocumentContentProvider(REPORT_SCHEME, this);

  /**
   * Shows a report beside the editor. `rendered`: a Markdown report opens in the Markdown
   * preview, where its tables read as tables in any column width (the source, which VS Code
   * wraps, stays a click away on the preview's title bar).
   */
  async show(name: string, text: string, workspace?: string, rendered = false): Promise<void> {
    const uri = vscode.Uri.from({ scheme: REPORT_SCHEME, path: `/${name}` });
    this.texts.set(uri.toString(), text);
    if (workspace) this.workspaces.set(uri.toString(), workspace);
    this.changed.fire(uri);
    const doc = await vscode.workspace.openTextDocument(uri);
    if (rendered) {
      try {
        await vscode.commands.executeCommand('markdown.showPreviewToSide', uri);
        return;
      } catch {
        // No Markdown preview (an editor without VS Code's built-in extension): the source reads well enough.
      }
    }
    await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: false });
  }

  /** The prompt workspace a report is about (the "Open as JSON" button of a metrics report). */
  workspaceOf(uri: vscode.Uri): string | undefined {
    return this.workspaces.get(uri.toString());
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? '';
  }

  dispose(): void {
    this.reg.dispose();
    this.changed.dispose();
  }
}

export async function validateWorkspace(server: ServerController, out: vscode.OutputChannel): Promise<void> {
  const all = await listWorkspaces(server);
  if (!all.length) {
    void vscode.window.showWarningMessage(NO_WORKSPACE_MESSAGE);
    return;
  }
  out.appendLine('');
  out.appendLine(`Validation of ${all.length} prompt workspace${all.length === 1 ? '' : 's'}:`);
  for (const w of all) out.appendLine(formatWorkspaceLine(w));
  const problems: string[] = [];
  server.client.diagnostics?.forEach((uri, ds) => {
    const rel = vscode.workspace.asRelativePath(uri);
    for (const d of ds) {
      const sev = d.severity === vscode.DiagnosticSeverity.Error ? 'error' : d.severity === vscode.DiagnosticSeverity.Warning ? 'warning' : 'info';
      const code = typeof d.code === 'object' ? d.code.value : d.code;
      problems.push(`  ${rel}:${d.range.start.line + 1}:${d.range.start.character + 1}  ${sev}  ${code ?? ''}  ${d.message.split('\n')[0]}`);
    }
  });
  problems.sort();
  if (problems.length) out.appendLine('Problems:');
  for (const p of problems) out.appendLine(p);
  out.show(true);
  const errors = all.reduce((n, w) => n + w.errorCount, 0);
  const warnings = all.reduce((n, w) => n + w.warningCount, 0);
  const msg = `PromptManager: ${all.length} prompt workspace${all.length === 1 ? '' : 's'} validated: ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}.`;
  if (errors) {
    void vscode.commands.executeCommand('workbench.actions.view.problems');
    void vscode.window.showWarningMessage(msg);
  } else void vscode.window.showInformationMessage(msg);
}

export async function showHealth(server: ServerController, out: vscode.OutputChannel): Promise<void> {
  const ws = await pickWorkspace(server, undefined, 'Show Health: pick a prompt workspace');
  if (!ws) return;
  const r = await server.request(HealthRequest, { workspace: ws.uri });
  if (!r.ok) {
    void vscode.window.showErrorMessage(`PromptManager: health of ${ws.name}: ${r.error.message}`);
    return;
  }
  out.appendLine('');
  for (const line of formatHealth(ws.name, r.health)) out.appendLine(line);
  out.show(true);
  const bad = Object.entries(r.health.components).filter(([, c]) => c.status !== 'healthy');
  const msg = `PromptManager: ${ws.name} is ${r.health.status}${bad.length ? `: ${bad.map(([k, c]) => `${k} (${c.reason})`).join('; ')}` : ''}`;
  if (r.health.status === 'healthy') void vscode.window.showInformationMessage(msg);
  else void vscode.window.showWarningMessage(msg);
}

/**
 * Show Metrics: the engine's metrics as a report (tables, rounded figures); `asJson`: the raw
 * JSON. `from`: the report whose "Open as JSON" button was pressed (its workspace is not asked again).
 */
export async function showMetrics(server: ServerController, reports: ReportDocuments, asJson = false, from?: unknown): Promise<void> {
  const known = from instanceof vscode.Uri ? reports.workspaceOf(from) : undefined;
  const ws = await pickWorkspace(server, known, `Show Metrics${asJson ? ' as JSON' : ''}: pick a prompt workspace`);
  if (!ws) return;
  const r = await server.request(MetricsRequest, { workspace: ws.uri, format: 'json' });
  if (!r.ok) {
    void vscode.window.showErrorMessage(`PromptManager: metrics of ${ws.name}: ${r.error.message}`);
    return;
  }
  const stem = `metrics-${ws.name === '.' ? 'workspace' : ws.name.replace(/[^\w.-]+/g, '_')}`;
  if (r.format !== 'json') await reports.show(`${stem}.txt`, r.text, ws.uri);
  else if (asJson) await reports.show(`${stem}.json`, JSON.stringify(r.metrics, null, 2), ws.uri);
  else await reports.show(`${stem}.md`, formatMetricsReport(workspaceLabel(ws), r.metrics, new Date()), ws.uri, true);
}

/** A prompt workspace as a report names it: its folder's name rather than ".". */
function workspaceLabel(ws: { name: string; uri: string }): string {
  if (ws.name !== '.') return ws.name;
  const path = vscode.Uri.parse(ws.uri).path.replace(/\/+$/, '');
  return path.slice(path.lastIndexOf('/') + 1) || ws.name;
}

export async function reloadConfiguration(server: ServerController, out: vscode.OutputChannel): Promise<void> {
  // The server drops its caches and validates every prompt workspace again on a configuration change.
  await server.client.sendNotification(DidChangeConfigurationNotification.type, { settings: { promptManager: readSettings() } });
  const all = await listWorkspaces(server);
  out.appendLine('');
  out.appendLine(`Configuration reloaded: ${all.length} prompt workspace${all.length === 1 ? '' : 's'}`);
  for (const w of all) out.appendLine(formatWorkspaceLine(w));
  const errors = all.reduce((n, w) => n + w.errorCount, 0);
  void vscode.window.setStatusBarMessage(`PromptManager: configuration reloaded (${errors} error${errors === 1 ? '' : 's'})`, 5000);
}

/**
 * Stores a provider's API key in SecretStorage and restarts the server so that runs use it.
 * `env`: the variable to set (the button of a run that fell back for want of it), without asking which.
 */
export async function setProviderApiKey(server: ServerController, runs: RunStore, args: { env?: string } = {}): Promise<void> {
  if (args.env && !envNameError(args.env)) return storeKey(server, runs, args.env);
  let providers: ProviderInfo[] = [];
  try {
    const ws = await pickWorkspace(server, undefined, 'Set Provider API Key: pick a prompt workspace');
    if (ws) providers = (await server.request(ListProvidersRequest, { workspace: ws.uri })).items;
  } catch (e) {
    if (!isMethodNotFound(e)) throw e;
  }
  const stored = new Set(server.keyNames());
  type Item = vscode.QuickPickItem & { env?: string; other?: true; remove?: string };
  const items: Item[] = [];
  const seen = new Set<string>();
  for (const p of providers) {
    if (!p.apiKeyEnv || seen.has(p.apiKeyEnv)) continue;
    seen.add(p.apiKeyEnv);
    items.push({ label: p.apiKeyEnv, description: `provider ${p.name}${p.model ? ` (${p.model})` : ''}${stored.has(p.apiKeyEnv) ? ' · stored' : ''}`, detail: p.baseUrl ?? '', env: p.apiKeyEnv });
  }
  for (const s of stored) if (!seen.has(s)) items.push({ label: s, description: 'stored', env: s });
  items.push({ label: '$(add) Another environment variable…', other: true });
  for (const s of stored) items.push({ label: `$(trash) Remove the key of ${s}`, remove: s });
  const pick = await vscode.window.showQuickPick(items, { title: 'Set Provider API Key', placeHolder: 'The environment variable a provider reads its key from (api_key_env)' });
  if (!pick) return;
  if (pick.remove) {
    await server.setKey(pick.remove, undefined);
    await restartForKeys(server, runs, `The key of ${pick.remove} was removed.`);
    return;
  }
  const env = pick.other ? await vscode.window.showInputBox({ title: 'Set Provider API Key', prompt: 'Name of the environment variable (the provider’s api_key_env)', validateInput: envNameError, ignoreFocusOut: true }) : pick.env;
  if (!env) return;
  await storeKey(server, runs, env);
}

async function storeKey(server: ServerController, runs: RunStore, env: string): Promise<void> {
  const value = await vscode.window.showInputBox({ title: `API key for ${env}`, prompt: `Stored in VS Code's SecretStorage and given to the language server as ${env}; never written to settings or logs.`, password: true, ignoreFocusOut: true, validateInput: (v) => (v.trim() ? undefined : 'Paste the key') });
  if (!value) return;
  await server.setKey(env, value.trim());
  await restartForKeys(server, runs, `The key for ${env} is stored.`);
}

async function restartForKeys(server: ServerController, runs: RunStore, what: string): Promise<void> {
  if (runs.activeRuns > 0) {
    const a = await vscode.window.showInformationMessage(`PromptManager: ${what} A run is in progress: restart the server (which cancels it) to use the key now?`, 'Restart Now', 'Later');
    if (a !== 'Restart Now') return;
  }
  await server.restart();
  void vscode.window.showInformationMessage(`PromptManager: ${what} The language server restarted to use it.`);
}
