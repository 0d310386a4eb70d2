// A worker process of the distributed benchmark (bench/distributed.mjs): `promptmanager worker`'s
// createWorkflowWorker with an executor that takes `context.sleep_ms` (0: a render-only step)
// and records each execution's start and end in Redis (BENCH:exec, BENCH:done), so that the
// fault benchmark can count, across processes, how often each step ran.
const path = require('node:path');
const root = path.join(__dirname, '..');
const { createWorkflowWorker } = require(path.join(root, 'dist', 'core.js'));
const { Redis } = require(path.join(root, 'node_modules', 'ioredis'));

const [dir, url, prefix, who, concurrency, record, eager] = process.argv.slice(2);

(async () => {
  const redis = new Redis(url);
  const recording = record === '1';
  const executor = {
    name: 'render',
    async execute(req) {
      if (recording) await redis.rpush(`${prefix}:bench:exec`, JSON.stringify({ run: req.runId, step: req.stepId, at: Date.now(), who }));
      const ms = Number(req.context.sleep_ms || 0);
      if (ms > 0) {
        await new Promise((resolve, reject) => {
          const t = setTimeout(resolve, ms);
          req.signal.addEventListener('abort', () => (clearTimeout(t), reject(req.signal.reason)), { once: true });
        });
      }
      if (recording) await redis.rpush(`${prefix}:bench:done`, JSON.stringify({ run: req.runId, step: req.stepId, at: Date.now(), who }));
      return req.prompt;
    },
  };
  const w = await createWorkflowWorker({
    root: dir,
    connection: { url },
    prefix,
    concurrency: Number(concurrency),
    ...(eager !== undefined && eager !== '' ? { eagerSteps: Number(eager) } : {}),
    executors: [executor],
    lockDurationMs: 2000,
    stalledIntervalMs: 1000,
    managerOptions: { watch: false, environment: 'production' },
  });
  process.stdout.write('ready\n');
  process.on('SIGTERM', async () => {
    await w.close(10_000);
    redis.disconnect();
    process.exit(0);
  });
})().catch((e) => {
  process.stderr.write(`${(e && e.stack) || e}\n`);
  process.exit(1);
});
