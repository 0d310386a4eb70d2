/**
 * A real LSP client for the protocol-level tests: starts the bundled server (dist/server.js
 * --stdio) as a child process and speaks JSON-RPC to it through vscode-languageserver-protocol,
 * as an editor would. Fixtures use `|` markers for cursor positions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  createProtocolConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type ProtocolConnection,
} from 'vscode-languageserver-protocol/node';
import {
  DidChangeTextDocumentNotification,
  DidChangeWatchedFilesNotification,
  DidCloseTextDocumentNotification,
  DidOpenTextDocumentNotification,
  ExitNotification,
  InitializedNotification,
  LogMessageNotification,
  InitializeRequest,
  PublishDiagnosticsNotification,
  RegistrationRequest,
  ConfigurationRequest,
  ShutdownRequest,
  type Diagnostic,
  type FileEvent,
  type Position,
  type PublishDiagnosticsParams,
} from 'vscode-languageserver-protocol';
import { IndexedNotification, type IndexedParams } from '../../protocol/protocol.js';
import { EXAMPLES, SERVER } from '../helpers/paths.js';

export const uri = (file: string) => pathToFileURL(file).href;

/** Text with `|` markers: the text without them and the marker positions, in order. */
export function markers(textWithMarkers: string): { text: string; positions: Position[]; offsets: number[] } {
  const positions: Position[] = [];
  const offsets: number[] = [];
  let text = '';
  let line = 0;
  let col = 0;
  for (const ch of textWithMarkers) {
    if (ch === '|') {
      positions.push({ line, character: col });
      offsets.push(text.length);
      continue;
    }
    text += ch;
    if (ch === '\n') {
      line++;
      col = 0;
    } else col++;
  }
  return { text, positions, offsets };
}

/** Copies a folder (examples/ by default) to a fresh temporary folder. */
export function copyFixture(src = EXAMPLES, skip: (rel: string) => boolean = (r) => r.startsWith('broken') || r.startsWith('app')): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-lsp-'));
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(src, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      if (skip(r)) continue;
      if (e.isDirectory()) {
        fs.mkdirSync(path.join(dir, r), { recursive: true });
        walk(r);
      } else fs.copyFileSync(path.join(src, r), path.join(dir, r));
    }
  };
  walk('');
  return dir;
}

export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [rel, text] of Object.entries(files)) {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
  }
}

export interface ClientOptions {
  folders: string[];
  settings?: Record<string, unknown>;
  /** Per folder path: settings returned for workspace/configuration. */
  settingsFor?: (scopeUri: string | undefined) => unknown;
  debounceMs?: number;
  capabilities?: Record<string, unknown>;
  /** Runs between the initialize answer and `initialized`, e.g. to open files before the server is ready. */
  beforeInitialized?: (client: LspClient) => Promise<void>;
}

export class LspClient {
  readonly child: ChildProcess;
  readonly conn: ProtocolConnection;
  /** Latest diagnostics per URI. */
  readonly diagnostics = new Map<string, Diagnostic[]>();
  readonly published: PublishDiagnosticsParams[] = [];
  readonly versions = new Map<string, number>();
  readonly texts = new Map<string, string>();
  registrations: unknown[] = [];
  stderr = '';
  /** window/logMessage notifications (type 1 = error). */
  readonly logs: { type: number; message: string }[] = [];
  exited = false;
  private waiters: { check: () => boolean; resolve: () => void }[] = [];
  indexed: IndexedParams[] = [];
  settings: Record<string, unknown>;

  constructor(readonly options: ClientOptions) {
    this.settings = options.settings ?? {};
    // PM_SERVER_NODE_ARGS='--cpu-prof' and the like, for profiling the server under a test.
    const nodeArgs = process.env.PM_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
    this.child = spawn(process.execPath, [...nodeArgs, SERVER, '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr!.on('data', (d) => (this.stderr += String(d)));
    this.child.on('exit', () => {
      this.exited = true;
      this.poke();
    });
    this.conn = createProtocolConnection(new StreamMessageReader(this.child.stdout!), new StreamMessageWriter(this.child.stdin!));
    this.conn.onNotification(PublishDiagnosticsNotification.type, (p) => {
      this.diagnostics.set(p.uri, p.diagnostics);
      this.published.push(p);
      this.poke();
    });
    this.conn.onNotification(IndexedNotification, (p) => {
      this.indexed.push(p);
      this.poke();
    });
    this.conn.onNotification(LogMessageNotification.type, (p) => {
      this.logs.push(p);
      this.poke();
    });
    this.conn.onRequest(RegistrationRequest.type, (p) => {
      this.registrations.push(...p.registrations);
    });
    this.conn.onRequest(ConfigurationRequest.type, (p) => p.items.map((i) => (options.settingsFor ? options.settingsFor(i.scopeUri) : this.settings)));
    this.conn.onRequest('window/workDoneProgress/create', () => null);
    this.conn.listen();
  }

  static async start(options: ClientOptions): Promise<LspClient> {
    const c = new LspClient(options);
    await c.conn.sendRequest(InitializeRequest.type, {
      processId: process.pid,
      rootUri: null,
      workspaceFolders: options.folders.map((f) => ({ uri: uri(f), name: path.basename(f) })),
      initializationOptions: options.debounceMs !== undefined ? { debounceMs: options.debounceMs } : {},
      capabilities: {
        workspace: {
          configuration: true,
          didChangeWatchedFiles: { dynamicRegistration: true },
          workspaceFolders: true,
          workspaceEdit: { documentChanges: true, resourceOperations: ['create', 'rename', 'delete'] },
        },
        textDocument: { publishDiagnostics: { relatedInformation: true, versionSupport: true }, rename: { prepareSupport: true } },
        window: { workDoneProgress: true },
        ...(options.capabilities ?? {}),
      },
    });
    if (options.beforeInitialized) await options.beforeInitialized(c);
    await c.conn.sendNotification(InitializedNotification.type, {});
    await c.until(() => c.indexed.length > 0, 20000, 'initial indexing');
    return c;
  }

  private poke(): void {
    for (const w of [...this.waiters]) {
      if (w.check()) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }

  /** Resolves when `check` holds (checked on every notification), fails after `ms`. */
  until(check: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w = { check, resolve: () => (clearTimeout(t), resolve()) };
      const t = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`timed out waiting for ${what}${this.exited ? ' (the server exited)' : ''}\n${this.stderr}`));
      }, ms);
      this.waiters.push(w);
    });
  }

  /** Waits for diagnostics of a file that satisfy `pred`. */
  async diagnosticsOf(file: string, pred: (d: Diagnostic[]) => boolean = () => true, ms = 5000): Promise<Diagnostic[]> {
    const u = uri(file);
    await this.until(() => this.diagnostics.has(u) && pred(this.diagnostics.get(u)!), ms, `diagnostics of ${file}`);
    return this.diagnostics.get(u)!;
  }

  codes(file: string): string[] {
    return (this.diagnostics.get(uri(file)) ?? []).map((d) => String(d.code)).sort();
  }

  /** Waits until no diagnostics were published for `quietMs`. */
  async settle(quietMs = 250): Promise<void> {
    let n = -1;
    while (n !== this.published.length) {
      n = this.published.length;
      await new Promise((r) => setTimeout(r, quietMs));
    }
  }

  async open(file: string, text?: string): Promise<string> {
    const t = text ?? fs.readFileSync(file, 'utf8');
    this.texts.set(file, t);
    this.versions.set(file, 1);
    const languageId = file.endsWith('.yaml') ? 'yaml' : 'handlebars';
    await this.conn.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri: uri(file), languageId, version: 1, text: t } });
    return t;
  }

  /** Replaces the whole text of an open document (a full-text change). */
  async change(file: string, text: string): Promise<void> {
    const v = (this.versions.get(file) ?? 1) + 1;
    this.versions.set(file, v);
    this.texts.set(file, text);
    await this.conn.sendNotification(DidChangeTextDocumentNotification.type, { textDocument: { uri: uri(file), version: v }, contentChanges: [{ text }] });
  }

  /** An incremental edit: replace [start, end) offsets of the current text. */
  async edit(file: string, start: number, end: number, newText: string): Promise<void> {
    const old = this.texts.get(file)!;
    const pos = (o: number): Position => {
      const before = old.slice(0, o);
      const line = before.split('\n').length - 1;
      return { line, character: o - (before.lastIndexOf('\n') + 1) };
    };
    const v = (this.versions.get(file) ?? 1) + 1;
    this.versions.set(file, v);
    this.texts.set(file, old.slice(0, start) + newText + old.slice(end));
    await this.conn.sendNotification(DidChangeTextDocumentNotification.type, { textDocument: { uri: uri(file), version: v }, contentChanges: [{ range: { start: pos(start), end: pos(end) }, text: newText }] });
  }

  async close(file: string): Promise<void> {
    this.texts.delete(file);
    await this.conn.sendNotification(DidCloseTextDocumentNotification.type, { textDocument: { uri: uri(file) } });
  }

  async watched(changes: { file: string; type: 1 | 2 | 3 }[]): Promise<void> {
    const events: FileEvent[] = changes.map((c) => ({ uri: uri(c.file), type: c.type }));
    await this.conn.sendNotification(DidChangeWatchedFilesNotification.type, { changes: events });
  }

  async request<R>(method: string, params: unknown): Promise<R> {
    return this.conn.sendRequest(method, params) as Promise<R>;
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    try {
      await Promise.race([this.conn.sendRequest(ShutdownRequest.type), new Promise((r) => setTimeout(r, 2000))]);
      await this.conn.sendNotification(ExitNotification.type);
    } catch {
      // already gone
    }
    await Promise.race([new Promise((r) => this.child.once('exit', r)), new Promise((r) => setTimeout(r, 2000))]);
    if (!this.exited) this.child.kill();
    this.conn.dispose();
  }
}

/** Every diagnostic's range lies inside its document's text. */
export function rangesInside(text: string, diags: Diagnostic[]): boolean {
  const lines = text.split(/\r\n|\r|\n/); // LSP's line model
  return diags.every((d) => {
    const { start, end } = d.range;
    if (start.line < 0 || end.line < start.line || end.line >= lines.length) return false;
    if (start.line === end.line && end.character < start.character) return false;
    return start.character <= lines[start.line]!.length && end.character <= lines[end.line]!.length;
  });
}
