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
import { rateWindow, SharedProviderLimits } from '../../../core/distributed/providerLimits.js';
import type { ProviderDef } from '../../../core/model/types.js';
import { redisMissingReason, startRedis, type TestRedis } from '../../helpers/redisServer.js';
import { composition, loadRules } from '../workflow/helpers.js';

test('rate windows space requests_per_minute evenly: one job per 60/R s, rounded so that a minute never holds more than R', () => {
  assert.deepEqual(rateWindow(600), { max: 1, duration: 100 });
  assert.deepEqual(rateWindow(30), { max: 1, duration: 2000 });
  assert.deepEqual(rateWindow(90), { max: 1, duration: 667 });
  assert.deepEqual(rateWindow(7000), { max: 1, duration: 9 });
  assert.deepEqual(rateWindow(120_000), { max: 2, duration: 1 });
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

  test('tokens_per_minute: a call goes once the tokens before it are paid for, and the answer\'s usage corrects its charge', async () => {
    const limits = new SharedProviderLimits(clients[0]!, 'tb');
    // 60 a minute: a token costs 1 s (bounds wide enough for a loaded machine).
    const p = { name: 'llm', tokensPerMinute: 60 } as ProviderDef;
    assert.equal(await limits.admitTokens(p, 50), 0, 'nothing charged before: it goes at once');
    const wait = await limits.admitTokens(p, 50);
    assert.ok(wait > 40_000 && wait <= 50_000, `the next waits for 50 tokens' 50 s, waited ${wait}`);
    // The answer said 10, not 50: the calls after it move 40 s sooner.
    await limits.correctTokens(p, 50, 10);
    const sooner = await limits.admitTokens(p, 50);
    assert.ok(sooner > 5_000 && sooner <= 10_000, `after the correction about 10 s, got ${sooner}`);
    // The answer said less than the time already passed: the next one goes at once.
    await limits.correctTokens(p, 10, 0);
    assert.equal(await limits.admitTokens(p, 50), 0);
    assert.equal(await limits.admitTokens({ name: 'free' } as ProviderDef, 1e9), 0, 'no limit, no wait');
  });

  test('a 429 pauses the provider\'s queue: Retry-After, else 1 s doubling under limits; a pause only lengthens', async () => {
    const limits = new SharedProviderLimits(clients[0]!, 'rl');
    const limiter = 'rl:provider.llm:limiter';
    const queue = { keys: { limiter } } as unknown as Parameters<SharedProviderLimits['rateLimited']>[0];
    const limited = { name: 'llm', maxConcurrency: 2 } as ProviderDef;
    assert.equal(await limits.rateLimited(queue, limited, undefined), 1000);
    assert.equal(await limits.rateLimited(queue, limited, undefined), 2000, 'the second 429 in a row doubles it');
    const third = await limits.rateLimited(queue, limited, 500);
    assert.ok(third > 1000 && third <= 2000, `a shorter Retry-After keeps the longer pause in force (${third})`);
    const pttl = await clients[0]!.pttl(limiter);
    assert.ok(pttl > 1000 && pttl <= 2000, `the queue's limiter key holds the pause (${pttl} ms)`);
    await limits.answered(limited);
    await clients[0]!.del(limiter);
    assert.equal(await limits.rateLimited(queue, limited, undefined), 1000, 'an answer ended the run of 429s');
    await clients[0]!.del(limiter);
    assert.equal(await limits.rateLimited(queue, { name: 'free' } as ProviderDef, undefined), 0, 'no limits and no Retry-After: no pause');
    assert.equal(await limits.rateLimited(queue, { name: 'free' } as ProviderDef, 3000), 3000, 'Retry-After pauses any provider');
  });
});
