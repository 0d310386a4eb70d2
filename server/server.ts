/**
 * The connection layer: LSP messages in, calls to the workspace manager and the feature
 * functions out. No check and no feature logic lives here; the debounce policy is in
 * debounce.ts, what diagnostics are sent in diagnosticsPublisher.ts, the reading of settings in
 * settings.ts, the custom requests in customRequests.ts.
 *
 * Diagnostics: every change marks the prompt workspaces it matters to as dirty and schedules
 * one validation per workspace after a short debounce (at most 100 ms; shorter for small
 * workspaces). A validation always reads the current buffers, and a feature request validates
 * first when its workspace is dirty, so nothing ever answers from, or publishes, stale texts.
 * Each validation carries a generation; a result older than the last published one is dropped.
 */
import nodeModule from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DidChangeWatchedFilesNotification,
  ErrorCodes,
  FileChangeType,
  ResponseError,
  TextDocuments,
  type Connection,
  type InitializeParams,
  type InitializeResult,
  type TextDocumentPositionParams,
} from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { LazyTextDocument } from './lazyTextDocument.js';
import { isConfigFile } from '../core/workspace/discover.js';
import { isTemplateFile } from '../core/workspace/templateIndex.js';
import { codeActions } from './features/codeActions.js';
import { completion } from './features/completion.js';
import { hover } from './features/hover.js';
import { definition, documentSymbols, references, workspaceSymbols, type FeatureRequest } from './features/navigation.js';
import { prepareRename, rename } from './features/rename.js';
import { documentSnapshot, templateByFile, templateNameOfFile, type DocumentSnapshot } from './workspaceSnapshot.js';
import { registerCustomRequests, type CustomRequestHost } from './customRequests.js';
import { initializeResult } from './capabilities.js';
import { FolderWatcher, type FolderChange } from './folderWatcher.js';
import { IndexedNotification, TestsChangedNotification, type PromptManagerSettings } from '../protocol/protocol.js';
import { testListSignature } from './testRequests.js';
import { DebouncedValidations } from './debounce.js';
import { DiagnosticsPublisher } from './diagnosticsPublisher.js';
import { parseInitializationOptions, parseSettings } from './settings.js';
import { WorkspaceManager, type ManagedWorkspace } from './workspaceManager.js';
import { isWatchedFile, WATCHED_GLOBS } from './watchedFiles.js';
import type { PrewarmedTemplate, TemplatePrewarmRequest } from '../core/validate/templatePrewarm.js';

export interface ServerOptions {
  /**
   * The `initialize` params, when the connection already listens and has answered `initialize`
   * with initializeResult() (main.ts). Without them the server answers it and starts the
   * connection itself.
   */
  initializeParams?: InitializeParams;
  /** Fixed debounce in ms (initializationOptions.debounceMs wins); default adapts to the validation time. */
  debounceMs?: number;
  /**
   * Analyzes templates off the main thread for the first validation (main.ts passes a worker
   * thread); without it the validation does everything on this thread.
   */
  analyzeTemplates?: (requests: TemplatePrewarmRequest[]) => Promise<PrewarmedTemplate[][]>;
}

function uriToPath(uri: string): string | undefined {
  if (!uri.startsWith('file:')) return undefined;
  try {
    return path.resolve(fileURLToPath(uri));
  } catch {
    return undefined;
  }
}

export function startServer(connection: Connection, options: ServerOptions = {}): void {
  const documents = new TextDocuments<TextDocument>({ create: LazyTextDocument.create, update: LazyTextDocument.update });
  const manager = new WorkspaceManager();
  const debounce = new DebouncedValidations<string>(options.debounceMs);
  const diagnostics = new DiagnosticsPublisher(manager, (p) => void connection.sendDiagnostics(p));
  /** From initializationOptions.trusted at start; `promptManager/setTrust` follows changes. */
  let workspaceTrusted = true;
  let supportsConfiguration = false;
  let supportsDynamicWatchers = false;
  /** The server's own file watching, only for a client that cannot register watchers. */
  let watcher: FolderWatcher | undefined;
  let trace: PromptManagerSettings['trace']['server'] = 'off';
  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));
  let isReady = false;

  const log = (msg: string) => {
    if (trace !== 'off') connection.console.log(msg);
  };

  // ------------------------------------------------------------------ diagnostics

  function schedule(ws: ManagedWorkspace): void {
    ws.dirty = true;
    if (!isReady) return;
    debounce.schedule(ws.root, ws.lastDurationMs, () => validateAndPublish(ws));
  }

  function validateAndPublish(ws: ManagedWorkspace): void {
    if (!manager.workspaces.has(ws.root)) return;
    debounce.cancel(ws.root);
    try {
      const v = manager.validate(ws);
      log(`validated ${ws.root} in ${ws.lastDurationMs.toFixed(1)} ms: ${v.diagnostics.length} diagnostic(s)`);
      diagnostics.publish(ws);
      // Tree views list services, compositions and templates: tell the client when they change.
      const sig = [v.templatesRoot, ...(v.serviceMappings?.services.map((x) => x.name) ?? []), '\0', ...(v.compositionRules?.compositions.map((x) => x.name) ?? []), '\0', ...v.templates.keys()].join('\n');
      if (signatures.get(ws.root) !== sig) {
        const first = !signatures.has(ws.root);
        signatures.set(ws.root, sig);
        if (!first && isReady) notifyIndexedSoon();
      }
      // The Testing view lists the workspace's tests: tell the client when they change (as you type too).
      const tests = testListSignature(v);
      if ((testSignatures.get(ws.root) ?? '') !== tests) {
        const first = !testSignatures.has(ws.root);
        testSignatures.set(ws.root, tests);
        if (!first && isReady) void connection.sendNotification(TestsChangedNotification, { workspaces: [manager.uriOf(ws.root)] });
      }
    } catch (e) {
      connection.console.error(`validation of ${ws.root} failed: ${(e as Error).stack ?? e}`);
    }
  }

  function clearWorkspace(ws: ManagedWorkspace): void {
    diagnostics.clearWorkspace(ws);
    debounce.cancel(ws.root);
  }

  // ------------------------------------------------------------------ settings

  async function loadSettings(pushed?: unknown): Promise<void> {
    const folders = [...manager.folders.entries()];
    if (supportsConfiguration && folders.length) {
      try {
        const values = await connection.workspace.getConfiguration(folders.map(([, f]) => ({ scopeUri: f.uri, section: 'promptManager' })));
        folders.forEach(([folder], i) => manager.setSettings(folder, parseSettings(values[i])));
      } catch (e) {
        connection.console.warn(`could not read the settings: ${(e as Error).message}`);
      }
    } else if (pushed !== undefined) {
      for (const [folder] of folders) manager.setSettings(folder, parseSettings(pushed));
    }
    const first = folders[0];
    trace = first ? manager.settingsFor(first[0]).trace.server : 'off';
  }

  // ------------------------------------------------------------------ lifecycle

  function initialize(params: InitializeParams): InitializeResult {
    const caps = params.capabilities;
    supportsConfiguration = !!caps.workspace?.configuration;
    supportsDynamicWatchers = !!caps.workspace?.didChangeWatchedFiles?.dynamicRegistration;
    const ops = caps.workspace?.workspaceEdit?.resourceOperations;
    manager.resourceOperations = !!caps.workspace?.workspaceEdit?.documentChanges && !!ops?.includes('rename') && !!ops?.includes('create');
    const init = parseInitializationOptions(params.initializationOptions);
    if (!init.trusted) workspaceTrusted = false;
    if (init.debounceMs !== undefined) debounce.fixedMs = init.debounceMs;
    const folders = params.workspaceFolders ?? (params.rootUri ? [{ uri: params.rootUri, name: 'root' }] : params.rootPath ? [{ uri: 'file://' + params.rootPath, name: 'root' }] : []);
    for (const f of folders) {
      const p = uriToPath(f.uri);
      if (p) {
        manager.folders.set(p, { uri: f.uri });
        manager.rememberUri(p, f.uri);
      }
    }
    if (init.settings !== undefined) for (const folder of manager.folders.keys()) manager.setSettings(folder, init.settings);
    return initializeResult();
  }

  async function initialized(): Promise<void> {
    if (supportsDynamicWatchers) {
      void connection.client.register(DidChangeWatchedFilesNotification.type, {
        watchers: WATCHED_GLOBS.map((globPattern) => ({ globPattern })),
      });
    } else {
      // The client cannot be asked to watch (Neovim 0.7 and others): watch the folders here,
      // or a template created, changed or deleted outside the editor would never be seen.
      // Exactly one source of file events: a client that registers is never doubled by this.
      watcher = new FolderWatcher({
        accept: isWatchedFile,
        // Changes seen while the first indexing runs wait for it (its listing may predate them).
        onChanges: (changes) => void ready.then(() => watcher && filesChanged(changes.map(folderChange))),
        onProblem: (m) => connection.console.warn(`PromptManager file watching: ${m}`),
      });
      for (const folder of manager.folders.keys()) watcher.add(folder);
      connection.console.info(`PromptManager: the client does not watch files for the server (no dynamic registration of workspace/didChangeWatchedFiles), so the server watches ${manager.folders.size} folder(s) itself (${watcher.folderCount} folders below them, node_modules and dot-folders left out).`);
    }
    if (manager.folders.size) {
      try {
        connection.workspace.onDidChangeWorkspaceFolders((e) => {
          for (const f of e.removed) {
            const p = uriToPath(f.uri);
            if (p) for (const ws of manager.removeFolder(p)) clearWorkspace(ws);
            if (p) watcher?.remove(p);
          }
          for (const f of e.added) {
            const p = uriToPath(f.uri);
            if (!p) continue;
            manager.rememberUri(p, f.uri);
            manager.folders.set(p, { uri: f.uri });
            watcher?.add(p);
            void loadSettings().then(() => {
              for (const ws of manager.discover(p)) validateAndPublish(ws);
              notifyIndexed(0);
            });
          }
        });
      } catch {
        // The client does not support workspace folder changes.
      }
    }
    await loadSettings();
    const t0 = performance.now();
    for (const folder of manager.folders.keys()) manager.discover(folder);
    // Files opened before we were ready may belong to no folder.
    for (const file of manager.open.keys()) manager.workspacesOf(file, true);
    // Until isReady, edits only mark workspaces dirty: the validation below sees them.
    if (options.analyzeTemplates && manager.workspaces.size) {
      const t1 = performance.now();
      const done = await manager.prewarm([...manager.workspaces.values()], options.analyzeTemplates);
      if (done) log(`prewarm: YAML parsed here, ${done.templates} template(s) analyzed in a worker, in ${(performance.now() - t1).toFixed(0)} ms`);
    }
    isReady = true;
    for (const ws of manager.workspaces.values()) validateAndPublish(ws);
    notifyIndexed(performance.now() - t0);
    resolveReady();
    // Node writes its compile cache (NODE_COMPILE_CACHE, which the VS Code client sets) at exit;
    // written now, the start's code is cached even if this process is killed.
    setTimeout(() => (nodeModule as { flushCompileCache?: () => void }).flushCompileCache?.(), 500).unref();
  }

  const signatures = new Map<string, string>();
  const testSignatures = new Map<string, string>();
  let notifyPending = false;
  function notifyIndexedSoon(): void {
    if (notifyPending) return;
    notifyPending = true;
    setTimeout(() => {
      notifyPending = false;
      notifyIndexed(0);
    }, 200);
  }

  function notifyIndexed(durationMs: number): void {
    void connection.sendNotification(IndexedNotification, { workspaces: [...manager.workspaces.keys()].sort().map((r) => manager.uriOf(r)), durationMs });
  }

  connection.onDidChangeConfiguration(async (change) => {
    const pushed = (change.settings as { promptManager?: unknown } | undefined)?.promptManager;
    await loadSettings(pushed);
    for (const ws of manager.workspaces.values()) {
      ws.cache.invalidateAll();
      ws.diskTexts.clear();
      diagnostics.invalidate(ws);
      schedule(ws);
    }
  });

  // ------------------------------------------------------------------ documents

  documents.onDidOpen((e) => {
    const file = uriToPath(e.document.uri);
    if (!file) return;
    manager.rememberUri(file, e.document.uri);
    const text = e.document.getText();
    manager.open.set(file, { uri: e.document.uri, text, version: e.document.version });
    // A template the index does not list yet (created outside the editor, and no file event
    // came, or not yet): list its folder again, in any client.
    if (isTemplateFile(file) && !isIndexed(file)) manager.fileChanged(file);
    for (const ws of manager.workspacesOf(file, isReady)) {
      // Opening a file as it is on disk changes nothing the validation saw: answer at once.
      const seen = ws.diskTexts.get(file) ?? (ws.validation ? ws.validation.templates.get(templateNameOfFile(ws.validation, file) ?? '')?.text : undefined);
      if (isReady && !ws.dirty && ws.validation && seen === text) diagnostics.publish(ws);
      else schedule(ws);
    }
  });
  documents.onDidChangeContent((e) => {
    const file = uriToPath(e.document.uri);
    if (!file) return;
    const d = manager.open.get(file);
    if (d && d.version === e.document.version) return;
    // The text is read when a validation needs it: reading it on every keystroke would
    // rebuild a big file's whole string each time (see lazyTextDocument.ts).
    const doc = e.document;
    manager.open.set(file, {
      uri: doc.uri,
      version: doc.version,
      get text() {
        return doc.getText();
      },
    });
    for (const ws of manager.workspacesOf(file, isReady)) schedule(ws);
  });
  // A save writes the file to disk: a new template or test file (an editor buffer saved for the
  // first time) is then listed, and closed files read it from disk again. Any client, watchers or not.
  documents.onDidSave((e) => {
    const file = uriToPath(e.document.uri);
    if (!file || !isWatchedFile(file)) return;
    for (const ws of new Set([...manager.fileChanged(file), ...manager.workspacesOf(file, isReady)])) schedule(ws);
  });

  /** Whether a template file is in the index of every workspace whose templates root holds it. */
  function isIndexed(file: string): boolean {
    return manager.workspacesOf(file).every((ws) => {
      // Not validated yet: its first validation lists the folder anyway.
      return !ws.validation || templateByFile(ws.validation, file) !== undefined;
    });
  }

  documents.onDidClose((e) => {
    const file = uriToPath(e.document.uri);
    if (!file) return;
    manager.open.delete(file);
    // The disk text wins again; it may differ from the buffer.
    for (const ws of manager.fileChanged(file)) schedule(ws);
    // A file that belongs to no workspace any more keeps no diagnostics.
    diagnostics.clearOrphan(file);
  });

  connection.onDidChangeWatchedFiles((e) => {
    // The server watches itself only for a client that cannot register (see initialized):
    // events such a client sends anyway would be the same changes twice.
    if (watcher) return;
    filesChanged(e.changes.flatMap((c) => {
      const file = uriToPath(c.uri);
      return file ? [{ file, type: c.type }] : [];
    }));
  });

  function folderChange(c: FolderChange): { file: string; type: FileChangeType } {
    return { file: c.path, type: c.type === 'created' ? FileChangeType.Created : c.type === 'deleted' ? FileChangeType.Deleted : FileChangeType.Changed };
  }

  /** Files or folders created, changed or deleted on disk: from the client's watchers or the server's own. */
  function filesChanged(changes: { file: string; type: FileChangeType }[]): void {
    let rediscover = false;
    const touched = new Set<ManagedWorkspace>();
    for (const c of changes) {
      const file = c.file;
      if (isConfigFile(file) && c.type !== FileChangeType.Changed) rediscover = true;
      const folderEvent = !isWatchedFile(file);
      if (folderEvent && c.type !== FileChangeType.Changed) rediscover = true;
      for (const ws of manager.fileChanged(file)) {
        // A folder appeared or went: any file below it may have changed.
        if (folderEvent) ws.cache.invalidateAll();
        touched.add(ws);
      }
    }
    if (rediscover) {
      for (const ws of manager.prune()) {
        touched.delete(ws);
        clearWorkspace(ws);
      }
      for (const folder of manager.folders.keys()) for (const ws of manager.discover(folder)) touched.add(ws);
      notifyIndexed(0);
    }
    for (const ws of touched) schedule(ws);
  }

  // ------------------------------------------------------------------ features

  /** The request's document and the snapshot of its (first) prompt workspace, fresh. */
  async function requestFor(uri: string): Promise<{ file: string; doc: DocumentSnapshot; ws: ManagedWorkspace } | undefined> {
    await ready;
    const file = uriToPath(uri);
    if (!file) return undefined;
    const all = manager.workspacesOf(file, true);
    const ws = all[0];
    if (!ws) return undefined;
    const text = manager.readText(file);
    if (text === undefined) return undefined;
    return { file, doc: documentSnapshot(file, text, uri, ws.root), ws };
  }

  async function feature<T>(p: TextDocumentPositionParams, fn: (req: FeatureRequest) => T, empty: T): Promise<T> {
    const r = await requestFor(p.textDocument.uri);
    if (!r) return empty;
    const snap = manager.snapshot(r.ws);
    if (!diagnostics.isPublished(r.ws)) diagnostics.publish(r.ws);
    try {
      return fn({ ws: snap, doc: r.doc, position: p.position });
    } catch (e) {
      if (e instanceof ResponseError) throw e;
      connection.console.error(`request failed: ${(e as Error).stack ?? e}`);
      return empty;
    }
  }

  connection.onCompletion((p) => feature(p, completion, { isIncomplete: false, items: [] }));
  connection.onHover((p) => feature(p, hover, null));
  connection.onDefinition((p) => feature(p, definition, []));
  connection.onReferences((p) => feature(p, (req) => references(req, p.context.includeDeclaration), []));
  connection.onPrepareRename((p) =>
    feature(
      p,
      (req) => {
        const r = prepareRename(req);
        if ('error' in r) throw new ResponseError(ErrorCodes.InvalidRequest, r.error);
        return r;
      },
      null,
    ),
  );
  connection.onRenameRequest((p) =>
    feature(
      p,
      (req) => {
        const r = rename(req, p.newName);
        if ('error' in r) throw new ResponseError(ErrorCodes.InvalidRequest, r.error);
        return r.edit;
      },
      null,
    ),
  );
  connection.onDocumentSymbol(async (p) => {
    const r = await requestFor(p.textDocument.uri);
    if (!r) return [];
    return documentSymbols(manager.snapshot(r.ws), r.doc);
  });
  connection.onWorkspaceSymbol(async (p) => {
    await ready;
    return workspaceSymbols([...manager.workspaces.values()].map((ws) => manager.snapshot(ws)), p.query);
  });
  connection.onCodeAction(async (p) => {
    const r = await requestFor(p.textDocument.uri);
    if (!r) return [];
    return codeActions({ ws: manager.snapshot(r.ws), doc: r.doc, range: p.range, diagnostics: p.context.diagnostics });
  });

  const host: CustomRequestHost = {
    connection,
    manager,
    ready,
    uriToPath,
    freshSnapshot: (ws) => manager.snapshot(ws),
    trusted: () => workspaceTrusted,
  };
  const disposeCustom = registerCustomRequests(host);

  connection.onShutdown(async () => {
    watcher?.close();
    watcher = undefined;
    debounce.cancelAll();
    isReady = false;
    await disposeCustom();
  });

  documents.listen(connection);
  connection.onInitialized(initialized);
  if (options.initializeParams) {
    initialize(options.initializeParams);
  } else {
    connection.onInitialize(initialize);
    connection.listen();
  }
}
