/**
 * The bad-input corpus through the language server over stdio, as an editor would meet it:
 * the server indexes every hostile workspace at start and publishes the validator's
 * diagnostics for each (ranges inside their documents, nothing read outside the templates
 * root), takes each hostile file as an open buffer, and still answers its next request.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { validateWorkspace } from '../../core/validate/validateWorkspace.js';
import { LspClient, rangesInside, uri } from '../server/lsp.js';
import { corpusCases, OUTSIDE_SECRET, writeCorpus, type WrittenCorpus } from './cases.js';

let corpus: WrittenCorpus;
let client: LspClient;

before(async () => {
  corpus = writeCorpus(corpusCases());
  client = await LspClient.start({ folders: [corpus.root], debounceMs: 0 });
  await client.settle(1000);
});

after(async () => {
  await client?.stop();
  corpus?.remove();
});

test('every hostile workspace is indexed: the server publishes what the validator reports', () => {
  assert.equal(client.exited, false, `the server exited:\n${client.stderr}`);
  const problems: string[] = [];
  for (const [name, dir] of corpus.dirs) {
    const want = new Set(validateWorkspace(dir).diagnostics.filter((d) => d.severity !== 'information').map((d) => `${path.relative(dir, d.file)} ${d.code}`));
    const got = new Set<string>();
    for (const [u, diags] of client.diagnostics) {
      const file = decodeURIComponent(new URL(u).pathname);
      if (!file.startsWith(dir + path.sep)) continue;
      for (const d of diags) if (d.severity !== 3 && d.severity !== 4) got.add(`${path.relative(dir, file)} ${d.code}`);
    }
    const missing = [...want].filter((x) => !got.has(x));
    const extra = [...got].filter((x) => !want.has(x));
    if (missing.length || extra.length) problems.push(`${name}: missing [${missing.join(', ')}], extra [${extra.join(', ')}]`);
  }
  assert.deepEqual(problems, []);
});

test('published ranges lie inside their documents; nothing from outside the root appears', () => {
  for (const [u, diags] of client.diagnostics) {
    const file = decodeURIComponent(new URL(u).pathname);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    assert.ok(rangesInside(text, diags), `a diagnostic range of ${file} lies outside it`);
    for (const d of diags) {
      const message = typeof d.message === 'string' ? d.message : d.message.value;
      assert.ok(!message.includes(OUTSIDE_SECRET), `a message quotes a file outside the root: ${message}`);
    }
  }
  assert.ok(!client.stderr.includes(OUTSIDE_SECRET));
});

test('each hostile YAML file opened as a buffer: the server keeps answering', async () => {
  for (const [name, dir] of corpus.dirs) {
    for (const base of ['composition_rules.yaml', 'service_mappings.yaml']) {
      const file = path.join(dir, base);
      if (!fs.existsSync(file)) continue;
      const text = fs.readFileSync(file, 'utf8');
      await client.open(file, text);
      const answer = await client.request<unknown>('textDocument/documentSymbol', { textDocument: { uri: uri(file) } });
      assert.ok(answer === null || Array.isArray(answer), `${name}/${base}: documentSymbol answered`);
      await client.request('textDocument/completion', { textDocument: { uri: uri(file) }, position: { line: 0, character: 0 } });
      await client.close(file);
    }
  }
  assert.equal(client.exited, false, `the server exited:\n${client.stderr}`);
  const ws = await client.request<{ workspaces: unknown[] }>('promptManager/listWorkspaces', {});
  assert.ok(ws.workspaces.length >= corpus.dirs.size - 1, 'the server still lists the workspaces');
});
