/**
 * The render work budget: a template that burns CPU without writing (nested `each`
 * blocks, a huge list iterated silently, partials or helpers fanning out) is stopped from
 * inside the synchronous render with `render_budget_exceeded`, through every way of rendering
 * (render, renderBatch, a workflow step, the compiled function), within 2 s; the engine keeps
 * working afterwards; legitimate large renders are untouched; the limits are configurable.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { createTesting } from '../../../core/manager/factory.js';
import type { PromptManager } from '../../../core/manager/promptManager.js';
import { PromptError } from '../../../core/errors.js';
import { configureLimits, DEFAULT_LIMITS, resetLimits } from '../../../core/limits.js';
import { nestedLists, silentList } from '../../corpus/cases.js';
import { RENDER_STOP_MS } from '../../corpus/support.js';

afterEach(() => resetLimits());

/** The example, word for word: 2,000^3 = 8e9 iterations over one list. */
const BRIEF = '{{#each a}}{{#each ../a}}{{#each ../../a}}{{/each}}{{/each}}{{/each}}';
const TEMPLATES = {
  // Non-strict for BRIEF: in strict mode Handlebars fails it at once (`../../a` has no frame
  // where an iteration's context equals its parent's); in loose mode it is 8e9 iterations.
  brief: BRIEF,
  nested: '{{#each a}}{{#each ../b}}{{#each ../../c}}{{/each}}{{/each}}{{/each}}',
  silent: '{{name}}{{#each items}}{{/each}}',
  hello: 'Hello {{name}}',
  report: '{{#each records}}{{#if active}}- {{name}}:{{#each tags}} #{{this}}{{/each}}\n{{/if}}{{/each}}',
};

const briefContext = () => ({ a: Array.from({ length: 2000 }, (_, i) => i) });

function isBudget(e: unknown, template: string, limit = 'maxRenderWork'): boolean {
  // `limit` is a pattern: 'maxRender(Work|Ms)' accepts either limit.
  assert.ok(e instanceof PromptError, `expected a PromptError, got ${(e as Error)?.stack ?? String(e)}`);
  assert.equal(e.code, 'render_budget_exceeded', e.message);
  assert.equal(e.template, template);
  assert.match(e.message, new RegExp(`^Template ${template} was stopped: the render `));
  assert.match(e.message, new RegExp(`\\(${limit}`), 'names the limit that was hit');
  assert.match(e.message, new RegExp(`Reduce the data the template iterates over, or raise ${limit}`), 'says what to do');
  return true;
}

/** Runs `fn` and returns what it threw (or resolved to) and how long it took. */
async function timed<T>(fn: () => Promise<T> | T): Promise<{ value?: T; error?: unknown; ms: number }> {
  const t0 = performance.now();
  try {
    return { value: await fn(), ms: performance.now() - t0 };
  } catch (error) {
    return { error, ms: performance.now() - t0 };
  }
}

async function withManager(options: Parameters<typeof createTesting>[0], fn: (m: PromptManager) => Promise<void>): Promise<void> {
  const m = await createTesting({ templates: TEMPLATES, strict: false, ...options });
  try {
    await fn(m);
  } finally {
    await m.close();
  }
}

test('manager.render: nested each blocks and a huge silent each stop within 2 s with render_budget_exceeded; the next render works', async (t) => {
  await withManager({}, async (m) => {
    const cases: [string, Record<string, unknown>][] = [
      ['brief', briefContext()],
      ['nested', nestedLists(2000)],
      ['silent', silentList(5_000_000)],
    ];
    for (const [template, context] of cases) {
      const r = await timed(() => m.render(template, context));
      t.diagnostic(`${template}: stopped after ${r.ms.toFixed(0)} ms`);
      assert.ok(isBudget(r.error, template));
      assert.ok(r.ms < RENDER_STOP_MS, `${template}: ${r.ms.toFixed(0)} ms`);
      assert.equal((await m.render('hello', { name: 'Ada' })).text, 'Hello Ada', 'the engine keeps working');
      const small = template === 'silent' ? silentList(3) : { a: [1, 2], b: [{}, {}], c: [{}, {}] };
      assert.equal((await m.render(template, small)).text, template === 'silent' ? 'x' : '', 'the same template with a small context');
    }
    // The file of the template, for editors; counted under its code.
    const e = (await timed(() => m.render('silent', silentList(2_000_000)))).error as PromptError;
    assert.match(e.location?.file ?? '', /silent\.hbs$/);
    assert.equal(m.getMetrics().templates.silent!.errors.render_budget_exceeded, 2);
    assert.equal(m.renderSync('silent', silentList(10)).text, 'x');
  });
});

test('an each over an endless iterable stops too (a context that would never end)', async () => {
  await withManager({}, async (m) => {
    const endless = {
      *[Symbol.iterator]() {
        for (;;) yield 0;
      },
    };
    const r = await timed(() => m.render('silent', { name: 'x', items: endless }));
    assert.ok(isBudget(r.error, 'silent'));
    assert.ok(r.ms < RENDER_STOP_MS, `${r.ms.toFixed(0)} ms`);
  });
});

test('renderBatch: the hostile requests fail with the code, the others render', async () => {
  await withManager({}, async (m) => {
    const r = await timed(() =>
      m.renderBatch(
        [
          { templateName: 'nested', context: nestedLists(2000) },
          { templateName: 'hello', context: { name: 'A' } },
          { templateName: 'silent', context: silentList(5_000_000) },
          { templateName: 'hello', context: { name: 'B' } },
        ],
        { concurrency: 2 },
      ),
    );
    assert.equal(r.error, undefined);
    const results = r.value!;
    assert.deepEqual(results.map((x) => x.ok), [false, true, false, true]);
    for (const [i, template] of [[0, 'nested'], [2, 'silent']] as const) {
      const x = results[i]!;
      assert.ok(!x.ok && isBudget(x.error, template));
    }
    assert.deepEqual(results.filter((x) => x.ok).map((x) => (x.ok ? x.result.text : '')), ['Hello A', 'Hello B']);
    assert.ok(r.ms < 2 * RENDER_STOP_MS, `${r.ms.toFixed(0)} ms for two stopped renders`);
  });
});

test('a workflow render step fails with the error, without retries; the steps that finished keep their outputs', async () => {
  const compositionRules = {
    compositions: {
      c: {
        fail_fast: false,
        steps: [
          { id: 'intro', template: 'hello' },
          // Retries would only burn the same work again: the error is not retried.
          { id: 'loop', template: 'nested', retry: { max_attempts: 3, initial_interval_ms: 1 } },
          { id: 'outro', template: 'hello', depends_on: ['intro'] },
          { id: 'after_loop', template: 'hello', depends_on: ['loop'] },
        ],
      },
    },
  };
  const serviceMappings = { services: { s: { compositions: ['c'] } } };
  await withManager({ compositionRules, serviceMappings }, async (m) => {
    for (const serviceName of [undefined, 's']) {
      const r = await timed(() => m.executeWorkflow('c', { name: 'Ada', ...nestedLists(2000) }, { serviceName }));
      assert.equal(r.error, undefined, String(r.error));
      const result = r.value!;
      assert.ok(r.ms < RENDER_STOP_MS, `${serviceName ?? 'no service'}: ${r.ms.toFixed(0)} ms`);
      const step = (id: string) => result.steps.find((s) => s.id === id)!;
      assert.equal(step('loop').status, 'failed');
      assert.equal(step('loop').attempts, 1, 'not retried');
      assert.equal(step('loop').errors[0]?.code, 'render_budget_exceeded');
      assert.match(String(step('loop').errors[0]?.message), /^Template nested was stopped: .*maxRenderWork/);
      assert.equal(step('after_loop').status, 'skipped');
      assert.equal(result.status, 'partial');
      assert.deepEqual(result.outputs, { intro: 'Hello Ada', outro: 'Hello Ada' });
    }
    // The engine and the manager go on.
    const again = await m.executeWorkflow('c', { name: 'Bo', a: [{}], b: [{}], c: [{}] });
    assert.equal(again.status, 'succeeded', JSON.stringify(again.steps.map((s) => s.errors)));
  });
});

test('a legitimate template over a large context renders, well inside the budget', async () => {
  await withManager({}, async (m) => {
    const records = Array.from({ length: 20_000 }, (_, i) => ({ name: `r${i}`, active: i % 2 === 0, tags: ['a', 'b', 'c'] }));
    // 20,000 iterations + 20,000 ifs + 10,000 x (1 each + 3 iterations) = 80,000 units.
    const r = await m.render('report', { records });
    assert.equal(r.text.split('\n').length - 1, 10_000);
    assert.ok(r.text.startsWith('- r0: #a #b #c\n- r2:'));
    // 1,000 x 20 x 20 = 400,000 innermost iterations plus 21,000 of their parents: inside the default budget.
    const big = { a: nestedLists(1000).a, b: nestedLists(20).b, c: nestedLists(20).c };
    assert.equal((await m.render('nested', big)).text, '');
  });
});

test('the limits are configurable: per manager, process-wide, validated; a lowered limit stops a smaller render', async () => {
  assert.equal(DEFAULT_LIMITS.maxRenderWork, 500_000);
  assert.equal(DEFAULT_LIMITS.maxRenderMs, 2_000);
  const ctx = { a: nestedLists(10).a, b: nestedLists(10).b, c: nestedLists(10).c }; // 10 + 100 + 1,000 = 1,110 units
  await withManager({ limits: { maxRenderWork: 1_000 } }, async (m) => {
    await assert.rejects(m.render('nested', ctx), (e) => isBudget(e, 'nested') && /more than 1,000 units of work/.test((e as Error).message));
    const fits = { a: nestedLists(9).a, b: nestedLists(9).b, c: nestedLists(9).c }; // 9 + 81 + 729 = 819
    assert.equal((await m.render('nested', fits)).text, '');
  });
  // Exactly at the limit renders; one unit more does not.
  await withManager({ limits: { maxRenderWork: 1_110 } }, async (m) => {
    assert.equal((await m.render('nested', ctx)).text, '');
  });
  await withManager({ limits: { maxRenderWork: 1_109 } }, async (m) => {
    await assert.rejects(m.render('nested', ctx), (e) => isBudget(e, 'nested'));
  });
  // Process-wide: managers created afterwards follow it.
  configureLimits({ maxRenderWork: 500 });
  await withManager({}, async (m) => {
    await assert.rejects(m.render('nested', ctx), (e) => isBudget(e, 'nested'));
  });
  resetLimits();
  await withManager({}, async (m) => {
    assert.equal((await m.render('nested', ctx)).text, '');
  });
  // Bad values change nothing; Infinity turns a limit off.
  assert.throws(() => configureLimits({ maxRenderWork: 0 }), RangeError);
  assert.throws(() => configureLimits({ maxRenderMs: 1.5 }), RangeError);
  await assert.rejects(createTesting({ templates: TEMPLATES, limits: { maxRenderWork: -1 } }), RangeError);
  await assert.rejects(createTesting({ templates: TEMPLATES, limits: { maxRenderMs: Number.NaN } }), RangeError);
  await withManager({ limits: { maxRenderWork: Infinity } }, async (m) => {
    assert.equal((await m.render('silent', silentList(1_500_000))).text, 'x');
  });
});

test('maxRenderMs: the deadline stops a render that the work limit lets run', async () => {
  await withManager({ limits: { maxRenderWork: Infinity, maxRenderMs: 50 } }, async (m) => {
    const r = await timed(() => m.render('silent', silentList(20_000_000)));
    assert.ok(isBudget(r.error, 'silent', 'maxRenderMs'));
    assert.match((r.error as Error).message, /ran longer than 50 ms \(maxRenderMs\) after [\d,]+ units of work/);
    assert.ok(r.ms < 1_000, `${r.ms.toFixed(0)} ms for a 50 ms deadline`);
    assert.equal((await m.render('hello', { name: 'x' })).text, 'Hello x');
  });
});

test('what counts: each iteration, if/unless/with, prompt block helpers, application block helpers and their bodies, partials of every kind', async () => {
  const items = Array.from({ length: 60 }, (_, i) => i + 1);
  // 60 iterations alone fit in 100 units; with one more counted block per iteration they do not.
  const templates: Record<string, string> = {
    each: '{{#each items}}{{/each}}',
    if: '{{#each items}}{{#if this}}{{/if}}{{/each}}',
    unless: '{{#each items}}{{#unless this}}{{/unless}}{{/each}}',
    with: '{{#each items}}{{#with this}}{{/with}}{{/each}}',
    eq: '{{#each items}}{{#eq this 1}}{{/eq}}{{/each}}',
    app: '{{#each items}}{{#shout}}{{/shout}}{{/each}}',
    repeat: '{{#repeat 1000000000}}{{/repeat}}',
    partial: '{{#each items}}{{> leaf}}{{/each}}',
    inline: '{{#*inline "mine"}}{{/inline}}{{#each items}}{{> mine}}{{/each}}',
    dynamic: '{{#each items}}{{> (lookup @root "which")}}{{/each}}',
    leaf: '',
  };
  const helpers = {
    shout(this: unknown, options: { fn: (c: unknown) => string }) {
      return options.fn(this).toUpperCase();
    },
    repeat(this: unknown, n: number, options: { fn: (c: unknown) => string }) {
      let out = '';
      for (let i = 0; i < n; i++) out += options.fn(this);
      return out;
    },
  };
  const m = await createTesting({ templates, helpers, limits: { maxRenderWork: 100 } });
  try {
    assert.equal((await m.render('each', { items })).text, '', '60 units fit');
    for (const name of Object.keys(templates).filter((n) => n !== 'each' && n !== 'leaf')) {
      const r = await timed(() => m.render(name, { items, which: 'leaf' }));
      assert.ok(r.error instanceof PromptError && r.error.code === 'render_budget_exceeded', `${name}: ${r.error instanceof Error ? r.error.message : 'rendered'}`);
      assert.ok(r.ms < RENDER_STOP_MS, `${name}: ${r.ms.toFixed(0)} ms`);
    }
    // Half the items: every kind fits again (60 units, or 62 with the partials' own).
    for (const name of Object.keys(templates).filter((n) => n !== 'repeat' && n !== 'leaf')) {
      await m.render(name, { items: items.slice(0, 30), which: 'leaf' });
    }
  } finally {
    await m.close();
  }
});

test('partials fanning out below the depth limit, and inline partials recursing, stop', async () => {
  let chain: Record<string, unknown> = {};
  for (let i = 0; i < 40; i++) chain = { next: chain };
  const templates = {
    // 2^40 partial calls, 40 deep: the depth limit (64) never sees it.
    fan: '{{#with next}}{{> fan}}{{> fan}}{{/with}}',
    prompt: 'Start: {{> fan}}',
    // An inline partial calling itself: the depth limit applies to it too, not a stack overflow.
    loop: '{{#*inline "me"}}x{{> me}}{{/inline}}{{> me}}',
    // An inline partial fanning out over the data.
    tree: '{{#*inline "node"}}{{#each this}}{{> node this}}{{> node this}}{{/each}}{{/inline}}{{> node root}}',
  };
  const m = await createTesting({ templates, strict: false });
  // A partial costs a few times an iteration: on a slow machine the 2 s deadline may stop these first.
  const either = 'maxRender(Work|Ms)';
  const bound = RENDER_STOP_MS + 500;
  try {
    const fan = await timed(() => m.render('prompt', chain));
    assert.ok(isBudget(fan.error, 'prompt', either), 'the template rendered is named, and the partial where it stopped');
    assert.match((fan.error as Error).message, /\(in the partial "fan"\)/);
    assert.ok(fan.ms < bound, `fan: ${fan.ms.toFixed(0)} ms`);
    const loop = await timed(() => m.render('loop', {}));
    assert.ok(loop.error instanceof PromptError && loop.error.code === 'limit_exceeded', String(loop.error));
    assert.match(loop.error.message, /partials nest deeper than 64 levels \(maxPartialDepth\) at the partial "me"/);
    let root: Record<string, unknown> = {};
    for (let i = 0; i < 40; i++) root = { a: root };
    const tree = await timed(() => m.render('tree', { root }));
    assert.ok(isBudget(tree.error, 'tree', either));
    assert.ok(tree.ms < bound, `tree: ${tree.ms.toFixed(0)} ms`);
  } finally {
    await m.close();
  }
});

test('the compiled function: each call is a render of its own for the limits', async () => {
  await withManager({ limits: { maxRenderOutputChars: 10_000, maxRenderWork: 5_000 } }, async (m) => {
    const raw = m.compiledTemplate('report');
    const records = Array.from({ length: 100 }, (_, i) => ({ name: `r${i}`, active: true, tags: ['t'] }));
    // 990 characters and 300 units a call: called 100 times, the counts must not add up.
    for (let i = 0; i < 100; i++) assert.equal(raw({ records }).length, 990);
    const silent = m.compiledTemplate('silent');
    assert.throws(() => silent(silentList(100_000)), (e) => isBudget(e, 'silent'));
    assert.equal(silent(silentList(10)), 'x');
  });
});
