// Helpers for end-to-end tests of distributed runs (not a test file itself: run.mjs runs *.e2e.mjs):
//   - redisServer: the unit tests' own helper, test/helpers/redisServer.ts (a redis-server on a
//     free port in a temporary folder, or why there is none), bundled on the fly by esbuild so
//     that its logic lives in one place;
//   - startWorker: a `promptmanager worker` of the built CLI (dist/cli.js) on a folder, with its
//     stderr kept (`--log-jobs`: a line per job it ran).
// Both end with the test process, whatever way it ends (SIGKILL on exit for what is still running).
//
//   const { redisMissingReason, startRedis } = await redisServer();
//   const redis = await startRedis();                       // redis.url, await redis.stop()
//   const worker = await startWorker({ dir, redisUrl: redis.url, env: { PROMPTMANAGER_API_KEY: 'k' } });
//   worker.log()  (its stderr so far); worker.pid; await worker.stop()

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, waitFor } from './harness.mjs';
import { ensureE2EDeps } from './setup.mjs';

const children = new Set();
let hooked = false;
/** Kills what is still running when the test process exits (an after() that never ran, a signal). */
export function killOnExit(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const c of children) c.kill('SIGKILL');
  });
}

/** test/helpers/redisServer.ts as a module: `{ redisMissingReason, redisServerBinary, startRedis }`. */
export async function redisServer() {
  const esbuild = await import('esbuild');
  const r = await esbuild.build({
    entryPoints: [path.join(REPO_ROOT, 'test', 'helpers', 'redisServer.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    logLevel: 'error',
  });
  const mod = await import(`data:text/javascript;base64,${Buffer.from(r.outputFiles[0].text).toString('base64')}`);
  return {
    ...mod,
    async startRedis() {
      const redis = await mod.startRedis();
      killOnExit(redis.process);
      return redis;
    },
  };
}

/**
 * Starts `node dist/cli.js worker --dir DIR --redis URL --log-jobs` (on the e2e suite's Node 24:
 * the CLI needs Node 22 or later) and waits until it says it is serving the folder.
 */
export async function startWorker({ dir, redisUrl, env = {}, args = [], timeoutMs = 60_000 }) {
  const cli = path.join(REPO_ROOT, 'dist', 'cli.js');
  if (!fs.existsSync(cli)) throw new Error(`startWorker: ${cli} is missing: build it (npm run package, or node test/e2e/run.mjs)`);
  const { node } = ensureE2EDeps({ quiet: true });
  const child = spawn(node, [cli, 'worker', '--dir', dir, '--redis', redisUrl, '--log-jobs', '--grace-ms', '1000', ...args], {
    cwd: dir,
    env: { ...process.env, PROMPTMANAGER_REDIS_URL: '', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  killOnExit(child);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += String(d)));
  let exit = null;
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve((exit = { code, signal }))));
  await waitFor(
    () => {
      if (exit) throw new Error(`the worker exited (${exit.code ?? exit.signal}) before serving:\n${stderr}`);
      return /promptmanager worker: serving /.test(stderr);
    },
    { timeoutMs, intervalMs: 100, message: () => `the worker to say it is serving ${dir}; it said:\n${stderr || '(nothing)'}` },
  ).catch((e) => {
    child.kill('SIGKILL');
    throw e;
  });
  return {
    pid: child.pid,
    log: () => stderr,
    /** SIGTERM (it lets running jobs finish for a second), then SIGKILL; resolves with how it exited. */
    async stop() {
      if (!exit) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      return exit;
    },
  };
}
