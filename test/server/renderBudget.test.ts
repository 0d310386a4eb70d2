/**
 * The render work budget in the language server: preview renders run in the server's
 * process, so a template that would iterate for minutes must not block it. The render answers
 * `ok: false` with `render_budget_exceeded` within the 2 s goal, a request sent meanwhile is
 * answered right after, and the next preview renders normally.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { ListTemplatesRequest, RenderRequest } from '../../protocol/protocol.js';
import { nestedLists, silentList } from '../corpus/cases.js';
import { RENDER_STOP_MS } from '../corpus/support.js';
import { LspClient, writeFiles } from './lsp.js';

let c: LspClient;
let dir: string;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-budget-'));
  writeFiles(dir, {
    'composition_rules.yaml': 'version: 1\ncompositions:\n  c:\n    steps:\n      - id: a\n        template: nested\n      - id: b\n        template: hello\n',
    'templates/nested.hbs': '{{#each a}}{{#each ../b}}{{#each ../../c}}{{/each}}{{/each}}{{/each}}',
    'templates/silent.hbs': '{{name}}{{#each items}}{{/each}}',
    'templates/hello.hbs': 'Hello {{name}}',
    // Each json doubles its input; 40 levels would be terabytes.
    'templates/nested_json.hbs': `Record:\n{{${'json ('.repeat(39)}json x${')'.repeat(39)}}}`,
  });
  c = await LspClient.start({ folders: [dir], debounceMs: 0 });
  await c.settle(500);
});

after(async () => {
  await c?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('a preview render that would run for minutes answers render_budget_exceeded; the server stays responsive', async (t) => {
  for (const [template, context] of [
    ['nested', nestedLists(2000)],
    ['silent', silentList(2_000_000)],
  ] as const) {
    const t0 = performance.now();
    const rendering = c.conn.sendRequest(RenderRequest, { template, context });
    // Sent while the render runs: answered as soon as the render is stopped.
    const listing = c.conn.sendRequest(ListTemplatesRequest, {}).then(() => performance.now() - t0);
    const r = await rendering;
    const answered = performance.now() - t0;
    const listed = await listing;
    t.diagnostic(`${template}: answered after ${answered.toFixed(0)} ms (server-side ${r.durationMs.toFixed(0)} ms), the listing after ${listed.toFixed(0)} ms`);
    assert.ok(!r.ok, `${template} rendered`);
    assert.equal(r.error.code, 'render_budget_exceeded', r.error.message);
    assert.equal(r.error.template, template);
    assert.match(r.error.message, new RegExp(`^Template ${template} was stopped: the render did more than [\\d,]+ units of work \\(maxRenderWork`));
    assert.ok(answered < RENDER_STOP_MS + 1_000, `${template}: ${answered.toFixed(0)} ms`);
    assert.ok(listed < RENDER_STOP_MS + 1_000, `the listing waited ${listed.toFixed(0)} ms`);
    const ok = await c.conn.sendRequest(RenderRequest, { template: 'hello', context: { name: 'Ada' } });
    assert.ok(ok.ok && ok.text === 'Hello Ada', JSON.stringify(ok));
  }
  assert.equal(c.exited, false, c.stderr);
});

test('a preview of nested json helpers answers limit_exceeded quickly; the server stays responsive', async (t) => {
  const t0 = performance.now();
  const r = await c.conn.sendRequest(RenderRequest, { template: 'nested_json', context: { x: { q: 'a "quoted" text' } } });
  const answered = performance.now() - t0;
  t.diagnostic(`answered after ${answered.toFixed(0)} ms`);
  assert.ok(!r.ok, 'rendered');
  assert.equal(r.error.code, 'limit_exceeded', r.error.message);
  assert.match(r.error.message, /^Template nested_json was stopped: its prompt helpers produced more than [\d,]+ characters \(maxRenderOutputChars\), the last in \{\{json\}\}/);
  assert.ok(answered < RENDER_STOP_MS + 1_000, `${answered.toFixed(0)} ms`);
  const ok = await c.conn.sendRequest(RenderRequest, { template: 'hello', context: { name: 'Ada' } });
  assert.ok(ok.ok && ok.text === 'Hello Ada', JSON.stringify(ok));
  assert.equal(c.exited, false, c.stderr);
});
