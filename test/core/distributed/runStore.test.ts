/**
 * The distributed run's state in Redis, at the level of its Lua script: the readiness of a
 * dependent is decided atomically (siblings finishing at the same instant on different
 * connections release their join exactly once), a finished step cannot be claimed or finished
 * again, and the provider limits' own pieces (the token bucket, the rate window, the ranks).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { resolveComposition } from '../../../core/workflow/resolve.js';
import { RunStore, type RunSpec } from '../../../core/distributed/runStore.js';
import { runInit } from '../../../core/distributed/enqueue.js';
import { priorityRanks } from '../../../core/distributed/jobs.js';
import { rateWindow, TokenBuckets } from '../../../core/distributed/providerLimits.js';
import type { ProviderDef } from '../../../core/model/types.js';
import { redisMissingReason, startRedis, type TestRedis } from '../../helpers/redisServer.js';
import { composition, loadRules } from '../workflow/helpers.js';

test('rate windows spread requests_per_minute over the shortest window that holds one job', () => {
  assert.deepEqual(rateWindow(600), { max: 10, duration: 1000 });
  assert.deepEqual(rateWindow(30), { max: 1, duration: 2000 });
  assert.deepEqual(rateWindow(90), { max: 1, duration: 667 });
  assert.deepEqual(rateWindow(6000), { max: 100, duration: 1000 });
});

test("BullMQ priorities: within a run the longest remaining path first, ties in declaration order", () => {
  assert.deepEqual(priorityRanks([3, 1, 2, 3]), [1, 4, 3, 2]);
});

const unavailable = redisMissingReason();
if (unavailable) console.log(`# the run store tests on Redis are skipped: ${unavailable}`);

describe('the run state in Redis', { skip: unavailable ?? false }, () => {
  let redis: TestRedis;
  const clients: Redis[] = [];
  before(async () => {
    redis = await startRedis();
    for (let i = 0; i < 8; i++) clients.push(new Redis(redis.url));
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    await redis?.stop();
  });

  const fan = 8;
  const rules = loadRules(
    `version: 1\ncompositions:\n  j:\n    steps:\n${Array.from({ length: fan }, (_, i) => `      - { id: s${i}, template: t }\n`).join('')}      - { id: join, template: t, when: { path: go, equals: true }, depends_on: [${Array.from({ length: fan }, (_, i) => `s${i}`).join(', ')}] }\n`,
  );
  const spec = (id: string): RunSpec => ({
    v: 1,
    id,
    composition: resolveComposition(composition(rules, 'j'), rules.defaults, {}),
    input: {},
    maxParallel: null,
    pin: 'p',
    priority: Array.from({ length: fan + 1 }, () => 1),
    startedBy: 'test',
  });

  test('siblings finishing at the same instant on different connections release their join exactly once', async () => {
    const stores = clients.map((c) => new RunStore(c, 'rs'));
    for (let r = 0; r < 40; r++) {
      const s = spec(`run${r}`);
      const created = await stores[0]!.create(s, runInit(s, 'rs'));
      assert.equal(created.kind, 'ok');
      if (created.kind !== 'ok') return;
      assert.deepEqual(created.toDecide, [], 'steps without a `when` need no decision');
      assert.deepEqual(created.dispatched, Array.from({ length: fan }, (_, i) => i), 'every sibling got a slot at once');
      await Promise.all(stores.map((st, i) => st.claim(s.id, i, 1)));
      const done = await Promise.all(stores.map((st, i) => st.complete(s.id, i, 'succeeded', `o${i}`, undefined, [])));
      const released = done.flatMap((d) => (d.kind === 'ok' ? d.toDecide : []));
      assert.deepEqual(released, [fan], `run ${r}: the join (it has a \`when\`) is released once, by whichever sibling finished last`);
      assert.deepEqual(done.flatMap((d) => (d.kind === 'ok' ? d.dispatched : [])), [], 'nothing is dispatched while a step waits for its decision');
      const join = await stores[1]!.settle(s.id, [[fan, 'ready']]);
      assert.ok(join.kind === 'ok' && join.dispatched.length === 1 && join.dispatched[0] === fan);
      const again = await stores[2]!.settle(s.id, [[fan, 'ready']]);
      assert.ok(again.kind === 'ok' && again.dispatched.length === 0, 'a second decision of the same step dispatches nothing');
    }
  });

  test('a finished step answers `done` to a claim, `stale` to a second finish; the run ends once', async () => {
    const st = new RunStore(clients[0]!, 'rs2');
    const s = spec('once');
    const c = await st.create(s, runInit(s, 'rs2'));
    assert.ok(c.kind === 'ok');
    for (let i = 0; i < fan; i++) {
      assert.equal((await st.claim(s.id, i, 1)).kind, 'ok');
      assert.equal((await st.complete(s.id, i, 'succeeded', i, undefined, [])).kind, 'ok');
      assert.equal((await st.claim(s.id, i, 1)).kind, 'done');
      assert.equal((await st.complete(s.id, i, 'succeeded', 'twice', undefined, [])).kind, 'stale');
    }
    await st.settle(s.id, [[fan, 'ready']]);
    await st.claim(s.id, fan, 1);
    const last = await st.complete(s.id, fan, 'succeeded', 'j', undefined, []);
    assert.ok(last.kind === 'ok' && last.finishing === 'succeeded');
    assert.equal(await st.finalize(s.id, 'succeeded', 'out', undefined), true);
    assert.equal(await st.finalize(s.id, 'succeeded', 'again', undefined), false);
    assert.equal(await st.stop(s.id, 'cancelled', { code: 'cancelled', message: 'late' }), false);
    const status = await st.read(s.id);
    assert.equal(status!.status, 'succeeded');
    assert.equal(status!.output, 'out');
    assert.equal(status!.outputs.s3, 3, 'outputs keep their JSON type');
    const events = await clients[0]!.xrange(`rs2:run:{once}:events`, '-', '+');
    assert.equal(events.filter(([, f]) => f[1]!.includes('"workflow.finished"')).length, 1);
  });

  test('the token bucket of tokens_per_minute takes what there is and says how long to wait for the rest', async () => {
    const buckets = new TokenBuckets(clients[0]!, 'tb');
    const p = { name: 'llm', tokensPerMinute: 600 } as ProviderDef;
    assert.equal(await buckets.admit(p, 500), 0);
    const wait = await buckets.admit(p, 500);
    // 100 left, 400 short at 10 tokens a second: about 40 s.
    assert.ok(wait > 35_000 && wait <= 40_000, `wait ${wait}`);
    assert.equal(await buckets.admit({ name: 'free' } as ProviderDef, 1e9), 0, 'no limit, no wait');
  });
});
