/**
 * The .vsix's own BullMQ and ioredis (build/runtimeDeps.mjs, copied into dist/node_modules by the
 * production build): the copy holds every package they load, and BullMQ works from it alone
 * (its Lua scripts included: a job added and processed through a redis-server of the test's own).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { REPO } from '../helpers/paths.js';
import { redisMissingReason, startRedis, type TestRedis } from '../helpers/redisServer.js';

let dir: string;
let copied: { folders: string[]; bytes: number };
let redis: TestRedis | undefined;
const unavailable = redisMissingReason();
if (unavailable) console.log(`# BullMQ from the .vsix copy is not run against Redis: ${unavailable}`);

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-rtdeps-'));
  const m = (await import(pathToFileURL(path.join(REPO, 'build', 'runtimeDeps.mjs')).href)) as { copyRuntimeDeps(root: string, out: string): { folders: string[]; bytes: number } };
  copied = m.copyRuntimeDeps(REPO, dir);
  if (!unavailable) redis = await startRedis();
});
after(async () => {
  await redis?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the copy holds BullMQ, ioredis and what they load, and stays small', () => {
  for (const p of ['bullmq', 'ioredis', 'msgpackr', 'cron-parser', 'luxon', 'semver', 'tslib', 'standard-as-callback']) assert.ok(copied.folders.includes(`node_modules/${p}`), p);
  assert.ok(!fs.existsSync(path.join(dir, 'node_modules', 'bullmq', 'dist', 'esm')), 'no ES module build');
  assert.ok(copied.bytes < 6e6, `${(copied.bytes / 1e6).toFixed(1)} MB`);
});

test('BullMQ runs from the copy alone: a job added and processed', { skip: unavailable ?? false }, () => {
  const script = `
    const { Queue, Worker } = require('bullmq');
    const { Redis } = require('ioredis');
    (async () => {
      const connection = new Redis(${JSON.stringify(redis?.url)}, { maxRetriesPerRequest: null });
      const q = new Queue('probe', { connection });
      const done = new Promise((resolve) => {
        const w = new Worker('probe', async (job) => job.data.n * 2, { connection });
        w.on('completed', async (job, result) => { await w.close(); resolve(result); });
      });
      await q.add('x', { n: 21 });
      const result = await done;
      await q.close();
      connection.disconnect();
      process.stdout.write('result ' + result + ' from ' + require.resolve('bullmq'));
    })().catch((e) => { console.error(e); process.exit(1); });`;
  // NODE_PATH cleared and cwd in the copy: nothing resolves from the repository's node_modules.
  const r = spawnSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8', env: { ...process.env, NODE_PATH: '' }, timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^result 42 from ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
});
