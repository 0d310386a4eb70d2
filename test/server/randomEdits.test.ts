/**
 * Seeded random editing of the examples over real LSP: a few hundred incremental edits to
 * both YAML files and two templates, with completion, hover, definition, symbols and code
 * action requests in between. The server never crashes, every diagnostic range lies inside
 * its document, and at the end the diagnostics equal those of a fresh server started on the
 * same texts.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { copyFixture, LspClient, rangesInside, uri } from './lsp.js';
import { rng } from '../helpers/rng.js';


const SNIPPETS = [
  '{{', '}}', '{{steps.extract.output}}', '{{> common/preamble}}', '{{#if document}}', '{{/if}}', '\n', '  ', ': ', '- ', '[', ']', ', ',
  'depends_on: [summary]', 'template: analysis/nope', 'template: analysis/summary', 'model: local', 'model: other', 'id: extract',
  '\n      - id: extra\n        template: analysis/risks\n', 'x', 'é', '"', "'", '#', '{ ', ' }', '\t', '{{document.title}}', 'steps.', '{{> missing/one}}',
];

const SEED = Number(process.env.LSP_FUZZ_SEED ?? 20250501);
const EDITS = Number(process.env.LSP_FUZZ_EDITS ?? 300);

test(`random edits (seed ${SEED}, ${EDITS} edits): no crash, ranges inside documents, same diagnostics as a fresh server`, async () => {
  const dir = copyFixture();
  const files = ['composition_rules.yaml', 'service_mappings.yaml', 'templates/analysis/summary.hbs', 'templates/common/preamble.hbs'].map((f) => path.join(dir, f));
  const rand = rng(SEED);
  const pick = <T>(a: T[]) => a[Math.floor(rand() * a.length)]!;
  const c = await LspClient.start({ folders: [dir], debounceMs: 10 });
  try {
    for (const f of files) await c.open(f);
    for (let i = 0; i < EDITS; i++) {
      const f = pick(files);
      const text = c.texts.get(f)!;
      const start = Math.floor(rand() * (text.length + 1));
      const r = rand();
      if (r < 0.4) await c.edit(f, start, start, pick(SNIPPETS));
      else if (r < 0.7) await c.edit(f, start, Math.min(text.length, start + 1 + Math.floor(rand() * 12)), '');
      else if (r < 0.85) await c.edit(f, start, Math.min(text.length, start + Math.floor(rand() * 6)), pick(SNIPPETS));
      else {
        // Duplicate a line.
        const ls = text.lastIndexOf('\n', start - 1) + 1;
        const le = text.indexOf('\n', start);
        const line = text.slice(ls, le === -1 ? text.length : le);
        await c.edit(f, ls, ls, line + '\n');
      }
      if (i % 5 === 0) {
        const g = pick(files);
        const t = c.texts.get(g)!;
        const lines = t.split('\n');
        const line = Math.floor(rand() * lines.length);
        const position = { line, character: Math.floor(rand() * (lines[line]!.length + 1)) };
        const td = { textDocument: { uri: uri(g) }, position };
        await Promise.all([
          c.request('textDocument/completion', td),
          c.request('textDocument/hover', td),
          c.request('textDocument/definition', td),
          c.request('textDocument/references', { ...td, context: { includeDeclaration: true } }),
          c.request('textDocument/documentSymbol', { textDocument: td.textDocument }),
          c.request('textDocument/codeAction', { textDocument: td.textDocument, range: { start: position, end: position }, context: { diagnostics: c.diagnostics.get(uri(g)) ?? [] } }),
          c.request('textDocument/prepareRename', td).catch(() => undefined),
        ]);
      }
      if (i % 25 === 0) {
        await c.settle(60);
        for (const g of files) assert.ok(rangesInside(c.texts.get(g)!, c.diagnostics.get(uri(g)) ?? []), `ranges inside ${g} after edit ${i}`);
      }
      assert.ok(!c.exited, `the server is alive after edit ${i}`);
    }
    await c.settle(400);
    for (const g of files) assert.ok(rangesInside(c.texts.get(g)!, c.diagnostics.get(uri(g)) ?? []), `ranges inside ${g} at the end`);
  } finally {
    await c.stop();
  }
  assert.deepEqual(c.logs.filter((l) => l.type === 1), [], 'no errors logged');
  // A fresh server on the final texts, from disk.
  for (const f of files) fs.writeFileSync(f, c.texts.get(f) ?? fs.readFileSync(f, 'utf8'));
  const fresh = await LspClient.start({ folders: [dir] });
  try {
    await fresh.settle(400);
    const all = new Set([...c.diagnostics.keys(), ...fresh.diagnostics.keys()]);
    for (const u of all) assert.deepEqual(c.diagnostics.get(u) ?? [], fresh.diagnostics.get(u) ?? [], u);
  } finally {
    await fresh.stop();
  }
});
