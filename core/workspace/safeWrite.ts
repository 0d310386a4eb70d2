/**
 * The files PromptManager writes itself (snapshots, the test history, the response cache, a
 * report): written, read back, listed and removed only through real folders below a base
 * folder (the workspace, or a folder the user chose). A repository can carry a symbolic link
 * where one of those folders or files is expected (git stores links), pointing at
 * `~/.ssh/authorized_keys`, `/etc` or a folder of the user's: nothing here follows one. Every
 * folder from the base down is checked with `lstat` (and made one level at a time, never by a
 * recursive `mkdir` that would follow a link); a file is written to a temporary file opened
 * with `O_EXCL | O_NOFOLLOW` and renamed over the target, so an existing file is replaced,
 * never truncated or written through; reads open with `O_NOFOLLOW` and are bounded like every
 * other read (fileRead.ts). A link, a FIFO, a device or a file where a folder is expected is
 * an `UnsafePathError` that names it and says what to do.
 *
 * The base folder itself is taken as it is: the user chose it (or the workspace's path).
 * Another process of the same user swapping a folder for a link between the check and the
 * write is not defended against: that process could write the target itself.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeFileType, readRegularFileSync } from './fileRead.js';

export class UnsafePathError extends Error {
  constructor(
    /** The folder or file refused. */
    readonly file: string,
    /** What follows its name in the message. */
    readonly reason: string,
  ) {
    super(`${file} ${reason}`);
    this.name = 'UnsafePathError';
  }
}

function isMissing(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function lstat(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw e;
  }
}

function linkTarget(p: string): string {
  try {
    return fs.readlinkSync(p);
  } catch {
    return '?';
  }
}

/** The error for a link found where PromptManager reads or writes its own files. */
function linkError(p: string): UnsafePathError {
  return new UnsafePathError(p, `is a symbolic link (to ${linkTarget(p)}): PromptManager never reads or writes its own files through a link, which a repository could point anywhere; remove the link (a real folder or file is made on the next run)`);
}

/** The folders from just below `base` down to `dir`, outermost first; throws when `dir` is not below `base`. */
function foldersBelow(base: string, dir: string): string[] {
  const rel = path.relative(base, dir);
  if (rel === '') return [];
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new UnsafePathError(dir, `is not inside ${base}`);
  const out: string[] = [];
  let cur = base;
  for (const part of rel.split(path.sep)) out.push((cur = path.join(cur, part)));
  return out;
}

/**
 * Checks that every folder from below `base` down to `dir` is a real folder (not a link, not
 * a file, FIFO or device). With `create`, a missing one is made (one level at a time);
 * without, returns false when one is missing. `base` itself must exist unless `create`.
 */
export function realFolderSync(base: string, dir: string, options: { create: boolean }): boolean {
  base = path.resolve(base);
  dir = path.resolve(dir);
  if (options.create) fs.mkdirSync(base, { recursive: true });
  for (const p of foldersBelow(base, dir)) {
    let st = lstat(p);
    if (!st) {
      if (!options.create) return false;
      try {
        fs.mkdirSync(p);
      } catch (e) {
        // Made by another process meanwhile: checked below like any other.
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      st = lstat(p);
      if (!st) throw new UnsafePathError(p, 'disappeared while it was being made');
    }
    if (st.isSymbolicLink()) throw linkError(p);
    if (!st.isDirectory()) throw new UnsafePathError(p, `is ${st.isFile() ? 'a file' : describeFileType(st)}, not a folder: remove it (a folder is made on the next run)`);
  }
  return true;
}

/** The error for a file that is there but is not a regular file (a link, a FIFO, a folder...), or undefined. */
function notFileError(file: string, st: fs.Stats): UnsafePathError | undefined {
  if (st.isSymbolicLink()) return linkError(file);
  if (!st.isFile()) return new UnsafePathError(file, `is ${describeFileType(st)}, not a regular file: remove it (PromptManager writes a regular file there)`);
  return undefined;
}

export interface SafeWriteOptions {
  /** Write only when the file does not exist yet (a marker file): an existing one, whatever it is, is left as it is. */
  onlyIfMissing?: boolean;
}

const TMP_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | (fs.constants.O_NOFOLLOW ?? 0);

/** A temporary file beside `file`, opened for writing by this process only. */
function openTemp(file: string): { tmp: string; fd: number } {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`;
  return { tmp, fd: fs.openSync(tmp, TMP_FLAGS, 0o666) };
}

function writeAll(fd: number, data: string | Uint8Array): void {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  for (let at = 0; at < buf.length; ) at += fs.writeSync(fd, buf, at, buf.length - at);
}

/**
 * Writes `file` (below `base`, its folders made as needed) so that a reader sees the old
 * content or the new, never half, and nothing outside is touched: see the module's comment.
 */
export function writeFileInsideSync(base: string, file: string, data: string | Uint8Array, options: SafeWriteOptions = {}): void {
  file = path.resolve(file);
  realFolderSync(base, path.dirname(file), { create: true });
  if (options.onlyIfMissing) {
    let fd: number;
    try {
      fd = fs.openSync(file, TMP_FLAGS, 0o666);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return;
      throw e;
    }
    try {
      writeAll(fd, data);
    } finally {
      fs.closeSync(fd);
    }
    return;
  }
  const st = lstat(file);
  const bad = st && notFileError(file, st);
  if (bad) throw bad;
  const { tmp, fd } = openTemp(file);
  try {
    try {
      writeAll(fd, data);
    } finally {
      fs.closeSync(fd);
    }
    // rename replaces the name, whatever it is now: a link put there since the check is replaced, not followed.
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * The bytes of `file` below `base`, or undefined when it (or a folder on the way) does not
 * exist. A link on the way or as the file, anything but a regular file, or more than
 * `maxBytes` is an error (`UnsafePathError`, or fileRead.ts's `FileReadError`).
 */
export function readFileInsideSync(base: string, file: string, maxBytes: number): Buffer | undefined {
  file = path.resolve(file);
  if (!realFolderSync(path.resolve(base), path.dirname(file), { create: false })) return undefined;
  const st = lstat(file);
  if (!st) return undefined;
  if (st.isSymbolicLink()) throw linkError(file);
  return readRegularFileSync(file, maxBytes, { noFollow: true });
}

/** `readFileInsideSync` as UTF-8 text, without a byte-order mark. */
export function readTextInsideSync(base: string, file: string, maxBytes: number): string | undefined {
  const bytes = readFileInsideSync(base, file, maxBytes);
  if (bytes === undefined) return undefined;
  const text = bytes.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** An entry of a folder, as `lstat` says (a link is a link, whatever it points to). */
export interface OwnEntry {
  name: string;
  path: string;
  kind: 'file' | 'folder' | 'link' | 'other';
  size: number;
  mtimeMs: number;
}

/** The entries of `dir` below `base` (empty when it does not exist); throws when a folder on the way is a link. */
export async function listFolderInside(base: string, dir: string): Promise<OwnEntry[]> {
  dir = path.resolve(dir);
  if (!realFolderSync(path.resolve(base), dir, { create: false })) return [];
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch (e) {
    if (isMissing(e)) return [];
    throw e;
  }
  const out: OwnEntry[] = [];
  for (const name of names) {
    const p = path.join(dir, name);
    const st = await fs.promises.lstat(p).catch(() => undefined);
    if (!st) continue;
    const kind = st.isSymbolicLink() ? 'link' : st.isFile() ? 'file' : st.isDirectory() ? 'folder' : 'other';
    out.push({ name, path: p, kind, size: st.size, mtimeMs: st.mtimeMs });
  }
  return out;
}

/**
 * Removes a file or a link (the link itself: `unlink` never follows) in a folder already
 * checked; a file already gone is fine. Never removes a folder.
 */
export async function removeOwnFile(file: string): Promise<void> {
  try {
    await fs.promises.unlink(file);
  } catch (e) {
    if (!isMissing(e)) throw e;
  }
}
