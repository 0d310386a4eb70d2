/**
 * The provider figures of the whole fleet in the starting manager's metrics on the BullMQ back
 * end: two workers call a local OpenAI-compatible server (which holds its answers, then
 * refuses one call with 429 and `Retry-After`), and the starter's Prometheus text and JSON show
 * the calls waiting and in flight while they wait, the pause, then every worker's calls,
 * admissions, 429s, waits and tokens summed. The counters are in Redis: they outlive the
 * workers and the starter, and another prefix has its own. Render-only steps send nothing.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { FleetMetricsRecorder } from '../../../core/distributed/fleetMetrics.js';
import { FleetMetricsReader } from '../../../core/distributed/fleetMetricsReader.js';
import { PromptManager } from '../../../core/manager/promptManager.js';
import { WorkflowMetrics } from '../../../core/workflow/metrics.js';
import { createWorkflowWorker, type WorkflowWorker } from '../../../core/manager/workflowWorker.js';
import { redisMissingReason, startRedis, type TestRedis } from '../../helpers/redisServer.js';
import { assertPrometheusText, sample } from '../../helpers/prometheus.js';

const unavailable = redisMissingReason();
if (unavailable) console.log(`# the distributed fleet-metrics tests are skipped: ${unavailable}`);

const llm = (name: string) => `${name}{provider="llm"}`;
const P = 'promptmanager_provider_';

async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("the whole fleet's provider metrics in the starting manager", { skip: unavailable ?? false }, () => {
  let redis: TestRedis;
  let server: Server;
  let dir: string;
  /** Answers the server holds until the test says; then `answer` decides, call by call. */
  const held: ServerResponse[] = [];
  let holding = true;
  let requests = 0;
  /** Answers for the next calls, in order, before `holding` and `ok` decide. */
  const script: ((res: ServerResponse) => void)[] = [];

  const ok = (res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ choices: [{ message: { role: 'assistant', content: 'fine' } }], usage: { total_tokens: 10 } }));
  };

  before(async () => {
    redis = await startRedis();
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        requests++;
        const next = script.shift();
        if (next) next(res);
        else if (holding) held.push(res);
        else ok(res);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-fleet-'));
    fs.mkdirSync(path.join(dir, 'templates'));
    fs.writeFileSync(
      path.join(dir, 'composition_rules.yaml'),
      `version: 1
providers:
  llm: { type: openai-compatible, base_url: "${base}", model: m, max_concurrency: 2 }
compositions:
  burst:
    fail_fast: false
    steps:
${[0, 1, 2, 3, 4, 5].map((i) => `      - { id: s${i}, template: ask, model: llm }\n`).join('')}  local:
    steps:
      - { id: a, template: ask }
      - { id: b, template: ask, depends_on: [a] }
      - { id: c, template: ask, depends_on: [a] }
  flaky:
    steps:
      - { id: once, template: ask, model: llm, retry: { max_attempts: 2, initial_interval_ms: 2000, non_retryable: [] } }
  doomed:
    steps:
      - { id: ask, template: ask, model: llm, retry: { max_attempts: 1 }, fallback: { value: sorry } }
`,
    );
    fs.writeFileSync(path.join(dir, 'templates', 'ask.hbs'), 'question {{n}}');
  });
  after(async () => {
    server?.closeAllConnections();
    server?.close();
    await redis?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const backend = (prefix: string) => ({ type: 'bullmq' as const, connection: { url: redis.url }, prefix });
  const starter = (prefix: string) => PromptManager.create({ root: dir, watch: false, workflow: { backend: backend(prefix) } });
  const worker = (prefix: string) => createWorkflowWorker({ root: dir, backend: backend(prefix), concurrency: 1, managerOptions: { watch: false } });
  const scrape = async (m: PromptManager) => {
    await m.refreshMetrics();
    return m.getMetrics({ format: 'prometheus' });
  };

  test("two workers' calls summed, the queue's gauges while calls wait, the 429's pause; kept across restarts, by prefix", async () => {
    const prefix = 'fleet';
    // One call at a time per worker, two at once for the provider: each worker holds one of the first two.
    const workers: WorkflowWorker[] = [await worker(prefix), await worker(prefix)];
    const m = await starter(prefix);
    let m2: PromptManager | undefined;
    try {
      const run = await m.startWorkflow('burst', { n: 1 });
      await until('two calls at the server', async () => (held.length === 2 ? true : undefined));
      // While the server holds them: 2 in flight, the 4 others waiting in the provider's queue.
      let text = await until('the gauges of the calls waiting', async () => {
        const t = await scrape(m);
        return sample(t, llm(`${P}in_flight_calls`)) === 2 && sample(t, llm(`${P}queued_calls`)) === 4 ? t : undefined;
      });
      assertPrometheusText(text);
      assert.match(text, /^# TYPE promptmanager_provider_queued_calls gauge$/m);
      assert.ok(sample(text, 'promptmanager_provider_metrics_age_seconds') < 5);
      assert.equal(sample(text, llm(`${P}calls_total`)), 0, 'no call has ended (a call is counted, its admission too, in one write when it ends)');

      // The first answer is a 429 with Retry-After: 4 s, the second a success; every later call is answered at once.
      holding = false;
      const [refused, answered] = held.splice(0, 2);
      refused!.writeHead(429, { 'retry-after': '4', 'content-type': 'application/json' });
      refused!.end(JSON.stringify({ error: { message: 'slow down' } }));
      ok(answered!);
      text = await until('the pause after the 429', async () => {
        const t = await scrape(m);
        return sample(t, llm(`${P}paused_seconds`)) > 0 ? t : undefined;
      });
      assert.ok(sample(text, llm(`${P}paused_seconds`)) <= 4);

      const r = await run.done;
      assert.equal(r.status, 'succeeded');
      assert.ok(r.steps.every((s) => s.attempts === 1 && s.errors.length === 0), 'the 429 was sent again without using an attempt');
      assert.equal(requests, 7, '6 steps, one of them called twice');
      // A worker sends its counts when a job ends, without holding it: they arrive just after the run's end.
      text = await until('every call counted', async () => {
        const t = await scrape(m);
        return sample(t, llm(`${P}calls_total`)) === 7 ? t : undefined;
      });
      assertPrometheusText(text);
      assert.equal(sample(text, llm(`${P}admitted_calls_total`)), 7);
      assert.equal(sample(text, llm(`${P}rate_limited_total`)), 1);
      assert.equal(sample(text, `${P}call_failures_total{provider="llm",kind="rate_limited"}`), 1);
      assert.equal(sample(text, llm(`${P}requeued_calls_total`)), 1);
      assert.equal(sample(text, llm(`${P}pauses_total`)), 1);
      assert.equal(sample(text, llm(`${P}in_flight_calls`)), 0);
      assert.equal(sample(text, llm(`${P}queued_calls`)), 0);
      assert.equal(sample(text, llm(`${P}paused_seconds`)), 0);
      assert.equal(sample(text, llm(`${P}admission_wait_seconds_count`)), 7);
      const waited = sample(text, llm(`${P}admission_wait_seconds_sum`));
      assert.ok(waited >= 3.9, `the refused call waited out the 4 s pause, and the others the calls held before them: ${waited} s in all`);
      const p99 = sample(text, `${P}admission_wait_seconds{provider="llm",quantile="0.99"}`);
      assert.ok(p99 >= 3.5 && p99 <= 60, `the fleet's p99 is the longest wait's bucket: ${p99} s`);
      assert.equal(sample(text, `${P}tokens_total{provider="llm",source="reported"}`), 60, '6 answers of 10 tokens');
      assert.ok(sample(text, `${P}tokens_total{provider="llm",source="estimated"}`) > 0, 'the refused call reported none: its estimate counts');

      // The sum of what each worker counted for itself, and both took calls.
      const own = workers.map((w) => w.metrics.getMetrics().providers.llm!);
      assert.ok(own.every((p) => p.calls > 0), `both workers called the provider: ${own.map((p) => p.calls).join(' + ')}`);
      assert.equal(own[0]!.calls + own[1]!.calls, 7);
      assert.equal(own[0]!.admission.admitted + own[1]!.admission.admitted, 7);
      assert.equal(own[0]!.admission.waitMs.count + own[1]!.admission.waitMs.count, 7);

      const json = m.getWorkflowMetrics()!;
      assert.ok(typeof json.providersReadAt === 'number');
      const p = json.providers.llm!;
      assert.deepEqual(
        { calls: p.calls, failures: p.failures, byStatus: { ...p.failuresByStatus }, consecutive: p.consecutiveFailures, admitted: p.admission.admitted, requeued: p.admission.requeued, pauses: p.admission.pauses, waits: p.admission.waitMs.count, durations: p.durationMs.count },
        { calls: 7, failures: 1, byStatus: { '429': 1 }, consecutive: 0, admitted: 7, requeued: 1, pauses: 1, waits: 7, durations: 7 },
      );
      assert.ok(p.admission.waitMs.max >= 3900 && p.admission.waitMs.p50 <= p.admission.waitMs.p95 && p.admission.waitMs.p95 <= p.admission.waitMs.max + 1e-9);

      // Render-only steps make no provider call and add no Redis command for metrics.
      const client = new Redis(redis.url);
      const monitor = await client.monitor();
      const seen: string[] = [];
      monitor.on('monitor', (_time: string, args: string[]) => seen.push(args.join(' ')));
      try {
        assert.equal((await m.executeWorkflow('local', { n: 2 })).status, 'succeeded');
      } finally {
        monitor.disconnect();
        client.disconnect();
      }
      assert.ok(seen.length > 0, 'the monitor saw the run');
      assert.deepEqual(seen.filter((c) => c.includes('provider-metrics')), []);

      // The counters outlive the workers and the starter: a new worker adds to them, a new starter reads them.
      for (const w of workers.splice(0)) await w.close(5000);
      await m.close();
      workers.push(await worker(prefix));
      m2 = await starter(prefix);
      assert.equal((await m2.executeWorkflow('burst', { n: 3 })).status, 'succeeded');
      text = await until('the new calls counted', async () => {
        const t = await scrape(m2!);
        return sample(t, llm(`${P}calls_total`)) === 13 ? t : undefined;
      });
      assert.equal(sample(text, llm(`${P}admitted_calls_total`)), 13);
      assert.equal(sample(text, llm(`${P}rate_limited_total`)), 1);
      assert.equal(sample(text, llm(`${P}admission_wait_seconds_count`)), 13);

      // Another prefix is another deployment: its counters are its own.
      const other = await starter('another');
      try {
        const t = await scrape(other);
        assert.equal(sample(t, llm(`${P}calls_total`)), 0);
        assert.equal(sample(t, llm(`${P}admitted_calls_total`)), 0);
        assert.equal(sample(t, llm(`${P}admission_wait_seconds_count`)), 0);
        assertPrometheusText(t);
      } finally {
        await other.close();
      }
    } finally {
      holding = false;
      for (const res of held.splice(0)) ok(res);
      await m.close();
      await m2?.close();
      for (const w of workers) await w.close(5000);
    }
  });

  test("a retried call's wait is counted from the end of its backoff, not from its first attempt", async () => {
    const prefix = 'retry';
    const w = await worker(prefix);
    const m = await starter(prefix);
    try {
      script.push((res) => {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'busy' } }));
      });
      const r = await m.executeWorkflow('flaky', { n: 4 });
      assert.equal(r.status, 'succeeded');
      assert.equal(r.steps[0]!.attempts, 2);
      const text = await until('both attempts counted', async () => {
        const t = await scrape(m);
        return sample(t, llm(`${P}calls_total`)) === 2 ? t : undefined;
      });
      assert.equal(sample(text, `${P}call_failures_total{provider="llm",kind="server_error"}`), 1);
      assert.equal(sample(text, llm(`${P}admitted_calls_total`)), 2);
      const waited = sample(text, llm(`${P}admission_wait_seconds_sum`));
      assert.ok(waited < 1.5, `the 2 s backoff is the retry's, not a wait for the provider: ${waited} s waited in all`);
    } finally {
      await m.close();
      await w.close(5000);
    }
  });

  test("the starting manager's health judges the providers by every worker's calls", async () => {
    const prefix = 'health';
    const w = await worker(prefix);
    const m = await starter(prefix);
    try {
      for (let i = 0; i < 2; i++) {
        script.push((res) => {
          res.writeHead(503, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: 'down' } }));
        });
        const r = await m.executeWorkflow('doomed', { n: i });
        assert.equal(r.steps[0]!.status, 'fallback');
      }
      await until('both calls counted', async () => ((await m.refreshMetrics(), m.getWorkflowMetrics()?.providers.llm?.calls) === 2 ? true : undefined));
      const h = m.healthCheck().components.providers!;
      assert.equal(h.status, 'degraded', h.reason);
      assert.match(h.reason, /provider llm: .*the last 2 calls failed \(the last: server error\)/);
      // A call that succeeds makes it healthy again, its failures told.
      const ok = await m.executeWorkflow('doomed', { n: 9 });
      assert.equal(ok.steps[0]!.status, 'succeeded');
      await until('the third call counted', async () => ((await m.refreshMetrics(), m.getWorkflowMetrics()?.providers.llm?.calls) === 3 ? true : undefined));
      const again = m.healthCheck().components.providers!;
      assert.equal(again.status, 'healthy', again.reason);
      assert.match(again.reason, /2 of 3 calls failed in all/);
    } finally {
      await m.close();
      await w.close(5000);
    }
  });

  test('the synchronous metrics answer from the last read, and start a new one when it is old', async () => {
    const m = await starter('sync');
    try {
      // The manager read the figures when it connected: the first call has them, with their age.
      const text = await until('the first read', async () => {
        const t = m.getMetrics({ format: 'prometheus' });
        return /^promptmanager_provider_calls_total\{provider="llm"\} 0$/m.test(t) ? t : undefined;
      });
      assertPrometheusText(text);
      assert.ok(sample(text, 'promptmanager_provider_metrics_age_seconds') >= 0);
      assert.equal(m.getWorkflowMetrics()!.providers.llm!.admission.queued, 0);
    } finally {
      await m.close();
    }

    // What a worker counts, as a reader whose figures may be 0 ms old reads it.
    const client = new Redis(redis.url);
    const local = new WorkflowMetrics();
    const recorder = new FleetMetricsRecorder(client, 'unit', local);
    const reader = new FleetMetricsReader(client, 'unit', 0);
    try {
      recorder.metrics.recordAdmission('x', 30);
      recorder.metrics.recordProviderCall('x', 100);
      await recorder.flush();
      // Two calls' figures in one batch.
      recorder.metrics.recordAdmission('x', 40);
      recorder.metrics.recordProviderCall('x', 50, { status: 503, kind: 'server_error' });
      recorder.metrics.recordTokens('x', 12, 'estimated');
      recorder.metrics.recordProviderCall('not-configured', 1);
      await recorder.close();
      assert.equal(reader.latest(['x', 'y']), undefined, 'nothing read yet: the call starts the first read');
      const first = await until('the first read', async () => reader.latest(['x', 'y']));
      const x = first.providers.x!;
      assert.deepEqual(
        { calls: x.calls, failures: x.failures, byStatus: { ...x.failuresByStatus }, byKind: { ...x.failuresByKind }, consecutive: x.consecutiveFailures, last: x.lastFailureKind, admitted: x.admission.admitted, tokens: x.admission.tokens },
        { calls: 2, failures: 1, byStatus: { '503': 1 }, byKind: { server_error: 1 }, consecutive: 1, last: 'server_error', admitted: 2, tokens: { reported: 0, estimated: 12 } },
      );
      assert.deepEqual([x.admission.waitMs.count, x.admission.waitMs.sum, x.admission.waitMs.min, x.admission.waitMs.max], [2, 70, 30, 40]);
      assert.deepEqual([x.durationMs.count, x.durationMs.max, x.durationMs.mean], [2, 100, 75]);
      assert.equal(local.getMetrics().providers.x!.admission.waitMs.sum, 70, "the worker's own metrics count the same");
      assert.equal(first.providers.y!.calls, 0, 'a configured provider without calls reads as zeros');
      assert.deepEqual(Object.keys(first.providers).sort(), ['x', 'y'], 'only the providers asked for');

      // A success ends the run of failures; the last figures answer at once while a new read goes on.
      await reader.refresh(['x', 'y']); // (ends the read the last call started)
      recorder.metrics.recordAdmission('x', 0);
      recorder.metrics.recordProviderCall('x', 10);
      await recorder.flush();
      assert.equal(reader.latest(['x', 'y'])!.providers.x!.calls, 2, 'the last read, while the next one starts');
      const next = await until('the next read', async () => {
        const f = reader.latest(['x', 'y']);
        return f && f.providers.x!.calls === 3 ? f : undefined;
      });
      assert.equal(next.providers.x!.consecutiveFailures, 0);
      assert.equal(next.providers.x!.lastFailureKind, undefined);
      assert.equal(next.providers.x!.admission.waitMs.count, 3);
    } finally {
      await reader.close();
      client.disconnect();
    }
  });
});
