/**
 * `.promptmanager/` in a prompt workspace: what PromptManager keeps for itself, the prompt
 * tests' history and the model response cache. In the workspace, so that the editor and the
 * CLI (and a CI job that caches the folder) share it; never committed: on first use it gets a
 * `.gitignore` of `*`, as `.pytest_cache` does, and a `CACHEDIR.TAG` that backup tools honour.
 * Discovery skips dot-folders, so it is never taken for a workspace or a test folder.
 */
import * as path from 'node:path';
import { realFolderSync, writeFileInsideSync } from './safeWrite.js';

export const STATE_DIR = '.promptmanager';

const GITIGNORE = "# Written by PromptManager: its test history and model response cache, not for the repository.\n*\n";
// https://bford.info/cachedir/: the signature line is what tools look for.
const CACHEDIR_TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# This folder is PromptManager's test history and model response cache.\n";

/** `<root>/.promptmanager/<sub>`, without creating anything. */
export function statePath(root: string, sub: string): string {
  return path.join(root, STATE_DIR, sub);
}

/**
 * Creates `<root>/.promptmanager/<sub>` (and the folder's .gitignore and CACHEDIR.TAG the first
 * time); returns its path. Each folder on the way must be a real folder of the workspace, not
 * a link a repository put there (safeWrite.ts): an `UnsafePathError` says which otherwise.
 */
export async function ensureStateDir(root: string, sub: string): Promise<string> {
  const dir = statePath(root, sub);
  realFolderSync(root, dir, { create: true });
  const base = path.join(root, STATE_DIR);
  // Written once; an existing one (another process's, or anything a repository put there) is left alone.
  for (const [name, text] of [['.gitignore', GITIGNORE], ['CACHEDIR.TAG', CACHEDIR_TAG]] as const) writeFileInsideSync(root, path.join(base, name), text, { onlyIfMissing: true });
  return dir;
}
