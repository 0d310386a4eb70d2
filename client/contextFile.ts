/**
 * Whether a context file (`contexts/*.json`, the last one used, one picked in a dialog) may be
 * read: a repository can put a link to /dev/zero or a FIFO there, which would read forever or
 * never answer. Only a regular file (or a link to one) up to `maxContextBytes` (the
 * protocol's MAX_CONTEXT_BYTES) is read.
 */
import { MAX_CONTEXT_BYTES } from '../protocol/protocol.js';

/** vscode.FileType's bits (the client's tests run without VS Code). */
const FILE = 1;
const DIRECTORY = 2;

/** Why a file with this `vscode.workspace.fs.stat` is not read as a context, or undefined. */
export function contextFileProblem(stat: { type: number; size: number }, maxBytes: number = MAX_CONTEXT_BYTES): string | undefined {
  if ((stat.type & FILE) === 0) return stat.type & DIRECTORY ? 'it is a folder' : 'it is not a regular file (a FIFO, a socket or a device?); only regular files are read';
  if (stat.size > maxBytes) return `it is ${stat.size} bytes, more than the ${maxBytes} bytes a context may hold (maxContextBytes)`;
  return undefined;
}
