/**
 * The language server on a repository holding what is not a regular file, as a pull request can carry it into an editor in Restricted Mode: a FIFO as a
 * configuration file and as a template, a folder named like a template, a configuration file
 * linked to a credentials file outside. The server indexes, publishes `unreadable-file` for
 * each, never reads the link, and keeps answering requests, including ones about those files.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { ListWorkspacesRequest, RenderRequest } from '../../protocol/protocol.js';
import { LspClient, uri, writeFiles } from './lsp.js';

const RULES = 'version: 1\ncompositions:\n  flow:\n    inputs: { required: [name] }\n    steps:\n      - id: a\n        template: hello\n      - id: b\n        template: piped\n';
const MAPPINGS = 'version: 1\nservices:\n  svc:\n    primary_templates: [hello]\n';
const KEY = 'AKIA_CANARY_KEY_NAME_51d0';

test('language server: FIFOs, a folder named like a template and a config linked out are unreadable-file; nothing hangs, nothing linked is read', async (t) => {
  if (process.platform === 'win32') return t.skip('FIFOs are a POSIX feature');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-lsp-unreadable-'));
  fs.writeFileSync(path.join(dir, 'credentials'), `${KEY}: secret-value\n`);
  const pipes = path.join(dir, 'pipes');
  const linked = path.join(dir, 'linked');
  writeFiles(pipes, { 'service_mappings.yaml': MAPPINGS, 'templates/hello.hbs': 'Hello {{name}}', 'templates/folder.hbs/inner.hbs': 'Inner' });
  execFileSync('mkfifo', [path.join(pipes, 'composition_rules.yaml')]);
  execFileSync('mkfifo', [path.join(pipes, 'templates', 'piped.hbs')]);
  writeFiles(linked, { 'composition_rules.yaml': RULES.replace('      - id: b\n        template: piped\n', ''), 'templates/hello.hbs': 'Hello {{name}}' });
  fs.symlinkSync('../credentials', path.join(linked, 'service_mappings.yaml'));
  let c: LspClient | undefined;
  try {
    c = await LspClient.start({ folders: [dir] });
    const rulesFifo = path.join(pipes, 'composition_rules.yaml');
    const tplFifo = path.join(pipes, 'templates', 'piped.hbs');
    const folder = path.join(pipes, 'templates', 'folder.hbs');
    const link = path.join(linked, 'service_mappings.yaml');
    for (const [file, says] of [
      [rulesFifo, /composition_rules\.yaml is a FIFO \(named pipe\), not a regular file/],
      [tplFifo, /templates\/piped\.hbs is a FIFO \(named pipe\), not a regular file/],
      [folder, /templates\/folder\.hbs is a folder named like a template/],
      [link, /service_mappings\.yaml is a link to .*credentials, outside the prompt workspace/],
    ] as const) {
      const d = await c.diagnosticsOf(file, (ds) => ds.some((x) => x.code === 'unreadable-file'), 10_000);
      const mine = d.filter((x) => x.code === 'unreadable-file');
      assert.equal(mine.length, 1, file);
      assert.equal(mine[0]!.severity, 1);
      assert.match(String(mine[0]!.message), says);
    }
    for (const ds of c.diagnostics.values()) for (const d of ds) assert.ok(!String(d.message).includes(KEY), `the linked file was read: ${String(d.message)}`);

    // Requests keep being answered, also about the files that are not read.
    const hover = await c.request('textDocument/hover', { textDocument: { uri: uri(tplFifo) }, position: { line: 0, character: 0 } });
    assert.equal(hover, null);
    const symbols = await c.request<unknown[]>('textDocument/documentSymbol', { textDocument: { uri: uri(rulesFifo) } });
    assert.deepEqual(symbols, []);
    const listed = await c.conn.sendRequest(ListWorkspacesRequest, {});
    const pipesInfo = listed.workspaces.find((w) => w.uri === uri(pipes));
    assert.ok(pipesInfo && pipesInfo.errorCount >= 3, JSON.stringify(listed));
    assert.equal(pipesInfo.compositionRules, uri(rulesFifo), 'the file is there, though not read');
    // A template that uses nothing of the unread file renders, counting its error; a render as a
    // service (which reads that file) is refused with it.
    const plain = await c.conn.sendRequest(RenderRequest, { workspace: uri(linked), template: 'hello', context: { name: 'n' } });
    assert.ok(plain.ok && plain.text === 'Hello n' && plain.errorsElsewhere === 1, JSON.stringify(plain));
    const r = await c.conn.sendRequest(RenderRequest, { workspace: uri(linked), template: 'hello', context: { name: 'n' }, service: 'any' });
    assert.ok(!r.ok && r.error.code === 'invalid_configuration' && /unreadable-file/.test(r.error.message), JSON.stringify(r));
    assert.ok(!JSON.stringify(r).includes(KEY));
  } finally {
    await c?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
