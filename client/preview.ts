/**
 * PromptManager: Preview Render. Picks a template (all of them, or a service's, with the
 * variables it reads), picks a context, and shows the server's render in a read-only side editor
 * (a TextDocumentContentProvider) that renders again when the template, a partial, the YAML or
 * the context file is saved. Each render writes one line to the output channel.
 */
import * as vscode from 'vscode';
import { ListServicesRequest, ListTemplatesRequest, RenderRequest, type PromptErrorInfo, type PromptWorkspaceInfo, type ServiceInfo, type TemplateInfo } from '../protocol/protocol.js';
import { contextLabel, loadContext, pickContext, requiredContext, type ContextSource } from './contexts.js';
import { formatRenderError, formatRenderLine } from './format.js';
import { requestErrorMessage, type ServerController } from './serverController.js';
import { normUri, pickWorkspace } from './workspaces.js';

export const PREVIEW_SCHEME = 'promptmanager-preview';

export interface PreviewArgs {
  /** A URI in the prompt workspace (the CodeLens's document). */
  workspace?: string;
  template?: string;
  service?: string;
}

interface PreviewState {
  workspace: PromptWorkspaceInfo;
  template: string;
  service?: string;
  context: ContextSource;
  /** The error last shown in a notification, so that a re-render does not repeat it. */
  lastError?: string;
}

export class PreviewManager implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly states = new Map<string, PreviewState>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly server: ServerController,
    private readonly out: vscode.OutputChannel,
    private readonly state: vscode.Memento,
  ) {
    this.disposables.push(
      this.changed,
      vscode.workspace.registerTextDocumentContentProvider(PREVIEW_SCHEME, this),
      vscode.workspace.onDidSaveTextDocument((doc) => this.onSaved(doc.uri)),
      vscode.workspace.onDidCloseTextDocument((doc) => {
        if (doc.uri.scheme === PREVIEW_SCHEME) this.states.delete(doc.uri.toString());
      }),
    );
  }

  /** The command. */
  async preview(args: PreviewArgs = {}): Promise<void> {
    const ws = await pickWorkspace(this.server, args.workspace, 'Preview Render: pick a prompt workspace');
    if (!ws) return;
    let template = args.template;
    let service = args.service;
    let info: TemplateInfo | undefined;
    if (!template) {
      const picked = await this.pickTemplate(ws, service);
      if (!picked) return;
      template = picked.template.name;
      info = picked.template;
      service = picked.service;
    } else {
      info = (await this.server.request(ListTemplatesRequest, { workspace: ws.uri })).items.find((t) => t.name === template);
    }
    const required = await requiredContext(this.server, ws.uri, { template, ...(service ? { service } : {}) });
    const ctx = await pickContext(this.state, ws.uri, { template, ...(service ? { service } : {}), services: info?.usedByServices ?? [], compositions: info?.usedByCompositions ?? [], ...(required ? { required } : {}) }, `Preview Render: context for ${template}`);
    if (!ctx) return;
    const uri = previewUri(ws.uri, template, service);
    const key = uri.toString();
    const existed = this.states.has(key);
    this.states.set(key, { workspace: ws, template, ...(service ? { service } : {}), context: ctx.source });
    if (existed) this.changed.fire(uri);
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: false });
  }

  /** Renders for the side editor; the text is the rendered prompt, or the error. */
  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const st = this.states.get(uri.toString());
    if (!st) return 'This preview is no longer connected: run "PromptManager: Preview Render" again.';
    const base = st.workspace.uri;
    let contextValue: Record<string, unknown>;
    let label: string;
    try {
      const c = await loadContext(st.context, base);
      contextValue = c.value;
      label = c.label;
    } catch (e) {
      const msg = `The context could not be read: ${(e as Error).message}`;
      this.out.appendLine(msg);
      return msg;
    }
    const t0 = performance.now();
    try {
      const r = await this.server.request(RenderRequest, { workspace: base, template: st.template, context: contextValue, ...(st.service ? { service: st.service } : {}) });
      const durationMs = performance.now() - t0;
      if (r.ok) {
        this.out.appendLine(formatRenderLine({ template: st.template, ...(st.service ? { service: st.service } : {}), contextLabel: label, durationMs, serverMs: r.durationMs, fromCache: r.fromCache, templateUsed: r.templateUsed, chars: r.text.length }, new Date()));
        delete st.lastError;
        return r.text;
      }
      this.out.appendLine(formatRenderLine({ template: st.template, ...(st.service ? { service: st.service } : {}), contextLabel: label, durationMs, error: r.error, base }, new Date()));
      this.reportError(st, r.error);
      return errorText(st.template, r.error, base);
    } catch (e) {
      const msg = requestErrorMessage(e);
      this.out.appendLine(msg);
      return msg;
    }
  }

  private reportError(st: PreviewState, error: PromptErrorInfo): void {
    const msg = formatRenderError(st.template, error, st.workspace.uri);
    if (st.lastError === msg) return;
    st.lastError = msg;
    const actions = error.location ? ['Go to Error'] : [];
    void vscode.window.showErrorMessage(`PromptManager: ${msg}`, ...actions).then(async (a) => {
      if (a && error.location) {
        const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(error.location.uri));
        const r = error.location.range;
        await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.One, selection: new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character) });
      }
    });
  }

  /** A save in a preview's prompt workspace (template, partial, YAML) or of its context file re-renders it. */
  private onSaved(saved: vscode.Uri): void {
    const s = saved.toString();
    for (const [key, st] of this.states) {
      const root = normUri(st.workspace.uri).replace(/\/?$/, '/');
      const inWorkspace = s.startsWith(root);
      const isContext = st.context.kind === 'file' && normUri(st.context.uri) === s;
      if (inWorkspace || isContext) this.changed.fire(vscode.Uri.parse(key));
    }
  }

  /** The template QuickPick: every template or a service's, with a service filter button. */
  private async pickTemplate(ws: PromptWorkspaceInfo, initialService?: string): Promise<{ template: TemplateInfo; service?: string } | undefined> {
    let services: ServiceInfo[] = [];
    try {
      services = (await this.server.request(ListServicesRequest, { workspace: ws.uri })).items;
    } catch {
      // A workspace without service_mappings.yaml: no filter.
    }
    type Item = vscode.QuickPickItem & { template?: TemplateInfo; service?: string | null; filter?: true };
    const qp = vscode.window.createQuickPick<Item>();
    const filterButton: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon('filter'), tooltip: 'Filter by service' };
    qp.matchOnDescription = true;
    qp.matchOnDetail = true;
    qp.ignoreFocusOut = true;
    if (services.length) qp.buttons = [filterButton];
    let service = initialService;
    let mode: 'templates' | 'services' = 'templates';
    const activeFile = vscode.window.activeTextEditor?.document.uri.toString();

    const showTemplates = async () => {
      mode = 'templates';
      qp.busy = true;
      qp.value = '';
      qp.title = service ? `Preview Render: templates of ${service}` : 'Preview Render: pick a template';
      qp.placeholder = service ? `Templates ${service} may render (the filter button changes the service)` : 'Type to filter by name, service or variable';
      try {
        const list = (await this.server.request(ListTemplatesRequest, { workspace: ws.uri, ...(service ? { service } : {}) })).items;
        const items: Item[] = list.map((t) => ({
          label: t.name,
          description: [t.uri === activeFile ? '$(file) active editor' : '', t.usedByServices.length ? t.usedByServices.join(', ') : '', t.usedByCompositions.length ? `in ${t.usedByCompositions.join(', ')}` : ''].filter(Boolean).join(' · '),
          detail: [
            contextLabel(vscode.Uri.parse(t.uri), ws.uri),
            t.variables.length ? `variables: ${t.variables.join(', ')}` : 'no variables',
            t.partials.length ? `partials: ${t.partials.join(', ')}` : '',
            t.error ? `$(error) does not parse: ${t.error.message}` : '',
          ]
            .filter(Boolean)
            .join(' · '),
          template: t,
        }));
        items.sort((a, b) => (a.template!.uri === activeFile ? -1 : b.template!.uri === activeFile ? 1 : 0));
        const head: Item[] = services.length ? [{ label: service ? `$(filter) Service: ${service}` : '$(filter) Filter by service…', description: service ? 'pick another service, or all templates' : '', filter: true, alwaysShow: true }] : [];
        qp.items = [...head, ...items];
        const first = items[0];
        if (first) qp.activeItems = [first];
      } catch (e) {
        qp.items = [{ label: requestErrorMessage(e) }];
      } finally {
        qp.busy = false;
      }
    };
    const showServices = () => {
      mode = 'services';
      qp.value = '';
      qp.title = 'Preview Render: filter templates by service';
      qp.placeholder = 'Pick a service: its access rules, required context and fallback apply to the render';
      qp.items = [{ label: 'All templates', description: 'no service: every template, no access rules', service: null }, ...services.map((s) => ({ label: s.name, description: s.description ?? '', detail: `requires ${s.contextRequirements.required.join(', ') || 'nothing'} · ${s.primaryTemplates.length + s.templates.length} templates`, service: s.name }))];
    };

    return new Promise((resolve) => {
      let done = false;
      const finish = (v: { template: TemplateInfo; service?: string } | undefined) => {
        if (done) return;
        done = true;
        resolve(v);
        qp.dispose();
      };
      qp.onDidTriggerButton((b) => b === filterButton && (mode === 'services' ? void showTemplates() : showServices()));
      qp.onDidAccept(() => {
        const item = qp.selectedItems[0] ?? qp.activeItems[0];
        if (!item) return;
        if (item.filter) return showServices();
        if (mode === 'services') {
          service = item.service ?? undefined;
          return void showTemplates();
        }
        if (item.template) finish({ template: item.template, ...(service ? { service } : {}) });
      });
      qp.onDidHide(() => finish(undefined));
      qp.show();
      void showTemplates();
    });
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

export function previewUri(workspace: string, template: string, service?: string): vscode.Uri {
  return vscode.Uri.from({ scheme: PREVIEW_SCHEME, path: `/${template}.txt`, query: new URLSearchParams({ workspace, ...(service ? { service } : {}) }).toString() });
}

function errorText(template: string, error: PromptErrorInfo, base: string): string {
  return [formatRenderError(template, error, base), '', 'Fix the template or the context and save: this preview renders again.'].join('\n');
}
