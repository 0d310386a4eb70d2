import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RenderCache, entryBytes } from '../../../core/manager/renderCache.js';
import { hashContext } from '../../../core/manager/contextHash.js';
import { cachePays, TemplateCachePolicy, PROBE_RENDERS, OFF_RENDERS, EARLY_SAMPLES } from '../../../core/manager/cachePolicy.js';
import { createTesting } from '../../../core/manager/factory.js';
import { ManualClock, TEMPLATES, CONTEXT } from './fixtures.js';

test('LRU evicts the least recently used entry when the byte bound is exceeded', () => {
  const one = entryBytes(RenderCache.key(1, 'h1'), 'x'.repeat(100));
  const c = new RenderCache({ maxEntries: 1000, maxBytes: one * 3 });
  c.set(RenderCache.key(1, 'h1'), 't', 'x'.repeat(100));
  c.set(RenderCache.key(1, 'h2'), 't', 'x'.repeat(100));
  c.set(RenderCache.key(1, 'h3'), 't', 'x'.repeat(100));
  assert.equal(c.bytes, one * 3);
  assert.equal(c.get(RenderCache.key(1, 'h1')), 'x'.repeat(100)); // h1 now most recent
  c.set(RenderCache.key(1, 'h4'), 't', 'x'.repeat(100));
  assert.equal(c.evictions, 1);
  assert.equal(c.get(RenderCache.key(1, 'h2')), undefined, 'h2 was the least recently used');
  assert.ok(c.get(RenderCache.key(1, 'h1')));
  assert.ok(c.bytes <= c.maxBytes);
  // one big entry pushes out as many as needed
  const evictedBefore = c.evictions;
  c.set(RenderCache.key(1, 'big'), 't', 'y'.repeat(200));
  assert.ok(c.bytes <= c.maxBytes);
  assert.equal(c.evictions - evictedBefore, 2, 'a 200-character entry needs more than the room of one 100-character entry, less than two');
  assert.equal(c.get(RenderCache.key(1, 'big')), 'y'.repeat(200));
  // larger than the whole budget: not stored, nothing evicted for it
  const before = c.evictions;
  assert.equal(c.set(RenderCache.key(1, 'huge'), 't', 'z'.repeat(10_000)), false);
  assert.equal(c.evictions, before);
  const s = c.stats();
  assert.equal(s.hits, 3);
  assert.equal(s.misses, 1);
});

test('LRU evicts by entry count too', () => {
  const c = new RenderCache({ maxEntries: 2, maxBytes: 1e9 });
  c.set('a', 't', '1');
  c.set('b', 't', '2');
  c.set('c', 't', '3');
  assert.equal(c.entries, 2);
  assert.equal(c.get('a'), undefined);
  assert.equal(c.evictions, 1);
});

test('deleteTemplates drops only the given templates', () => {
  const c = new RenderCache({ maxEntries: 10, maxBytes: 1e6 });
  c.set('1:a', 'x', 'X');
  c.set('2:a', 'y', 'Y');
  assert.equal(c.deleteTemplates(new Set(['x'])), 1);
  assert.equal(c.entries, 1);
  assert.equal(c.bytes, entryBytes('2:a', 'Y'));
});

test('context hash is stable for equal contexts and sensitive to values, types and key order', () => {
  assert.equal(hashContext({ a: 1, b: { c: [1, 2], d: 'x' } }), hashContext({ a: 1, b: { c: [1, 2], d: 'x' } }));
  // `each`, `@key` and `json` follow key order, so it is part of the key (cacheKey.test.ts).
  assert.notEqual(hashContext({ a: 1, b: { c: [1, 2], d: 'x' } }), hashContext({ b: { d: 'x', c: [1, 2] }, a: 1 }));
  assert.notEqual(hashContext({ a: 1 }), hashContext({ a: '1' }));
  assert.notEqual(hashContext({ a: [1, 2] }), hashContext({ a: [2, 1] }));
  assert.notEqual(hashContext({ a: 'ab', b: '' }), hashContext({ a: 'a', b: 'b' }));
  assert.notEqual(hashContext({ a: 1.5 }), hashContext({ a: 1.25 }));
  assert.notEqual(hashContext({ a: null }), hashContext({ a: undefined }));
  const seen = new Set<string>();
  for (let i = 0; i < 20_000; i++) seen.add(hashContext({ user: 'u' + i, n: i })!);
  assert.equal(seen.size, 20_000, 'no collision over 20,000 contexts');
});

test('contexts that are not plain data are not cacheable', () => {
  assert.equal(hashContext({ f: () => 1 }), undefined);
  assert.equal(hashContext({ m: new Map() }), undefined);
  class K {}
  assert.equal(hashContext({ k: new K() }), undefined);
  const cyc: Record<string, unknown> = {};
  cyc.self = cyc;
  assert.equal(hashContext(cyc), undefined);
  assert.ok(hashContext({ d: new Date(0) }));
});

test('cache decision: pays when hit rate x render cost exceeds hash cost', () => {
  assert.equal(cachePays(0.9, 1, 10), true);
  assert.equal(cachePays(0.1, 1, 10), false);
  assert.equal(cachePays(1, 2, 2), false);
});

test('auto policy: probes, then keeps or drops the cache from measurements', () => {
  const costly = new TemplateCachePolicy('auto');
  for (let i = 0; i < PROBE_RENDERS; i++) costly.record(true, i % 4 !== 0, 0.001, 0.05);
  assert.equal(costly.state, 'on');
  assert.equal(costly.lastDecision?.cache, true);

  const unique = new TemplateCachePolicy('auto');
  for (let i = 0; i < PROBE_RENDERS; i++) unique.record(true, false, 0.001, 0.05);
  assert.equal(unique.state, 'off', 'no hits: nothing to gain');
  assert.equal(unique.lookup, false);
  for (let i = 0; i < OFF_RENDERS; i++) unique.record(false, false, 0, 0.05);
  assert.equal(unique.state, 'probe', 'probes again after OFF_RENDERS renders');
});

test('auto policy: a probe stops early when the hash costs more than a render; off periods double', () => {
  const p = new TemplateCachePolicy('auto');
  // first render (compilation) + EARLY_SAMPLES lookups whose hash costs twice the render
  for (let i = 0; i <= EARLY_SAMPLES; i++) p.record(true, false, 0.02, 0.01);
  assert.equal(p.state, 'off');
  assert.equal(p.lastDecision?.cache, false);
  for (let i = 0; i < OFF_RENDERS; i++) p.record(false, false, 0, 0.01);
  assert.equal(p.state, 'probe');
  for (let i = 0; i < EARLY_SAMPLES; i++) p.record(true, false, 0.02, 0.01);
  assert.equal(p.state, 'off');
  for (let i = 0; i < OFF_RENDERS; i++) p.record(false, false, 0, 0.01);
  assert.equal(p.state, 'off', 'the second off period is twice as long');
  for (let i = 0; i < OFF_RENDERS; i++) p.record(false, false, 0, 0.01);
  assert.equal(p.state, 'probe');
});

test('manager: identical contexts answer from cache; a changed context does not', async () => {
  const m = await createTesting({ templates: TEMPLATES, cache: { mode: 'on', maxEntries: 100, maxBytes: 1e6 } });
  const a = await m.render('analysis/summary', CONTEXT);
  const b = await m.render('analysis/summary', { ...CONTEXT });
  const c = await m.render('analysis/summary', { ...CONTEXT, user_id: 'u2' });
  assert.equal(a.fromCache, false);
  assert.equal(b.fromCache, true);
  assert.equal(b.text, a.text);
  assert.equal(c.fromCache, false);
  const metrics = m.getMetrics();
  assert.equal(metrics.templates['analysis/summary']!.cache.hits, 1);
  assert.equal(metrics.templates['analysis/summary']!.cache.misses, 2);
  assert.ok('entries' in metrics.cache && metrics.cache.entries === 2);
  await m.close();
});

test('manager auto mode caches a costly template and not a cheap one with unique contexts', async () => {
  const clock = new ManualClock();
  const m = await createTesting({
    templates: { slow: '{{work}}{{x}}', fast: '{{x}}' },
    cache: { mode: 'auto', maxEntries: 1000, maxBytes: 1e6 },
    clock,
    helpers: {
      // Simulates an expensive render: 5 ms of (manual) clock time.
      work: () => {
        clock.t += 5;
        return '';
      },
    },
  });
  for (let i = 0; i < PROBE_RENDERS + 10; i++) await m.render('slow', { x: i % 4 });
  // Hashing and rendering take no manual time here: caching cannot gain anything.
  for (let i = 0; i < PROBE_RENDERS + 10; i++) await m.render('fast', { x: i });
  assert.equal(m.getTemplateInfo('slow').cache.state, 'on');
  assert.equal(m.getTemplateInfo('fast').cache.state, 'off');
  const last = await m.render('slow', { x: 1 });
  assert.equal(last.fromCache, true);
  await m.close();
});
