/** Where things are, for tests bundled into out/test/ and run from anywhere. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

function findRepo(): string {
  for (let d = __dirname; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'package.json')) && fs.existsSync(path.join(d, 'esbuild.mjs'))) return d;
    if (d === path.dirname(d)) throw new Error(`cannot find the repository above ${__dirname}`);
  }
}

export const REPO = findRepo();
export const EXAMPLES = path.join(REPO, 'examples');
export const CLI = path.join(REPO, 'dist', 'cli.js');
export const SERVER = path.join(REPO, 'dist', 'server.js');
/** The language server's template-analysis worker thread (server/templateWorkerMain.ts). */
export const TEMPLATE_WORKER = path.join(REPO, 'dist', 'templateWorker.js');
/** The shared conformance cases live beside the repository (../shared), never copied in. */
export const CONFORMANCE = path.resolve(REPO, '..', 'shared', 'conformance');

/** Writes files (relative path -> text) into a fresh temporary folder and returns it. */
export function tempWorkspace(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-test-'));
  for (const [rel, text] of Object.entries(files)) {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
  }
  return dir;
}
