/**
 * `.promptmanager/` in a prompt workspace: what PromptManager keeps for itself, the prompt
 * tests' history and the model response cache. In the workspace, so that the editor and the
 * CLI (and a CI job that caches the folder) share it; never committed: on first use it gets a
 * `.gitignore` of `*`, as `.pytest_cache` does, and a `CACHEDIR.TAG` that backup tools honour.
 * Discovery skips dot-folders, so it is never taken for a workspace or a test folder.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const STATE_DIR = '.promptmanager';

const GITIGNORE = "# Written by PromptManager: its test history and model response cache, not for the repository.\n*\n";
// https://bford.info/cachedir/: the signature line is what tools look for.
const CACHEDIR_TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# This folder is PromptManager's test history and model response cache.\n";

/** `<root>/.promptmanager/<sub>`, without creating anything. */
export function statePath(root: string, sub: string): string {
  return path.join(root, STATE_DIR, sub);
}

/** Creates `<root>/.promptmanager/<sub>` (and the folder's .gitignore and CACHEDIR.TAG the first time); returns its path. */
export async function ensureStateDir(root: string, sub: string): Promise<string> {
  const dir = statePath(root, sub);
  await fs.promises.mkdir(dir, { recursive: true });
  const base = path.join(root, STATE_DIR);
  for (const [name, text] of [['.gitignore', GITIGNORE], ['CACHEDIR.TAG', CACHEDIR_TAG]] as const) {
    // 'wx': written once; another process writing it at the same moment is fine.
    await fs.promises.writeFile(path.join(base, name), text, { flag: 'wx' }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
  return dir;
}

/** Writes a file so that a reader sees the old text or the new one, never half of it: a temporary file, then a rename. */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`;
  await fs.promises.writeFile(tmp, text, { flag: 'wx' });
  try {
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
}
