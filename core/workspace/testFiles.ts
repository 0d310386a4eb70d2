/**
 * The prompt test files of a workspace: `prompt_tests.yaml` beside the configuration files and
 * every `*.yaml` below `prompt_tests/` (its snapshot folder and dot-folders left out), in a
 * stable order. Links that leave the workspace are not followed: a test file is read by the
 * validator as you type, like the configuration files.
 */
import * as path from 'node:path';
import { PROMPT_TESTS_DIR, PROMPT_TESTS_FILE, SNAPSHOTS_DIR } from './discover.js';
import type { FileSystemHost } from './fileSystem.js';

/** Folders below `prompt_tests/` searched at most this deep. */
const MAX_DEPTH = 8;
/** At most this many test files per workspace; the validator says so past it. */
export const MAX_TEST_FILES = 1000;

function inside(realRoot: string, real: string): boolean {
  const rel = path.relative(realRoot, real);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** Absolute paths of the workspace's test files: `prompt_tests.yaml` first, then the folder's, sorted. */
export function listPromptTestFiles(root: string, fs: FileSystemHost): string[] {
  const out: string[] = [];
  const realRoot = fs.realpath(root) ?? root;
  const main = path.join(root, PROMPT_TESTS_FILE);
  const mainReal = fs.realpath(main);
  if (mainReal !== undefined) out.push(main);
  const found: string[] = [];
  const seen = new Set<string>();
  const visit = (dir: string, depth: number) => {
    if (depth > MAX_DEPTH || found.length > MAX_TEST_FILES) return;
    const real = fs.realpath(dir);
    if (!real || seen.has(real) || !inside(realRoot, real)) return;
    seen.add(real);
    const entries = fs.readDirectory(dir);
    if (!entries) return;
    for (const e of [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (e.name.startsWith('.')) continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory || (e.isSymbolicLink && !e.name.endsWith('.yaml'))) {
        if (e.name !== SNAPSHOTS_DIR && e.name !== 'node_modules') visit(p, depth + 1);
      } else if (e.name.endsWith('.yaml')) {
        found.push(p);
      }
    }
  };
  visit(path.join(root, PROMPT_TESTS_DIR), 0);
  return [...out, ...found];
}

/** Whether `file` is one of the test files of the workspace in `root` (by its path alone). */
export function isPromptTestFile(file: string, root: string): boolean {
  const f = path.resolve(file);
  if (f === path.join(path.resolve(root), PROMPT_TESTS_FILE)) return true;
  const rel = path.relative(path.join(path.resolve(root), PROMPT_TESTS_DIR), f);
  if (rel.startsWith('..') || path.isAbsolute(rel) || !f.endsWith('.yaml')) return false;
  return !rel.split(path.sep).some((part) => part === SNAPSHOTS_DIR || part.startsWith('.'));
}
