/**
 * Provider calls against real HTTP servers on 127.0.0.1: `Retry-After` read as
 * RFC 9110 says; the provider's `timeout_ms` enforced (60 s by default) and never sent;
 * answers bounded while they stream; step outputs and the run history bounded; secrets
 * redacted before any cut, URL credentials included; redirects never carry the prompt to
 * another origin nor turn the POST into a GET.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FakeClock, systemClock } from '../../../core/clock.js';
import { PromptError } from '../../../core/errors.js';
import { configureLimits, resetLimits } from '../../../core/limits.js';
import type { ProviderDef } from '../../../core/model/types.js';
import { createDefaultExecutors, ExecutorRegistry } from '../../../core/workflow/executors.js';
import { createOpenAICompatibleExecutor, parseRetryAfter } from '../../../core/workflow/openaiCompatible.js';
import { isRetryable } from '../../../core/workflow/retry.js';
import { resolveRetry } from '../../../core/workflow/resolve.js';
import { composition, finish, loadRules, makeEngine, settle, stepOf, until } from './helpers.js';

const KEY = 'sk-PIECES-0123456789abcdefXYZ';
const PASSWORD = 'pw-SECRET-9f8e7d6c5b4a';

interface Seen {
  method: string;
  url: string;
  auth: string | undefined;
  body: string;
}
type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

/** A local HTTP server that records what it receives. */
class TestServer {
  server!: Server;
  base = '';
  origin = '';
  handler: Handler = (_q, res) => ok(res);
  seen: Seen[] = [];
  closed: Promise<void>[] = [];
  async start() {
    this.server = createServer((req, res) => {
      let data = '';
      req.on('data', (c) => (data += c));
      req.on('end', () => {
        this.seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, body: data });
        this.closed.push(new Promise((r) => res.on('close', () => r())));
        this.handler(req, res, this.seen.length);
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.base = `${this.origin}/v1`;
  }
  stop() {
    this.server.closeAllConnections();
    this.server.close();
  }
}

const ok = (res: ServerResponse, content = 'the answer') => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ choices: [{ message: { role: 'assistant', content } }] }));
};

const main = new TestServer();
const other = new TestServer();
before(async () => {
  await main.start();
  await other.start();
});
after(() => {
  main.stop();
  other.stop();
});
beforeEach(() => {
  main.seen = [];
  main.closed = [];
  other.seen = [];
  main.handler = (_q, res) => ok(res);
  other.handler = (_q, res) => ok(res, 'from the other origin');
});
afterEach(() => resetLimits());

function provider(over: Partial<ProviderDef> = {}): ProviderDef {
  return { name: 'local', type: 'openai-compatible', baseUrl: main.base, model: 'm', apiKeyEnv: 'TEST_KEY', options: {}, ...over } as ProviderDef;
}

function request(p: ProviderDef, signal = new AbortController().signal) {
  return { runId: 'r', composition: 'c', stepId: 's', attempt: 1, prompt: 'Say hi', context: {}, provider: p, signal, clock: systemClock, env: (n: string) => (n === 'TEST_KEY' ? KEY : undefined) };
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

/** Every piece of a secret at least 8 characters long. */
function pieces(secret: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 8 <= secret.length; i++) out.push(secret.slice(i, i + 8));
  return out;
}
function assertNoPiece(text: string, secret: string, what: string) {
  const found = pieces(secret).filter((p) => text.includes(p));
  assert.deepEqual(found, [], `${what} shows part of the secret: ${text}`);
}

/** A run of one provider step on the fake clock, against `main`. */
function setup(providerYaml: string, stepYaml = '', compYaml = '') {
  const rules = loadRules(`version: 1
providers:
  local:
    type: openai-compatible
    base_url: ${main.base}
    model: m
    api_key_env: TEST_KEY
${providerYaml}compositions:
  c:
${compYaml}    steps:
      - id: ask
        template: t/ask
        model: local
${stepYaml}`);
  const clock = new FakeClock();
  const { engine, events } = makeEngine({ clock, providers: rules.providers, executors: createDefaultExecutors(), env: (n) => (n === 'TEST_KEY' ? KEY : undefined), templates: { 't/ask': 'Question: {{q}}' } });
  const run = engine.execute(composition(rules, 'c'), rules.defaults, { q: 'why?' });
  return { engine, clock, run, events };
}

// ------------------------------------------------------------------ 12.6 Retry-After

describe('Retry-After as RFC 9110 reads it (12.6)', () => {
  test('delay-seconds (digits only) or an HTTP-date in its three forms; anything else is ignored', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    const cases: [string, number | undefined][] = [
      ['120', 120_000],
      [' 5 ', 5_000],
      ['0', 0],
      ['Wed, 01 Jan 2025 00:00:05 GMT', 5_000],
      ['Wednesday, 01-Jan-25 00:00:07 GMT', 7_000],
      ['Wed Jan  1 00:00:09 2025', 9_000],
      ['Tue, 31 Dec 2024 23:59:00 GMT', 0], // past: no wait of its own
      ['-5', undefined],
      ['1.5', undefined],
      ['5s', undefined],
      ['+5', undefined],
      ['', undefined],
      ['soon', undefined],
      ['2099-01-01', undefined], // Date.parse reads it; RFC 9110 does not
      ['Jan 1 2099', undefined],
      ['Thu, 31 Feb 2099 00:00:00 GMT', undefined],
      ['Wed, 01 Jan 2025 25:00:00 GMT', undefined],
    ];
    const got = cases.map(([v]) => [v, parseRetryAfter(v, now)]);
    assert.deepEqual(got, cases);
    assert.equal(parseRetryAfter('Thu, 01 Jan 2099 00:00:00 GMT', now), Date.parse('2099-01-01T00:00:00Z') - now);
  });

  test('a negative, fractional or garbage Retry-After gets the policy\'s backoff, not an immediate retry', async () => {
    for (const header of ['-5', 'soon', '1.5', 'Sat, 99 Foo 2099']) {
      main.handler = (_q, res, n) => {
        if (n === 1) {
          res.writeHead(429, { 'retry-after': header });
          res.end();
        } else ok(res, 'finally');
      };
      main.seen = [];
      const { clock, run, events } = setup('', '        retry: { max_attempts: 2, initial_interval_ms: 500 }\n');
      await until(() => events.some((e) => e.type === 'step.retrying'), clock);
      const ev = events.find((e) => e.type === 'step.retrying')!;
      assert.equal(ev.type === 'step.retrying' && ev.waitMs, 500, header);
      await clock.advance(499);
      assert.equal(main.seen.length, 1, `${header}: not before the backoff`);
      await clock.advance(1);
      const r = await settle(clock, run);
      assert.equal(r.status, 'succeeded', header);
    }
  });

  test('Retry-After: 3000000 and an HTTP-date in 2099 fail the step at once, saying why', async () => {
    for (const header of ['3000000', 'Thu, 01 Jan 2099 00:00:00 GMT']) {
      main.handler = (_q, res) => {
        res.writeHead(429, { 'retry-after': header });
        res.end('{"error": {"message": "quota exhausted"}}');
      };
      main.seen = [];
      const { clock, run, events } = setup('', '        retry: { max_attempts: 3, initial_interval_ms: 500 }\n');
      const r = await settle(clock, run);
      assert.equal(main.seen.length, 1, header);
      assert.ok(!events.some((e) => e.type === 'step.retrying'), `${header}: no retry was planned`);
      const err = stepOf(r, 'ask').errors[0]!;
      assert.equal(err.status, 429);
      assert.match(String(err.message), /quota exhausted; not retried: the provider asked to wait [\d.]+ days \(Retry-After\), longer than the 10 min a step waits at most \(maxRetryAfterMs\)/, header);
    }
  });
});

// ------------------------------------------------------------------ 12.7 provider calls

describe('provider calls: timeout, size (12.7)', () => {
  test('timeout_ms is the engine\'s: never sent in the request body', async () => {
    const { clock, run } = setup('    timeout_ms: 5000\n    temperature: 0.2\n');
    const r = await settle(clock, run);
    assert.equal(r.status, 'succeeded');
    const body = JSON.parse(main.seen[0]!.body);
    assert.deepEqual(Object.keys(body).sort(), ['messages', 'model', 'temperature']);
    // Nor from options built by hand.
    await createOpenAICompatibleExecutor().execute(request(provider({ options: { timeout_ms: 5, timeoutMs: 5, max_tokens: 3 } })));
    assert.deepEqual(Object.keys(JSON.parse(main.seen[1]!.body)).sort(), ['max_tokens', 'messages', 'model']);
  });

  test('a provider silent past its timeout_ms: the call fails with timeout and the request is aborted', async () => {
    main.handler = () => {}; // never answers
    const { clock, run } = setup('    timeout_ms: 200\n');
    await until(() => main.seen.length === 1, clock);
    await clock.advance(199);
    assert.equal(run.status().status, 'running');
    await clock.advance(1);
    const r = await settle(clock, run);
    const err = stepOf(r, 'ask').errors[0]!;
    assert.equal(err.code, 'timeout');
    assert.match(String(err.message), /provider "local" did not answer step "ask" \(attempt 1\) within its timeout_ms of 200 ms/);
    await main.closed[0]; // the server saw the connection go
  });

  test('without timeout_ms a silent provider times out after 60 s, as the schema says', async () => {
    main.handler = () => {};
    const { clock, run } = setup('');
    await until(() => main.seen.length === 1, clock);
    await clock.advance(59_999);
    assert.equal(run.status().status, 'running');
    await clock.advance(1);
    const r = await settle(clock, run);
    assert.equal(stepOf(r, 'ask').errors[0]!.code, 'timeout');
    assert.match(String(stepOf(r, 'ask').errors[0]!.message), /timeout_ms of 60000 ms/);
    await main.closed[0];
  });

  test('an answer larger than maxProviderResponseBytes is cut off while it streams: provider_error', async () => {
    configureLimits({ maxProviderResponseBytes: 1024 * 1024 });
    let written = 0;
    let gone = false;
    main.handler = (_q, res) => {
      res.on('close', () => (gone = true));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"choices": [{"message": {"content": "');
      const chunk = 'x'.repeat(64 * 1024);
      const pump = () => {
        while (!gone && written < 32 * 1024 * 1024) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        if (!gone) res.end('"}}]}');
      };
      pump();
    };
    const e = await caught(createOpenAICompatibleExecutor().execute(request(provider())));
    assert.equal(e.code, 'provider_error');
    assert.match(e.message, /answered more than maxProviderResponseBytes \(1048576 bytes\); the read was stopped/);
    await main.closed[0];
    assert.ok(written < 16 * 1024 * 1024, `the server wrote ${written} bytes before the client let go`);
    // A declared Content-Length past the limit is refused before reading.
    main.handler = (_q, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(64 * 1024 * 1024) });
      res.write('{');
    };
    const d = await caught(createOpenAICompatibleExecutor().execute(request(provider())));
    assert.match(d.message, /more than maxProviderResponseBytes \(1048576 bytes: it announced 67108864\)/);
    // Per executor, too.
    main.handler = (_q, res) => ok(res, 'y'.repeat(5000));
    assert.match((await caught(createOpenAICompatibleExecutor({ maxResponseBytes: 1000 }).execute(request(provider())))).message, /1000 bytes/);
  });

  test('a step output longer than maxStepOutputChars fails with limit_exceeded; history keeps at most maxHistoryOutputChars of outputs', async () => {
    configureLimits({ maxStepOutputChars: 1000, maxHistoryOutputChars: 1000 });
    const rules = loadRules(`version: 1
compositions:
  c:
    inputs: { required: [n] }
    steps:
      - { id: a, template: t/a }
`);
    const executor = { name: 'render', execute: (req: { context: Record<string, unknown> }) => Promise.resolve('z'.repeat(Number(req.context.n))) };
    const { engine, clock } = makeEngine({ executors: new ExecutorRegistry([executor]) });
    const big = await finish(clock, engine.execute(composition(rules, 'c'), rules.defaults, { n: 1001 }));
    assert.equal(stepOf(big, 'a').status, 'failed');
    assert.equal(stepOf(big, 'a').errors[0]!.code, 'limit_exceeded');
    assert.match(String(stepOf(big, 'a').errors[0]!.message), /output of 1001 characters, more than maxStepOutputChars \(1000\)/);
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await finish(clock, engine.execute(composition(rules, 'c'), rules.defaults, { n: 300 })));
    // Each run holds 600 characters (the step's output and the run's): the oldest runs lose theirs.
    assert.equal(runs[0]!.outputs.a, 'z'.repeat(300), 'the caller got its result whole');
    const statuses = runs.map((r) => engine.getStatus(r.id)!);
    assert.deepEqual(statuses.map((s) => [s.status, s.outputsDropped ?? false, s.outputs.a === undefined, s.output === null]), [
      ['succeeded', true, true, true],
      ['succeeded', true, true, true],
      ['succeeded', false, false, false],
    ]);
    assert.equal(statuses[0]!.steps[0]!.output, null);
  });
});

test('outputs dropped from the history are freed, not only hidden (12.7)', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  configureLimits({ maxHistoryOutputChars: 10_000 });
  const rules = loadRules(`version: 1
compositions:
  c:
    steps:
      - { id: a, template: t/a }
`);
  let last: WeakRef<object> | undefined;
  const executor = {
    name: 'render',
    execute: () => {
      const out = { text: 'w'.repeat(8_000) };
      last = new WeakRef(out);
      return Promise.resolve(out);
    },
  };
  const { engine, clock } = makeEngine({ executors: new ExecutorRegistry([executor]) });
  // Run in a function of its own, so that this test keeps no reference to the result.
  const runOnce = async () => {
    await finish(clock, engine.execute(composition(rules, 'c'), rules.defaults, {}));
    return last!;
  };
  const first = await runOnce();
  await runOnce(); // 2 x 8,000 characters (and the run's output of as many) > 10,000: the first run's go
  for (let i = 0; i < 5 && first.deref(); i++) {
    await new Promise((r) => setImmediate(r));
    gc();
  }
  assert.equal(first.deref(), undefined, 'the first run\'s output is still reachable');
  assert.equal(engine.listRuns().length, 2, 'both runs stay in the history');
});

// ------------------------------------------------------------------ 12.8 secrets and redirects

describe('secrets and redirects (12.8)', () => {
  test('an error body is redacted before it is cut: no 8-character piece of the key is left', async () => {
    for (const pad of [280, 290, 295, 299]) {
      main.handler = (_q, res) => {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'x'.repeat(pad) + ' ' + KEY + ' tail' } }));
      };
      const e = await caught(createOpenAICompatibleExecutor().execute(request(provider())));
      assertNoPiece(e.message, KEY, `401 with ${pad} characters before the key`);
      assertNoPiece(JSON.stringify(e.toJSON()), KEY, 'its JSON');
    }
    for (const pad of [70, 85, 95]) {
      main.handler = (_q, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"choices": [' + 'y'.repeat(pad) + KEY);
      };
      const e = await caught(createOpenAICompatibleExecutor().execute(request(provider())));
      assert.match(e.message, /malformed JSON/);
      assertNoPiece(e.message, KEY, `malformed JSON with ${pad} characters before the key`);
    }
    // A server that echoes only a piece of the key (a prefix, a middle part).
    main.handler = (_q, res) => ok(res, `you sent ${KEY.slice(0, 12)} and ${KEY.slice(9, 20)}`);
    assertNoPiece(String(await createOpenAICompatibleExecutor().execute(request(provider()))), KEY, 'an answer');
  });

  test('credentials in base_url are sent as Basic authentication and never shown', async () => {
    const withCreds = main.base.replace('http://', `http://user:${PASSWORD}@`);
    main.handler = (q, res) => {
      res.writeHead(500, `Broken ${q.headers.authorization}`, { 'content-type': 'text/plain' });
      res.end(`you sent ${q.headers.authorization} (${Buffer.from(String(q.headers.authorization).slice(6), 'base64').toString()})`);
    };
    const e = await caught(createOpenAICompatibleExecutor().execute(request(provider({ baseUrl: withCreds, apiKeyEnv: undefined }))));
    assert.equal(main.seen[0]!.auth, `Basic ${Buffer.from(`user:${PASSWORD}`).toString('base64')}`);
    assert.equal(e.status, 500);
    assertNoPiece(e.message, PASSWORD, 'a 500');
    // A connection refused, and a base_url that is not a URL, name the address without the password.
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const refused = await caught(createOpenAICompatibleExecutor().execute(request(provider({ baseUrl: `http://user:${PASSWORD}@127.0.0.1:${port}/v1`, apiKeyEnv: undefined }))));
    assert.match(refused.message, /ECONNREFUSED/);
    assertNoPiece(refused.message, PASSWORD, 'a refused connection');
    const bad = await caught(createOpenAICompatibleExecutor().execute(request(provider({ baseUrl: `http://user:${PASSWORD}@[::1`, apiKeyEnv: undefined }))));
    assert.match(bad.message, /not a URL/);
    assertNoPiece(bad.message, PASSWORD, 'a malformed base_url');
  });

  test('a 307 to another origin is an error: the prompt is not re-posted there', async () => {
    main.handler = (_q, res) => {
      res.writeHead(307, { location: `${other.base}/chat/completions?token=abc` });
      res.end();
    };
    const e = await caught(createOpenAICompatibleExecutor().execute(request(provider())));
    assert.equal(other.seen.length, 0, 'nothing reached the other origin');
    assert.match(e.message, new RegExp(`redirected the request \\(307\\) to ${other.origin}/v1/chat/completions\\?token=\\*\\*\\*, outside base_url's origin`));
    assert.equal(isRetryable(e, resolveRetry({ maxAttempts: 3 })), false);
  });

  test('a 301/302/303 is an error: the POST never becomes a GET', async () => {
    for (const status of [301, 302, 303]) {
      main.seen = [];
      main.handler = (q, res) => {
        if (q.method === 'GET') return ok(res, 'a GET answer');
        res.writeHead(status, { location: '/v1/elsewhere' });
        res.end();
      };
      const e = await caught(createOpenAICompatibleExecutor().execute(request(provider())));
      assert.deepEqual(main.seen.map((s) => s.method), ['POST'], `${status}: no GET followed`);
      assert.match(e.message, new RegExp(`answered ${status} \\(a redirect to ${main.origin}/v1/elsewhere\\), which would turn the POST into a GET`));
    }
  });

  test('a 307/308 within the origin is followed with the same POST, a few times at most', async () => {
    main.handler = (q, res) => {
      if (q.url === '/v1/chat/completions') {
        res.writeHead(308, { location: '/v2/chat/completions' });
        return void res.end();
      }
      ok(res, 'moved');
    };
    assert.equal(await createOpenAICompatibleExecutor().execute(request(provider())), 'moved');
    assert.deepEqual(main.seen.map((s) => [s.method, s.url, s.auth]), [
      ['POST', '/v1/chat/completions', `Bearer ${KEY}`],
      ['POST', '/v2/chat/completions', `Bearer ${KEY}`],
    ]);
    assert.equal(main.seen[1]!.body, main.seen[0]!.body);
    main.handler = (_q, res) => {
      res.writeHead(307, { location: '/v1/chat/completions' });
      res.end();
    };
    assert.match((await caught(createOpenAICompatibleExecutor().execute(request(provider())))).message, /redirected the request more than 5 times/);
  });
});
