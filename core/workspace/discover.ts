/** Finding prompt workspaces: every folder that holds one of the two configuration files. */
import * as path from 'node:path';
import { nodeFileSystem, type FileSystemHost } from './fileSystem.js';

export const SERVICE_MAPPINGS_FILE = 'service_mappings.yaml';
export const COMPOSITION_RULES_FILE = 'composition_rules.yaml';
/**
 * The configuration files' names, the one place they are spelled in the core; the client's
 * copy (protocol/configFiles.ts), the benchmarks' (bench/configFiles.mjs) and package.json's
 * are held equal to them by test/repository/configFileNames.test.ts.
 */
export const CONFIG_FILE_NAMES = [SERVICE_MAPPINGS_FILE, COMPOSITION_RULES_FILE] as const;
/**
 * Prompt tests: this file beside the configuration files, and any `*.yaml` below this folder
 * (core/workspace/testFiles.ts lists them); golden files of snapshot assertions go in
 * `PROMPT_TESTS_DIR/SNAPSHOTS_DIR/`. A folder holding only tests is not a prompt workspace.
 */
export const PROMPT_TESTS_FILE = 'prompt_tests.yaml';
export const PROMPT_TESTS_DIR = 'prompt_tests';
export const SNAPSHOTS_DIR = '__snapshots__';
const SKIP = new Set(['node_modules', '.git', 'dist', 'out', '.cache', '.vscode-test']);

export function isConfigFile(file: string): boolean {
  const b = path.basename(file);
  return b === SERVICE_MAPPINGS_FILE || b === COMPOSITION_RULES_FILE;
}

/**
 * Every prompt workspace under `dir` (itself included), sorted; skips node_modules and VCS
 * folders, and does not look inside a folder that is itself a prompt workspace.
 */
export function findPromptWorkspaces(dir: string, fs: FileSystemHost = nodeFileSystem, maxDepth = 12): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const visit = (d: string, depth: number) => {
    const real = fs.realpath(d);
    if (!real || seen.has(real) || depth > maxDepth) return;
    seen.add(real);
    const entries = fs.readDirectory(d);
    if (!entries) return;
    if (entries.some((e) => !e.isDirectory && (e.name === SERVICE_MAPPINGS_FILE || e.name === COMPOSITION_RULES_FILE))) {
      out.push(d);
      // A prompt workspace's own subfolders (templates, contexts, fixtures such as
      // examples/broken) are not searched: point the search at them to check them.
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory || SKIP.has(e.name) || e.name.startsWith('.')) continue;
      visit(path.join(d, e.name), depth + 1);
    }
  };
  visit(path.resolve(dir), 0);
  return out.sort();
}

/** The prompt workspace a file belongs to: the nearest folder above it holding a config file. */
export function workspaceOfFile(file: string, fs: FileSystemHost = nodeFileSystem, stopAt?: string): string | undefined {
  let d = path.dirname(path.resolve(file));
  for (;;) {
    if (fs.realpath(path.join(d, SERVICE_MAPPINGS_FILE)) || fs.realpath(path.join(d, COMPOSITION_RULES_FILE))) return d;
    const up = path.dirname(d);
    if (up === d || (stopAt && d === path.resolve(stopAt))) return undefined;
    d = up;
  }
}
