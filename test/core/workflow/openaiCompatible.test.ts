import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { FakeClock, systemClock } from '../../../core/clock.js';
import { PromptError } from '../../../core/errors.js';
import type { ProviderDef } from '../../../core/model/types.js';
import { createDefaultExecutors } from '../../../core/workflow/executors.js';
import { createOpenAICompatibleExecutor, parseRetryAfter } from '../../../core/workflow/openaiCompatible.js';
import { isRetryable } from '../../../core/workflow/retry.js';
import { resolveRetry } from '../../../core/workflow/resolve.js';
import { composition, loadRules, makeEngine, settle, stepOf, until } from './helpers.js';

const KEY = 'sk-test-secret-1234';

interface Seen {
  method: string;
  url: string;
  auth: string | undefined;
  body: Record<string, unknown>;
}
type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

let server: Server;
let base: string;
let handler: Handler;
let seen: Seen[] = [];
let closed: Promise<void>[] = [];

before(async () => {
  server = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, body: JSON.parse(data || '{}') });
      closed.push(new Promise((r) => res.on('close', () => r())));
      handler(req, res, seen.length);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});
beforeEach(() => {
  seen = [];
  closed = [];
});

const ok = (res: ServerResponse, content = 'the answer') => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ choices: [{ message: { role: 'assistant', content } }] }));
};

function provider(over: Partial<ProviderDef> = {}): ProviderDef {
  return { name: 'local', type: 'openai-compatible', baseUrl: base + '/', model: 'llama3.2', apiKeyEnv: 'TEST_KEY', options: { temperature: 0.2, max_tokens: 64 }, ...over } as ProviderDef;
}

function request(p: ProviderDef, signal = new AbortController().signal) {
  return {
    runId: 'r',
    composition: 'c',
    stepId: 's',
    attempt: 1,
    prompt: 'Say hi',
    context: {},
    provider: p,
    signal,
    clock: systemClock,
    env: (n: string) => (n === 'TEST_KEY' ? KEY : undefined),
  };
}

async function caught(p: Promise<unknown>): Promise<PromptError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof PromptError, `not a PromptError: ${e}`);
    return e;
  }
  assert.fail('expected a failure');
}

const exec = createOpenAICompatibleExecutor();

describe('openai-compatible executor', () => {
  test('success: POST /chat/completions with the model, the prompt, options and the bearer key', async () => {
    handler = (_q, res) => ok(res);
    const out = await exec.execute(request(provider()));
    assert.equal(out, 'the answer');
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.method, 'POST');
    assert.equal(seen[0]!.url, '/v1/chat/completions');
    assert.equal(seen[0]!.auth, `Bearer ${KEY}`);
    assert.deepEqual(seen[0]!.body, { temperature: 0.2, max_tokens: 64, model: 'llama3.2', messages: [{ role: 'user', content: 'Say hi' }] });
  });

  test('the answer\'s usage is reported to the engine; the limits are never request fields', async () => {
    handler = (_q, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ message: { content: 'hi' } }], usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 } }));
    };
    const reported: unknown[] = [];
    const p = provider({ maxConcurrency: 2, requestsPerMinute: 60, tokensPerMinute: 1000, options: { temperature: 0.2, max_concurrency: 2, requestsPerMinute: 60 } });
    assert.equal(await exec.execute({ ...request(p), reportUsage: (u) => reported.push(u) }), 'hi');
    assert.deepEqual(reported, [{ totalTokens: 12, promptTokens: 9, completionTokens: 3 }]);
    assert.deepEqual(seen[0]!.body, { temperature: 0.2, model: 'llama3.2', messages: [{ role: 'user', content: 'Say hi' }] });
    // Without reportUsage (a request built by hand) nothing breaks.
    assert.equal(await exec.execute(request(p)), 'hi');
  });

  test('429 carries its status and Retry-After', async () => {
    handler = (_q, res) => {
      res.writeHead(429, { 'retry-after': '3', 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'slow down' } }));
    };
    const e = await caught(exec.execute(request(provider())));
    assert.equal(e.code, 'provider_error');
    assert.equal(e.status, 429);
    assert.equal(e.retryAfterMs, 3000);
    assert.match(e.message, /answered 429 Too Many Requests: slow down/);
    assert.equal(isRetryable(e, resolveRetry({ maxAttempts: 3 })), true);
  });

  test('connection refused: provider_error without status, retryable', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const e = await caught(exec.execute(request(provider({ baseUrl: `http://127.0.0.1:${port}/v1` }))));
    assert.equal(e.code, 'provider_error');
    assert.equal(e.status, undefined);
    assert.match(e.message, /ECONNREFUSED/);
    assert.equal(isRetryable(e, resolveRetry({ maxAttempts: 3 })), true);
  });

  test('malformed JSON and a missing message are provider errors', async () => {
    handler = (_q, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"choices": [');
    };
    const e = await caught(exec.execute(request(provider())));
    assert.equal(e.code, 'provider_error');
    assert.equal(e.status, 200);
    assert.match(e.message, /malformed JSON/);
    handler = (_q, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"choices": []}');
    };
    assert.match((await caught(exec.execute(request(provider())))).message, /without choices\[0\]\.message\.content/);
  });

  test('the key never appears in a message, even when the server echoes it', async () => {
    handler = (q, res) => {
      res.writeHead(401);
      res.end(`bad key ${q.headers.authorization}`);
    };
    const e = await caught(exec.execute(request(provider())));
    assert.equal(e.status, 401);
    assert.ok(!e.message.includes(KEY), e.message);
    assert.ok(!JSON.stringify(e.toJSON()).includes(KEY));
    assert.match(e.message, /bad key Bearer \*\*\*/);
  });

  test('an unset key variable or a non-http base_url fails without a request, not retryable', async () => {
    const e = await caught(exec.execute({ ...request(provider()), env: () => undefined }));
    assert.match(e.message, /TEST_KEY, which is not set/);
    assert.equal(isRetryable(e, resolveRetry({ maxAttempts: 3 })), false);
    const f = await caught(exec.execute(request(provider({ baseUrl: 'file:///etc' }))));
    assert.match(f.message, /http or https/);
    assert.equal(seen.length, 0);
  });

  test('probe: GET {base_url}/models with the key; the model looked for; what fails and what only warns', async () => {
    const probe = (p: ProviderDef, env = request(p).env) => exec.probe!({ provider: p, signal: new AbortController().signal, clock: systemClock, env });
    const list = (ids: string[]) => (_q: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: ids.map((id) => ({ id, object: 'model' })) }));
    };
    handler = list(['llama3.2', 'mistral']);
    assert.deepEqual(await probe(provider()), { detail: '2 models listed' });
    assert.deepEqual(seen.map((x) => `${x.method} ${x.url} ${x.auth}`), [`GET /v1/models Bearer ${KEY}`]);
    handler = list(['mistral']);
    assert.match((await probe(provider()))!.warning!, /^model llama3\.2 is not among the 1 models GET http:\/\/127\.0\.0\.1:\d+\/v1\/models lists$/);
    handler = (_q, res) => res.writeHead(404).end('not here');
    assert.match((await probe(provider()))!.detail!, /404, no model list/);
    handler = (_q, res) => res.writeHead(429, { 'retry-after': '3' }).end();
    assert.match((await probe(provider()))!.warning!, /rate limited \(429\)/);
    handler = (_q, res) => res.writeHead(401).end(`bad key ${KEY}`);
    const auth = await caught(probe(provider()));
    assert.equal(auth.status, 401);
    assert.ok(!auth.message.includes(KEY), auth.message);
    handler = (_q, res) => res.writeHead(503).end();
    assert.equal((await caught(probe(provider()))).status, 503);
    handler = (_q, res) => res.writeHead(302, { location: 'http://elsewhere.example/' }).end();
    assert.match((await caught(probe(provider()))).message, /redirected/);
    const unset = await caught(probe(provider(), () => undefined));
    assert.match(unset.message, /TEST_KEY, which is not set/);
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const refused = await caught(probe(provider({ baseUrl: `http://127.0.0.1:${port}/v1` })));
    assert.match(refused.message, /GET http:\/\/127\.0\.0\.1:\d+\/v1\/models failed: ECONNREFUSED/);
  });

  test('Retry-After as an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('Wed, 01 Jan 2025 00:00:05 GMT', now), 5000);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(null, now), undefined);
    // delay-seconds is digits only (RFC 9110): a fraction is not one, and the backoff applies.
    assert.equal(parseRetryAfter('1.5', now), undefined);
  });
});

describe('provider steps in the engine', () => {
  function setup(stepYaml: string) {
    const rules = loadRules(`version: 1
providers:
  local:
    type: openai-compatible
    base_url: ${base}
    model: llama3.2
    api_key_env: TEST_KEY
compositions:
  c:
    steps:
      - id: ask
        template: t/ask
        model: local
${stepYaml}`);
    const clock = new FakeClock();
    const { engine, events } = makeEngine({
      clock,
      providers: rules.providers,
      executors: createDefaultExecutors(),
      env: (n) => (n === 'TEST_KEY' ? KEY : undefined),
      templates: { 't/ask': 'Question: {{q}}' },
    });
    const run = engine.execute(composition(rules, 'c'), rules.defaults, { q: 'why?' });
    return { engine, clock, run, events };
  }

  test('success: the output is the model answer to the rendered prompt', async () => {
    handler = (_q, res) => ok(res, 'because');
    const { clock, run, engine } = setup('');
    const r = await settle(clock, run);
    assert.equal(r.status, 'succeeded');
    assert.equal(r.output, 'because');
    assert.deepEqual(seen[0]!.body.messages, [{ role: 'user', content: 'Question: why?' }]);
    assert.equal(engine.getMetrics().providers.local!.calls, 1);
  });

  test('429 with Retry-After: the engine waits exactly that long', async () => {
    handler = (_q, res, n) => {
      if (n === 1) {
        res.writeHead(429, { 'retry-after': '2' });
        res.end();
      } else ok(res, 'finally');
    };
    const { clock, run, events } = setup('        retry: { max_attempts: 3, initial_interval_ms: 10 }\n');
    await until(() => events.some((e) => e.type === 'step.retrying'), clock);
    const ev = events.find((e) => e.type === 'step.retrying')!;
    assert.equal(ev.type === 'step.retrying' && ev.waitMs, 2000);
    await clock.advance(1999);
    assert.equal(seen.length, 1, 'not before the wait');
    await clock.advance(1);
    const r = await settle(clock, run);
    assert.equal(r.status, 'succeeded');
    assert.equal(r.output, 'finally');
    assert.equal(stepOf(r, 'ask').attempts, 2);
    assert.equal(stepOf(r, 'ask').errors[0]!.status, 429);
  });

  test('500 then success', async () => {
    handler = (_q, res, n) => {
      if (n === 1) {
        res.writeHead(500);
        res.end('oops');
      } else ok(res);
    };
    const { clock, run, events, engine } = setup('        retry: { max_attempts: 3, initial_interval_ms: 10 }\n');
    await until(() => events.some((e) => e.type === 'step.retrying'), clock);
    await clock.advance(10);
    const r = await settle(clock, run);
    assert.equal(r.status, 'succeeded');
    assert.equal(stepOf(r, 'ask').attempts, 2);
    assert.equal(seen.length, 2);
    assert.deepEqual(engine.getMetrics().providers.local!.failuresByStatus, { '500': 1 });
  });

  test('an answer slower than timeout_ms: timeout, and the request is aborted', async () => {
    handler = () => {}; // never answers
    const { clock, run } = setup('        timeout_ms: 100\n');
    await until(() => seen.length === 1, clock);
    await clock.advance(100);
    const r = await settle(clock, run);
    assert.equal(r.status, 'failed');
    assert.equal(stepOf(r, 'ask').errors[0]!.code, 'timeout');
    await closed[0]; // the server saw the connection go
  });

  test('401 is not retried', async () => {
    handler = (_q, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'invalid api key' } }));
    };
    const { clock, run } = setup('        retry: { max_attempts: 3, initial_interval_ms: 10 }\n');
    const r = await settle(clock, run);
    assert.equal(r.status, 'failed');
    assert.equal(seen.length, 1);
    assert.equal(stepOf(r, 'ask').attempts, 1);
    assert.equal(stepOf(r, 'ask').errors[0]!.status, 401);
    assert.match(String(stepOf(r, 'ask').errors[0]!.message), /invalid api key/);
  });
});
