/**
 * Faults in runs, end to end through the engine (PromptManager and its workflow engine, the
 * openai-compatible executor, fetch) against a real HTTP server on 127.0.0.1: a provider that is
 * down, slow, answers 5xx storms, 429 with Retry-After, malformed or truncated JSON, or closes
 * the connection mid-answer. Retries, fallbacks and final statuses follow the contract and no
 * finished step's output is lost. A configuration reload during a run does not reach it.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { PromptManager } from '../../../core/manager/promptManager.js';
import type { WorkflowEvent, WorkflowResult } from '../../../core/workflow/types.js';

const KEY = 'sk-fault-test-key-0123456789';

// ------------------------------------------------------------------ the provider

interface Seen {
  path: string;
  at: number;
  prompt: string;
}
/** What the provider does with the n-th request (1-based) to a path. */
type Behaviour = (n: number, req: IncomingMessage, res: ServerResponse, prompt: string) => void;

let server: Server;
let port = 0;
let behaviour: Behaviour = (_n, _req, res) => answer(res, 'ok');
let seen: Seen[] = [];

function answer(res: ServerResponse, content: string): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ choices: [{ message: { role: 'assistant', content } }] }));
}
function fail(res: ServerResponse, status: number, headers: Record<string, string> = {}, body = '{"error":{"message":"provider trouble"}}'): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body);
}

before(async () => {
  server = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      let prompt = '';
      try {
        prompt = (JSON.parse(data) as { messages: { content: string }[] }).messages[0]!.content;
      } catch {
        // not ours to judge
      }
      seen.push({ path: req.url ?? '', at: performance.now(), prompt });
      behaviour(seen.filter((s) => s.path === req.url).length, req, res, prompt);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

const managers: PromptManager[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const m of managers.splice(0)) await m.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  seen = [];
  behaviour = (_n, _req, res) => answer(res, 'ok');
});

// ------------------------------------------------------------------ the workspace

const TEMPLATES: Record<string, string> = {
  prep: 'Prepared {{doc}}',
  ask: 'Question about {{doc}}',
  use: 'Used: {{steps.ask.output}}',
  side: 'Side work on {{doc}}',
  lite: 'Lite answer for {{doc}}',
  old: 'OLD template {{doc}}',
  new: 'NEW template {{doc}}',
};

function baseUrl(prefix = 'v1'): string {
  return `http://127.0.0.1:${port}/${prefix}`;
}

function rulesYaml(steps: string, opts: { base?: string; failFast?: boolean; maxParallel?: number } = {}): string {
  return `version: 1
providers:
  p:
    type: openai-compatible
    base_url: ${opts.base ?? baseUrl()}
    model: test-model
    api_key_env: PM_FAULT_KEY
compositions:
  flow:
    inputs: { required: [doc] }
    fail_fast: ${opts.failFast ?? false}
    max_parallel: ${opts.maxParallel ?? 4}
    steps:
${steps}`;
}

async function manager(rules: string, extra: Record<string, string> = {}): Promise<{ m: PromptManager; dir: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-faults-'));
  dirs.push(dir);
  fs.writeFileSync(path.join(dir, 'composition_rules.yaml'), rules);
  fs.mkdirSync(path.join(dir, 'templates'));
  for (const [name, text] of Object.entries({ ...TEMPLATES, ...extra })) fs.writeFileSync(path.join(dir, 'templates', `${name}.hbs`), text);
  const m = await PromptManager.create({ root: dir, watch: false, workflow: { env: (n) => (n === 'PM_FAULT_KEY' ? KEY : undefined) } });
  managers.push(m);
  return { m, dir };
}

const retry = (attempts: number, extra = '') => `        retry: { max_attempts: ${attempts}, initial_interval_ms: 5, backoff_coefficient: 2${extra} }\n`;

async function run(m: PromptManager, context: Record<string, unknown> = { doc: 'D' }): Promise<{ result: WorkflowResult; events: WorkflowEvent[] }> {
  const events: WorkflowEvent[] = [];
  const handle = await m.startWorkflow('flow', context);
  for await (const e of handle) events.push(e);
  return { result: await handle.done, events };
}

function step(r: WorkflowResult, id: string) {
  const s = r.steps.find((x) => x.id === id);
  assert.ok(s, `no step ${id}`);
  return s;
}

/** Outputs of finished steps are in the final status, in `getWorkflowStatus`, and never null. */
async function assertOutputsKept(m: PromptManager, r: WorkflowResult, expected: Record<string, string>): Promise<void> {
  for (const [id, out] of Object.entries(expected)) {
    assert.equal(r.outputs[id], out, `output of ${id} in the result`);
    assert.equal(step(r, id).output, out, `output of ${id} in its step`);
  }
  const later = await m.getWorkflowStatus(r.id);
  assert.ok(later, 'the run is in the history');
  for (const [id, out] of Object.entries(expected)) assert.equal(later.outputs[id], out, `output of ${id} read back by id`);
}

// ------------------------------------------------------------------ faults

test('faults: provider down (connection refused): retried, then failed with provider_error; finished outputs kept', async () => {
  // A port that was just free: nothing listens there.
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const dead = `http://127.0.0.1:${(probe.address() as AddressInfo).port}/v1`;
  await new Promise<void>((r) => probe.close(() => r()));
  const { m } = await manager(
    rulesYaml(
      `      - id: prep
        template: prep
      - id: ask
        template: ask
        model: p
        depends_on: [prep]
${retry(3)}      - id: side
        template: side
      - id: use
        template: use
        depends_on: [ask]
`,
      { base: dead },
    ),
  );
  const { result, events } = await run(m);
  assert.equal(result.status, 'partial');
  const ask = step(result, 'ask');
  assert.equal(ask.status, 'failed');
  assert.equal(ask.attempts, 3);
  assert.deepEqual(ask.errors.map((e) => e.code), ['provider_error', 'provider_error', 'provider_error']);
  assert.match(String(ask.errors[0]!.message), /ECONNREFUSED|failed/);
  assert.equal(step(result, 'use').status, 'skipped');
  assert.equal(events.filter((e) => e.type === 'step.retrying').length, 2);
  await assertOutputsKept(m, result, { prep: 'Prepared D', side: 'Side work on D' });
});

test('faults: a slow provider: the attempt times out, the retry succeeds', async () => {
  behaviour = (n, _req, res) => {
    if (n === 1) setTimeout(() => answer(res, 'too late'), 1500).unref();
    else answer(res, 'in time');
  };
  const { m } = await manager(
    rulesYaml(`      - id: ask
        template: ask
        model: p
        timeout_ms: 150
${retry(2)}`),
  );
  const t0 = performance.now();
  const { result } = await run(m);
  assert.ok(performance.now() - t0 < 1400, 'the run did not wait for the slow answer');
  assert.equal(result.status, 'succeeded');
  const ask = step(result, 'ask');
  assert.equal(ask.attempts, 2);
  assert.equal(ask.errors[0]!.code, 'timeout');
  assert.equal(ask.output, 'in time');
  assert.equal(result.output, 'in time');
});

test('faults: a 5xx storm shorter than the retries is ridden out; a longer one fails the step, its fallback answers', async () => {
  behaviour = (n, req, res) => {
    if (req.url!.startsWith('/short') && n <= 3) return fail(res, n % 2 ? 500 : 502);
    if (req.url!.startsWith('/long')) return fail(res, 503, {}, '<html>Service Unavailable</html>');
    answer(res, `answer ${n}`);
  };
  const short = await manager(
    rulesYaml(
      `      - id: ask
        template: ask
        model: p
${retry(4)}`,
      { base: baseUrl('short') },
    ),
  );
  const r1 = (await run(short.m)).result;
  assert.equal(r1.status, 'succeeded');
  assert.equal(step(r1, 'ask').attempts, 4);
  assert.deepEqual(step(r1, 'ask').errors.map((e) => e.status), [500, 502, 500]);
  assert.equal(step(r1, 'ask').output, 'answer 4');

  const long = await manager(
    rulesYaml(
      `      - id: prep
        template: prep
      - id: ask
        template: ask
        model: p
        depends_on: [prep]
${retry(3)}        fallback: { template: lite }
      - id: use
        template: use
        depends_on: [ask]
`,
      { base: baseUrl('long') },
    ),
  );
  const r2 = (await run(long.m)).result;
  const ask = step(r2, 'ask');
  assert.equal(ask.status, 'fallback');
  assert.equal(ask.attempts, 3);
  assert.ok(ask.errors.every((e) => e.code === 'provider_error' && e.status === 503));
  assert.equal(ask.output, 'Lite answer for D');
  // A fallback counts as success for the run and its dependents.
  assert.equal(r2.status, 'succeeded');
  await assertOutputsKept(long.m, r2, { prep: 'Prepared D', ask: 'Lite answer for D', use: 'Used: Lite answer for D' });
  const providers = long.m.getWorkflowMetrics()!.providers;
  assert.equal(providers.p?.calls, 3);
  assert.equal(providers.p?.failures, 3);
});

test('faults: 429 with Retry-After is honoured over the backoff; a 400 is not retried', async () => {
  behaviour = (n, req, res) => {
    if (req.url!.startsWith('/limited') && n === 1) return fail(res, 429, { 'retry-after': '1' });
    if (req.url!.startsWith('/bad')) return fail(res, 400, {}, '{"error":{"message":"bad request: unknown parameter"}}');
    answer(res, 'after the wait');
  };
  const limited = await manager(rulesYaml(`      - id: ask\n        template: ask\n        model: p\n${retry(3)}`, { base: baseUrl('limited') }));
  const { result, events } = await run(limited.m);
  assert.equal(result.status, 'succeeded');
  const calls = seen.filter((s) => s.path.startsWith('/limited'));
  assert.equal(calls.length, 2);
  const gap = calls[1]!.at - calls[0]!.at;
  assert.ok(gap >= 950, `the retry came ${gap.toFixed(0)} ms after the 429 (Retry-After: 1 s; the backoff alone would be 5 ms)`);
  const retrying = events.find((e) => e.type === 'step.retrying');
  assert.equal(retrying?.type === 'step.retrying' && retrying.waitMs, 1000);
  assert.equal(step(result, 'ask').errors[0]!.status, 429);

  const bad = await manager(rulesYaml(`      - id: ask\n        template: ask\n        model: p\n${retry(5)}`, { base: baseUrl('bad') }));
  const r2 = (await run(bad.m)).result;
  assert.equal(r2.status, 'partial');
  assert.equal(step(r2, 'ask').attempts, 1, 'a 400 is the request at fault: no retry');
  assert.match(String(step(r2, 'ask').errors[0]!.message), /400.*unknown parameter/);
});

test('faults: malformed JSON, truncated JSON and a connection closed mid-answer are provider errors, retried', async () => {
  behaviour = (n, req, res) => {
    const kind = req.url!.split('/')[1];
    if (n === 1 && kind === 'malformed') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end('{"choices": [ {"message": oops');
    }
    if (n === 1 && kind === 'truncated') {
      // A complete HTTP answer whose JSON body stops half-way.
      const body = JSON.stringify({ choices: [{ message: { content: 'never seen' } }] }).slice(0, 25);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) });
      return void res.end(body);
    }
    if (n === 1 && kind === 'closed') {
      // Headers and half the body, then the connection is cut.
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
      res.write('{"choices": [{"message": {"content": "hal');
      setTimeout(() => res.socket?.destroy(), 20).unref();
      return;
    }
    if (kind === 'empty') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ choices: [] }));
    }
    answer(res, `${kind} recovered`);
  };
  for (const kind of ['malformed', 'truncated', 'closed']) {
    const { m } = await manager(rulesYaml(`      - id: prep\n        template: prep\n      - id: ask\n        template: ask\n        model: p\n        depends_on: [prep]\n${retry(2)}`, { base: baseUrl(kind) }));
    const { result } = await run(m);
    assert.equal(result.status, 'succeeded', `${kind}: ${JSON.stringify(result.steps)}`);
    const ask = step(result, 'ask');
    assert.equal(ask.attempts, 2, kind);
    assert.equal(ask.errors[0]!.code, 'provider_error', kind);
    assert.equal(ask.output, `${kind} recovered`);
    await assertOutputsKept(m, result, { prep: 'Prepared D', ask: `${kind} recovered` });
  }
  // An answer without choices[0].message.content, every time: the step fails, the run is partial.
  const { m } = await manager(rulesYaml(`      - id: prep\n        template: prep\n      - id: ask\n        template: ask\n        model: p\n${retry(2)}`, { base: baseUrl('empty') }));
  const { result } = await run(m);
  assert.equal(result.status, 'partial');
  assert.match(String(step(result, 'ask').errors[1]!.message), /choices\[0\]\.message\.content/);
  await assertOutputsKept(m, result, { prep: 'Prepared D' });
});

test('faults: fail_fast stops new steps, the running ones finish, and every finished output stays', async () => {
  behaviour = (_n, req, res, prompt) => {
    if (prompt.startsWith('Question')) return fail(res, 500);
    setTimeout(() => answer(res, `slow answer to ${prompt}`), 150).unref();
  };
  const { m } = await manager(
    rulesYaml(
      `      - id: ask
        template: ask
        model: p
      - id: side
        template: side
        model: p
      - id: use
        template: use
        depends_on: [ask]
      - id: later
        template: prep
        depends_on: [side]
`,
      { failFast: true },
    ),
  );
  const { result } = await run(m);
  assert.equal(result.status, 'failed');
  assert.equal(step(result, 'ask').status, 'failed');
  // `side` was running when `ask` failed: it finished, and its output is kept.
  assert.equal(step(result, 'side').status, 'succeeded');
  assert.equal(step(result, 'later').status, 'cancelled');
  assert.equal(step(result, 'use').status, 'skipped');
  await assertOutputsKept(m, result, { side: 'slow answer to Side work on D' });
});

// ------------------------------------------------------------------ hot reload during a run

test('hot reload during a run: the run finishes on the configuration it started with; the next run uses the new one', async () => {
  let release: (() => void) | undefined;
  behaviour = (_n, req, res, prompt) => {
    if (req.url!.startsWith('/old') && !release) {
      // The first call waits until the test has reloaded the configuration.
      release = () => answer(res, `old provider saw: ${prompt}`);
      return;
    }
    answer(res, `${req.url!.split('/')[1]} provider saw: ${prompt}`);
  };
  const oldRules = rulesYaml(
    `      - id: ask
        template: ask
        model: p
      - id: second
        template: old
        model: p
        depends_on: [ask]
      - id: third
        template: old
        depends_on: [second]
`,
    { base: baseUrl('old') },
  );
  const { m, dir } = await manager(oldRules);
  const handle = await m.startWorkflow('flow', { doc: 'D' });
  while (!release) await new Promise((r) => setTimeout(r, 5));

  // A new configuration: another provider address, another template for the later steps, a changed template text.
  fs.writeFileSync(path.join(dir, 'composition_rules.yaml'), oldRules.replace(baseUrl('old'), baseUrl('new')).replace(/template: old/g, 'template: new'));
  fs.writeFileSync(path.join(dir, 'templates', 'old.hbs'), 'CHANGED old template {{doc}}');
  const reload = m.reload();
  assert.equal(reload.status, 'reloaded');
  assert.equal(m.snapshot.generation, 2);
  release();

  const result = await handle.done;
  assert.equal(result.status, 'succeeded');
  assert.equal(step(result, 'second').template, 'old');
  assert.equal(step(result, 'second').output, 'old provider saw: OLD template D');
  assert.equal(step(result, 'third').output, 'OLD template D');
  assert.ok(seen.every((s) => s.path.startsWith('/old')), 'the running run never called the new provider');

  const next = (await run(m)).result;
  assert.equal(step(next, 'second').output, 'new provider saw: NEW template D');
  assert.equal(step(next, 'third').output, 'NEW template D');
});

test('hot reload during a run, through the file watcher', async () => {
  let release: (() => void) | undefined;
  behaviour = (_n, _req, res, prompt) => {
    if (!release) {
      release = () => answer(res, `first: ${prompt}`);
      return;
    }
    answer(res, `later: ${prompt}`);
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-faults-watch-'));
  dirs.push(dir);
  fs.writeFileSync(
    path.join(dir, 'composition_rules.yaml'),
    rulesYaml(`      - id: ask\n        template: ask\n        model: p\n      - id: after\n        template: old\n        depends_on: [ask]\n`),
  );
  fs.mkdirSync(path.join(dir, 'templates'));
  for (const [name, text] of Object.entries(TEMPLATES)) fs.writeFileSync(path.join(dir, 'templates', `${name}.hbs`), text);
  const m = await PromptManager.create({ root: dir, watch: true, debounceMs: 20, workflow: { env: () => KEY } });
  managers.push(m);
  const handle = await m.startWorkflow('flow', { doc: 'D' });
  while (!release) await new Promise((r) => setTimeout(r, 5));
  fs.writeFileSync(path.join(dir, 'templates', 'old.hbs'), 'RELOADED {{doc}}');
  const t0 = Date.now();
  while (m.snapshot.generation < 2) {
    assert.ok(Date.now() - t0 < 10_000, 'the watcher never reloaded');
    await new Promise((r) => setTimeout(r, 10));
  }
  release();
  const result = await handle.done;
  assert.equal(step(result, 'after').output, 'OLD template D');
  assert.equal((await m.render('old', { doc: 'D' })).text, 'RELOADED D');
});
