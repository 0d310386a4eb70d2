/**
 * The model response cache in Redis, where the distributed back end is used: the store on a
 * redis-server of the test's own (one key per answer under the same digest as on disk, Redis's
 * own expiry, bounded), and a manager on the BullMQ back end whose runs asked for the cache:
 * their model steps answer from it on the workers, and `manager.responseCache` is the same
 * cache, on the back end's connection.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { PromptManager } from '../../../core/manager/promptManager.js';
import { createWorkflowWorker } from '../../../core/manager/workflowWorker.js';
import { createRedisResponseCache, RedisResponseCacheStore } from '../../../core/distributed/redisResponseCache.js';
import { DEFAULT_RESPONSE_TTL_MS, responseCacheKey, type CachedResponse } from '../../../core/workflow/responseCache.js';
import type { StepExecutor } from '../../../core/workflow/executors.js';
import { redisMissingReason, startRedis, type TestRedis } from '../../helpers/redisServer.js';

const unavailable = redisMissingReason();
if (unavailable) console.log(`# the Redis response cache tests are skipped: ${unavailable}`);

const digest = (n: number) => n.toString(16).padStart(64, '0');
const entry = (n: number, output: unknown = `answer ${n}`): CachedResponse => ({ key: digest(n), output, createdAt: Date.now(), expiresAt: Date.now() + 60_000, provider: { type: 'mockllm', model: 'm' } });

describe('the response cache in Redis', { skip: unavailable ?? false }, () => {
  let redis: TestRedis;
  let client: Redis;
  before(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
  });
  after(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  test('one key per answer under its digest, expired by Redis after the time to live', async () => {
    const store = new RedisResponseCacheStore(client, { prefix: 'one' });
    await store.set(entry(1), 60_000);
    const got = await store.get(digest(1));
    assert.deepEqual([got?.key, got?.output, got?.provider], [digest(1), 'answer 1', { type: 'mockllm', model: 'm' }]);
    const ttl = await client.pttl(`one:responses:${digest(1)}`);
    assert.ok(ttl > 50_000 && ttl <= 60_000, `the key expires with the entry (PTTL ${ttl})`);
    await store.set(entry(2), 100);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(await store.get(digest(2)), undefined, 'gone after its time to live');
    assert.equal(await client.exists(`one:responses:${digest(2)}`), 0, 'Redis removed the key itself');
    assert.equal(await store.get(digest(3)), undefined, 'never stored: a miss');
  });

  test('what is not an entry is a miss, never an error; past the bounds the oldest go, and a large answer is not stored', async () => {
    const store = new RedisResponseCacheStore(client, { prefix: 'bounds', maxEntries: 3, maxEntryBytes: 2000 });
    await client.set(`bounds:responses:${digest(7)}`, 'not json {');
    assert.equal(await store.get(digest(7)), undefined);
    await client.set(`bounds:responses:${digest(8)}`, JSON.stringify(entry(9)));
    assert.equal(await store.get(digest(8)), undefined, 'an entry stored under another key is not used');
    for (let n = 10; n < 15; n++) await store.set(entry(n), 60_000);
    const kept = [];
    for (let n = 10; n < 15; n++) if (await store.get(digest(n))) kept.push(n);
    assert.deepEqual(kept, [12, 13, 14], 'at most 3: the oldest written went');
    await store.set(entry(20, 'x'.repeat(5000)), 60_000);
    assert.equal(await store.get(digest(20)), undefined, 'over maxEntryBytes: not stored');
    await store.clear();
    for (let n = 12; n < 15; n++) assert.equal(await store.get(digest(n)), undefined);
    assert.throws(() => store.keyOf('../../etc'), RangeError);
  });

  test('a ResponseCache over it: the same request twice asks the model once, from any client', async () => {
    let calls = 0;
    const model: StepExecutor = { name: 'mockllm', execute: async (req) => `reply ${++calls} to ${req.prompt}` };
    // A provider with a key: the entry carries its seal through Redis, and only that key's holder is served.
    const provider = { name: 'llm', type: 'mockllm', model: 'm', apiKeyEnv: 'LLM_KEY', options: {} } as never;
    const req = { prompt: 'hello', provider, env: () => 'sk-test-0123456789' } as never;
    const a = createRedisResponseCache(client, { prefix: 'shared' }).wrap(model);
    assert.equal(await a.execute(req), 'reply 1 to hello');
    // Another process's cache on another connection, the same Redis: the same digest.
    const other = new Redis(redis.url);
    try {
      const b = createRedisResponseCache(other, { prefix: 'shared' });
      assert.equal(await b.wrap(model).execute(req), 'reply 1 to hello');
      assert.equal(calls, 1);
      assert.deepEqual([b.stats.hits, b.stats.misses], [1, 0]);
      assert.equal(await client.exists(`shared:responses:${responseCacheKey('mockllm', req)}`), 1);
      const stored = JSON.parse((await client.get(`shared:responses:${responseCacheKey('mockllm', req)}`))!) as CachedResponse;
      assert.match(stored.seal ?? '', /^[0-9a-f]{64}$/, 'sealed under the key');
      const stranger = { ...(req as object), env: () => 'sk-other-9876543210' } as never;
      assert.equal(await b.wrap(model).execute(stranger), 'reply 2 to hello', 'another key: not served');
    } finally {
      other.disconnect();
    }
  });

  test('a manager on the BullMQ back end with responseCache: its runs answer from Redis on the workers; runs that did not ask call the model', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-rcache-'));
    fs.mkdirSync(path.join(dir, 'templates'));
    fs.writeFileSync(path.join(dir, 'composition_rules.yaml'), 'version: 1\nproviders:\n  llm: { type: mockllm, model: m }\ncompositions:\n  ask:\n    steps:\n      - { id: q, template: ask, model: llm }\n      - { id: r, template: wrap, depends_on: [q] }\n');
    fs.writeFileSync(path.join(dir, 'templates', 'ask.hbs'), 'question {{n}}');
    fs.writeFileSync(path.join(dir, 'templates', 'wrap.hbs'), 'wrapped {{steps.q.output}}');
    let calls = 0;
    const model: StepExecutor = { name: 'mockllm', execute: async (req) => `answer ${++calls} to ${req.prompt}` };
    const backend = { type: 'bullmq' as const, connection: { url: redis.url }, prefix: 'runs' };
    const worker = await createWorkflowWorker({ root: dir, backend, executors: [model], managerOptions: { watch: false } });
    const cached = await PromptManager.create({ root: dir, watch: false, workflow: { backend, executors: [model], responseCache: true } });
    const plain = await PromptManager.create({ root: dir, watch: false, workflow: { backend, executors: [model] } });
    try {
      const first = await cached.executeWorkflow('ask', { n: 1 });
      const second = await cached.executeWorkflow('ask', { n: 1 });
      assert.deepEqual([first.status, first.output, second.output], ['succeeded', 'wrapped answer 1 to question 1', 'wrapped answer 1 to question 1']);
      assert.equal(calls, 1, 'the second run answered from the cache');
      const keys = await client.keys('runs:responses:*');
      assert.equal(keys.length, 1, 'one answer, one key (render steps are never cached)');
      const ttl = await client.pttl(keys[0]!);
      assert.ok(ttl > DEFAULT_RESPONSE_TTL_MS - 60_000 && ttl <= DEFAULT_RESPONSE_TTL_MS, `a week's time to live (PTTL ${ttl})`);
      // The manager's cache is that one, on the back end's connection: what live prompt tests use.
      assert.equal(keys[0], `runs:responses:${responseCacheKey('mockllm', { prompt: 'question 1', provider: { name: 'llm', type: 'mockllm', model: 'm', options: {} } as never })}`);
      const hit = await cached.responseCache.wrap(model).execute({ prompt: 'question 1', provider: { name: 'llm', type: 'mockllm', model: 'm', options: {} }, env: () => undefined } as never);
      assert.deepEqual([hit, calls, cached.responseCache.stats.hits], ['answer 1 to question 1', 1, 1]);
      const uncached = await plain.executeWorkflow('ask', { n: 1 });
      assert.deepEqual([uncached.output, calls], ['wrapped answer 2 to question 1', 2], 'a run that did not ask for the cache calls the model');
    } finally {
      await cached.close();
      await plain.close();
      await worker.close(2000);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
