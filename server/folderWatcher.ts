/**
 * Watches folder trees for the language server when its client cannot (no dynamic
 * registration of workspace/didChangeWatchedFiles: Neovim 0.7, some other editors). It
 * imports nothing of the LSP libraries: events come out as paths and change types.
 *
 * One non-recursive `fs.watch` (one inotify watch on Linux) per folder, set on every folder
 * of the tree but node_modules and dot-folders (.git...), never through a symbolic link (a
 * link may lead out of the workspace), and on each folder that appears. Chosen by measurement
 * (bench/watch.mjs, bench/RESULTS.md): on 2,000 templates in 100 folders beside a node_modules
 * of 20,000 files, Node's recursive fs.watch set 24,808 watches (every file and folder,
 * node_modules too: it cannot leave a folder out) and took 86 MB; chokidar 2,149 watches
 * (one per file), 39 MB and 285 ms to start; @parcel/watcher 132 watches, but it is a native
 * addon (binaries per platform, which the bundle cannot hold) that batches events for about
 * 50 ms; this, 132 watches, under 1 MB, 7 ms to start and events within 2 ms.
 *
 * Events are coalesced for `delayMs` and reported once per path: `created` for a file or
 * folder that appeared (or was replaced by a rename, as editors save), `changed` for a file
 * written, `deleted` for one that went. Only the files `accept` takes are reported, and the
 * folders that appear or go (any file below them may have changed).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isPathUnder } from '../core/workspace/queries.js';

export type FolderChangeType = 'created' | 'changed' | 'deleted';

export interface FolderChange {
  path: string;
  type: FolderChangeType;
  /** The path is (or was) a folder. */
  folder: boolean;
}

export interface FolderWatcherOptions {
  onChanges: (changes: FolderChange[]) => void;
  /** Which files are reported (folders always are). */
  accept: (file: string) => boolean;
  /** Said once per kind of trouble: too many folders, or the system's watch limit reached. */
  onProblem?: (message: string) => void;
  /** How long events are gathered before they are reported. */
  delayMs?: number;
  /** At most this many folders are watched. */
  maxFolders?: number;
}

/** Folders never watched: dependencies and dot-folders (.git, .vscode...), as the template index skips them. */
export function isIgnoredName(name: string): boolean {
  return name === 'node_modules' || name.startsWith('.');
}

const MAX_DEPTH = 32;

export class FolderWatcher {
  private readonly watchers = new Map<string, fs.FSWatcher>();
  private readonly roots = new Set<string>();
  private readonly pending = new Map<string, FolderChange>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private readonly said = new Set<string>();

  constructor(private readonly options: FolderWatcherOptions) {}

  /** How many folders are watched. */
  get folderCount(): number {
    return this.watchers.size;
  }

  /** Watches a folder tree (again a no-op). */
  add(root: string): void {
    root = path.resolve(root);
    if (this.closed || this.roots.has(root)) return;
    this.roots.add(root);
    this.watchTree(root, 0);
  }

  /** Stops watching a folder tree, unless another root still covers it. */
  remove(root: string): void {
    root = path.resolve(root);
    if (!this.roots.delete(root)) return;
    for (const dir of [...this.watchers.keys()]) {
      if (isPathUnder(dir, root) && ![...this.roots].some((r) => isPathUnder(dir, r))) this.unwatch(dir);
    }
  }

  close(): void {
    this.closed = true;
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    this.roots.clear();
    this.pending.clear();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private problem(kind: string, message: string): void {
    if (this.said.has(kind)) return;
    this.said.add(kind);
    this.options.onProblem?.(message);
  }

  private watchTree(dir: string, depth: number): void {
    if (this.closed || this.watchers.has(dir) || depth > MAX_DEPTH) return;
    const max = this.options.maxFolders ?? 20_000;
    if (this.watchers.size >= max) {
      this.problem('max', `more than ${max} folders to watch: changes in the others are seen only when their files are opened or saved`);
      return;
    }
    let entries: fs.Dirent[];
    let w: fs.FSWatcher;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
      w = fs.watch(dir, { persistent: false }, (event, name) => this.event(dir, event, name == null ? undefined : String(name)));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // ENOSPC: the system's inotify watch limit (fs.inotify.max_user_watches).
      if (code === 'ENOSPC' || code === 'EMFILE') this.problem(code, `cannot watch more folders (${code}): changes in the others are seen only when their files are opened or saved`);
      return;
    }
    // The folder went away (or cannot be read any more): its watch ends with it.
    w.on('error', () => this.unwatch(dir));
    this.watchers.set(dir, w);
    for (const e of entries) {
      // A Dirent of a symbolic link is not a directory: links are never followed.
      if (e.isDirectory() && !isIgnoredName(e.name)) this.watchTree(path.join(dir, e.name), depth + 1);
    }
  }

  private unwatch(dir: string): void {
    for (const [d, w] of this.watchers) {
      if (isPathUnder(d, dir)) {
        w.close();
        this.watchers.delete(d);
      }
    }
  }

  private event(dir: string, event: string, name: string | undefined): void {
    if (this.closed) return;
    if (!name) {
      // Some events come without a name: anything in the folder may have changed.
      return this.queue({ path: dir, type: 'changed', folder: true });
    }
    // Names of nested paths come from platforms with recursive watches; here one level.
    if (name.split(/[\\/]/).some(isIgnoredName)) return;
    const p = path.join(dir, name);
    let stat: fs.Stats | undefined;
    try {
      stat = fs.lstatSync(p);
    } catch {
      stat = undefined;
    }
    if (!stat) {
      const wasFolder = this.watchers.has(p);
      if (wasFolder) this.unwatch(p);
      if (wasFolder || this.options.accept(p)) this.queue({ path: p, type: 'deleted', folder: wasFolder });
      return;
    }
    if (stat.isDirectory()) {
      if (this.watchers.has(p)) return; // its own entries report their changes
      const depth = path.relative([...this.roots].find((r) => isPathUnder(p, r)) ?? dir, p).split(path.sep).length;
      this.watchTree(p, depth);
      return this.queue({ path: p, type: 'created', folder: true });
    }
    if (!this.options.accept(p)) return;
    // `rename` on a path that exists: a new file, or one saved by renaming over the old one
    // (the server treats both alike for a template, and rediscovers prompt workspaces for a
    // configuration file, which is harmless). A write right after a creation stays a creation.
    const created = event === 'rename' || this.pending.get(p)?.type === 'created';
    this.queue({ path: p, type: created ? 'created' : 'changed', folder: false });
  }

  private queue(change: FolderChange): void {
    this.pending.set(change.path, change);
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const changes = [...this.pending.values()];
      this.pending.clear();
      if (!this.closed && changes.length) this.options.onChanges(changes);
    }, this.options.delayMs ?? 20);
    this.timer.unref?.();
  }
}
