/**
 * The file access the validator and engine need, behind an interface: the CLI and engine read
 * the disk, the language server lays open editor buffers over it, and `createTesting` keeps
 * everything in memory. All paths are absolute.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LIMITS } from '../limits.js';
import { readRegularTextSync } from './fileRead.js';

export interface DirEntry {
  name: string;
  isDirectory: boolean;
  isFile: boolean;
  isSymbolicLink: boolean;
}

export interface FileSystemHost {
  /**
   * The file's text, or undefined when it does not exist. A file that exists but is not read
   * throws a `FileReadError`: not a regular file (a folder, a FIFO, a socket, a device), refused
   * by the system (EACCES, EMFILE...), or longer than `maxBytes` (the disk stops reading there;
   * a host that holds texts in memory may return a longer one, and callers check).
   */
  readFile(file: string, maxBytes?: number): string | undefined;
  readDirectory(dir: string): DirEntry[] | undefined;
  /** The path with symlinks resolved, or undefined when it does not exist. */
  realpath(file: string): string | undefined;
  /** Size in bytes as `stat` says, or undefined when missing. Not a bound: `readFile` stops at its limit whatever this says (a device says 0). */
  fileSize(file: string): number | undefined;
}

export const nodeFileSystem: FileSystemHost = {
  readFile(file, maxBytes) {
    // Without a limit from the caller, the largest file the validator would read at all.
    return readRegularTextSync(file, maxBytes ?? Math.max(LIMITS.maxConfigBytes, LIMITS.maxTemplateBytes));
  },
  readDirectory(dir) {
    try {
      return fs.readdirSync(dir, { withFileTypes: true }).map((d) => ({
        name: d.name,
        isDirectory: d.isDirectory(),
        isFile: d.isFile(),
        isSymbolicLink: d.isSymbolicLink(),
      }));
    } catch {
      return undefined;
    }
  },
  realpath(file) {
    try {
      return fs.realpathSync(file);
    } catch {
      return undefined;
    }
  },
  fileSize(file) {
    try {
      return fs.statSync(file).size;
    } catch {
      return undefined;
    }
  },
};

/** A file system held in memory (`createTesting`, tests). Keys are absolute paths. */
export function memoryFileSystem(files: Record<string, string> | Map<string, string>): FileSystemHost {
  const map = files instanceof Map ? files : new Map(Object.entries(files));
  const norm = (p: string) => path.resolve(p);
  const entries = new Map<string, string>();
  for (const [k, v] of map) entries.set(norm(k), v);
  const dirs = new Map<string, Map<string, boolean>>();
  for (const file of entries.keys()) {
    let child = file;
    let isDir = false;
    for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
      let m = dirs.get(dir);
      if (!m) dirs.set(dir, (m = new Map()));
      m.set(path.basename(child), isDir);
      if (dir === path.dirname(dir)) break;
      child = dir;
      isDir = true;
    }
  }
  return {
    readFile: (f) => entries.get(norm(f)),
    readDirectory(dir) {
      const m = dirs.get(norm(dir));
      if (!m) return undefined;
      return [...m].map(([name, isDir]) => ({ name, isDirectory: isDir, isFile: !isDir, isSymbolicLink: false }));
    },
    realpath: (f) => (entries.has(norm(f)) || dirs.has(norm(f)) ? norm(f) : undefined),
    fileSize: (f) => entries.get(norm(f))?.length,
  };
}

/** Lays texts (open editor buffers) over another file system: they win over what it holds. */
export function overlayFileSystem(base: FileSystemHost, overlays: ReadonlyMap<string, string>): FileSystemHost {
  if (overlays.size === 0) return base;
  return {
    ...base,
    readFile: (f, maxBytes) => overlays.get(f) ?? base.readFile(f, maxBytes),
    realpath: (f) => base.realpath(f) ?? (overlays.has(f) ? f : undefined),
    fileSize: (f) => overlays.get(f)?.length ?? base.fileSize(f),
  };
}
