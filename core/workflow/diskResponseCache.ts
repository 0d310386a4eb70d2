/**
 * The response cache's store on disk: one JSON file per answer, `<dir>/<2 hex>/<digest>.json`,
 * written to a temporary file and renamed into place, so that concurrent writers (the CLI and
 * the editor, parallel CI jobs on a shared folder) never leave half a file and a reader sees
 * an entry whole or not at all. Bounded by entries and bytes: past either, the least recently
 * used entries (a hit touches its file) are deleted. A file that is not an entry (cut, edited
 * by hand) is a miss, never an error.
 *
 * The folder may come from a repository (a committed `.promptmanager/`) or be shared, so it is
 * written, read, listed and pruned only through real folders below `base`
 * (core/workspace/safeWrite.ts): a shard or the folder itself being a link (to `~/.ssh`, to
 * another project's `.git/objects`) makes every access fail, which the cache counts as a store
 * error (the call goes to the provider); an entry is read bounded, never through a link, never
 * from a FIFO or a device.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listFolderInside, readTextInsideSync, realFolderSync, removeOwnFile, writeFileInsideSync } from '../workspace/safeWrite.js';
import { ensureStateDir, statePath } from '../workspace/stateDir.js';
import { ResponseCache, parseStoredEntry, type CachedResponse, type ResponseCacheOptions, type ResponseCacheStore } from './responseCache.js';

export interface DiskResponseCacheOptions {
  dir: string;
  /**
   * The folder below which no folder may be a link: the workspace for its own cache (so that
   * `.promptmanager` itself is checked too). Default `dir` (the folder you chose is taken as it is).
   */
  base?: string;
  /** Entries kept at most; default 10,000. */
  maxEntries?: number;
  /** Bytes of entries kept at most; default 256 MiB. An entry larger than an eighth of it is not stored. */
  maxBytes?: number;
  /** Run once before the first write (creating the folder's .gitignore...). */
  prepare?: () => Promise<unknown>;
}

const KEY = /^[0-9a-f]{64}$/;
/** Writes between two scans of the folder against the bounds (other processes write too). */
const SCAN_EVERY = 64;
/** Temporary files older than this are a crashed writer's: removed by the next scan. */
const STALE_TMP_MS = 60 * 60 * 1000;

interface FileInfo {
  file: string;
  size: number;
  used: number;
}

export class DiskResponseCacheStore implements ResponseCacheStore {
  readonly dir: string;
  private readonly base: string;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private prepared?: Promise<unknown>;
  private writesSinceScan = 0;
  private known?: { count: number; bytes: number };
  private scanning?: Promise<void>;

  constructor(private readonly options: DiskResponseCacheOptions) {
    this.dir = path.resolve(options.dir);
    this.base = path.resolve(options.base ?? options.dir);
    if (path.relative(this.base, this.dir).startsWith('..')) throw new RangeError(`the response cache folder ${this.dir} is not inside ${this.base}`);
    this.maxEntries = options.maxEntries ?? 10_000;
    this.maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
    if (!(this.maxEntries >= 1) || !(this.maxBytes >= 1)) throw new RangeError('maxEntries and maxBytes must be at least 1');
  }

  private fileOf(key: string): string {
    if (!KEY.test(key)) throw new RangeError('a response cache key is a SHA-256 digest in hex');
    return path.join(this.dir, key.slice(0, 2), `${key}.json`);
  }

  async get(key: string): Promise<CachedResponse | undefined> {
    const file = this.fileOf(key);
    // A link or a special file on the way throws (a store error); too large, like cut, is a miss.
    let text: string | undefined;
    try {
      text = readTextInsideSync(this.base, file, Math.floor(this.maxBytes / 8));
    } catch (e) {
      if ((e as { problem?: string }).problem === 'too-large') return undefined;
      throw e;
    }
    const entry = text === undefined ? undefined : parseStoredEntry(text, key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      await removeOwnFile(file);
      return undefined;
    }
    // The file's time is its last use: what eviction goes by (lutimes: the file itself, checked above).
    const now = new Date();
    await fs.promises.lutimes(file, now, now).catch(() => undefined);
    return entry;
  }

  async set(entry: CachedResponse): Promise<void> {
    const file = this.fileOf(entry.key);
    const text = JSON.stringify(entry);
    const bytes = Buffer.byteLength(text);
    if (bytes > this.maxBytes / 8) return;
    this.prepared ??= this.options.prepare?.() ?? Promise.resolve();
    await this.prepared;
    const existed = fs.existsSync(file);
    writeFileInsideSync(this.base, file, text);
    if (this.known && !existed) {
      this.known.count++;
      this.known.bytes += bytes;
    }
    if (++this.writesSinceScan >= SCAN_EVERY || !this.known || this.known.count > this.maxEntries || this.known.bytes > this.maxBytes) await this.scan();
  }

  async clear(): Promise<void> {
    // Real shard folders only (listed without following links); rm does not follow the links inside them.
    for (const shard of await listFolderInside(this.base, this.dir)) {
      if (/^[0-9a-f]{2}$/.test(shard.name)) {
        if (shard.kind === 'folder') await fs.promises.rm(shard.path, { recursive: true, force: true });
        else await removeOwnFile(shard.path);
      }
    }
    this.known = { count: 0, bytes: 0 };
  }

  /** Entries and bytes on disk now (every process's), least recently used first deleted past the bounds. */
  async scan(): Promise<void> {
    this.scanning ??= this.doScan().finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  private async doScan(): Promise<void> {
    this.writesSinceScan = 0;
    const files: FileInfo[] = [];
    const now = Date.now();
    for (const shard of await listFolderInside(this.base, this.dir)) {
      if (!/^[0-9a-f]{2}$/.test(shard.name)) continue;
      // A shard that is a link is not ours to look into: removed as a link (it would make every write fail).
      if (shard.kind !== 'folder') {
        await removeOwnFile(shard.path);
        continue;
      }
      for (const e of await listFolderInside(this.base, shard.path)) {
        if (e.kind === 'link' && (e.name.endsWith('.json') || e.name.endsWith('.tmp'))) {
          await removeOwnFile(e.path);
          continue;
        }
        if (e.kind !== 'file') continue;
        if (e.name.endsWith('.tmp')) {
          if (now - e.mtimeMs > STALE_TMP_MS) await removeOwnFile(e.path);
          continue;
        }
        if (e.name.endsWith('.json')) files.push({ file: e.path, size: e.size, used: e.mtimeMs });
      }
    }
    let count = files.length;
    let bytes = files.reduce((n, f) => n + f.size, 0);
    if (count > this.maxEntries || bytes > this.maxBytes) {
      files.sort((a, b) => a.used - b.used);
      for (const f of files) {
        if (count <= this.maxEntries && bytes <= this.maxBytes) break;
        await removeOwnFile(f.file);
        count--;
        bytes -= f.size;
      }
    }
    this.known = { count, bytes };
  }
}

/** Where a workspace's response cache lives: `.promptmanager/responses/` (core/workspace/stateDir.ts). */
export const RESPONSES_DIR = 'responses';

/** The response cache of a prompt workspace, on disk in `.promptmanager/responses/`. */
export function createWorkspaceResponseCache(root: string, options: Omit<ResponseCacheOptions, 'store'> & Omit<DiskResponseCacheOptions, 'dir' | 'prepare'> & { dir?: string } = {}): ResponseCache {
  const { dir, maxEntries, maxBytes, ...rest } = options;
  const store = new DiskResponseCacheStore({
    dir: dir ?? statePath(root, RESPONSES_DIR),
    ...(dir ? {} : { base: root }),
    ...(maxEntries !== undefined ? { maxEntries } : {}),
    ...(maxBytes !== undefined ? { maxBytes } : {}),
    prepare: async () => (dir ? realFolderSync(dir, dir, { create: true }) : ensureStateDir(root, RESPONSES_DIR)),
  });
  return new ResponseCache({ ...rest, store });
}
