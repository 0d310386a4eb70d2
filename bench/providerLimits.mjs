// Provider limits benchmark (npm run bench:limits). A real OpenAI-compatible HTTP server on
// 127.0.0.1 simulates a provider that serves 600 requests a minute (a sliding 60 s window of
// the requests it served) and answers 429 with Retry-After (the seconds until its window
// frees) past it; served requests answer after 50 ms, with their usage. 200 concurrent runs of
// a 4-step composition (3 parallel calls, then one that reads them: 800 calls) go through one
// manager, three ways, each against a fresh server:
//   limits:   the provider has requests_per_minute: 600 (the admission scheduler paces calls);
//   none:     no limits (a 429's Retry-After pauses the whole provider; steps retry);
//   each-own: no limits, and the scheduler's pause disabled: each step retries on its own
//             Retry-After, as the engine did before the admission scheduler.
// Prints the achieved rate (calls served per minute, first to last), the most the server saw in
// any 60 s window, 429s, duration, admission waits and the spread of run durations.
// Options: --only=limits,none,each-own; PM_LIMITS_RUNS (default 200).
import * as esbuild from 'esbuild';
import { precompiledSchemas } from '../build/precompiledSchemas.mjs';
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { percentile } from './stats.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'out', 'bench', 'limits-core.cjs');
await esbuild.build({
  plugins: [precompiledSchemas],
  entryPoints: [join(root, 'core', 'index.ts')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  mainFields: ['module', 'main'],
  logLevel: 'warning',
  outfile,
});
const core = createRequire(import.meta.url)(outfile);

const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(',');
const RUNS = Number(process.env.PM_LIMITS_RUNS ?? 200);
const LIMIT = 600;
const WINDOW_MS = 60_000;
const LATENCY_MS = 50;

/** The simulated provider: at most LIMIT served requests in any WINDOW_MS, 429 past it. */
async function startProvider() {
  const served = [];
  const state = { served, all: [], refused: 0, firstAt: undefined, lastAt: undefined };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const now = performance.now();
      while (served.length && served[0] <= now - WINDOW_MS) served.shift();
      if (served.length >= LIMIT) {
        state.refused++;
        const retryAfter = Math.max(1, Math.ceil((served[0] + WINDOW_MS - now) / 1000));
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': String(retryAfter) });
        res.end(JSON.stringify({ error: { message: `rate limit: ${LIMIT} requests a minute` } }));
        return;
      }
      served.push(now);
      state.all.push(now);
      state.firstAt ??= now;
      state.lastAt = now;
      const prompt = JSON.parse(body).messages[0].content;
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ choices: [{ message: { role: 'assistant', content: `ok ${prompt.length}` } }], usage: { total_tokens: Math.ceil(prompt.length / 4) + 3 } }));
      }, LATENCY_MS);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}/v1`, state, close: () => new Promise((r) => (server.closeAllConnections(), server.close(r))) };
}

/** The most requests served in any window of WINDOW_MS (two pointers over sorted times). */
function maxInWindow(times) {
  let best = 0;
  for (let i = 0, j = 0; j < times.length; j++) {
    while (times[j] - times[i] >= WINDOW_MS) i++;
    best = Math.max(best, j - i + 1);
  }
  return best;
}

async function scenario(name, limits) {
  const provider = await startProvider();
  const sim = { type: 'openai-compatible', base_url: provider.url, model: 'sim', ...(limits ? { requests_per_minute: LIMIT } : {}) };
  const pm = await core.createTesting({
    allowNetwork: true,
    templates: { part: 'Part {{n}} of {{doc}}.', join: 'Join {{steps.a.output}} / {{steps.b.output}} / {{steps.c.output}}' },
    compositionRules: {
      providers: { sim },
      compositions: {
        doc: {
          inputs: { required: ['doc'] },
          steps: [
            { id: 'a', template: 'part', model: 'sim', context: { n: 'a' } },
            { id: 'b', template: 'part', model: 'sim', context: { n: 'b' } },
            { id: 'c', template: 'part', model: 'sim', context: { n: 'c' } },
            { id: 'join', template: 'join', model: 'sim', depends_on: ['a', 'b', 'c'] },
          ],
        },
      },
      // Without limits a step must outlast a refused minute: up to 20 attempts, Retry-After honoured.
      defaults: { retry: { max_attempts: 20, initial_interval_ms: 1000 } },
    },
  });
  if (name === 'each-own') {
    // The baseline before the admission scheduler: no provider-wide pause after a 429.
    pm.workflowEngine.engine.admission.pause = () => undefined;
  }
  const t0 = performance.now();
  const results = await Promise.all(
    Array.from({ length: RUNS }, async (_, i) => {
      const s = performance.now();
      const r = await pm.executeWorkflow('doc', { doc: `document ${i}` });
      return { status: r.status, ms: performance.now() - s, attempts: r.steps.reduce((n, x) => n + x.attempts, 0) };
    }),
  );
  const durationMs = performance.now() - t0;
  const m = pm.getWorkflowMetrics().providers.sim;
  await pm.close();
  await provider.close();
  const st = provider.state;
  const calls = st.all?.length ?? 0;
  const spanMs = (st.lastAt ?? 0) - (st.firstAt ?? 0);
  const achieved = calls > 1 ? ((calls - 1) / spanMs) * 60_000 : 0;
  const bad = results.filter((r) => r.status !== 'succeeded').length;
  const runMs = results.map((r) => r.ms);
  return {
    name,
    runs: RUNS,
    failedRuns: bad,
    callsServed: calls,
    refused429: st.refused,
    durationS: +(durationMs / 1000).toFixed(1),
    achievedPerMinute: Math.round(achieved),
    ofAllowed: `${((achieved / LIMIT) * 100).toFixed(1)}%`,
    maxIn60s: maxInWindow(st.all ?? []),
    attempts: results.reduce((n, r) => n + r.attempts, 0),
    requeued: m.admission.requeued,
    pauses: m.admission.pauses,
    admissionWaitP50s: +(m.admission.waitMs.p50 / 1000).toFixed(2),
    admissionWaitP95s: +(m.admission.waitMs.p95 / 1000).toFixed(2),
    runP50s: +(percentile(runMs, 50) / 1000).toFixed(1),
    runMinS: +(Math.min(...runMs) / 1000).toFixed(1),
    runMaxS: +(Math.max(...runMs) / 1000).toFixed(1),
  };
}

console.log(`node ${process.version}, ${os.cpus().length} cpus (${os.cpus()[0]?.model}), load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}, ${new Date().toISOString()}`);
console.log(`${RUNS} concurrent runs x 4 provider calls against a provider serving ${LIMIT} a minute (sliding ${WINDOW_MS / 1000} s window), ${LATENCY_MS} ms per answer`);
const rows = [];
for (const [name, limits] of [['limits', true], ['none', false], ['each-own', false]]) {
  if (only && !only.includes(name)) continue;
  const r = await scenario(name, limits);
  console.log(JSON.stringify(r));
  rows.push(r);
}
console.log(`load after: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
