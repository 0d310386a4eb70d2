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
import type { PromptErrorInfo, PromptManagerSettings, RunBackendInfo } from '../protocol/protocol.js';
import { DEFAULT_PREFIX, redactRedisUrl, REDIS_URL_ENV, type BullmqBackendConfig } from '../core/distributed/connection.js';
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
  /** The run back end it was created for (`promptManager.run.*`, and the trust), as a key. */
  backendKey?: string;
  /** Why the chosen run back end could not be used (runs are refused with it; renders go on). */
  backendError?: PromptErrorInfo;
  /** Where the manager's runs execute. */
  runsOn?: RunBackendInfo;
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
    const backend = this.backendOf(settings.run);
    const backendKey = 'error' in backend ? `error:${backend.error.message}` : backend.config ? `bullmq:${backend.config.connection.url}` : 'in-process';
    if (entry.pm && (entry.environment !== environment || entry.templatesRoot !== templatesRoot || entry.backendKey !== backendKey)) {
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
          entry.backendKey = backendKey;
          delete entry.backendError;
          // Runs go to the manager's own workflow engine, pinned to the snapshot they start with,
          // or, with promptManager.run.backend `bullmq`, to the workers of that Redis.
          const create = (config?: BullmqBackendConfig) =>
            PromptManager.create({
              root: ws.root,
              environment,
              fs: this.liveFs,
              watch: false,
              validation,
              configErrors: 'isolate',
              workflow: { trusted: this.trusted, historyLimit: this.options.historyLimit ?? 200, ...(config ? { backend: config } : {}) },
              ...(templatesRoot ? { templatesRoot } : {}),
            });
          if ('error' in backend) entry.backendError = backend.error;
          entry.runsOn = { type: 'in-process' };
          if ('config' in backend && backend.config) {
            const config = backend.config;
            try {
              entry.pm = await create(config);
              entry.runsOn = { type: 'bullmq', redisUrl: redactRedisUrl(config.connection.url ?? ''), prefix: config.prefix ?? DEFAULT_PREFIX };
            } catch (e) {
              // Redis unreachable: previews go on; runs say why they cannot start.
              entry.backendError = wirePromptError(e, (f) => this.manager.uriOf(f));
              entry.pm = await create();
            }
          } else entry.pm = await create();
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

  /** The run back end the settings choose: none (in-process), BullMQ at a URL, or why it cannot be had. A workspace not trusted runs in-process. */
  private backendOf(run: PromptManagerSettings['run']): { config?: BullmqBackendConfig } | { error: PromptErrorInfo } {
    if (run?.backend !== 'bullmq' || !this.trusted) return {};
    const url = run.redisUrl || process.env[REDIS_URL_ENV];
    if (!url) return { error: { code: 'invalid_configuration', message: `promptManager.run.backend is bullmq, and neither promptManager.run.redisUrl nor ${REDIS_URL_ENV} says where Redis is` } };
    return { config: { type: 'bullmq', connection: { url } } };
  }

  /** Why runs of this workspace cannot start on the back end the settings chose, if they cannot. */
  backendProblem(ws: ManagedWorkspace): PromptErrorInfo | undefined {
    return this.engines.get(ws.root)?.backendError;
  }

  /** Where the runs of the workspace's manager (`engineFor()`'s) execute. */
  runsOn(ws: ManagedWorkspace): RunBackendInfo {
    return this.engines.get(ws.root)?.runsOn ?? { type: 'in-process' };
  }

  /** The manager the workspace last loaded, even while its current configuration is refused (health, metrics). */
  loaded(ws: ManagedWorkspace): PromptManager | undefined {
    return this.engines.get(ws.root)?.pm;
  }

  /** Follows the workspace's trust into every manager, and into those made later. */
  setTrusted(trusted: boolean): void {
    // A distributed back end is only for a trusted workspace: the next request makes a new manager.
    if (!trusted) for (const e of this.engines.values()) if (e.backendKey?.startsWith('bullmq:')) e.backendKey = 'untrusted';
    this.trusted = trusted;
    for (const e of this.engines.values()) e.pm?.setTrusted(trusted);
  }

  async close(): Promise<void> {
    for (const e of this.engines.values()) await e.pm?.close().catch(() => undefined);
  }
}
