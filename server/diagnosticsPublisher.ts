/**
 * Publishing a prompt workspace's diagnostics to the client: only what changed. Per file, the
 * diagnostics last sent (as JSON), the validation generation they came from and the buffer
 * version they were sent for are kept; a file is sent again when its diagnostics differ, or
 * when it is open and its buffer has a new version (the client drops diagnostics of an older
 * version). A file that had diagnostics and has none any more gets an empty list; so does every
 * open file the validation covered, so that an editor shows it checked. A workspace's
 * validation older than the last one published is not published.
 */
import type { Diagnostic, PublishDiagnosticsParams } from 'vscode-languageserver/node';
import { isWorkspaceFile } from '../core/workspace/queries.js';
import { isPromptTestFile } from '../core/workspace/testFiles.js';
import { diagnosticsByFile } from './features/diagnostics.js';
import type { ManagedWorkspace, WorkspaceManager } from './workspaceManager.js';

/** What was last sent for a file. */
export interface PublishedDiagnostics {
  json: string;
  generation: number;
  /** The open buffer's version they were sent for. */
  version?: number;
}

/** JSON no diagnostics list has: makes the next publication of the file go out whatever it holds. */
const STALE = '\0';

/** Whether a file's diagnostics (as JSON) must be sent, given what was last sent and its open buffer's version. */
export function needsPublishing(last: PublishedDiagnostics | undefined, json: string, openVersion: number | undefined): boolean {
  return !(last && last.json === json && (openVersion === undefined || last.version === openVersion));
}

export class DiagnosticsPublisher {
  private readonly published = new Map<string, PublishedDiagnostics>();
  private readonly lastPublishedGeneration = new Map<string, number>();

  constructor(
    private readonly manager: WorkspaceManager,
    private readonly send: (params: PublishDiagnosticsParams) => void,
  ) {}

  /** Publishes the workspace's latest diagnostics: changed files, edited open files, and clears. */
  publish(ws: ManagedWorkspace): void {
    const { manager } = this;
    const v = ws.validation;
    if (!v) return;
    const gen = ws.generation;
    if ((this.lastPublishedGeneration.get(ws.root) ?? -1) > gen) return;
    this.lastPublishedGeneration.set(ws.root, gen);
    const settings = manager.settingsFor(ws.folder);
    const byFile = diagnosticsByFile(v.diagnostics, settings.diagnostics && { disabledCodes: settings.diagnostics.disabledCodes, maxProblemsPerFile: settings.maxProblemsPerFile }, (f) => manager.uriOf(f));
    const files = new Set<string>(byFile.keys());
    for (const [f, p] of this.published) if (this.ownedBy(ws, f) && p.json !== '[]') files.add(f);
    // Files the validation covered get an answer whether or not they have diagnostics.
    for (const f of [v.serviceMappingsFile, v.compositionRulesFile]) if (manager.open.has(f)) files.add(f);
    for (const t of v.templates.values()) if (manager.open.has(t.file)) files.add(t.file);
    for (const f of v.promptTestFiles) if (manager.open.has(f)) files.add(f);
    for (const f of files) this.sendFile(f, byFile.get(f) ?? [], gen);
  }

  /** Whether the workspace's latest validation is the one published (a feature request publishes it first). */
  isPublished(ws: ManagedWorkspace): boolean {
    return ws.generation === (this.lastPublishedGeneration.get(ws.root) ?? -1);
  }

  /** Clears the diagnostics of a workspace that is gone. */
  clearWorkspace(ws: ManagedWorkspace): void {
    for (const [f, p] of this.published) {
      if (!this.ownedBy(ws, f) || p.json === '[]') continue;
      // Another workspace may own the file too (a shared templates root): let it republish.
      this.sendFile(f, [], ws.generation);
    }
  }

  /** Clears a closed file's diagnostics when it belongs to no workspace any more. */
  clearOrphan(file: string): void {
    if (!this.manager.workspacesOf(file).length && this.published.get(file)?.json !== '[]' && this.published.has(file)) this.sendFile(file, [], 0);
  }

  /** Makes the workspace's next publication send every file again (the settings that filter them changed). */
  invalidate(ws: ManagedWorkspace): void {
    this.published.forEach((p, f) => this.ownedBy(ws, f) && (p.json = STALE));
  }

  /** Whether a file's diagnostics come from this workspace: a configuration file, a template, a prompt test file. */
  private ownedBy(ws: ManagedWorkspace, file: string): boolean {
    const v = ws.validation;
    // By path: a test file deleted since it was published is still this workspace's to clear.
    return v !== undefined && (isWorkspaceFile(v, file) || isPromptTestFile(file, v.root));
  }

  private sendFile(file: string, diagnostics: Diagnostic[], generation: number): void {
    const json = JSON.stringify(diagnostics);
    const open = this.manager.open.get(file);
    if (!needsPublishing(this.published.get(file), json, open?.version)) return;
    this.published.set(file, { json, generation, ...(open ? { version: open.version } : {}) });
    this.send({ uri: this.manager.uriOf(file), diagnostics, ...(open ? { version: open.version } : {}) });
  }
}
