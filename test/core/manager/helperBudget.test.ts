/**
 * Work the budget did not see: the prompt helpers' output and work were not
 * counted, so nested `json` calls (each doubling its input) made a 6 KB template that validates
 * clean run for 27 s and 1.8 GB. Every built-in prompt helper now counts what it produces
 * against `maxRenderOutputChars` (its intermediate results too, as they are produced) and its
 * calls and characters against `maxRenderWork`, with the clock read as it goes; and `{{log}}`
 * no longer writes to stdout.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { createTesting } from '../../../core/manager/factory.js';
import type { TemplateLogEntry } from '../../../core/manager/templateEngine.js';
import { PromptError } from '../../../core/errors.js';
import { RENDER_STOP_MS } from '../../corpus/support.js';
import { CLI, tempWorkspace } from '../../helpers/paths.js';

/** `{{json (json (... (json x)))}}`, `levels` deep. */
function nestedJson(levels: number, inner = 'x'): string {
  let e = inner;
  for (let i = 0; i < levels; i++) e = `(json ${e})`;
  return `{{${e.slice(1, -1)}}}`;
}

/** The shape: about 6 KB of prompt around one nested helper expression. */
const SIX_KB = `You are a careful assistant. Answer the user's question from the record below.\n${'Keep the answer short, cite the record, and say when the record does not answer the question. '.repeat(60)}\nRecord:\n${nestedJson(40)}\n`;

async function timed<T>(fn: () => Promise<T>): Promise<{ value?: T; error?: unknown; ms: number }> {
  const t0 = performance.now();
  try {
    return { value: await fn(), ms: performance.now() - t0 };
  } catch (error) {
    return { error, ms: performance.now() - t0 };
  }
}

function isOutputStop(e: unknown, template: string, helper: string): true {
  assert.ok(e instanceof PromptError, `expected a PromptError, got ${String(e)}`);
  assert.equal(e.code, 'limit_exceeded', e.message);
  assert.equal(e.template, template);
  assert.match(e.message, new RegExp(`^Template ${template} was stopped: its prompt helpers produced more than [\\d,]+ characters \\(maxRenderOutputChars\\), the last in \\{\\{${helper}\\}\\}`));
  assert.match(e.message, /raise maxRenderOutputChars/);
  return true;
}

test('the issue\'s 6 KB template of nested json calls validates clean and stops quickly with limit_exceeded', async (t) => {
  assert.ok(SIX_KB.length > 6_000 && SIX_KB.length < 7_000, String(SIX_KB.length));
  const m = await createTesting({ templates: { record: SIX_KB, hello: 'Hello {{name}}' } });
  try {
    const before = process.memoryUsage().rss;
    const r = await timed(() => m.render('record', { x: { question: 'a "quoted" question', answer: 'yes' } }));
    t.diagnostic(`stopped after ${r.ms.toFixed(0)} ms, RSS +${((process.memoryUsage().rss - before) / 1e6).toFixed(0)} MB`);
    assert.ok(isOutputStop(r.error, 'record', 'json'));
    assert.match((r.error as PromptError).location?.file ?? '', /record\.hbs$/);
    assert.ok(r.ms < RENDER_STOP_MS, `${r.ms.toFixed(0)} ms`);
    // Fewer levels render as before; the engine goes on.
    const small = await createTesting({ templates: { j: nestedJson(3) } });
    assert.equal((await small.render('j', { x: 'a"b' })).text, JSON.stringify(JSON.stringify(JSON.stringify('a"b'))));
    await small.close();
    assert.equal((await m.render('hello', { name: 'Ada' })).text, 'Hello Ada');
    assert.equal(m.getMetrics().templates['record']!.errors['limit_exceeded'], 1);
  } finally {
    await m.close();
  }
});

test('every prompt helper that produces text counts it, intermediate results included', async () => {
  const s = 'x'.repeat(20_000);
  const list = Array.from({ length: 200 }, () => 'y'.repeat(100));
  // Each result is only tested by #if, never written: only the helper's own output can hit the limit.
  const cases: [helper: string, template: string, context: Record<string, unknown>][] = [
    ['json', '{{#if (json obj)}}ok{{/if}}', { obj: { a: s } }],
    ['join', '{{#if (join list)}}ok{{/if}}', { list }],
    ['join', '{{#if (join s)}}ok{{/if}}', { s }],
    ['indent', '{{#if (indent text 10)}}ok{{/if}}', { text: 'ab\n'.repeat(1_000) }], // 3,000 characters in, 13,000 out
    ['truncate', '{{#if (truncate s 50000)}}ok{{/if}}', { s }],
    ['upper', '{{#if (upper s)}}ok{{/if}}', { s }],
    ['lower', '{{#if (lower s)}}ok{{/if}}', { s }],
    ['trim', '{{#if (trim s)}}ok{{/if}}', { s: ` ${s} ` }],
    ['default', '{{#if (default s "none")}}ok{{/if}}', { s }],
    ['bullet_list', '{{#if (bullet_list list)}}ok{{/if}}', { list }],
    ['numbered_list', '{{#if (numbered_list list)}}ok{{/if}}', { list }],
    ['upper', '{{#if (upper obj)}}ok{{/if}}', { obj: { a: s } }], // an object as text is its JSON
    ['json', '{{#each list}}{{#if (json ../obj)}}{{/if}}{{/each}}', { list, obj: { a: 'z'.repeat(100) } }], // summed over calls
  ];
  const templates = Object.fromEntries(cases.map(([, source], i) => [`t${i}`, source]));
  const m = await createTesting({ templates, limits: { maxRenderOutputChars: 10_000 } });
  try {
    for (const [i, [helper, , context]] of cases.entries()) {
      await assert.rejects(m.render(`t${i}`, context), (e) => isOutputStop(e, `t${i}`, helper), `t${i} (${helper})`);
    }
    // Under the limit, the same templates render.
    const fits: Record<string, unknown>[] = [
      { obj: { a: 'x' } }, { list: ['a'] }, { s: 'x' }, { text: 'ab\n' }, { s: 'x' }, { s: 'x' }, { s: 'x' }, { s: ' x ' }, { s: 'x' }, { list: ['a'] }, { list: ['a'] }, { obj: { a: 'x' } },
      { list: ['a', 'b'], obj: { a: 'z' } },
    ];
    for (const [i, context] of fits.entries()) await m.render(`t${i}`, context);
  } finally {
    await m.close();
  }
});

test('helper calls and the characters helpers read count as work: eq in a loop, length of a huge text', async () => {
  const m = await createTesting({
    templates: { calls: '{{#each items}}{{eq this 1}}{{/each}}', reads: '{{#each items}}{{length ../s}}{{/each}}' },
    limits: { maxRenderWork: 100 },
  });
  try {
    const items = Array.from({ length: 60 }, (_, i) => i);
    // 60 iterations + 60 calls.
    await assert.rejects(m.render('calls', { items }), (e) => e instanceof PromptError && e.code === 'render_budget_exceeded' && /prompt helper call/.test(e.message));
    assert.equal((await m.render('calls', { items: items.slice(0, 40) })).text, 'falsetrue' + 'false'.repeat(38));
    // 10 iterations + 10 calls + 10 x 20,000 / 256 characters read.
    await assert.rejects(m.render('reads', { items: items.slice(0, 10), s: 'x'.repeat(20_000) }), (e) => e instanceof PromptError && e.code === 'render_budget_exceeded');
    assert.equal((await m.render('reads', { items: [1, 2], s: 'x'.repeat(1_000) })).text, '10001000');
  } finally {
    await m.close();
  }
});

test('json of a huge context stops at the output limit while it serializes, not after', async () => {
  let visited = 0;
  const n = 2_000_000;
  const item = {};
  // A getter counts how far JSON.stringify got.
  Object.defineProperty(item, 'name', { enumerable: true, get: () => (visited++, 'item name') });
  const m = await createTesting({ templates: { dump: 'Data: {{json items 2}}' } });
  try {
    const r = await timed(() => m.render('dump', { items: new Array(n).fill(item) }));
    assert.ok(isOutputStop(r.error, 'dump', 'json'));
    // 16 MiB at ~30 characters an item: about 560,000 of the 2,000,000 items were reached.
    assert.ok(visited < n / 2, `${visited} of ${n} items serialized`);
    assert.ok(r.ms < RENDER_STOP_MS, `${r.ms.toFixed(0)} ms`);
  } finally {
    await m.close();
  }
});

test('the clock is read while a helper works: maxRenderMs stops one long json call', async () => {
  const items = Array.from({ length: 1_000_000 }, (_, i) => ({ id: i, name: `item ${i}`, tags: ['a', 'b'] }));
  const m = await createTesting({ templates: { dump: '{{json items}}' }, limits: { maxRenderWork: Infinity, maxRenderOutputChars: Infinity, maxRenderMs: 20 } });
  try {
    const r = await timed(() => m.render('dump', { items }));
    assert.ok(r.error instanceof PromptError && r.error.code === 'render_budget_exceeded', String(r.error));
    assert.match(r.error.message, /ran longer than 20 ms \(maxRenderMs\)/);
  } finally {
    await m.close();
  }
});

test('a workflow step stopped by the output limit is not retried (the same render would stop again)', async () => {
  const m = await createTesting({
    templates: { loop: nestedJson(30) },
    compositionRules: { compositions: { c: { steps: [{ id: 'j', template: 'loop', retry: { max_attempts: 3, initial_interval_ms: 1 } }] } } },
  });
  try {
    const r = await m.executeWorkflow('c', { x: 'a"b' });
    assert.equal(r.steps[0]!.status, 'failed');
    assert.equal(r.steps[0]!.attempts, 1, 'not retried');
    assert.equal(r.steps[0]!.errors[0]?.code, 'limit_exceeded');
  } finally {
    await m.close();
  }
});

test('{{log}} goes to the manager\'s log, never stdout; bounded and counted', async () => {
  const entries: TemplateLogEntry[] = [];
  const m = await createTesting({
    templates: { talk: 'a{{log "checking" user level="warn"}}b{{log "quiet" level="debug"}}{{> part}}', part: '{{log big}}c' },
    onTemplateLog: (e) => entries.push(e),
  });
  try {
    const text = (await m.render('talk', { user: { id: 7 }, big: 'z'.repeat(10_000) })).text;
    assert.equal(text, 'abc');
    assert.equal(entries.length, 2, 'debug is below the default level');
    assert.deepEqual(entries[0], { level: 'warn', message: 'checking {"id":7}', template: 'talk' });
    assert.equal(entries[1]!.template, 'part');
    assert.ok(entries[1]!.message.startsWith('z'.repeat(2_000) + '… (8,000 more characters)'));
  } finally {
    await m.close();
  }
});

test('promptmanager render/run --json: stdout stays JSON when a template logs; the log is on stderr', () => {
  const dir = tempWorkspace({
    'templates/t.hbs': '{{log "hello from the template"}}Hi {{name}}',
    'composition_rules.yaml': 'version: 1\ncompositions:\n  flow:\n    steps:\n      - id: a\n        template: t\n',
  });
  for (const args of [['render', 't', '--json'], ['run', 'flow', '--json']]) {
    const r = spawnSync(process.execPath, [CLI, ...args, '--dir', dir, '--context', '-'], { encoding: 'utf8', input: '{"name":"Ada"}' });
    assert.equal(r.status, 0, r.stderr);
    const parsed = JSON.parse(r.stdout) as { text?: string; outputs?: Record<string, string> };
    assert.equal(parsed.text ?? parsed.outputs?.a, 'Hi Ada');
    assert.doesNotMatch(r.stdout, /hello from the template/);
    assert.match(r.stderr, /\{\{log\}\} info in template t: hello from the template/);
  }
});
