/**
 * The server's state, without the connection: the workspace folders, the prompt workspaces
 * found in them (each with its own ValidationCache and latest validation), the open buffers
 * that win over disk, and the file texts each validation saw. The connection layer
 * (server.ts) feeds it events and asks it for validations and snapshots.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { WorkspaceValidation } from '../core/validate/api.js';
import { guessTemplatesRoot, type PrewarmedTemplate, type TemplatePrewarmRequest } from '../core/validate/templatePrewarm.js';
import { ValidationCache, validateWorkspace } from '../core/validate/validateWorkspace.js';
import { LIMITS } from '../core/limits.js';
import { COMPOSITION_RULES_FILE, CONFIG_FILE_NAMES, findPromptWorkspaces, isConfigFile, SERVICE_MAPPINGS_FILE } from '../core/workspace/discover.js';
import { nodeFileSystem, type FileSystemHost } from '../core/workspace/fileSystem.js';
import { asFileReadError } from '../core/workspace/fileRead.js';
import { isTemplateFile } from '../core/workspace/templateIndex.js';
import { isPromptTestFile } from '../core/workspace/testFiles.js';
import { innermostHolding, isPathUnder, workspaceRootOf } from '../core/workspace/queries.js';
import { IncrementalYamlParser } from '../core/yaml/incrementalParse.js';
import { workspaceSnapshot, type WorkspaceSnapshot } from './workspaceSnapshot.js';
import { DEFAULT_SETTINGS, type PromptManagerSettings } from '../protocol/protocol.js';
import { isJsonFile, looksLikePromptTestFile } from './watchedFiles.js';

export interface ManagedWorkspace {
  root: string;
  /** The workspace folder it was found in (or its own root for a file opened alone). */
  folder: string;
  cache: ValidationCache;
  /** Disk texts the validator read, kept in step with the cache (invalidated together). */
  diskTexts: Map<string, string | undefined>;
  validation?: WorkspaceValidation;
  lastGood: WorkspaceSnapshot['lastGood'];
  snapshot?: WorkspaceSnapshot;
  /** Something it depends on changed since `validation`. */
  dirty: boolean;
  /** Bumped by every validation. */
  generation: number;
  lastDurationMs: number;
  /** The context files the tests of `validation` name (absolute paths), computed when first asked. */
  contextFiles?: Set<string>;
}

export interface OpenDocument {
  uri: string;
  text: string;
  version: number;
}

/** Where a workspace keeps its JSON contexts, by convention (previews and tests look there). */
const CONTEXTS_DIR = 'contexts';

/** Fewer templates than this are analyzed faster than a worker thread starts. */
export const PREWARM_MIN_TEMPLATES = 100;

/** How many templates the validator will list under `root` (the listing stays cached for it). */
function templateCount(ws: ManagedWorkspace, root: string, fs: FileSystemHost): number {
  return ws.cache.listing(root, fs, true).length;
}

/** A file's text for a feature; a file that is not read is reported by the validator, not here. */
function readOrUndefined(fs: FileSystemHost, file: string): string | undefined {
  try {
    return fs.readFile(file);
  } catch (e) {
    if (asFileReadError(file, e)) return undefined;
    throw e;
  }
}

/** Folders below `contexts/` searched at most this deep, and at most this many names offered. */
const CONTEXTS_MAX_DEPTH = 4;
const CONTEXTS_MAX_FILES = 500;

/**
 * The JSON files a test may name as `context_file`, relative to the workspace with `/`: those
 * below `contexts/` (the convention the previews use too), and any other one a test names already.
 */
function listContextFiles(root: string, fs: FileSystemHost, v: WorkspaceValidation): string[] {
  const out = new Set<string>();
  const visit = (rel: string, depth: number) => {
    if (depth > CONTEXTS_MAX_DEPTH || out.size >= CONTEXTS_MAX_FILES) return;
    for (const e of fs.readDirectory(path.join(root, ...rel.split('/'))) ?? []) {
      if (e.name.startsWith('.') || out.size >= CONTEXTS_MAX_FILES) continue;
      const child = `${rel}/${e.name}`;
      if (e.isDirectory) visit(child, depth + 1);
      else if (e.name.endsWith('.json')) out.add(child);
    }
  };
  visit(CONTEXTS_DIR, 0);
  for (const m of v.promptTests) for (const t of m.tests) if (t.contextFile && v.contextFiles.has(path.resolve(root, t.contextFile.value))) out.add(path.relative(root, path.resolve(root, t.contextFile.value)).split(path.sep).join('/'));
  return [...out].sort();
}

export class WorkspaceManager {
  readonly folders = new Map<string, { uri: string }>();
  readonly workspaces = new Map<string, ManagedWorkspace>();
  readonly open = new Map<string, OpenDocument>();
  /** URIs as the client spells them, for files it told us about. */
  private readonly uris = new Map<string, string>();
  private readonly settings = new Map<string, PromptManagerSettings>();
  /** Whether the client can rename and create files in a WorkspaceEdit. */
  resourceOperations = true;

  constructor(readonly baseFs: FileSystemHost = nodeFileSystem) {}

  uriOf(file: string): string {
    return this.uris.get(file) ?? pathToFileURL(file).href;
  }

  rememberUri(file: string, uri: string): void {
    this.uris.set(file, uri);
  }

  settingsFor(folder: string): PromptManagerSettings {
    return this.settings.get(folder) ?? DEFAULT_SETTINGS;
  }

  setSettings(folder: string, s: PromptManagerSettings): void {
    this.settings.set(folder, s);
  }

  // ------------------------------------------------------------------ folders and discovery

  addFolder(folder: string, uri: string): ManagedWorkspace[] {
    this.folders.set(folder, { uri });
    return this.discover(folder);
  }

  /** Removes a folder and the prompt workspaces found in it; returns them (to clear their diagnostics). */
  removeFolder(folder: string): ManagedWorkspace[] {
    this.folders.delete(folder);
    const gone: ManagedWorkspace[] = [];
    for (const ws of [...this.workspaces.values()]) {
      if (ws.folder === folder) {
        this.workspaces.delete(ws.root);
        gone.push(ws);
      }
    }
    return gone;
  }

  /** (Re)discovers the prompt workspaces of a folder; returns the new ones. */
  discover(folder: string): ManagedWorkspace[] {
    const found = new Set(findPromptWorkspaces(folder, this.baseFs));
    const added: ManagedWorkspace[] = [];
    for (const root of found) {
      if (this.workspaces.has(root)) continue;
      const ws = this.create(root, folder);
      added.push(ws);
    }
    return added;
  }

  /** Drops prompt workspaces of a folder that no longer hold a configuration file. */
  prune(): ManagedWorkspace[] {
    const gone: ManagedWorkspace[] = [];
    for (const ws of [...this.workspaces.values()]) {
      const hasConfig = CONFIG_FILE_NAMES.some((f) => this.exists(path.join(ws.root, f)));
      if (!hasConfig) {
        this.workspaces.delete(ws.root);
        gone.push(ws);
      }
    }
    return gone;
  }

  private exists(file: string): boolean {
    return this.open.has(file) || this.baseFs.realpath(file) !== undefined;
  }

  private create(root: string, folder: string): ManagedWorkspace {
    const ws: ManagedWorkspace = { root, folder, cache: new ValidationCache(), diskTexts: new Map(), lastGood: {}, dirty: true, generation: 0, lastDurationMs: 0 };
    this.workspaces.set(root, ws);
    return ws;
  }

  /** The folder a file belongs to (the innermost), if any. */
  folderOf(file: string): string | undefined {
    return innermostHolding(file, this.folders.keys());
  }

  /**
   * The prompt workspaces a file matters to: the one holding a configuration file or a prompt
   * test file, every one whose templates root holds a template, every one with a test naming
   * it as `context_file`. A configuration, template or test file outside every known workspace
   * gets its own (a file opened alone).
   */
  workspacesOf(file: string, create = false): ManagedWorkspace[] {
    const out: ManagedWorkspace[] = [];
    const testFile = looksLikePromptTestFile(file);
    if (isConfigFile(file)) {
      const ws = this.workspaces.get(path.dirname(file));
      if (ws) out.push(ws);
    } else {
      for (const ws of this.workspaces.values()) {
        const troot = ws.validation?.templatesRoot ?? path.join(ws.root, 'templates');
        if (isPathUnder(file, troot) || (!ws.validation && isPathUnder(file, ws.root))) out.push(ws);
        else if (testFile && isPromptTestFile(file, ws.root)) out.push(ws);
        else if (isJsonFile(file) && this.contextFilesOf(ws).has(file)) out.push(ws);
      }
    }
    if (!out.length && create && (isConfigFile(file) || isTemplateFile(file) || testFile)) {
      const root = workspaceRootOf(file, this.fsWithOpen());
      if (root && (!testFile || isConfigFile(file) || isTemplateFile(file) || isPromptTestFile(file, root))) {
        const ws = this.workspaces.get(root);
        out.push(ws ?? this.create(root, this.folderOf(root) ?? root));
      }
    }
    return out;
  }

  /** The context files the workspace's tests name, as of its last validation. */
  private contextFilesOf(ws: ManagedWorkspace): Set<string> {
    if (ws.contextFiles) return ws.contextFiles;
    const files = new Set<string>();
    for (const m of ws.validation?.promptTests ?? []) for (const t of m.tests) if (t.contextFile) files.add(path.resolve(ws.root, t.contextFile.value));
    ws.contextFiles = files;
    return files;
  }

  // ------------------------------------------------------------------ files

  /** A file changed, appeared or disappeared on disk. */
  fileChanged(file: string): ManagedWorkspace[] {
    const hit: ManagedWorkspace[] = [];
    for (const ws of this.workspaces.values()) {
      ws.cache.invalidate(file);
      for (const k of ws.diskTexts.keys()) if (isPathUnder(k, file)) ws.diskTexts.delete(k);
      const troot = ws.validation?.templatesRoot ?? path.join(ws.root, 'templates');
      if (isPathUnder(file, ws.root) || isPathUnder(file, troot) || isPathUnder(troot, file)) {
        ws.dirty = true;
        hit.push(ws);
      }
    }
    return hit;
  }

  private fsWithOpen(): FileSystemHost {
    const open = this.open;
    const base = this.baseFs;
    return {
      ...base,
      readFile: (f, maxBytes) => open.get(f)?.text ?? base.readFile(f, maxBytes),
      realpath: (f) => base.realpath(f) ?? (open.has(f) ? f : undefined),
      fileSize: (f) => open.get(f)?.text.length ?? base.fileSize(f),
    };
  }

  /** The validator's file system for a workspace: records what it reads from disk. */
  private recordingFs(ws: ManagedWorkspace): FileSystemHost {
    const base = this.baseFs;
    return {
      ...base,
      readFile: (f, maxBytes) => {
        const t = base.readFile(f, maxBytes);
        ws.diskTexts.set(f, t);
        return t;
      },
    };
  }

  overlays(): Map<string, string> {
    const m = new Map<string, string>();
    for (const [f, d] of this.open) m.set(f, d.text);
    return m;
  }

  // ------------------------------------------------------------------ validation

  /**
   * Gets the workspaces' first validation going on two cores: `analyzeElsewhere` (a worker
   * thread) reads and analyzes the templates while this thread parses the YAML files into
   * each workspace's cache. The validation that follows finds both done. Never throws: a
   * failure here only means the validation does the work itself. Undefined when no workspace
   * had enough templates to be worth a worker.
   */
  async prewarm(workspaces: ManagedWorkspace[], analyzeElsewhere: (requests: TemplatePrewarmRequest[]) => Promise<PrewarmedTemplate[][]>): Promise<{ templates: number } | undefined> {
    const overlays = this.overlays();
    const plans = workspaces.map((ws) => {
      const fs = this.recordingFs(ws);
      const files = [SERVICE_MAPPINGS_FILE, COMPOSITION_RULES_FILE].map((name) => path.join(ws.root, name));
      const texts = files.map((file) => {
        try {
          if (overlays.has(file)) return overlays.get(file);
          // The read stops at the validator's limit: a file over it is never parsed.
          return ws.cache.read(fs, file, true, LIMITS.maxConfigBytes);
        } catch {
          return undefined;
        }
      });
      const override = this.settingsFor(ws.folder).templatesRoot;
      return { ws, files, texts, request: { templatesRoot: guessTemplatesRoot(ws.root, texts[0], texts[1], override ? path.resolve(ws.root, override) : undefined), limits: { ...LIMITS } } };
    });
    // Starting a worker costs about 0.1 s of CPU: worth it only for many templates.
    const worthIt = plans.filter((p) => {
      try {
        return templateCount(p.ws, p.request.templatesRoot, this.recordingFs(p.ws)) >= PREWARM_MIN_TEMPLATES;
      } catch {
        return false;
      }
    });
    if (!worthIt.length) return undefined;
    const analyses = analyzeElsewhere(worthIt.map((p) => p.request)).catch(() => [] as PrewarmedTemplate[][]);
    for (const { ws, files, texts } of worthIt) {
      texts.forEach((text, i) => {
        if (text === undefined || text.length > LIMITS.maxConfigBytes) return;
        const file = files[i]!;
        let parser = ws.cache.yamlParsers.get(file);
        if (!parser) ws.cache.yamlParsers.set(file, (parser = new IncrementalYamlParser()));
        try {
          parser.parse(text);
        } catch {
          // The validation will parse it again and report what is wrong.
        }
      });
    }
    const results = await analyses;
    worthIt.forEach((p, i) => p.ws.cache.adoptTemplates(results[i] ?? []));
    return { templates: results.reduce((n, l) => n + (l?.length ?? 0), 0) };
  }

  validate(ws: ManagedWorkspace): WorkspaceValidation {
    const t0 = performance.now();
    const settings = this.settingsFor(ws.folder);
    const options: NonNullable<Parameters<typeof validateWorkspace>[1]> = { fs: this.recordingFs(ws), overlays: this.overlays(), cache: ws.cache };
    if (settings.templatesRoot) options.templatesRoot = path.resolve(ws.root, settings.templatesRoot);
    const v = validateWorkspace(ws.root, options);
    ws.validation = v;
    ws.contextFiles = undefined;
    if (v.serviceMappings) ws.lastGood.serviceMappings = v.serviceMappings;
    else if (!this.exists(v.serviceMappingsFile)) delete ws.lastGood.serviceMappings;
    if (v.compositionRules) ws.lastGood.compositionRules = v.compositionRules;
    else if (!this.exists(v.compositionRulesFile)) delete ws.lastGood.compositionRules;
    ws.dirty = false;
    ws.generation++;
    ws.snapshot = undefined;
    ws.lastDurationMs = performance.now() - t0;
    return v;
  }

  /** The workspace's snapshot, validating first when something changed. */
  snapshot(ws: ManagedWorkspace): WorkspaceSnapshot {
    if (ws.dirty || !ws.validation) this.validate(ws);
    if (!ws.snapshot) {
      const open = this.open;
      const disk = ws.diskTexts;
      const base = this.baseFs;
      const snap = workspaceSnapshot(ws.validation!, (f) => {
        const o = open.get(f);
        if (o) return o.text;
        if (disk.has(f)) return disk.get(f);
        return readOrUndefined(base, f);
      });
      snap.lastGood = { ...ws.lastGood };
      snap.uriOf = (f) => this.uriOf(f);
      snap.resourceOperations = this.resourceOperations;
      let contextNames: string[] | undefined;
      snap.contextFileNames = () => (contextNames ??= listContextFiles(ws.root, this.fsWithOpen(), ws.validation!));
      snap.exists = (f) => this.exists(f);
      ws.snapshot = snap;
    }
    return ws.snapshot;
  }

  /** An open buffer's text, else the file's; undefined when it is missing or not read (a FIFO, unreadable: the validator says why). */
  readText(file: string): string | undefined {
    return this.open.get(file)?.text ?? readOrUndefined(this.baseFs, file);
  }

  /** Whether a file exists (open, or on disk), without reading it. */
  hasFile(file: string): boolean {
    return this.exists(file);
  }

  /** Whether a path exists on disk (files and folders). */
  static isDirectory(p: string): boolean {
    try {
      return fs.statSync(p).isDirectory();
    } catch {
      return false;
    }
  }
}
