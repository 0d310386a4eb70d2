/**
 * The response cache's store on disk: one JSON file per answer, `<dir>/<2 hex>/<digest>.json`,
 * written to a temporary file and renamed into place, so that concurrent writers (the CLI and
 * the editor, parallel CI jobs on a shared folder) never leave half a file and a reader sees
 * an entry whole or not at all. Bounded by entries and bytes: past either, the least recently
 * used entries (a hit touches its file) are deleted. A file that is not an entry (cut, edited
 * by hand) is a miss, never an error.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureStateDir, statePath, writeFileAtomic } from '../workspace/stateDir.js';
import { ResponseCache, type CachedResponse, type ResponseCacheOptions, type ResponseCacheStore } from './responseCache.js';

export interface DiskResponseCacheOptions {
  dir: string;
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
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private prepared?: Promise<unknown>;
  private writesSinceScan = 0;
  private known?: { count: number; bytes: number };
  private scanning?: Promise<void>;

  constructor(private readonly options: DiskResponseCacheOptions) {
    this.dir = path.resolve(options.dir);
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
    let text: string;
    try {
      const st = await fs.promises.stat(file);
      if (!st.isFile() || st.size > this.maxBytes / 8) return undefined;
      text = await fs.promises.readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    let entry: CachedResponse;
    try {
      entry = JSON.parse(text) as CachedResponse;
    } catch {
      return undefined;
    }
    if (!entry || typeof entry !== 'object' || entry.key !== key || typeof entry.expiresAt !== 'number') return undefined;
    if (entry.expiresAt <= Date.now()) {
      await fs.promises.rm(file, { force: true });
      return undefined;
    }
    // The file's time is its last use: what eviction goes by.
    const now = new Date();
    await fs.promises.utimes(file, now, now).catch(() => undefined);
    return entry;
  }

  async set(entry: CachedResponse): Promise<void> {
    const file = this.fileOf(entry.key);
    const text = JSON.stringify(entry);
    const bytes = Buffer.byteLength(text);
    if (bytes > this.maxBytes / 8) return;
    this.prepared ??= this.options.prepare?.() ?? Promise.resolve();
    await this.prepared;
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    const existed = fs.existsSync(file);
    await writeFileAtomic(file, text);
    if (this.known && !existed) {
      this.known.count++;
      this.known.bytes += bytes;
    }
    if (++this.writesSinceScan >= SCAN_EVERY || !this.known || this.known.count > this.maxEntries || this.known.bytes > this.maxBytes) await this.scan();
  }

  async clear(): Promise<void> {
    for (const shard of await readdir(this.dir)) {
      if (/^[0-9a-f]{2}$/.test(shard)) await fs.promises.rm(path.join(this.dir, shard), { recursive: true, force: true });
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
    for (const shard of await readdir(this.dir)) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      const d = path.join(this.dir, shard);
      for (const name of await readdir(d)) {
        const file = path.join(d, name);
        const st = await fs.promises.stat(file).catch(() => undefined);
        if (!st?.isFile()) continue;
        if (name.endsWith('.tmp')) {
          if (now - st.mtimeMs > STALE_TMP_MS) await fs.promises.rm(file, { force: true });
          continue;
        }
        if (name.endsWith('.json')) files.push({ file, size: st.size, used: st.mtimeMs });
      }
    }
    let count = files.length;
    let bytes = files.reduce((n, f) => n + f.size, 0);
    if (count > this.maxEntries || bytes > this.maxBytes) {
      files.sort((a, b) => a.used - b.used);
      for (const f of files) {
        if (count <= this.maxEntries && bytes <= this.maxBytes) break;
        await fs.promises.rm(f.file, { force: true });
        count--;
        bytes -= f.size;
      }
    }
    this.known = { count, bytes };
  }
}

async function readdir(dir: string): Promise<string[]> {
  try {
    return await fs.promises.readdir(dir);
  } catch {
    return [];
  }
}

/** Where a workspace's response cache lives: `.promptmanager/responses/` (core/workspace/stateDir.ts). */
export const RESPONSES_DIR = 'responses';

/** The response cache of a prompt workspace, on disk in `.promptmanager/responses/`. */
export function createWorkspaceResponseCache(root: string, options: Omit<ResponseCacheOptions, 'store'> & Omit<DiskResponseCacheOptions, 'dir' | 'prepare'> & { dir?: string } = {}): ResponseCache {
  const { dir, maxEntries, maxBytes, ...rest } = options;
  const store = new DiskResponseCacheStore({
    dir: dir ?? statePath(root, RESPONSES_DIR),
    ...(maxEntries !== undefined ? { maxEntries } : {}),
    ...(maxBytes !== undefined ? { maxBytes } : {}),
    prepare: () => (dir ? fs.promises.mkdir(dir, { recursive: true }) : ensureStateDir(root, RESPONSES_DIR)),
  });
  return new ResponseCache({ ...rest, store });
}
