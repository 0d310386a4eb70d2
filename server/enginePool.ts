/**
 * One core PromptManager per prompt workspace, for the renders, runs, health and metrics of
 * the custom requests. Each is built from the validation the workspace manager made for the
 * diagnostics, and handed the next one when the workspace changes: a keystroke validates the
 * workspace once, whether or not a preview follows. The managers read the open buffers, as
 * the diagnostics do, for what they read beside the validation (the configuration files'
 * texts, whether the folder is still there).
 *
 * A configuration with errors is loaded all the same (`configErrors: 'isolate'`): a render, run
 * or preview is refused only for the errors in what it uses, so that a typo in one composition
 * does not stop the previews and runs of the others. What cannot be loaded at all (the folder
 * gone, a validation of another root) is refused as before: no manager at first, and
 * afterwards a rejected reload, the last good configuration staying in use for health and
 * metrics.
 */
import * as path from 'node:path';
import { PromptManager } from '../core/manager/promptManager.js';
import { nodeFileSystem, type FileSystemHost } from '../core/workspace/fileSystem.js';
import type { PromptErrorInfo } from '../protocol/protocol.js';
import { wirePromptError } from './wire.js';
import type { ManagedWorkspace, WorkspaceManager } from './workspaceManager.js';
import type { WorkspaceSnapshot } from './workspaceSnapshot.js';

interface EngineEntry {
  pm?: PromptManager;
  /** The workspace generation (its validation) the manager last loaded. */
  generation: number;
  /** The preset it was created with (`promptManager.environment`). */
  environment?: string;
  /** The templates root override it was created with (`promptManager.templatesRoot`). */
  templatesRoot?: string;
  error?: PromptErrorInfo;
}

export type EngineResult = { pm: PromptManager } | { error: PromptErrorInfo };

export interface EnginePoolOptions {
  /** The workspace's snapshot, validated first when something changed (WorkspaceManager.snapshot). */
  snapshot(ws: ManagedWorkspace): WorkspaceSnapshot;
  /** The workspace's trust at start: an untrusted workspace runs no provider step. */
  trusted: boolean;
  /** Runs kept in each manager's workflow history. */
  historyLimit?: number;
}

export class EnginePool {
  private readonly engines = new Map<string, EngineEntry>();
  private trusted: boolean;
  /** A file system that reads the open buffers (they win over disk), as the diagnostics do. */
  private readonly liveFs: FileSystemHost;

  constructor(
    private readonly manager: WorkspaceManager,
    private readonly options: EnginePoolOptions,
  ) {
    this.trusted = options.trusted;
    this.liveFs = {
      ...nodeFileSystem,
      readFile: (f, maxBytes) => manager.open.get(f)?.text ?? nodeFileSystem.readFile(f, maxBytes),
      realpath: (f) => nodeFileSystem.realpath(f) ?? (manager.open.has(f) ? f : undefined),
      fileSize: (f) => manager.open.get(f)?.text.length ?? nodeFileSystem.fileSize(f),
    };
  }

  /**
   * The workspace's PromptManager on the workspace's latest validation (validated first when
   * a change is pending), or why there is none. Created on first use; an environment or
   * templates root setting that changed makes a new one (the old one's runs keep their snapshot).
   */
  async engineFor(ws: ManagedWorkspace): Promise<EngineResult> {
    const { validation } = this.options.snapshot(ws);
    let entry = this.engines.get(ws.root);
    if (!entry) this.engines.set(ws.root, (entry = { generation: -1 }));
    const settings = this.manager.settingsFor(ws.folder);
    const environment = settings.environment ?? 'development';
    // The editor's templates root applies to renders and runs as it does to diagnostics.
    const templatesRoot = settings.templatesRoot ? path.resolve(ws.root, settings.templatesRoot) : undefined;
    if (entry.pm && (entry.environment !== environment || entry.templatesRoot !== templatesRoot)) {
      // Another preset (cache, strictness) or templates root: a new manager; the old one's runs keep their snapshot.
      void entry.pm.close();
      delete entry.pm;
      entry.generation = -1;
    }
    if (entry.generation !== ws.generation) {
      entry.generation = ws.generation;
      delete entry.error;
      try {
        if (!entry.pm) {
          entry.environment = environment;
          entry.templatesRoot = templatesRoot;
          // Runs go to the manager's own workflow engine, pinned to the snapshot they start with.
          entry.pm = await PromptManager.create({
            root: ws.root,
            environment,
            fs: this.liveFs,
            watch: false,
            validation,
            configErrors: 'isolate',
            workflow: { trusted: this.trusted, historyLimit: this.options.historyLimit ?? 200 },
            ...(templatesRoot ? { templatesRoot } : {}),
          });
        } else {
          const r = entry.pm.reload({ validation });
          if (r.status === 'rejected') entry.error = { code: 'invalid_configuration', message: r.error?.message ?? 'the configuration has errors; fix them to render' };
        }
      } catch (e) {
        entry.error = wirePromptError(e, (f) => this.manager.uriOf(f));
      }
    }
    if (entry.error) return { error: entry.error };
    if (!entry.pm) return { error: { code: 'invalid_configuration', message: 'the configuration could not be loaded' } };
    return { pm: entry.pm };
  }

  /** The manager the workspace last loaded, even while its current configuration is refused (health, metrics). */
  loaded(ws: ManagedWorkspace): PromptManager | undefined {
    return this.engines.get(ws.root)?.pm;
  }

  /** Follows the workspace's trust into every manager, and into those made later. */
  setTrusted(trusted: boolean): void {
    this.trusted = trusted;
    for (const e of this.engines.values()) e.pm?.setTrusted(trusted);
  }

  async close(): Promise<void> {
    for (const e of this.engines.values()) await e.pm?.close().catch(() => undefined);
  }
}
