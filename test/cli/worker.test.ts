/**
 * `promptmanager worker` and `run --redis`: a run from one terminal executes on a worker
 * started in another, with the same output as in-process; the worker stops cleanly on SIGTERM;
 * a worker told no Redis says how to tell it; with --log-jobs it names each job it ran.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI, EXAMPLES, REPO } from '../helpers/paths.js';
import { redisMissingReason, startRedis, type TestRedis } from '../helpers/redisServer.js';

const env = { ...process.env, PROMPTMANAGER_API_KEY: '', PROMPTMANAGER_REDIS_URL: '' };

test('worker without a Redis URL: a usage error that says where to give it', () => {
  const r = spawnSync(process.execPath, [CLI, 'worker', '--dir', 'examples'], { cwd: REPO, encoding: 'utf8', env });
  assert.equal(r.status, 64);
  assert.match(r.stderr, /--redis redis:\/\/HOST:PORT, or set PROMPTMANAGER_REDIS_URL/);
});

test('worker with a Redis it cannot reach: one line naming it, its password hidden, exit 1', () => {
  const r = spawnSync(process.execPath, [CLI, 'worker', '--dir', 'examples', '--redis', 'redis://user:s3cretpw@127.0.0.1:1'], { cwd: REPO, encoding: 'utf8', env, timeout: 30_000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^promptmanager worker: \[invalid_configuration\] cannot connect to Redis at redis:\/\/user:\*\*\*@127\.0\.0\.1:1: /);
  assert.doesNotMatch(r.stderr, /s3cretpw|Unhandled error event/);
});

test('worker --eager-steps takes a whole number from 0, and says so otherwise', () => {
  const r = spawnSync(process.execPath, [CLI, 'worker', '--dir', 'examples', '--redis', 'redis://127.0.0.1:1', '--eager-steps', '-1'], { cwd: REPO, encoding: 'utf8', env });
  assert.equal(r.status, 64);
  assert.match(r.stderr, /--eager-steps must be an integer of at least 0, got '-1'/);
});

const unavailable = redisMissingReason();
if (unavailable) console.log(`# the CLI worker tests on Redis are skipped: ${unavailable}`);

describe('a worker and a run on Redis', { skip: unavailable ?? false }, () => {
  let redis: TestRedis;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  test('run --redis executes on the worker with the in-process output; SIGTERM stops the worker cleanly', async () => {
    const worker = spawn(process.execPath, [CLI, 'worker', '--dir', 'examples', '--redis', redis.url, '--concurrency', '2'], { cwd: REPO, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    worker.stderr!.on('data', (d) => (stderr += String(d)));
    const exited = new Promise<number | null>((r) => worker.on('exit', (code) => r(code)));
    try {
      for (let i = 0; i < 400 && !/serving/.test(stderr); i++) await new Promise((r) => setTimeout(r, 25));
      assert.match(stderr, /serving .*examples \(configuration [0-9a-f]{16}\) from redis:\/\/127\.0\.0\.1:\d+/);
      const context = path.join(EXAMPLES, 'contexts', 'complete_analysis.json');
      const local = spawnSync(process.execPath, [CLI, 'run', 'complete_analysis', '--dir', 'examples', '--context', context], { cwd: REPO, encoding: 'utf8', env });
      const remote = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const c = spawn(process.execPath, [CLI, 'run', 'complete_analysis', '--dir', 'examples', '--context', context, '--redis', redis.url], { cwd: REPO, env });
        let out = '';
        let err = '';
        c.stdout.on('data', (d) => (out += String(d)));
        c.stderr.on('data', (d) => (err += String(d)));
        c.on('exit', (code) => resolve({ code, stdout: out, stderr: err }));
      });
      assert.equal(remote.code, 0, remote.stderr);
      assert.equal(remote.stdout, local.stdout, 'the same output as the in-process run');
      assert.match(remote.stderr, /report: succeeded after 1 attempt/);
    } finally {
      worker.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
    assert.match(stderr, /SIGTERM: finishing 0 running jobs/);
    assert.match(stderr, /stopped/);
    assert.doesNotMatch(stderr, /: step /, 'jobs are not logged unless asked');
  });

  test('worker --log-jobs: a line per job it ran, naming the run, its composition and the step', async () => {
    const worker = spawn(process.execPath, [CLI, 'worker', '--dir', 'examples', '--redis', redis.url, '--log-jobs'], { cwd: REPO, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    worker.stderr!.on('data', (d) => (stderr += String(d)));
    const exited = new Promise<number | null>((r) => worker.on('exit', (code) => r(code)));
    try {
      for (let i = 0; i < 400 && !/serving/.test(stderr); i++) await new Promise((r) => setTimeout(r, 25));
      const context = path.join(EXAMPLES, 'contexts', 'complete_analysis.json');
      const run = spawnSync(process.execPath, [CLI, 'run', 'complete_analysis', '--dir', 'examples', '--context', context, '--redis', redis.url, '--id', 'logged-1'], { cwd: REPO, encoding: 'utf8', env });
      assert.equal(run.status, 0, run.stderr);
    } finally {
      worker.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
    const lines = stderr.split('\n').filter((l) => l.includes('run logged-1'));
    // (The run's start job and its first step's job may be taken by two slots at once.)
    assert.ok(lines.includes('promptmanager worker: run logged-1 (complete_analysis): started'), lines.join('\n'));
    // Every step of the run, once, the first before the others, the one that needs them all last.
    const steps = lines.filter((l) => l.includes(': step ')).map((l) => /^promptmanager worker: run logged-1 \(complete_analysis\): step (\w+) done$/.exec(l)?.[1]);
    assert.deepEqual([...steps].sort(), ['critique', 'extract', 'report', 'risks', 'summary'], lines.join('\n'));
    assert.equal(steps[0], 'extract');
    assert.equal(steps[4], 'report');
  });
});
