/**
 * CodeLenses in composition_rules.yaml: `Run` and `Graph` over each composition, `Preview` over
 * each step's template reference (the step rendered as a run would render it). Where they go comes from the server (listCompositions'
 * source locations), never from parsing the YAML here.
 */
import * as vscode from 'vscode';
import { ListCompositionsRequest } from '../protocol/protocol.js';
import type { ServerController } from './serverController.js';

export class CompositionLensProvider implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;

  constructor(private readonly server: ServerController) {}

  refresh(): void {
    this.changed.fire();
  }

  async provideCodeLenses(doc: vscode.TextDocument, token: vscode.CancellationToken): Promise<vscode.CodeLens[]> {
    if (!this.server.isRunning) return [];
    let items;
    try {
      items = (await this.server.request(ListCompositionsRequest, { workspace: doc.uri.toString() }, token)).items;
    } catch {
      return [];
    }
    const me = doc.uri.toString();
    const same = (uri: string) => vscode.Uri.parse(uri).toString() === me;
    const range = (r: { start: { line: number; character: number }; end: { line: number; character: number } }) => new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character);
    const lenses: vscode.CodeLens[] = [];
    for (const c of items) {
      if (!same(c.location.uri)) continue;
      const args = { workspace: me, composition: c.name };
      const at = range(c.location.range);
      lenses.push(
        new vscode.CodeLens(at, { title: `$(play) Run`, tooltip: `Run ${c.name} (PromptManager: Run Workflow)`, command: 'promptManager.runWorkflow', arguments: [args] }),
        new vscode.CodeLens(at, { title: `$(type-hierarchy) Graph`, tooltip: `Show the graph of ${c.name}`, command: 'promptManager.showGraph', arguments: [args] }),
      );
      for (const s of c.steps) {
        if (!s.template) continue;
        const loc = s.templateLocation ?? s.location;
        if (!same(loc.uri)) continue;
        lenses.push(
          new vscode.CodeLens(range(loc.range), {
            title: s.templateLocation ? '$(open-preview) Preview' : `$(open-preview) Preview ${s.template}`,
            tooltip: `Render step ${s.id} (${s.template}) as a run would: the run's context, the step's own context and overrides, and the last run's outputs of the steps before it`,
            command: 'promptManager.previewRender',
            arguments: [{ workspace: me, composition: c.name, step: s.id, template: s.template }],
          }),
        );
      }
    }
    return lenses;
  }

  dispose(): void {
    this.changed.dispose();
  }
}
