/**
 * PromptManager: Show Workflow Graph. One webview per composition, drawing the server's
 * composition graph as SVG (client/graphLayout.ts), redrawn as composition_rules.yaml is edited
 * and as runs report step statuses; clicking a node opens the step in the YAML.
 */
import * as vscode from 'vscode';
import { COMPOSITION_RULES_FILE } from '../protocol/configFiles.js';
import { CompositionGraphRequest, ListCompositionsRequest, type CompositionGraph, type PromptWorkspaceInfo } from '../protocol/protocol.js';
import { formatDuration, oneLine } from './format.js';
import { graphHtml } from './graphHtml.js';
import { chooseLayout, renderSvg } from './graphLayout.js';
import { runKey, type LastRun, type RunStore } from './runStore.js';
import { requestErrorMessage, type ServerController } from './serverController.js';
import { normUri, pickWorkspace } from './workspaces.js';

export interface GraphArgs {
  workspace?: string;
  composition?: string;
}

class GraphPanel implements vscode.Disposable {
  readonly panel: vscode.WebviewPanel;
  private graph: CompositionGraph | undefined;
  private problem = '';
  private ready = false;
  /** The drawing area's width in the webview (CSS pixels), as it last reported it. */
  private viewWidth: number | undefined;
  private direction: string | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly owner: GraphPanels,
    readonly workspace: PromptWorkspaceInfo,
    readonly composition: string,
  ) {
    this.panel = vscode.window.createWebviewPanel('promptManager.graph', `Graph: ${composition}`, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false }, { enableScripts: true, localResourceRoots: [], enableFindWidget: true });
    this.panel.webview.html = graphHtml(nonce(), `Workflow ${composition}`);
    this.disposables.push(
      this.panel.webview.onDidReceiveMessage((m: { type: string; step?: string; index?: number; width?: number }) => {
        if (m.type === 'ready') {
          this.ready = true;
          this.viewWidth = typeof m.width === 'number' && m.width > 0 ? m.width : undefined;
          this.post();
        } else if (m.type === 'resize') {
          // Redraw only when the other layout (left to right, or top to bottom) now fits better.
          this.viewWidth = typeof m.width === 'number' && m.width > 0 ? m.width : undefined;
          if (this.graph && this.layout(this.graph).direction !== this.direction) this.post();
        } else if (m.type === 'open') void this.openStep(m.index, m.step);
        else if (m.type === 'run') void vscode.commands.executeCommand('promptManager.runWorkflow', { workspace: this.workspace.uri, composition: this.composition });
        else if (m.type === 'refresh') void this.refresh();
      }),
      this.panel.onDidDispose(() => this.owner.forget(this)),
    );
    void this.refresh();
  }

  get key(): string {
    return runKey(this.workspace.uri, this.composition);
  }

  /** Asks the server for the graph again (soon, when `delayMs`). */
  refresh(delayMs = 0): Promise<void> | void {
    if (delayMs) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.refresh(), delayMs);
      return;
    }
    return (async () => {
      try {
        const r = await this.owner.server.request(CompositionGraphRequest, { workspace: this.workspace.uri, composition: this.composition });
        if (r.ok) {
          this.graph = r.graph;
          this.problem = r.graph.cycle ? `Dependency cycle: ${r.graph.cycle.join(' -> ')}` : '';
        } else this.problem = `${r.error.message}${this.graph ? ' (showing the last graph that could be drawn)' : ''}`;
      } catch (e) {
        this.problem = requestErrorMessage(e);
      }
      this.post();
    })();
  }

  private layout(g: CompositionGraph) {
    const last = this.owner.runs.lastRun(this.workspace.uri, this.composition);
    return chooseLayout(g, this.viewWidth, Object.keys(last?.steps ?? {}).length > 0);
  }

  post(): void {
    if (!this.ready) return;
    const last = this.owner.runs.lastRun(this.workspace.uri, this.composition);
    const g = this.graph;
    const statuses = last?.steps ?? {};
    const layout = g ? this.layout(g) : undefined;
    this.direction = layout?.direction;
    const svg = g && layout ? renderSvg(g, layout, statuses) : '';
    const summary = g ? `${g.nodes.length} steps · ${g.edges.length} dependencies · ${g.layers.length} layers${this.workspace.name === '.' ? '' : ` · ${this.workspace.name}`}` : '';
    const run = last ? runLine(last) : 'not run yet';
    void this.panel.webview.postMessage({ type: 'graph', title: `Workflow ${this.composition}`, summary, run, problem: this.problem, svg, composition: this.composition, workspace: this.workspace.uri });
  }

  private async openStep(index: number | undefined, step: string | undefined): Promise<void> {
    const n = (index !== undefined ? this.graph?.nodes[index] : undefined) ?? this.graph?.nodes.find((x) => x.id === step);
    const loc = n?.location ?? this.graph?.location;
    if (!loc) return;
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(loc.uri));
    const r = loc.range;
    await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.One, selection: new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character) });
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const d of this.disposables) d.dispose();
    this.panel.dispose();
  }
}

export class GraphPanels implements vscode.Disposable {
  private readonly panels = new Map<string, GraphPanel>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    readonly server: ServerController,
    readonly runs: RunStore,
  ) {
    const sub = runs.onChange((key) => {
      for (const p of this.panels.values()) if (p.key === key) p.post();
    });
    this.disposables.push(
      { dispose: () => sub.dispose() },
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (!e.contentChanges.length) return;
        const u = e.document.uri.toString();
        const name = u.slice(u.lastIndexOf('/') + 1);
        if (name !== COMPOSITION_RULES_FILE && !/.\.(hbs|handlebars)$/.test(name)) return;
        for (const p of this.panels.values()) if (u.startsWith(normUri(p.workspace.uri).replace(/\/?$/, '/'))) void p.refresh(250);
      }),
    );
  }

  async show(args: GraphArgs = {}): Promise<void> {
    const ws = await pickWorkspace(this.server, args.workspace, 'Show Workflow Graph: pick a prompt workspace');
    if (!ws) return;
    let composition = args.composition;
    if (!composition) {
      const list = (await this.server.request(ListCompositionsRequest, { workspace: ws.uri })).items;
      if (!list.length) {
        void vscode.window.showWarningMessage(`PromptManager: ${ws.name} defines no composition.`);
        return;
      }
      const active = vscode.window.activeTextEditor;
      const line = active && active.document.uri.toString() === list[0]!.location.uri ? active.selection.active.line : -1;
      // The composition under the cursor, when composition_rules.yaml is the active editor.
      const under = line >= 0 ? [...list].reverse().find((c) => c.location.range.start.line <= line) : undefined;
      const pick = await vscode.window.showQuickPick(
        list.map((c) => ({ label: c.name, description: `${c.steps.length} steps${c === under ? ' · at the cursor' : ''}`, detail: c.description ?? '', c })).sort((a, b) => (a.c === under ? -1 : b.c === under ? 1 : 0)),
        { title: 'Show Workflow Graph', placeHolder: 'Pick a composition' },
      );
      if (!pick) return;
      composition = pick.c.name;
    }
    const key = runKey(ws.uri, composition);
    const existing = this.panels.get(key);
    if (existing) {
      existing.panel.reveal(vscode.ViewColumn.Beside);
      void existing.refresh();
      return;
    }
    this.panels.set(key, new GraphPanel(this, ws, composition));
  }

  /** The server re-indexed: redraw every graph. */
  refreshAll(): void {
    for (const p of this.panels.values()) void p.refresh(100);
  }

  forget(p: GraphPanel): void {
    if (this.panels.get(p.key) === p) this.panels.delete(p.key);
  }

  dispose(): void {
    for (const p of [...this.panels.values()]) p.dispose();
    for (const d of this.disposables) d.dispose();
  }
}

/** The graph's line about the last run: "last run …: succeeded with fallbacks in 12 ms: draft fell back: …", "…: refused: …". */
function runLine(last: LastRun): string {
  // Where it runs, when not in the language server (the details are in the output channel).
  const run = `run ${last.runId}${last.backend?.type === 'bullmq' ? ' on BullMQ' : ''}`;
  if (last.running) return `${run}: running`;
  const o = last.outcome;
  if (!o) return `last ${run}: ended`;
  const took = last.durationMs !== undefined && !o.refused ? ` in ${formatDuration(last.durationMs)}` : '';
  const why = o.severity !== 'info' && o.reasons.length ? `: ${oneLine(o.reasons.join('; '), 200)}` : '';
  return `last ${run}: ${o.label}${took}${why}`;
}

function nonce(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < 32; i++) s += chars[Math.floor(Math.random() * chars.length)];
  return s;
}
