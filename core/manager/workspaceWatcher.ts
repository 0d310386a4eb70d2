/**
 * Watches a prompt workspace for changes: the folder of the YAML files (not recursive: only
 * the two configuration files there matter) and the templates root (recursive). Folders are
 * watched rather than files because editors save by writing a new file and renaming it over
 * the old one, which ends a watch on the old file.
 *
 * A watch follows a folder, not a path: once the folder is deleted, or replaced by another
 * renamed over it, it never fires again. So each watched folder is also seen from the nearest
 * folder above it that exists (its appearance, disappearance or replacement is an event there),
 * and before every reported change the watches are checked against the folders now at their
 * paths (device and inode) and moved where needed, before the reload reads anything.
 *
 * Node's recursive watch on Linux watches each file on its own and loses a file deleted and
 * created again (or replaced by a rename, as editors save): its later changes are never
 * reported. There, every folder of the tree gets its own watch instead, which reports whatever
 * happens to the files in it; new folders are taken in at the next change.
 *
 * Bursts of events (an editor save is often three) are debounced into one callback. Watchers
 * are not persistent and the debounce timer comes from the injected clock (unref'd in the
 * system clock), so watching never keeps a finished process alive.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Clock } from '../clock.js';
import { CONFIG_FILE_NAMES } from '../workspace/discover.js';
import { TEMPLATE_EXTENSIONS } from '../workspace/templateIndex.js';

const CONFIG_FILES = new Set<string>(CONFIG_FILE_NAMES);
/** Where `fs.watch(dir, { recursive: true })` is the system's own (FSEvents, ReadDirectoryChangesW). */
const NATIVE_RECURSIVE = process.platform === 'darwin' || process.platform === 'win32';
/** Folders watched one by one in a tree, at most: inotify watches are a per-user budget. */
const MAX_TREE_FOLDERS = 4_000;
const MAX_TREE_DEPTH = 32;

export interface WatchTargets {
  /** The prompt workspace folder (holds the YAML files). */
  root: string;
  templatesRoot: string;
}

export interface WorkspaceWatcherOptions {
  clock: Clock;
  debounceMs: number;
  onChange: (files: string[]) => void;
  /** A watcher failed (too many watches...); reloads still work on demand. */
  onError?: (error: Error) => void;
}

/** Which relative names a watch reports, by purpose. */
type Accept = (relative: string) => boolean;

interface DirWatch {
  dir: string;
  recursive: boolean;
  /** `dev:ino` of the folder the watch follows. */
  identity: string;
  accepts: Accept[];
  watcher: fs.FSWatcher;
}

export class WorkspaceWatcher {
  private readonly watches = new Map<string, DirWatch>();
  private timer: unknown;
  private pendingFiles = new Set<string>();
  private targets?: WatchTargets;
  private closed = false;

  constructor(private readonly options: WorkspaceWatcherOptions) {}

  /** Starts watching, or moves the watches to new targets or to the folders now at their paths. */
  watch(targets: WatchTargets): void {
    if (this.closed) return;
    this.targets = targets;
    this.arm();
  }

  get watching(): number {
    return this.watches.size;
  }

  /** Whether a debounced change is waiting to be reported (a `recheck` alone is not one). */
  get pending(): boolean {
    return this.timer !== undefined && this.pendingFiles.size > 0;
  }

  /**
   * Reports a change after `delayMs` even without an event (a read that failed for a passing
   * reason, such as too many open files, is tried again); a change already waiting wins.
   */
  recheck(delayMs: number): void {
    if (this.closed || this.timer !== undefined) return;
    this.timer = this.options.clock.setTimeout(() => this.flush(), delayMs);
  }

  /** Brings the watches in line with the targets and with the folders now at their paths. */
  private arm(): void {
    const t = this.targets;
    if (!t) return;
    const wanted = new Map<string, { recursive: boolean; accepts: Accept[] }>();
    const want = (dir: string, recursive: boolean, accept: Accept) => {
      const w = wanted.get(dir);
      if (w) {
        w.recursive ||= recursive;
        w.accepts.push(accept);
      } else wanted.set(dir, { recursive, accepts: [accept] });
    };
    const ids = new Map<string, string | undefined>();
    const identityOf = (dir: string) => {
      if (!ids.has(dir)) ids.set(dir, identity(dir));
      return ids.get(dir);
    };
    const tree = (top: string, accept: Accept) => {
      if (NATIVE_RECURSIVE) {
        if (identityOf(top)) want(top, true, accept);
      } else for (const d of folderTree(top, identityOf)) want(d, false, accept);
    };
    const { root, templatesRoot } = t;
    if (templatesRoot === root) tree(root, (f) => CONFIG_FILES.has(f) || isTemplateOrDir(f));
    else {
      if (identityOf(root)) want(root, false, (f) => CONFIG_FILES.has(f));
      tree(templatesRoot, isTemplateOrDir);
    }
    // Each target as seen from above: created, deleted, renamed away or replaced.
    for (const target of new Set([root, templatesRoot])) {
      const anchor = nearestExisting(path.dirname(target), identityOf);
      if (!anchor) continue;
      const child = path.relative(anchor, target).split(path.sep)[0]!;
      want(anchor, false, (f) => f === child || f.split(/[\\/]/)[0] === child);
    }

    for (const [dir, w] of this.watches) {
      const next = wanted.get(dir);
      if (next && next.recursive === w.recursive && identityOf(dir) === w.identity) {
        w.accepts = next.accepts;
        continue;
      }
      // Not wanted any more, or the folder at this path is another one (or none): this watch
      // follows the old folder and would report its changes, or nothing.
      w.watcher.close();
      this.watches.delete(dir);
    }
    for (const [dir, next] of wanted) {
      if (this.watches.has(dir)) continue;
      const id = identityOf(dir);
      if (id) this.add(dir, id, next.recursive, next.accepts);
    }
  }

  private add(dir: string, id: string, recursive: boolean, accepts: Accept[]): void {
    let w: fs.FSWatcher;
    const entry = { dir, recursive, identity: id, accepts } as DirWatch;
    try {
      w = fs.watch(dir, { recursive, persistent: false }, (_event, filename) => {
        const rel = filename == null ? '' : String(filename);
        // Without a file name (some platforms) anything may have changed: reload.
        if (rel && !entry.accepts.some((a) => a(rel))) return;
        this.schedule(rel ? path.join(dir, rel) : dir);
      });
    } catch (e) {
      this.options.onError?.(e as Error);
      return;
    }
    w.on('error', (e) => {
      if (this.watches.get(dir)?.watcher === w) {
        w.close();
        this.watches.delete(dir);
      }
      this.options.onError?.(e);
      // The watched folder went away on a platform that says so with an error: look again
      // (a watch that failed on a folder still there is not retried in a loop).
      if (identity(dir) !== id) this.schedule(dir);
    });
    entry.watcher = w;
    this.watches.set(dir, entry);
  }

  private schedule(file: string): void {
    if (this.closed) return;
    this.pendingFiles.add(file);
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = this.options.clock.setTimeout(() => this.flush(), this.options.debounceMs);
  }

  private flush(): void {
    this.timer = undefined;
    if (this.closed) return;
    const files = [...this.pendingFiles];
    this.pendingFiles.clear();
    // Before the reload reads: a recreated or swapped folder is watched from now on, so no
    // change made while the reload runs is lost.
    this.arm();
    this.options.onChange(files);
  }

  close(): void {
    this.closed = true;
    for (const w of this.watches.values()) w.watcher.close();
    this.watches.clear();
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.pendingFiles.clear();
  }
}

/** `dev:ino` of a folder, or undefined when there is none at the path. */
function identity(dir: string): string | undefined {
  try {
    const st = fs.statSync(dir);
    return st.isDirectory() ? `${st.dev}:${st.ino}` : undefined;
  } catch {
    return undefined;
  }
}

/** `top` and the folders below it (links that stay inside followed), each once. */
function folderTree(top: string, identityOf: (d: string) => string | undefined): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  let realTop: string;
  try {
    realTop = fs.realpathSync(top);
  } catch {
    return out;
  }
  const visit = (dir: string, depth: number) => {
    const id = identityOf(dir);
    if (!id || seen.has(id) || depth > MAX_TREE_DEPTH || out.length >= MAX_TREE_FOLDERS) return;
    seen.add(id);
    out.push(dir);
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.name.startsWith('.') || e.name === 'node_modules') continue;
      const p = path.join(dir, e.name);
      if (e.isSymbolicLink()) {
        let real: string;
        try {
          real = fs.realpathSync(p);
        } catch {
          continue;
        }
        const rel = path.relative(realTop, real);
        if (rel.startsWith('..') || path.isAbsolute(rel)) continue;
      } else if (!e.isDirectory()) continue;
      visit(p, depth + 1);
    }
  };
  visit(top, 0);
  return out;
}

function nearestExisting(dir: string, identityOf: (d: string) => string | undefined): string | undefined {
  for (let d = dir; ; d = path.dirname(d)) {
    if (identityOf(d)) return d;
    if (path.dirname(d) === d) return undefined;
  }
}

function isTemplateOrDir(rel: string): boolean {
  const ext = path.extname(rel);
  // A new or renamed folder has no extension: it may hold templates.
  return ext === '' || (TEMPLATE_EXTENSIONS as readonly string[]).includes(ext);
}
