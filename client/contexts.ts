/**
 * Picking the context of a render or a run: a sample `contexts/*.json` of the prompt workspace
 * (the likely one first, those lacking what is required marked and last), a JSON typed in an
 * input box, a JSON file elsewhere, or the last one used for the same template or composition.
 */
import * as vscode from 'vscode';
import { ContextRequirementsRequest } from '../protocol/protocol.js';
import { contextFileProblem } from './contextFile.js';
import { contextJsonError, describeContext, lacksLabel, lastContextKey, missingKeys, orderByFit, rankContexts, remember, type ContextHints } from './contextRanking.js';
import type { ServerController } from './serverController.js';

export type ContextSource = { kind: 'file'; uri: string } | { kind: 'inline'; json: string };

export interface PickedContext {
  source: ContextSource;
  value: Record<string, unknown>;
  /** `contexts/analysis_service.json`, `typed JSON`... */
  label: string;
}

/** Remembered by `lastContextKey()` (workspace and template or composition). */
const LAST_KEY = 'promptManager.lastContextByTarget';

/**
 * The keys a render of `template` or a run of `composition` (as `service`) requires, from the
 * server; undefined when it cannot say (an older server, an unknown name): nothing is marked then.
 */
export async function requiredContext(server: ServerController, workspace: string, what: { template?: string; composition?: string; service?: string }): Promise<string[] | undefined> {
  try {
    const r = await server.request(ContextRequirementsRequest, { workspace, ...what });
    return r.ok ? r.required : undefined;
  } catch {
    return undefined;
  }
}

/** Reads a context (again: a file may have changed since it was picked). Throws a readable error. */
export async function loadContext(source: ContextSource, workspaceUri: string): Promise<PickedContext> {
  if (source.kind === 'inline') {
    const err = contextJsonError(source.json);
    if (err) throw new Error(err);
    return { source, value: JSON.parse(source.json) as Record<string, unknown>, label: 'typed JSON' };
  }
  const uri = vscode.Uri.parse(source.uri);
  const label = contextLabel(uri, workspaceUri);
  // An open, edited buffer wins over the disk.
  const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  const text = open ? open.getText() : await readContextFile(uri, label);
  const err = contextJsonError(text);
  if (err) throw new Error(`${label}: ${err}`);
  return { source, value: JSON.parse(text) as Record<string, unknown>, label };
}

/** A context file's text; a FIFO, a device or a huge file is refused before it is read. */
async function readContextFile(uri: vscode.Uri, label: string): Promise<string> {
  const problem = contextFileProblem(await vscode.workspace.fs.stat(uri));
  if (problem) throw new Error(`${label}: ${problem}`);
  return new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
}

export function contextLabel(uri: vscode.Uri, workspaceUri: string): string {
  const base = vscode.Uri.parse(workspaceUri).path.replace(/\/?$/, '/');
  return uri.path.startsWith(base) ? uri.path.slice(base.length) : uri.fsPath;
}

type Item = vscode.QuickPickItem & { run?: () => Promise<PickedContext | undefined> };

/**
 * Asks for a context. `hints` rank the sample files and say what is required; the one used
 * last for the same template or composition comes first. Remembers the choice.
 */
export async function pickContext(state: vscode.Memento, workspaceUri: string, hints: ContextHints, title: string): Promise<PickedContext | undefined> {
  const lastAll = state.get<Record<string, ContextSource>>(LAST_KEY, {});
  const lastKey = lastContextKey(workspaceUri, hints);
  const last = lastKey ? lastAll[lastKey] : undefined;
  const dir = vscode.Uri.joinPath(vscode.Uri.parse(workspaceUri), 'contexts');
  let files: string[] = [];
  try {
    files = (await vscode.workspace.fs.readDirectory(dir)).filter(([n, t]) => t === vscode.FileType.File && n.toLowerCase().endsWith('.json')).map(([n]) => n);
  } catch {
    // No contexts/ folder.
  }
  const items: Item[] = [];
  const fromFile = (uri: vscode.Uri) => async () => loadContext({ kind: 'file', uri: uri.toString() }, workspaceUri);
  // Each sample read once: its keys for the detail line, what it lacks for the mark and the order.
  const samples = new Map<string, { detail: string; missing: string[] }>();
  for (const name of files) {
    try {
      const value: unknown = JSON.parse(await readContextFile(vscode.Uri.joinPath(dir, name), name));
      samples.set(name, { detail: describeContext(value), missing: missingKeys(value, hints.required) });
    } catch (e) {
      samples.set(name, { detail: e instanceof SyntaxError ? 'not valid JSON' : `not read: ${(e as Error).message}`, missing: [] });
    }
  }
  const ranked = orderByFit(rankContexts(files, hints), (n) => samples.get(n)?.missing ?? []);
  if (last) {
    const label = last.kind === 'file' ? contextLabel(vscode.Uri.parse(last.uri), workspaceUri) : 'typed JSON';
    let lacks = '';
    try {
      lacks = lacksLabel(missingKeys((await loadContext(last, workspaceUri)).value, hints.required));
    } catch {
      // Gone or broken since: loading it again says so.
    }
    const description = [lacks && `$(warning) ${lacks}`, last.kind === 'inline' ? last.json.slice(0, 60) : ''].filter(Boolean).join(' · ');
    items.push({ label: `$(history) Last used: ${label}`, description, run: async () => loadContext(last, workspaceUri) });
  }
  if (ranked.length) items.push({ label: 'contexts/', kind: vscode.QuickPickItemKind.Separator });
  for (const r of ranked) {
    const uri = vscode.Uri.joinPath(dir, r.name);
    const sample = samples.get(r.name);
    const lacks = lacksLabel(sample?.missing ?? []);
    const description = lacks ? `$(warning) ${lacks}` : r.reason ? `recommended: ${r.reason}` : '';
    items.push({ label: r.name, description, detail: `keys: ${sample?.detail ?? ''}`, run: fromFile(uri) });
  }
  items.push({ label: 'other', kind: vscode.QuickPickItemKind.Separator });
  items.push({
    label: '$(edit) Type a JSON context…',
    run: async () => {
      const json = await vscode.window.showInputBox({
        title,
        prompt: 'The context as a JSON object',
        value: last?.kind === 'inline' ? last.json : '{}',
        validateInput: contextJsonError,
        ignoreFocusOut: true,
      });
      return json === undefined ? undefined : loadContext({ kind: 'inline', json }, workspaceUri);
    },
  });
  items.push({
    label: '$(folder-opened) Open a JSON file…',
    run: async () => {
      const picked = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { JSON: ['json'] }, defaultUri: dir, title });
      return picked?.[0] ? fromFile(picked[0])() : undefined;
    },
  });
  const emptyLacks = lacksLabel(missingKeys({}, hints.required));
  items.push({ label: '$(circle-slash) Empty context {}', ...(emptyLacks ? { description: `$(warning) ${emptyLacks}` } : {}), run: async () => loadContext({ kind: 'inline', json: '{}' }, workspaceUri) });

  const pick = await vscode.window.showQuickPick(items, { title, placeHolder: 'Pick the context (variables) to render with', matchOnDescription: true });
  if (!pick?.run) return undefined;
  const ctx = await pick.run();
  if (ctx && lastKey) await state.update(LAST_KEY, remember(lastAll, lastKey, ctx.source));
  return ctx;
}
