/**
 * The model response cache: its key (a digest of the whole request, not of its secrets), hits
 * and misses through a wrapped executor, expiry, what an entry holds (never a key, a prompt or
 * a context), the disk store's bounds and its safety against concurrent writers, and the
 * manager's option, off in every preset.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { createTesting } from '../../../core/manager/factory.js';
import { ENVIRONMENTS, recommendConfiguration } from '../../../core/manager/presets.js';
import type { ProviderDef } from '../../../core/model/types.js';
import { createWorkspaceResponseCache, DiskResponseCacheStore } from '../../../core/workflow/diskResponseCache.js';
import type { StepExecutionRequest, StepExecutor } from '../../../core/workflow/executors.js';
import { createMockExecutor } from '../../../core/workflow/mockExecutor.js';
import { MemoryResponseCacheStore, ResponseCache, responseCacheKey, type CachedResponse } from '../../../core/workflow/responseCache.js';
import { systemClock } from '../../../core/clock.js';
import { tempWorkspace } from '../../helpers/paths.js';

const KEY = 'sk-test-0123456789abcdef';

function provider(over: Partial<ProviderDef> = {}): ProviderDef {
  return { name: 'local', nameNode: null as never, node: null as never, type: 'openai-compatible', baseUrl: 'http://127.0.0.1:1/v1', model: 'm', apiKeyEnv: 'PM_TEST_KEY', options: { temperature: 0.2, max_tokens: 50 }, ...over };
}
function request(prompt: string, p: ProviderDef = provider()): StepExecutionRequest {
  return { runId: 'r', composition: 'c', stepId: 's', attempt: 1, prompt, context: { secret_context: 'ctx-value' }, provider: p, signal: new AbortController().signal, clock: systemClock, env: (n) => (n === 'PM_TEST_KEY' ? KEY : undefined) };
}
function counting(answer: (req: StepExecutionRequest) => unknown = (r) => `answer to ${r.prompt}`): StepExecutor & { calls: number } {
  const e = {
    name: 'openai-compatible',
    calls: 0,
    async execute(req: StepExecutionRequest) {
      e.calls++;
      return answer(req);
    },
  };
  return e;
}

test('the key is a SHA-256 digest of the whole request: each part counts, key order and credentials do not', () => {
  const base = responseCacheKey('openai-compatible', request('hello'));
  assert.match(base, /^[0-9a-f]{64}$/);
  assert.equal(responseCacheKey('openai-compatible', request('hello', provider({ options: { max_tokens: 50, temperature: 0.2 } }))), base, 'field order');
  assert.equal(responseCacheKey('openai-compatible', request('hello', provider({ baseUrl: 'http://user:pw@127.0.0.1:1/v1' }))), base, 'credentials are not the endpoint');
  assert.equal(responseCacheKey('openai-compatible', request('hello', provider({ options: { temperature: 0.2, max_tokens: 50, timeout_ms: 5 } }))), base, 'timeout_ms is not sent');
  assert.equal(responseCacheKey('openai-compatible', request('hello', provider({ apiKeyEnv: 'OTHER' }))), base, 'the key is not part of the request');
  const different = [
    responseCacheKey('openai-compatible', request('hello!')),
    responseCacheKey('other-type', request('hello')),
    responseCacheKey('openai-compatible', request('hello', provider({ model: 'm2' }))),
    responseCacheKey('openai-compatible', request('hello', provider({ baseUrl: 'http://127.0.0.1:2/v1' }))),
    responseCacheKey('openai-compatible', request('hello', provider({ options: { temperature: 0.3, max_tokens: 50 } }))),
    responseCacheKey('openai-compatible', request('hello', provider({ type: 'acme' }))),
    responseCacheKey('openai-compatible', request('hello'), 1),
  ];
  assert.equal(new Set([base, ...different]).size, different.length + 1);
});

test('a wrapped executor answers a repeated request from the cache; failures are not kept; entries expire', async () => {
  let now = 1_000_000;
  const store = new MemoryResponseCacheStore();
  const cache = new ResponseCache({ store, ttlMs: 60_000, now: () => now });
  let fail = true;
  const inner = counting((r) => {
    if (fail) throw new Error('503');
    return `answer to ${r.prompt}`;
  });
  const exec = cache.wrap(inner);
  await assert.rejects(exec.execute(request('a')), /503/);
  fail = false;
  assert.equal(await exec.execute(request('a')), 'answer to a');
  assert.equal(await exec.execute(request('a')), 'answer to a');
  assert.equal(inner.calls, 2, 'the failure was not cached, the answer was');
  assert.deepEqual(cache.stats, { hits: 1, misses: 2, writes: 1, refused: 0, errors: 0 });
  now += 60_001;
  assert.equal(await exec.execute(request('a')), 'answer to a');
  assert.equal(inner.calls, 3, 'an expired entry is a miss');
  // `render` calls nothing: never cached.
  const render = { name: 'render', execute: async (r: StepExecutionRequest) => r.prompt };
  assert.equal(cache.wrap(render), render);
});

test('an entry holds the output and where it came from: never the API key, the prompt or the context', async () => {
  const store = new MemoryResponseCacheStore();
  const cache = new ResponseCache({ store });
  const p = provider({ baseUrl: `https://user:${KEY}@api.example/v1?api-key=${KEY}` });
  await cache.wrap(counting()).execute(request('the prompt text', p));
  const [entry] = [...(store as unknown as { entries: Map<string, CachedResponse> }).entries.values()];
  const text = JSON.stringify(entry);
  assert.ok(!text.includes(KEY), text);
  assert.ok(!text.includes('ctx-value'));
  assert.deepEqual(entry!.provider, { type: 'openai-compatible', model: 'm', baseUrl: 'https://***@api.example/v1?api-key=***' });
  // An answer that echoes the key is not stored.
  const echo = cache.wrap(counting(() => `your key is ${KEY}`));
  await echo.execute(request('other'));
  assert.equal(cache.stats.refused, 1);
  assert.equal(store.size, 1);
});

test('a store that fails never fails the call', async () => {
  const broken = { get: async () => Promise.reject(new Error('disk')), set: async () => Promise.reject(new Error('disk')) };
  const cache = new ResponseCache({ store: broken });
  assert.equal(await cache.wrap(counting()).execute(request('x')), 'answer to x');
  assert.equal(cache.stats.errors, 2);
});

test('the disk store: one file per entry, a corrupt file is a miss, the least recently used go past the bound', async () => {
  const dir = tempWorkspace({});
  const store = new DiskResponseCacheStore({ dir: path.join(dir, 'c'), maxEntries: 5 });
  const cache = new ResponseCache({ store });
  const inner = counting();
  const exec = cache.wrap(inner);
  for (let i = 0; i < 5; i++) await exec.execute(request(`p${i}`));
  // p0 is used again: it is now the most recent.
  await new Promise((r) => setTimeout(r, 20));
  await exec.execute(request('p0'));
  for (let i = 5; i < 8; i++) await exec.execute(request(`p${i}`));
  const files = fs.readdirSync(path.join(dir, 'c'), { recursive: true }).filter((f) => String(f).endsWith('.json'));
  assert.ok(files.length <= 5, `${files.length} entries`);
  const before = inner.calls;
  await exec.execute(request('p0'));
  assert.equal(inner.calls, before, 'the entry used last survived');
  // Cut a file in half: a miss, and the answer is asked again and stored whole.
  const key = responseCacheKey('openai-compatible', request('p7'));
  const file = path.join(dir, 'c', key.slice(0, 2), `${key}.json`);
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').slice(0, 20));
  await exec.execute(request('p7'));
  assert.equal(inner.calls, before + 1);
  assert.doesNotThrow(() => JSON.parse(fs.readFileSync(file, 'utf8')));
  await assert.rejects(store.get('../../etc/passwd'), /SHA-256/);
});

test('the disk store is safe against concurrent writers: whole entries only, no temporary file left', async () => {
  const dir = path.join(tempWorkspace({}), 'c');
  const stores = [0, 1, 2, 3].map(() => new DiskResponseCacheStore({ dir }));
  const big = 'x'.repeat(200_000);
  const key = responseCacheKey('openai-compatible', request('same'));
  const entry = (n: number): CachedResponse => ({ key, output: `${n}${big}`, createdAt: 1, expiresAt: Date.now() + 60_000, provider: {} });
  const reads: (CachedResponse | undefined)[] = [];
  await Promise.all([
    ...stores.flatMap((s, i) => [0, 1, 2, 3, 4].map((j) => s.set(entry(i * 10 + j)))),
    ...Array.from({ length: 40 }, async () => reads.push(await stores[0]!.get(key))),
  ]);
  for (const r of reads) if (r) assert.ok(String(r.output).endsWith(big), 'never half an entry');
  const final = await stores[1]!.get(key);
  assert.ok(final && String(final.output).endsWith(big));
  const left = fs.readdirSync(dir, { recursive: true }).map(String);
  assert.deepEqual(left.filter((f) => f.endsWith('.tmp')), []);
  assert.equal(left.filter((f) => f.endsWith('.json')).length, 1);
});

test("a workspace's cache lives in .promptmanager/responses/, which tells git and backup tools to leave it", async () => {
  const root = tempWorkspace({});
  const cache = createWorkspaceResponseCache(root);
  await cache.wrap(counting()).execute(request('x'));
  assert.equal(fs.readFileSync(path.join(root, '.promptmanager', '.gitignore'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).join(), '*');
  assert.match(fs.readFileSync(path.join(root, '.promptmanager', 'CACHEDIR.TAG'), 'utf8'), /^Signature: 8a477f597d28d172789f06886806bc55/);
  assert.equal(fs.readdirSync(path.join(root, '.promptmanager', 'responses'), { recursive: true }).filter((f) => String(f).endsWith('.json')).length, 1);
});

test("the manager's workflow.responseCache: on when given, off in every preset", async () => {
  for (const env of ENVIRONMENTS) assert.equal(recommendConfiguration(env).settings.responseCache, false, env);
  assert.match(recommendConfiguration('production').reasons.responseCache, /never on by default/);
  const compositionRules = {
    providers: { local: { type: 'openai-compatible', base_url: 'http://127.0.0.1:1/v1', model: 'm' } },
    compositions: { greet: { inputs: { required: ['name'] }, steps: [{ id: 'hello', template: 'hello', model: 'local' }] } },
  };
  const templates = { hello: 'Say hello to {{name}}.' };
  const run = async (responseCache?: ResponseCache) => {
    const model = createMockExecutor({ steps: { hello: 'Hello!' } });
    const m = await createTesting({ templates, compositionRules, workflow: { executors: [model], ...(responseCache ? { responseCache } : {}) } });
    for (let i = 0; i < 3; i++) assert.equal((await m.executeWorkflow('greet', { name: 'Ada' })).output, 'Hello!');
    await m.close();
    return model.calls.length;
  };
  assert.equal(await run(), 3, 'without a cache every run calls the model');
  const cache = new ResponseCache({ store: new MemoryResponseCacheStore() });
  assert.equal(await run(cache), 1, 'with one, the first run does');
  assert.equal(await run(cache), 0, 'and another manager sharing the store calls it no more');
});

test('the key is one-to-one with what is sent: fields differing past 64 levels, or only through toJSON, never share an answer', async () => {
  const deep = (leaf: unknown) => {
    let v: unknown = leaf;
    for (let i = 0; i < 70; i++) v = { a: v };
    return v;
  };
  const cache = new ResponseCache({ store: new MemoryResponseCacheStore() });
  const inner = counting((r) => `answer for ${JSON.stringify(r.provider!.options)}`);
  const exec = cache.wrap(inner);
  const one = await exec.execute(request('same', provider({ options: { extra: deep(1) } })));
  const two = await exec.execute(request('same', provider({ options: { extra: deep(2) } })));
  assert.notEqual(one, two, 'a request sent with 2 got the answer to the one sent with 1');
  assert.equal(inner.calls, 2);
  const d1 = await exec.execute(request('dated', provider({ options: { since: new Date(0) } })));
  const d2 = await exec.execute(request('dated', provider({ options: { since: new Date(1e12) } })));
  assert.notEqual(d1, d2, 'two dates sent as two texts shared one answer');
});

test('an entry the cache did not write is not served: no seal (planted in a repository), a seal under another key, insane times, no output', async () => {
  const now = 1_000_000_000;
  const store = new MemoryResponseCacheStore();
  const cache = new ResponseCache({ store, ttlMs: 60_000, now: () => now });
  const inner = counting();
  const exec = cache.wrap(inner);
  const key = responseCacheKey('openai-compatible', request('q'));
  const plant = async (e: Partial<CachedResponse>) => store.set({ key, output: 'POISONED', createdAt: now - 1000, expiresAt: now + 10_000, provider: {}, ...e } as CachedResponse);
  // The attacker knows the request (the repository is theirs) but not the key of whoever runs it.
  await plant({});
  assert.equal(await exec.execute(request('q')), 'answer to q', 'an unsealed entry was served to a provider with a key');
  const otherStore = new MemoryResponseCacheStore();
  const other = new ResponseCache({ store: otherStore, ttlMs: 60_000, now: () => now });
  await other.wrap(counting(() => 'POISONED')).execute({ ...request('q'), env: () => 'sk-the-attackers-own-key' });
  const sealedElsewhere = await otherStore.get(key);
  assert.ok(sealedElsewhere?.seal);
  await store.set(sealedElsewhere!);
  assert.equal(await exec.execute(request('q')), 'answer to q', 'an entry sealed under another key was served');
  // Its own entry is served; edited, it is not.
  await store.clear();
  await exec.execute(request('q'));
  assert.equal(await exec.execute(request('q')), 'answer to q');
  const calls = inner.calls;
  await exec.execute(request('q'));
  assert.equal(inner.calls, calls, 'its own sealed entry is a hit');
  const own = (await store.get(key))!;
  await store.set({ ...own, output: 'POISONED' });
  assert.equal(await exec.execute(request('q')), 'answer to q');
  for (const bad of [{ expiresAt: now + 10 * 365 * 86_400_000, createdAt: now }, { createdAt: now + 3_600_000 }, { output: undefined }, { expiresAt: Number.NaN }]) {
    await store.clear();
    const unsealed = new ResponseCache({ store, ttlMs: 60_000, now: () => now });
    await plant(bad);
    const keyless = { ...request('q', provider({ apiKeyEnv: undefined })) };
    const k2 = responseCacheKey('openai-compatible', keyless);
    const e = (await store.get(key))!;
    await store.set({ ...e, key: k2 });
    assert.equal(await unsealed.wrap(counting()).execute(keyless), 'answer to q', JSON.stringify(bad));
  }
});

test('an answer holding any 8-character piece of the key is not stored (a provider that echoes part of it)', async () => {
  const store = new MemoryResponseCacheStore();
  const cache = new ResponseCache({ store });
  for (const piece of [KEY.slice(0, 8), KEY.slice(-8), KEY.slice(5, 14)]) await cache.wrap(counting(() => `echo: ${piece}`)).execute(request(`p-${piece}`));
  assert.equal(cache.stats.refused, 3);
  assert.equal(store.size, 0);
});
