/**
 * Reading one workspace file without trusting it: a repository (and git, which stores
 * symlinks) can put a link to /dev/zero, a FIFO, a socket or a folder where a configuration
 * file or template is expected. Only a regular file is read; the read stops at the limit
 * whatever `stat` said (a device says 0 bytes, a file may grow while it is read); a FIFO is
 * opened without waiting for a writer. A file that exists but is not read is a
 * `FileReadError`, never an empty text.
 */
import * as fs from 'node:fs';

/** Why an existing file was not read. */
export type FileReadProblem = 'not-regular' | 'unreadable' | 'too-large';

/** Errors that may go away by themselves: the same read a little later can succeed. */
const TRANSIENT = new Set(['EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY', 'ENOMEM', 'EINTR', 'ENOENT']);

const ERRNO_TEXT: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EMFILE: 'too many open files in this process',
  ENFILE: 'too many open files on this system',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'the path is too long',
  EIO: 'input/output error',
  ENXIO: 'no such device or address',
  EISDIR: 'it is a folder',
  EAGAIN: 'resource temporarily unavailable',
  EBUSY: 'the file is busy',
  ENOMEM: 'out of memory',
  ENOENT: 'it disappeared while being read',
};

export class FileReadError extends Error {
  /** What follows the file's name in a message: "is a FIFO (named pipe), not a regular file". */
  readonly reason: string;
  /** The errno code (EACCES, EMFILE...) when the system refused the read. */
  readonly errno: string | undefined;
  /** The file's size when known (`too-large`). */
  readonly size: number | undefined;
  constructor(
    readonly file: string,
    readonly problem: FileReadProblem,
    reason: string,
    details: { errno?: string; size?: number } = {},
  ) {
    super(`${file} ${reason}`);
    this.name = 'FileReadError';
    this.reason = reason;
    this.errno = details.errno;
    this.size = details.size;
  }

  /** The cause may go away by itself (too many open files, a file replaced mid-read): worth reading again later. */
  get transient(): boolean {
    return this.errno !== undefined && TRANSIENT.has(this.errno);
  }
}

/** What a file that is not a regular file is, for a message. */
export function describeFileType(st: fs.Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'a special file';
}

export function notRegularReason(what: string): string {
  return `is ${what}, not a regular file; only regular files are read`;
}

/** An error of the system (EACCES...) on an existing file, as a FileReadError. */
export function unreadableError(file: string, e: unknown): FileReadError {
  const code = (e as NodeJS.ErrnoException)?.code;
  const text = (code && ERRNO_TEXT[code]) ?? (e as Error)?.message ?? String(e);
  return new FileReadError(file, 'unreadable', `cannot be read: ${text}${code ? ` (${code})` : ''}`, code ? { errno: code } : {});
}

/**
 * A read failure as a FileReadError: one already, or an error of the system (`code: 'EACCES'`)
 * that a host of the caller's threw as `fs.readFileSync` does. Undefined for anything else (a
 * bug, which is not to be hidden as an unreadable file).
 */
export function asFileReadError(file: string, e: unknown): FileReadError | undefined {
  if (e instanceof FileReadError) return e;
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? unreadableError(file, e) : undefined;
}

export function tooLargeError(file: string, maxBytes: number, size: number | undefined): FileReadError {
  const reason = size !== undefined ? `is ${size} bytes, larger than the limit of ${maxBytes} bytes` : `holds more than the limit of ${maxBytes} bytes`;
  return new FileReadError(file, 'too-large', reason, size !== undefined ? { size } : {});
}

function isMissing(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

// O_NONBLOCK: opening a FIFO for reading does not wait for a writer (the fstat that follows
// refuses it). O_NOCTTY: a terminal device never becomes the process's controlling terminal.
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0) | (fs.constants.O_NOCTTY ?? 0);
const CHUNK = 64 * 1024;

/**
 * The bytes of the regular file `file` (symlinks followed, unless `noFollow`: then a link is
 * not a regular file), or undefined when it does not exist. Throws a FileReadError when it
 * exists but is not read: not a regular file, refused by the system, or more than `maxBytes`
 * long. Never reads more than `maxBytes + 1` bytes.
 */
export function readRegularFileSync(file: string, maxBytes: number, options: { noFollow?: boolean } = {}): Buffer | undefined {
  let st: fs.Stats;
  try {
    st = options.noFollow ? fs.lstatSync(file) : fs.statSync(file);
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw unreadableError(file, e);
  }
  // Refused before it is even opened: opening some devices has effects of its own.
  if (!st.isFile()) throw new FileReadError(file, 'not-regular', notRegularReason(st.isSymbolicLink() ? 'a symbolic link' : describeFileType(st)));
  if (st.size > maxBytes) throw tooLargeError(file, maxBytes, st.size);
  let fd: number;
  try {
    fd = fs.openSync(file, options.noFollow ? OPEN_FLAGS | (fs.constants.O_NOFOLLOW ?? 0) : OPEN_FLAGS);
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw unreadableError(file, e);
  }
  try {
    // What was opened is what counts: the path may have been replaced since the stat.
    const fst = fs.fstatSync(fd);
    if (!fst.isFile()) throw new FileReadError(file, 'not-regular', notRegularReason(describeFileType(fst)));
    if (fst.size > maxBytes) throw tooLargeError(file, maxBytes, fst.size);
    let buf = Buffer.allocUnsafe(Math.min(maxBytes + 1, Math.max(fst.size + 1, 1)));
    let len = 0;
    for (;;) {
      if (len === buf.length) {
        if (len > maxBytes) break;
        const bigger = Buffer.allocUnsafe(Math.min(maxBytes + 1, Math.max(len * 2, CHUNK)));
        buf.copy(bigger, 0, 0, len);
        buf = bigger;
      }
      const n = fs.readSync(fd, buf, len, buf.length - len, null);
      if (n === 0) break;
      len += n;
    }
    // A file whose size said less than it holds (one that grows, a /proc file) stops here.
    if (len > maxBytes) throw tooLargeError(file, maxBytes, undefined);
    return buf.subarray(0, len);
  } catch (e) {
    if (e instanceof FileReadError) throw e;
    throw unreadableError(file, e);
  } finally {
    fs.closeSync(fd);
  }
}

/** The text of `readRegularFileSync`, as UTF-8 without a byte-order mark. */
export function readRegularTextSync(file: string, maxBytes: number): string | undefined {
  const bytes = readRegularFileSync(file, maxBytes);
  if (bytes === undefined) return undefined;
  const text = bytes.toString('utf8');
  // A UTF-8 byte-order mark is not content: editors hide it, so positions must not count
  // it, and a template must not put it into a prompt.
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * A user-given file (the CLI's `--context`) read without blocking the process: a FIFO or
 * `<(...)` is allowed and waited for, as `cat` would, but nothing is read past `maxBytes`.
 */
export async function readBoundedText(file: string, maxBytes: number): Promise<string> {
  const st = await fs.promises.stat(file);
  if (st.isDirectory() || st.isSocket()) throw new FileReadError(file, 'not-regular', `is ${describeFileType(st)}, not a file`);
  if (st.isFile() && st.size > maxBytes) throw tooLargeError(file, maxBytes, st.size);
  const chunks: Buffer[] = [];
  let len = 0;
  const stream = fs.createReadStream(file, { highWaterMark: CHUNK });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      len += chunk.length;
      if (len > maxBytes) throw tooLargeError(file, maxBytes, undefined);
      chunks.push(chunk);
    }
  } finally {
    stream.destroy();
  }
  const text = Buffer.concat(chunks, len).toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
