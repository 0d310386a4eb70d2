/**
 * Which files on disk the server follows: the two configuration files, templates, the prompt
 * test files (`prompt_tests.yaml` and `*.yaml` below a `prompt_tests/` folder) and JSON files
 * (a test's `context_file`). The same list gives the globs a client is asked to watch and the
 * files the server's own watcher reports (folderWatcher.ts), so the two never disagree.
 */
import * as path from 'node:path';
import { COMPOSITION_RULES_FILE, isConfigFile, PROMPT_TESTS_DIR, PROMPT_TESTS_FILE, SERVICE_MAPPINGS_FILE, SNAPSHOTS_DIR } from '../core/workspace/discover.js';
import { isTemplateFile } from '../core/workspace/templateIndex.js';

const stem = (name: string) => name.replace(/\.yaml$/, '');

/** The globs of workspace/didChangeWatchedFiles' registration. */
export const WATCHED_GLOBS: readonly string[] = [
  `**/{${stem(SERVICE_MAPPINGS_FILE)},${stem(COMPOSITION_RULES_FILE)}}.yaml`,
  '**/*.{hbs,handlebars}',
  `**/${PROMPT_TESTS_FILE}`,
  `**/${PROMPT_TESTS_DIR}/**/*.yaml`,
  // Context files of tests live anywhere in the workspace (contexts/ by convention).
  '**/*.json',
];

/**
 * Whether a path is named like a prompt test file of some workspace (its root unknown): the
 * workspace manager then asks `isPromptTestFile` with each root.
 */
export function looksLikePromptTestFile(file: string): boolean {
  if (path.basename(file) === PROMPT_TESTS_FILE) return true;
  if (!file.endsWith('.yaml')) return false;
  const parts = path.resolve(file).split(path.sep);
  const at = parts.lastIndexOf(PROMPT_TESTS_DIR);
  return at !== -1 && at < parts.length - 1 && !parts.slice(at + 1).some((p) => p === SNAPSHOTS_DIR || p.startsWith('.'));
}

export function isJsonFile(file: string): boolean {
  return file.endsWith('.json');
}

/** Whether a change of this file can change a validation (the rest are folder events or nothing). */
export function isWatchedFile(file: string): boolean {
  return isConfigFile(file) || isTemplateFile(file) || looksLikePromptTestFile(file) || isJsonFile(file);
}
