// Render benchmark (npm run bench:render; needs dist/core.js from `node esbuild.mjs`). Prints:
//  1. manager.render() (metrics on, result cache off) against the compiled Handlebars function
//     of the same template called directly, in the same run: per-render times and their ratio;
//  2. the same with the result cache on and hitting;
//  3. hashing a context against rendering it, for growing context sizes: where the cache stops
//     paying (the measurement behind the `auto` cache default, core/manager/cachePolicy.ts);
//  4. 1,000,000 renders over 10,000 distinct contexts with the cache on: the cache and the
//     heap stay within the cache's bounds.
// Rounds are interleaved (raw, manager, raw, manager...), timed in process CPU time, and their
// medians compared, so that a busy machine slows both sides alike.
import v8 from 'node:v8';
import vm from 'node:vm';
import { createTesting, hashContext } from '../dist/core.js';
import { median } from './stats.mjs';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

// About 600 characters, one #each over 10 items: the "typical template".
const TYPICAL = `You are a careful analyst helping {{user.name}} ({{user.role}}) review a document.
Read the document titled "{{document.title}}" and summarise it for the audience below.
Audience: {{audience}}. Tone: {{tone}}. Keep the answer under {{max_words}} words and
write in {{locale}}. Quote the document only where it matters and say so when you do.

Check each of these points and say whether the document covers it:
{{#each items}}
- {{this.label}}: {{this.detail}}
{{/each}}

Document:
{{document.body}}

End with a one-line recommendation for {{user.name}}.`;

function context(i, bodyLength = 120) {
  return {
    user: { name: `User ${i}`, role: 'editor' },
    document: { title: `Report ${i}`, body: 'Lorem ipsum dolor sit amet. '.repeat(Math.ceil(bodyLength / 28)).slice(0, bodyLength) },
    audience: 'engineers',
    tone: 'neutral',
    max_words: 200,
    locale: 'en',
    items: Array.from({ length: 10 }, (_, k) => ({ label: `Point ${k}`, detail: `detail ${k} of ${i}` })),
  };
}

const us = (ns) => (ns / 1000).toFixed(2);

// CPU time of this process (ns per call) rather than wall time: on a shared machine the
// scheduler's pauses would otherwise land on whichever side happened to be running.
const cpuNs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};
function timeSync(fn, n) {
  const t = cpuNs();
  for (let i = 0; i < n; i++) fn(i);
  return (cpuNs() - t) / n;
}
async function timeAsync(fn, n) {
  const t = cpuNs();
  for (let i = 0; i < n; i++) await fn(i);
  return (cpuNs() - t) / n;
}

/** Interleaved rounds of `raw` and each variant; returns the median ns per call of each. */
async function compare(variants, { n = 20_000, rounds = 15, warm = 30_000 } = {}) {
  for (const [, v] of Object.entries(variants)) await (v.async ? timeAsync(v.fn, warm) : timeSync(v.fn, warm));
  const samples = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [k, v] of Object.entries(variants)) samples[k].push(v.async ? await timeAsync(v.fn, n) : timeSync(v.fn, n));
  }
  return Object.fromEntries(Object.entries(samples).map(([k, s]) => [k, median(s)]));
}

console.log(`typical template: ${TYPICAL.length} characters, #each over 10 items; rendered ${(await (async () => {
  const m = await createTesting({ templates: { typical: TYPICAL } });
  const r = (await m.render('typical', context(0))).text.length;
  await m.close();
  return r;
})())} characters\n`);

// 1. Metrics on, no result cache: every render does the work.
{
  const contexts = Array.from({ length: 100 }, (_, i) => context(i));
  const m = await createTesting({ templates: { typical: TYPICAL }, cache: false });
  const raw = m.compiledTemplate('typical');
  const t = await compare({
    raw: { fn: (i) => raw(contexts[i % 100]) },
    render: { fn: (i) => m.render('typical', contexts[i % 100]), async: true },
    renderSync: { fn: (i) => m.renderSync('typical', contexts[i % 100]) },
  });
  console.log('1. manager.render(), metrics on, result cache off (100 contexts in turn)');
  console.log(`   compiled Handlebars function   ${us(t.raw)} µs/render`);
  console.log(`   await manager.render()         ${us(t.render)} µs/render   ratio ${(t.render / t.raw).toFixed(2)}x (target <= 1.3x)`);
  console.log(`   manager.renderSync()           ${us(t.renderSync)} µs/render   ratio ${(t.renderSync / t.raw).toFixed(2)}x`);
  const h = m.getMetrics().templates.typical.latencyMs;
  console.log(`   recorded: ${m.getMetrics().templates.typical.renders} renders, p50 ${(h.p50 * 1000).toFixed(2)} µs, p99 ${(h.p99 * 1000).toFixed(2)} µs\n`);
  await m.close();
}

// 2. Result cache on and hitting: the same 100 contexts again and again.
{
  const contexts = Array.from({ length: 100 }, (_, i) => context(i));
  const m = await createTesting({ templates: { typical: TYPICAL }, cache: { mode: 'on', maxEntries: 1000, maxBytes: 16 * 1024 * 1024 } });
  const raw = m.compiledTemplate('typical');
  const t = await compare({
    raw: { fn: (i) => raw(contexts[i % 100]) },
    render: { fn: (i) => m.render('typical', contexts[i % 100]), async: true },
  });
  const c = m.getMetrics().cache;
  console.log('2. manager.render(), result cache on and hitting');
  console.log(`   compiled Handlebars function   ${us(t.raw)} µs/render`);
  console.log(`   await manager.render() (hit)   ${us(t.render)} µs/render   ratio ${(t.render / t.raw).toFixed(2)}x (target <= 1.3x); hit rate ${c.hitRate.toFixed(4)}\n`);
  await m.close();
}

// 3. Hashing a context against rendering it.
{
  console.log('3. hash of the context vs render, by document body size (the cache pays only where hashing is cheaper)');
  console.log('   body chars   render µs   hash µs   hash/render');
  const m = await createTesting({ templates: { typical: TYPICAL } });
  const raw = m.compiledTemplate('typical');
  for (const body of [0, 120, 1000, 10_000, 100_000]) {
    const contexts = Array.from({ length: 50 }, (_, i) => context(i, body));
    const n = body >= 10_000 ? 2000 : 20_000;
    const t = await compare({ render: { fn: (i) => raw(contexts[i % 50]) }, hash: { fn: (i) => hashContext(contexts[i % 50]) } }, { n, rounds: 7, warm: n });
    console.log(`   ${String(body).padStart(10)}   ${us(t.render).padStart(9)}   ${us(t.hash).padStart(7)}   ${(t.hash / t.render).toFixed(2).padStart(11)}`);
  }
  await m.close();
  // What auto mode decides on the typical template: unique contexts vs a few repeating ones.
  for (const [label, distinct] of [['10,000 distinct contexts', 10_000], ['10 repeating contexts', 10]]) {
    const a = await createTesting({ templates: { typical: TYPICAL }, cache: { mode: 'auto', maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 } });
    const cs = Array.from({ length: Math.min(distinct, 1000) }, (_, i) => context(i));
    for (let i = 0; i < 5000; i++) a.renderSync('typical', distinct > 1000 ? context(i) : cs[i % distinct]);
    const info = a.getTemplateInfo('typical').cache;
    const d = info.lastDecision;
    console.log(`   auto mode, ${label}: cache ${info.state}` + (d ? ` (hit rate ${d.hitRate.toFixed(2)}, hash ${(d.hashMs * 1000).toFixed(2)} µs, render ${(d.renderMs * 1000).toFixed(2)} µs)` : ''));
    await a.close();
  }
  console.log('');
}

// 4. 1,000,000 renders over 10,000 distinct contexts: memory stays within the cache's bound.
{
  const maxBytes = 8 * 1024 * 1024;
  const maxEntries = 5000;
  const contexts = Array.from({ length: 10_000 }, (_, i) => context(i));
  // A skewed pick (a few contexts are hot, most are rare), from a seeded generator: hits,
  // misses and evictions all happen, the same way on every run.
  let seed = 42;
  const next = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const picks = Uint16Array.from({ length: 1 << 16 }, () => Math.floor(10_000 * next() ** 3));
  gc();
  const heapBase = process.memoryUsage().heapUsed;
  let m = await createTesting({ templates: { typical: TYPICAL }, cache: { mode: 'on', maxEntries, maxBytes } });
  let peakCache = 0;
  const t = process.hrtime.bigint();
  const cpu0 = cpuNs();
  for (let i = 0; i < 1_000_000; i++) {
    m.renderSync('typical', contexts[(picks[i & 0xffff] + (i >>> 16)) % 10_000]);
    if ((i & 0xffff) === 0) peakCache = Math.max(peakCache, m.getMetrics().cache.bytes);
  }
  const secs = Number(process.hrtime.bigint() - t) / 1e9;
  const cpuPer = (cpuNs() - cpu0) / 1e6;
  gc();
  const heapFull = process.memoryUsage().heapUsed;
  const c = m.getMetrics().cache;
  await m.close();
  m = undefined;
  gc();
  const heapReleased = process.memoryUsage().heapUsed;
  const retained = heapFull - heapReleased;
  console.log('4. 1,000,000 renders over 10,000 distinct contexts (skewed), result cache on');
  console.log(`   ${secs.toFixed(2)} s wall, ${us(cpuPer)} µs CPU/render; cache: ${c.entries} entries (max ${maxEntries}), ${(c.bytes / 1e6).toFixed(2)} MB counted (max ${(maxBytes / 1e6).toFixed(2)} MB, peak ${(peakCache / 1e6).toFixed(2)} MB)`);
  console.log(`   hits ${c.hits}, misses ${c.misses}, evictions ${c.evictions}, hit rate ${c.hitRate.toFixed(3)}`);
  console.log(
    `   heap: ${(heapBase / 1e6).toFixed(1)} MB before, ${(heapFull / 1e6).toFixed(1)} MB after 1M renders, ${(heapReleased / 1e6).toFixed(1)} MB once the manager is released: ` +
      `the manager held ${(retained / 1e6).toFixed(2)} MB for a bound of ${(maxBytes / 1e6).toFixed(2)} MB -> ${retained <= maxBytes * 1.1 ? 'within bound' : 'OVER BOUND'}`,
  );
}
