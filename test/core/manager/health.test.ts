/**
 * Health tells the truth: it judges only what the configuration asks for and can
 * be true (a hit-rate target with the cache off or declined by the auto cache is information,
 * not a fault), names where the engine really reads a provider's API key, and names the kind of
 * a provider failure (connection refused, timed out, server error 503, rate limited 429).
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { createTesting } from '../../../core/manager/factory.js';
import { PromptManager } from '../../../core/manager/promptManager.js';
import { PromptError } from '../../../core/errors.js';
import { memoryFileSystem } from '../../../core/workspace/fileSystem.js';
import { classifyProviderFailure, markProviderFailure } from '../../../core/workflow/providerFailure.js';
import { PROVIDER_DOWN_STREAK } from '../../../core/manager/engineWorkflowPort.js';
import { COMPOSITION_RULES, CONTEXT, ManualClock, SERVICE_MAPPINGS, TEMPLATES } from './fixtures.js';

/** A clock that moves 1 ms at every reading: a lookup (hash) and a render each measure 1 ms. */
function steppingClock() {
  let t = 0;
  return {
    now: () => (t += 1),
    setTimeout: (fn: () => void, ms: number): unknown => setTimeout(fn, ms).unref(),
    clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout),
  };
}

test('cache off: a hit-rate target is not judged, and the reason says so', async () => {
  // A clock that does not move: render times (judged against render_p95_ms) are 0 on any machine.
  const m = await createTesting({ templates: TEMPLATES, serviceMappings: SERVICE_MAPPINGS, compositionRules: COMPOSITION_RULES, clock: new ManualClock() });
  assert.equal(m.cacheMode, 'off', 'the testing preset has no result cache');
  for (let i = 0; i < 30; i++) await m.render('analysis/summary', CONTEXT, { serviceName: 'analysis_service' });
  const h = m.healthCheck();
  assert.equal(h.components.cache.status, 'healthy', h.components.cache.reason);
  assert.equal(h.components.cache.reason, 'result cache off: hit-rate targets not judged (analysis_service 0.5)');
  assert.equal(h.status, 'healthy');
  await m.close();
});

test('auto cache declined for the service\'s template: the target is information, not a fault', async () => {
  const m = await createTesting({
    templates: TEMPLATES,
    serviceMappings: SERVICE_MAPPINGS,
    compositionRules: COMPOSITION_RULES,
    clock: steppingClock(),
    cache: { mode: 'auto' },
  });
  // Every context new (no hits), hashing as costly as rendering: the probe gives up early.
  for (let i = 0; i < 40; i++) await m.render('analysis/summary', { ...CONTEXT, user_id: `u${i}` }, { serviceName: 'analysis_service' });
  assert.equal(m.getTemplateInfo('analysis/summary').cache.state, 'off');
  const h = m.healthCheck();
  assert.equal(h.components.cache.status, 'healthy', h.components.cache.reason);
  assert.match(
    h.components.cache.reason,
    /^result cache auto; hit-rate targets met where judged; analysis_service's target 0\.5 not judged: the auto cache does not cache analysis\/summary \(a lookup costs 1\.00 ms, a render 1\.00 ms, hit rate 0\.00\); a hit there would save less than the lookup costs; cache mode 'on' holds services to their targets$/,
  );
  assert.doesNotMatch(h.components.cache.reason, /below its target/);
  await m.close();
});

test('auto cache: a template whose renders all hit is kept cached, not turned off for want of a render measurement', async () => {
  const m = await createTesting({ templates: TEMPLATES, serviceMappings: SERVICE_MAPPINGS, compositionRules: COMPOSITION_RULES, clock: steppingClock(), cache: { mode: 'auto' } });
  for (let i = 0; i < 100; i++) await m.render('analysis/summary', CONTEXT, { serviceName: 'analysis_service' });
  assert.equal(m.getTemplateInfo('analysis/summary').cache.state, 'on');
  const h = m.healthCheck();
  assert.equal(h.components.cache.status, 'healthy', h.components.cache.reason);
  assert.equal(m.getMetrics().services.analysis_service!.cache.hitRate, 0.99);
  await m.close();
});

// ------------------------------------------------------------------------------------------
// Providers

const RULES = (baseUrl: string, extra = '') => `version: 1
providers:
  llm:
    type: openai-compatible
    base_url: ${baseUrl}
    model: m
    api_key_env: PM_HEALTH_TEST_KEY
  spare:
    type: openai-compatible
    base_url: ${baseUrl}
    model: m
    api_key_env: PM_HEALTH_TEST_UNUSED_KEY
compositions:
  ask:
    retry: { max_attempts: 1 }
    steps:
      - id: answer
        template: a
        model: llm${extra}
`;

async function manager(baseUrl: string, workflow: NonNullable<Parameters<typeof PromptManager.create>[0]['workflow']> = {}, extra = '') {
  const root = path.resolve('/pm-health-test');
  return PromptManager.create({
    root,
    environment: 'testing',
    watch: false,
    fs: memoryFileSystem({ [path.join(root, 'templates', 'a.hbs')]: 'Say hi', [path.join(root, 'composition_rules.yaml')]: RULES(baseUrl, extra) }),
    workflow,
  });
}

let server: Server;
let base: string;
let answer: (res: ServerResponse) => void;
before(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => answer(res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});
const ok = (res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ choices: [{ message: { role: 'assistant', content: 'hi' } }] }));
};
const status = (code: number, headers: Record<string, string> = {}) => (res: ServerResponse) => {
  res.writeHead(code, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ error: { message: `status ${code}` } }));
};

test('the API key is looked for where the engine reads it: workflow.env, else process.env, and named so', async () => {
  delete process.env.PM_HEALTH_TEST_KEY;
  const viaEnv = await manager(base, { env: (name) => (name === 'PM_HEALTH_TEST_KEY' ? 'k-123456' : undefined) });
  let h = viaEnv.healthCheck();
  assert.equal(h.components.providers.status, 'healthy', h.components.providers.reason);
  assert.equal(h.components.providers.reason, 'provider llm: API key PM_HEALTH_TEST_KEY from workflow.env; used by no step: spare');
  await viaEnv.close();

  const lacking = await manager(base, { env: () => undefined });
  h = lacking.healthCheck();
  assert.equal(h.components.providers.status, 'degraded');
  assert.match(h.components.providers.reason, /^provider llm: API key PM_HEALTH_TEST_KEY is not set in workflow\.env, so its model steps will fail/);
  await lacking.close();

  const plain = await manager(base);
  assert.match(plain.healthCheck().components.providers.reason, /^provider llm: API key PM_HEALTH_TEST_KEY is not set in process\.env/);
  process.env.PM_HEALTH_TEST_KEY = 'k-from-process';
  try {
    h = plain.healthCheck();
    assert.equal(h.components.providers.status, 'healthy');
    assert.match(h.components.providers.reason, /^provider llm: API key PM_HEALTH_TEST_KEY from process\.env/);
    assert.doesNotMatch(JSON.stringify(h), /k-from-process/, 'never the key itself');
  } finally {
    delete process.env.PM_HEALTH_TEST_KEY;
  }
  await plain.close();
});

const withKey = { env: (name: string) => (name === 'PM_HEALTH_TEST_KEY' ? 'k-123456' : undefined) };

test('a refused connection reads "connection refused", not "none"', async () => {
  // A port that was just free: nothing listens there.
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const m = await manager(`http://127.0.0.1:${port}/v1`, withKey);
  for (let i = 0; i < 3; i++) assert.equal((await m.executeWorkflow('ask')).status, 'failed');
  const h = m.healthCheck();
  assert.equal(h.components.providers.status, 'degraded');
  assert.equal(
    h.components.providers.reason,
    'provider llm: API key PM_HEALTH_TEST_KEY from workflow.env, the last 3 calls failed (the last: connection refused); 3 of 3 calls failed in all (3x connection refused); used by no step: spare',
  );
  assert.deepEqual(m.getWorkflowMetrics()!.providers.llm!.failuresByKind, { connection_refused: 3 });
  await m.close();
});

test('HTTP failures by kind with their status; a provider that answers again is healthy, its past failures told', async () => {
  const m = await manager(base, withKey);
  const seq = [status(503), status(503), status(429, { 'retry-after': '0' }), status(401), ok];
  for (const a of seq) {
    answer = a;
    await m.executeWorkflow('ask');
  }
  const p = m.getWorkflowMetrics()!.providers.llm!;
  assert.deepEqual(p.failuresByKind, { server_error: 2, rate_limited: 1, auth: 1 });
  const h = m.healthCheck();
  assert.equal(h.components.providers.status, 'healthy', h.components.providers.reason);
  assert.match(h.components.providers.reason, /provider llm: API key PM_HEALTH_TEST_KEY from workflow\.env, 5 calls, the last succeeded; 4 of 5 calls failed in all \(2x server error 503, 1x rate limited 429, 1x key refused 401\)/);
  await m.close();
});

test(`a step that times out reads "timed out"; ${PROVIDER_DOWN_STREAK} failures in a row make the provider unhealthy`, async () => {
  const m = await manager(base, withKey, '\n        timeout_ms: 50');
  answer = () => {}; // never answers
  for (let i = 0; i < PROVIDER_DOWN_STREAK; i++) assert.equal((await m.executeWorkflow('ask')).status, 'failed');
  const h = m.healthCheck();
  assert.equal(h.components.providers.status, 'unhealthy');
  assert.match(h.components.providers.reason, new RegExp(`the last ${PROVIDER_DOWN_STREAK} calls failed \\(the last: timed out\\); ${PROVIDER_DOWN_STREAK} of ${PROVIDER_DOWN_STREAK} calls failed in all \\(${PROVIDER_DOWN_STREAK}x timed out\\)`));
  server.closeAllConnections();
  await m.close();
});

test('classifying failures of any executor: marks, codes, statuses, and the cause chain', () => {
  const cause = (code: string) => new PromptError('provider_error', 'x', { cause: Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error(code), { code }) }) });
  assert.equal(classifyProviderFailure(cause('ECONNREFUSED')), 'connection_refused');
  assert.equal(classifyProviderFailure(cause('ENOTFOUND')), 'dns');
  assert.equal(classifyProviderFailure(cause('ECONNRESET')), 'connection_reset');
  assert.equal(classifyProviderFailure(cause('UND_ERR_HEADERS_TIMEOUT')), 'timeout');
  assert.equal(classifyProviderFailure(cause('CERT_HAS_EXPIRED')), 'tls');
  assert.equal(classifyProviderFailure(new PromptError('provider_error', 'x', { status: 502 })), 'server_error');
  assert.equal(classifyProviderFailure(new PromptError('provider_error', 'x', { status: 429 })), 'rate_limited');
  assert.equal(classifyProviderFailure(new PromptError('provider_error', 'x', { status: 400 })), 'client_error');
  assert.equal(classifyProviderFailure(new PromptError('provider_error', 'x', { status: 200 })), 'malformed_response');
  assert.equal(classifyProviderFailure(new PromptError('timeout', 'x')), 'timeout');
  // An SDK's own error (status on the error a custom executor threw, wrapped by the engine).
  assert.equal(classifyProviderFailure(new PromptError('provider_error', 'x', { cause: Object.assign(new Error('overloaded'), { status: 529 }) })), 'server_error');
  assert.equal(classifyProviderFailure(markProviderFailure(new PromptError('provider_error', 'x'), 'not_sent')), 'not_sent');
  assert.equal(classifyProviderFailure(new PromptError('provider_error', 'x')), 'other');
});
