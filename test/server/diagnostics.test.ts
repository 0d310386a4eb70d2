/**
 * Diagnostics over real LSP: as you type, for closed files, after file-system changes
 * (delete and restore a template), with settings, in multi-root workspaces, and never stale.
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { findPromptWorkspaces, validateWorkspace } from '../../core/validate/validateWorkspace.js';
import { createProtocolConnection, IPCMessageReader, IPCMessageWriter } from 'vscode-languageserver-protocol/node';
import { EXAMPLES, SERVER } from '../helpers/paths.js';
import { copyFixture, LspClient, rangesInside, uri, writeFiles } from './lsp.js';

const hasCode = (code: string) => (ds: { code?: unknown }[]) => ds.some((d) => d.code === code);
const lacksCode = (code: string) => (ds: { code?: unknown }[]) => !ds.some((d) => d.code === code);

test('as you type: an unknown template appears, with the contract code and range, and clears when fixed', async () => {
  const dir = copyFixture();
  const c = await LspClient.start({ folders: [dir] });
  try {
    const rules = path.join(dir, 'composition_rules.yaml');
    const text = await c.open(rules);
    const at = text.indexOf('analysis/extract');
    await c.edit(rules, at, at + 'analysis/extract'.length, 'analysis/extrct');
    const ds = await c.diagnosticsOf(rules, hasCode('unknown-template'));
    const d = ds.find((x) => x.code === 'unknown-template')!;
    assert.equal(d.source, 'promptmanager');
    assert.equal(d.severity, 1);
    const line = c.texts.get(rules)!.split('\n')[d.range.start.line]!;
    assert.equal(line.slice(d.range.start.character, d.range.end.character), 'analysis/extrct');
    assert.match(String(d.message), /did you mean 'analysis\/extract'/);
    await c.edit(rules, at, at + 'analysis/extrct'.length, 'analysis/extract');
    await c.diagnosticsOf(rules, (x) => x.length === 0);
  } finally {
    await c.stop();
  }
});

test('closed files are checked at start, and a .hbs file gets its own diagnostics as you type', async () => {
  const dir = copyFixture();
  writeFiles(dir, { 'templates/analysis/broken.hbs': 'Hello {{#if x}}\n', 'templates/common/unused_one.hbs': 'Never used\n' });
  const c = await LspClient.start({ folders: [dir] });
  try {
    const broken = path.join(dir, 'templates/analysis/broken.hbs');
    await c.diagnosticsOf(broken, hasCode('template-syntax'));
    await c.diagnosticsOf(path.join(dir, 'templates/common/unused_one.hbs'), hasCode('unused-template'));
    // Typing in a template: a partial that does not exist, then a syntax error, then fixed.
    const summary = path.join(dir, 'templates/analysis/summary.hbs');
    const text = await c.open(summary);
    await c.change(summary, text + '\n{{> common/nope}}\n');
    const ds = await c.diagnosticsOf(summary, hasCode('unknown-template'));
    assert.ok(rangesInside(c.texts.get(summary)!, ds));
    await c.change(summary, text + '\n{{#each items}}\n');
    await c.diagnosticsOf(summary, (x) => hasCode('template-syntax')(x) && lacksCode('unknown-template')(x));
    // The reference in composition_rules.yaml (closed) is flagged too.
    await c.diagnosticsOf(path.join(dir, 'composition_rules.yaml'), hasCode('template-syntax'));
    await c.change(summary, text);
    await c.diagnosticsOf(summary, (x) => x.length === 0);
    await c.diagnosticsOf(path.join(dir, 'composition_rules.yaml'), (x) => x.length === 0);
  } finally {
    await c.stop();
  }
});

test('file watching: deleting a template flags every reference in closed and open files; restoring clears them', async () => {
  const dir = copyFixture();
  const c = await LspClient.start({ folders: [dir] });
  try {
    assert.ok(
      c.registrations.some((r) => JSON.stringify(r).includes('workspace/didChangeWatchedFiles') && JSON.stringify(r).includes('**/*.{hbs,handlebars}')),
      'the server registers its file watchers',
    );
    const rules = path.join(dir, 'composition_rules.yaml');
    const mappings = path.join(dir, 'service_mappings.yaml');
    await c.open(rules);
    const extract = path.join(dir, 'templates/analysis/extract.hbs');
    const saved = fs.readFileSync(extract, 'utf8');
    fs.unlinkSync(extract);
    await c.watched([{ file: extract, type: 3 }]);
    const open = await c.diagnosticsOf(rules, hasCode('unknown-template'));
    assert.equal(open.filter((d) => d.code === 'unknown-template').length, 1);
    const closed = await c.diagnosticsOf(mappings, hasCode('unknown-template'));
    assert.match(String(closed.find((d) => d.code === 'unknown-template')!.message), /analysis\/extract/);
    fs.writeFileSync(extract, saved);
    await c.watched([{ file: extract, type: 1 }]);
    await c.diagnosticsOf(rules, (x) => x.length === 0);
    await c.diagnosticsOf(mappings, (x) => x.length === 0);
  } finally {
    await c.stop();
  }
});

test('file watching: a closed file edited on disk is re-checked, a deleted file loses its diagnostics', async () => {
  const dir = copyFixture();
  const c = await LspClient.start({ folders: [dir] });
  try {
    const mappings = path.join(dir, 'service_mappings.yaml');
    const text = fs.readFileSync(mappings, 'utf8');
    fs.writeFileSync(mappings, text.replace('compositions: [grounded_answer]', 'compositions: [grounded_answr]'));
    await c.watched([{ file: mappings, type: 2 }]);
    await c.diagnosticsOf(mappings, hasCode('unknown-composition'));
    // An unparseable template on disk, then deleted: its diagnostics go with it.
    const bad = path.join(dir, 'templates/common/bad.hbs');
    fs.writeFileSync(bad, '{{#if}}');
    await c.watched([{ file: bad, type: 1 }]);
    await c.diagnosticsOf(bad, hasCode('template-syntax'));
    fs.unlinkSync(bad);
    await c.watched([{ file: bad, type: 3 }]);
    await c.diagnosticsOf(bad, (x) => x.length === 0);
    // Deleting composition_rules.yaml: references to its compositions are flagged.
    const rules = path.join(dir, 'composition_rules.yaml');
    fs.unlinkSync(rules);
    await c.watched([{ file: rules, type: 3 }]);
    const ds = await c.diagnosticsOf(mappings, (x) => x.filter((d) => d.code === 'unknown-composition').length >= 3);
    assert.match(String(ds[0]!.message), /no composition_rules\.yaml/);
  } finally {
    await c.stop();
  }
});

test('a new prompt workspace created on disk is found and checked', async () => {
  const repo = fs.mkdtempSync(path.join(path.dirname(copyFixture()), 'pm-mono-'));
  fs.cpSync(copyFixture(), path.join(repo, 'app'), { recursive: true });
  const c = await LspClient.start({ folders: [repo] });
  try {
    const sub = path.join(repo, 'packages', 'mail');
    writeFiles(sub, { 'composition_rules.yaml': 'version: 1\ncompositions:\n  m:\n    steps:\n      - id: a\n        template: nowhere\n' });
    await c.watched([{ file: path.join(sub, 'composition_rules.yaml'), type: 1 }]);
    await c.diagnosticsOf(path.join(sub, 'composition_rules.yaml'), hasCode('unknown-template'));
  } finally {
    await c.stop();
  }
});

test('open buffers win over disk; closing the buffer goes back to the disk text', async () => {
  const dir = copyFixture();
  const c = await LspClient.start({ folders: [dir] });
  try {
    const rules = path.join(dir, 'composition_rules.yaml');
    const text = await c.open(rules);
    await c.change(rules, text.replace('depends_on: [extract]\n        context:', 'depends_on: [extrakt]\n        context:'));
    await c.diagnosticsOf(rules, hasCode('unknown-step'));
    await c.close(rules);
    await c.diagnosticsOf(rules, (x) => x.length === 0);
  } finally {
    await c.stop();
  }
});

test('settings: a disabled code is not reported, max problems per file caps, templates root override', async () => {
  const dir = copyFixture();
  writeFiles(dir, { 'templates/common/unused_one.hbs': 'Never used\n', 'other/analysis/extract.hbs': '{{document}}\n' });
  const unused = path.join(dir, 'templates/common/unused_one.hbs');
  {
    const c = await LspClient.start({ folders: [dir], settings: { diagnostics: { disabledCodes: ['unused-template'] } } });
    try {
      await c.settle(300);
      assert.deepEqual(c.diagnostics.get(uri(unused)) ?? [], []);
      // Switching the code back on through workspace/didChangeConfiguration.
      c.settings = { diagnostics: { disabledCodes: [] } };
      await c.conn.sendNotification('workspace/didChangeConfiguration', { settings: {} });
      await c.diagnosticsOf(unused, hasCode('unused-template'));
    } finally {
      await c.stop();
    }
  }
  {
    const c = await LspClient.start({ folders: [dir], settings: { maxProblemsPerFile: 1 } });
    try {
      const rules = path.join(dir, 'composition_rules.yaml');
      const text = await c.open(rules);
      await c.change(rules, text.replace(/template: analysis\//g, 'template: nope/'));
      const ds = await c.diagnosticsOf(rules, hasCode('unknown-template'));
      assert.equal(ds.length, 1);
    } finally {
      await c.stop();
    }
  }
  {
    // The templates root moved to `other/`: only analysis/extract lives there now.
    const c = await LspClient.start({ folders: [dir], settings: { templatesRoot: 'other' } });
    try {
      const ds = await c.diagnosticsOf(path.join(dir, 'composition_rules.yaml'), hasCode('unknown-template'));
      assert.ok(!ds.some((d) => String(d.message).includes("template 'analysis/extract' not found")), 'analysis/extract is found in other/');
      assert.ok(ds.some((d) => String(d.message).includes("template 'analysis/summary' not found")));
    } finally {
      await c.stop();
    }
  }
});

test('multi-root: two folders, each with its own workspaces and settings; a folder added later is indexed', async () => {
  const a = copyFixture();
  const b = copyFixture();
  fs.writeFileSync(path.join(b, 'templates/common/unused_b.hbs'), 'unused\n');
  fs.writeFileSync(path.join(a, 'templates/common/unused_a.hbs'), 'unused\n');
  const settingsFor = (scope: string | undefined) => (scope === uri(a) ? { diagnostics: { disabledCodes: ['unused-template'] } } : {});
  const c = await LspClient.start({ folders: [a, b], settingsFor });
  try {
    await c.diagnosticsOf(path.join(b, 'templates/common/unused_b.hbs'), hasCode('unused-template'));
    await c.settle(200);
    assert.deepEqual(c.diagnostics.get(uri(path.join(a, 'templates/common/unused_a.hbs'))) ?? [], []);
    // An error in folder a does not leak into b.
    const rulesA = path.join(a, 'composition_rules.yaml');
    const text = await c.open(rulesA);
    await c.change(rulesA, text.replace('model: local', 'model: remote'));
    await c.diagnosticsOf(rulesA, hasCode('unknown-provider'));
    assert.deepEqual(c.diagnostics.get(uri(path.join(b, 'composition_rules.yaml'))) ?? [], []);
    // A third folder arrives.
    const d = copyFixture();
    writeFiles(d, { 'templates/common/unused_d.hbs': 'x\n' });
    await c.conn.sendNotification('workspace/didChangeWorkspaceFolders', { event: { added: [{ uri: uri(d), name: 'd' }], removed: [] } });
    await c.diagnosticsOf(path.join(d, 'templates/common/unused_d.hbs'), hasCode('unused-template'));
    // Removing folder b clears its diagnostics.
    await c.conn.sendNotification('workspace/didChangeWorkspaceFolders', { event: { added: [], removed: [{ uri: uri(b), name: 'b' }] } });
    await c.diagnosticsOf(path.join(b, 'templates/common/unused_b.hbs'), (x) => x.length === 0);
  } finally {
    await c.stop();
  }
});

test('never stale: after a burst of edits, diagnostics equal those of a fresh server on the same texts', async () => {
  const dir = copyFixture();
  const c = await LspClient.start({ folders: [dir], debounceMs: 5 });
  const rules = path.join(dir, 'composition_rules.yaml');
  let final: string;
  try {
    const text = await c.open(rules);
    const variants = [
      text.replace('analysis/extract', 'analysis/x1'),
      text.replace('depends_on: [extract]', 'depends_on: [nope]'),
      text.replace('compositions:', 'compositions:\n  broken: [\n'),
      text.replace('model: local', 'model: other'),
      text.replace('analysis/report', 'analysis/rep'),
    ];
    for (let i = 0; i < 40; i++) {
      await c.change(rules, variants[i % variants.length]!);
      if (i % 7 === 0) await new Promise((r) => setTimeout(r, 8));
    }
    final = variants[39 % variants.length]!;
    await c.settle(300);
  } finally {
    await c.stop();
  }
  fs.writeFileSync(rules, final);
  const fresh = await LspClient.start({ folders: [dir] });
  try {
    await fresh.settle(300);
    assert.deepEqual(c.diagnostics.get(uri(rules)), fresh.diagnostics.get(uri(rules)));
  } finally {
    await fresh.stop();
  }
});

test('one implementation: for every examples/broken workspace the server publishes exactly what validateWorkspace reports', async () => {
  const dir = copyFixture(path.join(EXAMPLES, 'broken'), () => false);
  const c = await LspClient.start({ folders: [dir] });
  try {
    await c.settle(400);
    const expected = new Map<string, { code: string; range: unknown; message: string }[]>();
    for (const root of findPromptWorkspaces(dir)) {
      for (const d of validateWorkspace(root).diagnostics) {
        const list = expected.get(uri(d.file)) ?? [];
        list.push({ code: d.code, range: d.range, message: d.message });
        expected.set(uri(d.file), list);
      }
    }
    assert.ok(expected.size >= 13);
    for (const [u, want] of expected) {
      const got = (c.diagnostics.get(u) ?? []).map((d) => ({ code: String(d.code), range: d.range, message: String(d.message) }));
      assert.deepEqual(got, want, u);
    }
    for (const [u, got] of c.diagnostics) if (!expected.has(u)) assert.deepEqual(got, [], u);
  } finally {
    await c.stop();
  }
});

test('transport: the server also speaks LSP over Node IPC (--node-ipc), as the VS Code client starts it', async () => {
  const dir = copyFixture();
  const child = fork(SERVER, ['--node-ipc'], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  const conn = createProtocolConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
  const published: string[] = [];
  conn.onNotification('textDocument/publishDiagnostics', (p: { uri: string }) => void published.push(p.uri));
  conn.onRequest('workspace/configuration', (p: { items: unknown[] }) => p.items.map(() => ({})));
  conn.onRequest('client/registerCapability', () => null);
  conn.listen();
  try {
    const init = (await conn.sendRequest('initialize', { processId: process.pid, rootUri: uri(dir), capabilities: { workspace: { configuration: true } }, workspaceFolders: [{ uri: uri(dir), name: 'x' }] })) as { serverInfo: { name: string } };
    assert.equal(init.serverInfo.name, 'promptmanager-language-server');
    await conn.sendNotification('initialized', {});
    const rules = path.join(dir, 'composition_rules.yaml');
    const text = fs.readFileSync(rules, 'utf8').replace('analysis/extract', 'analysis/nope');
    await conn.sendNotification('textDocument/didOpen', { textDocument: { uri: uri(rules), languageId: 'yaml', version: 1, text } });
    for (let i = 0; i < 100 && !published.includes(uri(rules)); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(published.includes(uri(rules)));
    await conn.sendRequest('shutdown');
    await conn.sendNotification('exit');
  } finally {
    conn.dispose();
    if (child.exitCode === null) child.kill();
  }
});
