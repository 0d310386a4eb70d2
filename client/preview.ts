/**
 * PromptManager: Preview Render. Picks a template (all of them, or a service's, with the
 * variables it reads) or, from a step's CodeLens, a step of a composition; picks a context (and
 * for a step with overrides, the state and experience level); and shows the server's preview
 * (promptManager/preview) in a read-only side editor (a TextDocumentContentProvider): a step as
 * a run would render it, missing values as markers, under a header that says how it was
 * rendered (previewText.ts). It renders again when the template, a partial, the YAML or the
 * context file is saved. Each render writes one line to the output channel: VS Code may ask for
 * the document's content more than once for one change, and is answered from the last render.
 */
import * as vscode from 'vscode';
import { ListCompositionsRequest, ListServicesRequest, ListTemplatesRequest, PreviewRequest, type CompositionInfo, type PromptErrorInfo, type PromptWorkspaceInfo, type ServiceInfo, type TemplateInfo } from '../protocol/protocol.js';
import { contextLabel, loadContext, pickContext, requiredContext, type ContextSource } from './contexts.js';
import { formatRenderError, formatRenderLine } from './format.js';
import { previewDocument, previewNotes } from './previewText.js';
import { requestErrorMessage, type ServerController } from './serverController.js';
import { normUri, pickWorkspace } from './workspaces.js';

export const PREVIEW_SCHEME = 'promptmanager-preview';

export interface PreviewArgs {
  /** A URI in the prompt workspace (the CodeLens's document). */
  workspace?: string;
  template?: string;
  service?: string;
  /** A step of a composition (the CodeLens over a step's template): previewed as a run would render it. */
  composition?: string;
  step?: string;
}

/** The state and experience level a step preview renders with, over the context's own. */
type OverrideChoice = { state?: string; user_experience_level?: string };

interface PreviewState {
  workspace: PromptWorkspaceInfo;
  template: string;
  composition?: string;
  step?: string;
  service?: string;
  context: ContextSource;
  overrides?: OverrideChoice;
  /** The error last shown in a notification, so that a re-render does not repeat it. */
  lastError?: string;
  /** The document's text from the last render, until something it depends on changes. */
  text?: string;
  /** The render in progress, for a second request of the same content. */
  pending?: Promise<string>;
  /** Bumped by each change: a render that started before it is not kept. */
  generation: number;
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
    if (args.composition && args.step) return this.previewStep(ws, args.composition, args.step, args.service);
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
    await this.show({ workspace: ws, template, ...(service ? { service } : {}), context: ctx.source, generation: 0 });
  }

  /** A step, as a run would render it: the composition's context (its inputs), then its state and experience level. */
  private async previewStep(ws: PromptWorkspaceInfo, composition: string, step: string, service: string | undefined): Promise<void> {
    const comp = (await this.server.request(ListCompositionsRequest, { workspace: ws.uri })).items.find((c) => c.name === composition);
    const info = comp?.steps.find((s) => s.id === step);
    if (!comp || !info) {
      void vscode.window.showErrorMessage(`PromptManager: ${ws.name} has no step '${step}' in a composition '${composition}' any more.`);
      return;
    }
    const template = info.template ?? step;
    const ctx = await pickContext(this.state, ws.uri, { composition, template, ...(service ? { service } : {}), compositions: [composition] }, `Preview ${step} of ${composition}: the run's context`);
    if (!ctx) return;
    const overrides = await pickOverrides(comp, ctx.value);
    if (!overrides) return;
    await this.show({ workspace: ws, template, composition, step, ...(service ? { service } : {}), context: ctx.source, overrides, generation: 0 });
  }

  private async show(st: PreviewState): Promise<void> {
    const uri = previewUri(st.workspace.uri, st);
    const key = uri.toString();
    const existed = this.states.get(key);
    if (existed) st.generation = existed.generation + 1;
    this.states.set(key, st);
    if (existed) this.changed.fire(uri);
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: false });
  }

  /** The document's text: the last render's while nothing it depends on changed, else a new render. */
  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const st = this.states.get(uri.toString());
    if (!st) return 'This preview is no longer connected: run "PromptManager: Preview Render" again.';
    if (st.text !== undefined) return st.text;
    if (st.pending) return st.pending;
    const generation = st.generation;
    const pending = this.render(st).then((text) => {
      if (st.generation === generation) st.text = text;
      if (st.pending === pending) delete st.pending;
      return text;
    });
    st.pending = pending;
    return pending;
  }

  /** Something the preview depends on changed: the next request renders again. */
  private invalidate(key: string): void {
    const st = this.states.get(key);
    if (!st) return;
    st.generation++;
    delete st.text;
    delete st.pending;
    this.changed.fire(vscode.Uri.parse(key));
  }

  /** One render: the preview request, one line in the output channel, the document's text. */
  private async render(st: PreviewState): Promise<string> {
    const base = st.workspace.uri;
    let contextValue: Record<string, unknown>;
    let label: string;
    try {
      const c = await loadContext(st.context, base);
      contextValue = { ...c.value, ...st.overrides };
      label = c.label;
    } catch (e) {
      const msg = `The context could not be read: ${(e as Error).message}`;
      this.out.appendLine(msg);
      return msg;
    }
    const what = st.step ? `step ${st.step} of ${st.composition}` : st.template;
    const t0 = performance.now();
    try {
      const target = st.step ? { composition: st.composition!, step: st.step } : { template: st.template };
      const r = await this.server.request(PreviewRequest, { workspace: base, ...target, context: contextValue, ...(st.service ? { service: st.service } : {}) });
      const durationMs = performance.now() - t0;
      const service = st.service ? { service: st.service } : {};
      if (r.ok) {
        const line = formatRenderLine({ template: what, ...service, contextLabel: label, durationMs, serverMs: r.durationMs, fromCache: r.fromCache, ...(r.fallbackFor ? { templateUsed: r.templateUsed } : {}), chars: r.text.length }, new Date());
        const notes = previewNotes(r);
        this.out.appendLine(notes.length ? `${line}; ${notes.join(', ')}` : line);
        delete st.lastError;
        return previewDocument({ template: st.template, ...(st.composition ? { composition: st.composition } : {}), ...(st.step ? { step: st.step } : {}), ...service, contextLabel: label }, r);
      }
      this.out.appendLine(formatRenderLine({ template: what, ...service, contextLabel: label, durationMs, error: r.error, base }, new Date()));
      this.reportError(st, r.error);
      return errorText(what, r.error, base);
    } catch (e) {
      const msg = requestErrorMessage(e);
      this.out.appendLine(msg);
      return msg;
    }
  }

  private reportError(st: PreviewState, error: PromptErrorInfo): void {
    const msg = formatRenderError(st.step ? `step ${st.step} of ${st.composition}` : st.template, error, st.workspace.uri);
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
      if (inWorkspace || isContext) this.invalidate(key);
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

/** A preview's document: one per template, or per step, and service, in a prompt workspace. */
export function previewUri(workspace: string, what: { template: string; composition?: string; step?: string; service?: string }): vscode.Uri {
  const path = what.composition && what.step ? `/${what.composition}/step ${what.step}.txt` : `/${what.template}.txt`;
  return vscode.Uri.from({ scheme: PREVIEW_SCHEME, path, query: new URLSearchParams({ workspace, ...(what.service ? { service: what.service } : {}) }).toString() });
}

function errorText(what: string, error: PromptErrorInfo, base: string): string {
  return [formatRenderError(what, error, base), '', 'Fix the template, the configuration or the context and save: this preview renders again.'].join('\n');
}

/**
 * For a composition with overrides: the state and experience level to preview with, as the
 * context says (the first item, Enter), or one the composition defines. Undefined when cancelled.
 */
async function pickOverrides(comp: CompositionInfo, context: Record<string, unknown>): Promise<OverrideChoice | undefined> {
  const { states, experienceLevels: levels } = comp.overrides;
  if (!states.length && !levels.length) return {};
  const shown = (v: unknown) => (v === undefined || v === null || v === '' ? 'none' : String(v));
  type Item = vscode.QuickPickItem & { choice: OverrideChoice };
  const items: Item[] = [{ label: '$(symbol-property) As the context says', description: `state ${shown(context.state)}, experience level ${shown(context.user_experience_level)}`, choice: {} }];
  for (const st of states) items.push({ label: `state: ${st}`, description: `experience level as the context says (${shown(context.user_experience_level)})`, choice: { state: st } });
  for (const l of levels) items.push({ label: `experience level: ${l}`, description: `state as the context says (${shown(context.state)})`, choice: { user_experience_level: l } });
  for (const st of states) for (const l of levels) items.push({ label: `state: ${st}, experience level: ${l}`, choice: { state: st, user_experience_level: l } });
  const pick = await vscode.window.showQuickPick(items, { title: `Preview: overrides of ${comp.name}`, placeHolder: 'The state and experience level to render with (they select the overrides, as in a run)', matchOnDescription: true });
  return pick?.choice;
}
