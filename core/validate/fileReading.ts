/** What reading a workspace file under the limits says, shared by the configuration files and the templates. */
import type { FileReadError } from '../workspace/fileRead.js';

/**
 * The length of a text past the limit, or undefined. The disk stops reading at the limit in
 * bytes; an open buffer or a host in memory returns whole texts, measured in characters (as
 * their sizes always were): counting UTF-8 bytes of a big buffer at each keystroke costs more.
 */
export function overLimit(text: string, max: number): number | undefined {
  return text.length > max ? text.length : undefined;
}

/** Why a file was not read, after its name: "is a FIFO (named pipe), not a regular file; ...". */
export function unreadableReason(e: FileReadError): string {
  return e.transient ? `${e.reason}; it is read again on the next change` : e.reason;
}

export function megabytes(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  return mb >= 10 || Number.isInteger(mb) ? mb.toFixed(0) : mb.toFixed(1);
}
