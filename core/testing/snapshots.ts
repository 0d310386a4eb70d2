/**
 * Golden files of snapshot assertions: `prompt_tests/__snapshots__/<test>/<name>.txt`, plain
 * text (a reviewer reads the diff of a prompt as the prompt), compared with `\n` line endings
 * (a checkout with CRLF still matches). Modes, as Jest's: `new` writes a missing file and
 * compares the others (the default), `none` writes nothing (CI: a missing file fails),
 * `all` also rewrites a file that differs (`--update-snapshots`). Files are written whole by a
 * rename, and read and written synchronously: a test run's virtual clock must never see the
 * process idle while a file is on its way. Only through real folders of the workspace, never
 * through a link a repository put there, and read bounded (core/workspace/safeWrite.ts): a
 * link, a FIFO or a device where a golden file or its folder should be fails the assertion
 * with a message that names it.
 */
import * as path from 'node:path';
import { PROMPT_TESTS_DIR, SNAPSHOTS_DIR } from '../workspace/discover.js';
import { FileReadError } from '../workspace/fileRead.js';
import { readTextInsideSync, writeFileInsideSync } from '../workspace/safeWrite.js';
import type { SnapshotResult } from './types.js';

export type SnapshotMode = 'none' | 'new' | 'all';

/** The mode when the caller gives none: `none` in CI (the `CI` environment variable set, as CI services do), else `new`. */
export function defaultSnapshotMode(env: Record<string, string | undefined> = process.env): SnapshotMode {
  const ci = env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false' ? 'none' : 'new';
}

/** Golden files larger than this are not read: a snapshot is a prompt, not a data set. */
const MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024;

export class SnapshotStore {
  readonly dir: string;
  /** Files written or rewritten, in order. */
  readonly written: string[] = [];
  private readonly root: string;

  constructor(
    root: string,
    readonly mode: SnapshotMode,
  ) {
    this.root = path.resolve(root);
    this.dir = path.join(this.root, PROMPT_TESTS_DIR, SNAPSHOTS_DIR);
  }

  /** The golden file of a test's snapshot; names are checked by the schema, and here again. */
  fileFor(test: string, name: string): string {
    const file = path.join(this.dir, test, name);
    const rel = path.relative(this.dir, file);
    if (rel.startsWith('..') || path.isAbsolute(rel) || rel.split(path.sep).length !== 2) throw new RangeError(`a snapshot name must stay in ${this.dir}: ${test}/${name}`);
    return file;
  }

  /** Compares `text` with the golden file (writing it as the mode says); `shown` is the file as messages name it, from the workspace. */
  check(test: string, name: string, text: string): { result: SnapshotResult; expected?: string; shown: string } {
    const file = this.fileFor(test, name);
    const shown = path.relative(this.root, file).split(path.sep).join('/');
    const actual = text.replace(/\r\n/g, '\n');
    let expected: string | undefined;
    try {
      expected = readTextInsideSync(this.root, file, MAX_SNAPSHOT_BYTES)?.replace(/\r\n/g, '\n');
    } catch (e) {
      // A golden file too large to read is rewritten when asked; anything else is the assertion's failure (UnsafePathError, FileReadError).
      if (!(e instanceof FileReadError && e.problem === 'too-large' && this.mode === 'all')) throw e;
      this.write(file, actual);
      return { result: { file, status: 'updated' }, shown };
    }
    if (expected === undefined) {
      if (this.mode === 'none') return { result: { file, status: 'missing' }, shown };
      this.write(file, actual);
      return { result: { file, status: 'written' }, shown };
    }
    if (expected === actual) return { result: { file, status: 'matched' }, expected, shown };
    if (this.mode === 'all') {
      this.write(file, actual);
      return { result: { file, status: 'updated' }, expected, shown };
    }
    return { result: { file, status: 'mismatch' }, expected, shown };
  }

  private write(file: string, text: string): void {
    writeFileInsideSync(this.root, file, text);
    this.written.push(file);
  }
}
