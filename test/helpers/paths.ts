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
/** The repository's copy of the conformance cases (test/conformance/README.md). */
export const CONFORMANCE = path.join(REPO, 'test', 'conformance');
/**
 * Another folder of cases to run besides the repository's copy, when set (`.ci/run` sets it
 * to the shared set beside the clone, which may hold cases not copied in yet).
 */
export const EXTRA_CONFORMANCE = process.env.PROMPTMANAGER_CONFORMANCE_DIR ? path.resolve(process.env.PROMPTMANAGER_CONFORMANCE_DIR) : undefined;

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
