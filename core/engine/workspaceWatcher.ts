/**
 * Watches a prompt workspace for changes: the folder of the YAML files (not recursive: only
 * the two configuration files there matter) and the templates root (recursive). Folders are
 * watched rather than files because editors save by writing a new file and renaming it over
 * the old one, which ends a watch on the old file.
 *
 * Bursts of events (an editor save is often three) are debounced into one callback. Watchers
 * are not persistent and the debounce timer comes from the injected clock (unref'd in the
 * system clock), so watching never keeps a finished process alive.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Clock } from '../clock.js';

const CONFIG_FILES = new Set(['service_mappings.yaml', 'composition_rules.yaml']);
const TEMPLATE_EXTENSIONS = ['.hbs', '.handlebars'];

export interface WatchTargets {
  /** The prompt workspace folder (holds the YAML files). */
  root: string;
  templatesRoot: string;
}

export interface WorkspaceWatcherOptions {
  clock: Clock;
  debounceMs: number;
  onChange: (files: string[]) => void;
  /** A watcher failed (folder removed, too many watches); reloads still work on demand. */
  onError?: (error: Error) => void;
}

export class WorkspaceWatcher {
  private watchers: fs.FSWatcher[] = [];
  private timer: unknown;
  private pendingFiles = new Set<string>();
  private targets?: WatchTargets;
  /** Every intended watch is in place (the templates root may not exist yet). */
  private complete = false;
  private closed = false;

  constructor(private readonly options: WorkspaceWatcherOptions) {}

  /** Starts watching, or moves the watches when the templates root changed. */
  watch(targets: WatchTargets): void {
    if (this.closed) return;
    const same = this.targets && this.targets.root === targets.root && this.targets.templatesRoot === targets.templatesRoot;
    if (same && this.complete) return;
    this.stopWatchers();
    this.targets = targets;
    const { root, templatesRoot } = targets;
    if (templatesRoot === root) {
      this.complete = this.add(root, true, (f) => CONFIG_FILES.has(f) || isTemplateOrDir(f));
      return;
    }
    // The creation of a missing templates folder directly in the workspace folder is seen by
    // the root watcher; the reload it triggers calls watch() again, which then completes.
    const childName = path.dirname(templatesRoot) === root ? path.basename(templatesRoot) : undefined;
    const rootOk = this.add(root, false, (f) => CONFIG_FILES.has(f) || f === childName);
    const templatesOk = fs.existsSync(templatesRoot) && this.add(templatesRoot, true, isTemplateOrDir);
    this.complete = rootOk && templatesOk;
  }

  get watching(): number {
    return this.watchers.length;
  }

  /** Whether a debounced change is waiting to be reported. */
  get pending(): boolean {
    return this.timer !== undefined;
  }

  private add(dir: string, recursive: boolean, accept: (relative: string) => boolean): boolean {
    let w: fs.FSWatcher;
    try {
      w = fs.watch(dir, { recursive, persistent: false }, (_event, filename) => {
        const rel = filename == null ? '' : String(filename);
        // Without a file name (some platforms) anything may have changed: reload.
        if (rel && !accept(rel)) return;
        this.schedule(rel ? path.join(dir, rel) : dir);
      });
    } catch (e) {
      this.options.onError?.(e as Error);
      return false;
    }
    w.on('error', (e) => this.options.onError?.(e));
    this.watchers.push(w);
    return true;
  }

  private schedule(file: string): void {
    if (this.closed) return;
    this.pendingFiles.add(file);
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      const files = [...this.pendingFiles];
      this.pendingFiles.clear();
      this.options.onChange(files);
    }, this.options.debounceMs);
  }

  private stopWatchers(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }

  close(): void {
    this.closed = true;
    this.stopWatchers();
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.pendingFiles.clear();
  }
}

function isTemplateOrDir(rel: string): boolean {
  const ext = path.extname(rel);
  // A new or renamed folder has no extension: it may hold templates.
  return ext === '' || TEMPLATE_EXTENSIONS.includes(ext);
}
