/**
 * The status bar item: the prompt workspaces' error and warning counts (from the server's
 * diagnostics), a spinner while a run is in progress, the server's state. Click: Problems.
 */
import * as vscode from 'vscode';
import type { RunStore } from './runStore.js';
import type { ServerController } from './serverController.js';
import { listWorkspaces } from './workspaces.js';

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('promptManager.status', vscode.StatusBarAlignment.Left, 10);
  private readonly disposables: vscode.Disposable[] = [];
  private serverState: 'starting' | 'running' | 'stopped' = 'starting';
  private workspaceCount = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private runningLabel: string | undefined;

  constructor(
    private readonly server: ServerController,
    runs: RunStore,
  ) {
    this.item.name = 'PromptManager';
    const sub = runs.onChange((key) => {
      const comp = key.slice(key.lastIndexOf('#') + 1);
      if (runs.activeRuns > 0) this.runningLabel = runs.activeRuns > 1 ? `${runs.activeRuns} runs` : comp;
      else this.runningLabel = undefined;
      this.render();
    });
    this.disposables.push(
      this.item,
      { dispose: () => sub.dispose() },
      server.onDidChangeState((s) => {
        this.serverState = s;
        this.render();
        if (s === 'running') void this.refreshWorkspaces();
      }),
      vscode.languages.onDidChangeDiagnostics(() => this.schedule()),
    );
    this.render();
  }

  /** The server (re)indexed: count the prompt workspaces again. */
  async refreshWorkspaces(): Promise<void> {
    try {
      this.workspaceCount = (await listWorkspaces(this.server)).length;
    } catch {
      // The server is not running: render() says so.
    }
    this.render();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.render();
    }, 100);
  }

  private counts(): { errors: number; warnings: number } {
    let errors = 0;
    let warnings = 0;
    this.server.client.diagnostics?.forEach((_uri, ds) => {
      for (const d of ds) {
        if (d.severity === vscode.DiagnosticSeverity.Error) errors++;
        else if (d.severity === vscode.DiagnosticSeverity.Warning) warnings++;
      }
    });
    return { errors, warnings };
  }

  render(): void {
    const it = this.item;
    if (this.serverState === 'stopped') {
      it.text = '$(circle-slash) PromptManager';
      it.tooltip = 'The PromptManager language server is not running. Click to restart it.';
      it.command = 'promptManager.restartServer';
      it.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
      it.show();
      return;
    }
    it.backgroundColor = undefined;
    it.command = { title: 'Show Problems', command: 'workbench.actions.view.problems' };
    if (this.serverState === 'starting') {
      it.text = '$(loading~spin) PromptManager';
      it.tooltip = 'PromptManager: starting the language server…';
      it.show();
      return;
    }
    const { errors, warnings } = this.counts();
    const run = this.runningLabel ? ` $(sync~spin) ${this.runningLabel}` : '';
    it.text = `${errors ? '$(error)' : '$(check)'} PromptManager ${errors}${warnings ? ` $(warning) ${warnings}` : ''}${run}`;
    const md = new vscode.MarkdownString(undefined, true);
    md.appendMarkdown(`**PromptManager**: ${this.workspaceCount} prompt workspace${this.workspaceCount === 1 ? '' : 's'}, ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`);
    if (this.runningLabel) md.appendMarkdown(`\n\nRunning: ${this.runningLabel}`);
    md.appendMarkdown('\n\nClick to open the Problems panel.');
    it.tooltip = md;
    it.accessibilityInformation = { label: `PromptManager: ${errors} errors, ${warnings} warnings${this.runningLabel ? `, running ${this.runningLabel}` : ''}` };
    it.show();
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const d of this.disposables) d.dispose();
  }
}
