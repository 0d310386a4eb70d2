/**
 * Prompt test files in the language server, over real LSP: their diagnostics (closed files at
 * start, open files as you type, files below prompt_tests/, a context file edited in its
 * buffer, files created on disk with and without the client's watchers), and the editor
 * features on them: hover, go to definition (template, composition, step, service,
 * context file, snapshot golden file), references and rename reaching into tests, the outline.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import type { DocumentSymbol, Hover, Location, TextDocumentEdit, WorkspaceEdit } from 'vscode-languageserver-protocol';
import { LspClient, markers, uri, writeFiles } from './lsp.js';

const RULES = `version: 1
providers:
  local:
    type: openai-compatible
    base_url: http://127.0.0.1:11434/v1
    model: llama3.2
compositions:
  reply_drafter:
    inputs: { required: [message] }
    steps:
      - id: brief
        template: reply/brief
      - id: draft
        template: reply/draft
        model: local
        depends_on: [brief]
`;
const MAPPINGS = `version: 1
services:
  greeting_service:
    primary_templates: [greet]
  drafting_service:
    compositions: [reply_drafter]
`;
const TESTS = `version: 1
tests:
  greets_ada:
    template: greet
    service: greeting_service
    context_file: contexts/ada.json
    expect:
      - contains: Ada
      - snapshot: true
  drafts_a_reply:
    composition: reply_drafter
    context: { message: Wrong invoice }
    mocks:
      draft: Dear Priya
    expect:
      - step: draft
        status: succeeded
`;

function workspace(extra: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-tests-'));
  writeFiles(dir, {
    'composition_rules.yaml': RULES,
    'service_mappings.yaml': MAPPINGS,
    'templates/greet.hbs': 'Hello {{name}}.\n',
    'templates/reply/brief.hbs': 'Brief for {{message}}.\n',
    'templates/reply/draft.hbs': 'Draft from {{steps.brief.output}}.\n',
    'contexts/ada.json': '{ "name": "Ada" }\n',
    'prompt_tests.yaml': TESTS,
    'prompt_tests/__snapshots__/greets_ada/output.txt': 'Hello Ada.\n',
    ...extra,
  });
  return dir;
}

const codes = (c: LspClient, file: string) => c.codes(file).join(',');

test('diagnostics of test files: closed at start, open as you type (prompt_tests.yaml and below prompt_tests/), back to disk on close', async () => {
  const dir = workspace({ 'prompt_tests/more/broken.yaml': 'version: 1\ntests:\n  renders_nothing:\n    template: nope\n' });
  const main = path.join(dir, 'prompt_tests.yaml');
  const more = path.join(dir, 'prompt_tests/more/broken.yaml');
  const c = await LspClient.start({ folders: [dir], debounceMs: 0 });
  try {
    // A closed file's problems are published at start.
    await c.diagnosticsOf(more, (d) => d.length === 1);
    assert.equal(codes(c, more), 'unknown-template');
    assert.equal(c.diagnostics.get(uri(main))?.length ?? 0, 0);

    // As you type: an unknown step, then an unknown template, each flagged where it is written.
    await c.open(main);
    await c.change(main, TESTS.replace('- step: draft', '- step: drafts'));
    const ds = await c.diagnosticsOf(main, (d) => d.length === 1);
    assert.equal(ds[0]!.code, 'unknown-step');
    assert.match(String(ds[0]!.message), /did you mean 'draft'/);
    assert.equal(ds[0]!.range.start.line, 15);
    await c.change(main, TESTS.replace('template: greet', 'template: gret'));
    await c.diagnosticsOf(main, (d) => d.some((x) => x.code === 'unknown-template' && x.range.start.line === 3));
    await c.change(main, TESTS);
    await c.diagnosticsOf(main, (d) => d.length === 0);

    // The file below prompt_tests/, opened and fixed as you type.
    await c.open(more);
    await c.change(more, 'version: 1\ntests:\n  renders_nothing:\n    template: greet\n');
    await c.diagnosticsOf(more, (d) => d.length === 0);
    // Closed without saving: the disk text counts again.
    await c.close(more);
    await c.diagnosticsOf(more, (d) => d.length === 1);

    // A test file opened before it exists on disk (a new, unsaved file) is checked too.
    const fresh = path.join(dir, 'prompt_tests/new.yaml');
    await c.open(fresh, 'version: 1\ntests:\n  greets_ada:\n    template: greet\n');
    await c.diagnosticsOf(fresh, (d) => d.some((x) => x.code === 'invalid-test' && /already used/.test(String(x.message))));
  } finally {
    await c.stop();
  }
});

test("a context file's buffer is read as you type: an edit that breaks its JSON is flagged at the test naming it", async () => {
  const dir = workspace();
  const main = path.join(dir, 'prompt_tests.yaml');
  const ctx = path.join(dir, 'contexts/ada.json');
  const c = await LspClient.start({ folders: [dir], debounceMs: 0 });
  try {
    await c.settle(100);
    assert.equal(c.diagnostics.get(uri(main))?.length ?? 0, 0);
    await c.open(ctx);
    await c.change(ctx, '{ "name": ');
    const ds = await c.diagnosticsOf(main, (d) => d.length === 1);
    assert.equal(ds[0]!.code, 'invalid-context-file');
    assert.match(String(ds[0]!.message), /not valid JSON/);
    await c.change(ctx, '{ "name": "Ada" }');
    await c.diagnosticsOf(main, (d) => d.length === 0);
  } finally {
    await c.stop();
  }
});

test('the client is asked to watch test files and JSON; a test file created or changed on disk is checked', async () => {
  const dir = workspace();
  const c = await LspClient.start({ folders: [dir], debounceMs: 0 });
  try {
    await c.until(() => c.registrations.length > 0, 5000, 'the watcher registration');
    const globs = JSON.stringify(c.registrations);
    for (const g of ['**/prompt_tests.yaml', '**/prompt_tests/**/*.yaml', '**/*.json', '**/*.{hbs,handlebars}']) assert.ok(globs.includes(g), `${g} in ${globs}`);
    const created = path.join(dir, 'prompt_tests/created.yaml');
    fs.writeFileSync(created, 'version: 1\ntests:\n  other:\n    composition: reply_drafter\n    context: { message: m }\n');
    await c.watched([{ file: created, type: 1 }]);
    // The composition's model step has no mock: an offline test cannot run it.
    await c.diagnosticsOf(created, (d) => d.some((x) => x.code === 'invalid-test' && /gives no mock/.test(String(x.message))));
    fs.writeFileSync(created, 'version: 1\ntests:\n  other:\n    composition: reply_drafter\n    context: { message: m }\n    live: true\n');
    await c.watched([{ file: created, type: 2 }]);
    await c.diagnosticsOf(created, (d) => d.length === 0);
    // Deleted: its problems go with it.
    fs.writeFileSync(created, 'version: 1\ntests:\n  other:\n    template: nope\n');
    await c.watched([{ file: created, type: 2 }]);
    await c.diagnosticsOf(created, (d) => d.length === 1);
    fs.rmSync(created);
    await c.watched([{ file: created, type: 3 }]);
    await c.diagnosticsOf(created, (d) => d.length === 0);
    // A context file changed on disk.
    const ctx = path.join(dir, 'contexts/ada.json');
    fs.writeFileSync(ctx, '[1, 2]');
    await c.watched([{ file: ctx, type: 2 }]);
    await c.diagnosticsOf(path.join(dir, 'prompt_tests.yaml'), (d) => d.some((x) => x.code === 'invalid-context-file' && /JSON object/.test(String(x.message))));
  } finally {
    await c.stop();
  }
});

test("a client without watcher registration: the server's own watcher sees a test file created on disk", async () => {
  const dir = workspace();
  const c = await LspClient.start({
    folders: [dir],
    debounceMs: 0,
    capabilities: { workspace: { configuration: true, workspaceFolders: true, didChangeWatchedFiles: { dynamicRegistration: false } } },
  });
  try {
    const created = path.join(dir, 'prompt_tests/sub/made_outside.yaml');
    fs.mkdirSync(path.dirname(created), { recursive: true });
    fs.writeFileSync(created, 'version: 1\ntests:\n  outside:\n    template: missing/one\n');
    await c.diagnosticsOf(created, (d) => d.some((x) => x.code === 'unknown-template'), 10000);
  } finally {
    await c.stop();
  }
});

/** Positions of `|` markers in the test file, written to disk; the client opens it. */
async function openMarked(c: LspClient, file: string, marked: string): Promise<ReturnType<typeof markers>> {
  const m = markers(marked);
  fs.writeFileSync(file, m.text);
  await c.open(file, m.text);
  return m;
}

test('hover, go to definition, references and rename in a test file', async () => {
  const dir = workspace();
  const main = path.join(dir, 'prompt_tests.yaml');
  const c = await LspClient.start({ folders: [dir], debounceMs: 0 });
  try {
    const m = await openMarked(
      c,
      main,
      `version: 1
tests:
  gree|ts_ada:
    template: gr|eet
    service: greeting_se|rvice
    context_file: contexts/a|da.json
    expect:
      - contains: Ada
      - snap|shot: true
  drafts_a_reply:
    compo|sition: reply_dr|after
    context: { message: Wrong invoice }
    mocks:
      dr|aft: Dear Priya
    expect:
      - step: dr|aft
        status: succeeded
`,
    );
    const at = (i: number) => ({ textDocument: { uri: uri(main) }, position: m.positions[i]! });
    const hover = async (i: number) => ((await c.request<Hover | null>('textDocument/hover', at(i)))?.contents as { value: string } | undefined)?.value ?? '';
    const def = async (i: number) => (await c.request<Location[]>('textDocument/definition', at(i))).map((l) => `${path.relative(dir, new URL(l.uri).pathname)}:${l.range.start.line}`);

    // Hover: the test's name, a template (as in the configuration files), a schema key.
    assert.match(await hover(0), /\*\*test\*\* `greets_ada`[\s\S]*Renders template `greet` as service `greeting_service`[\s\S]*2 assertions: `contains`, `snapshot`/);
    assert.match(await hover(1), /\*\*template\*\* `greet`[\s\S]*templates\/greet\.hbs[\s\S]*Reads: `name`/);
    assert.match(await hover(2), /\*\*service\*\* `greeting_service`/);
    assert.match(await hover(5), /\*\*composition\*\*/);
    assert.match(await hover(6), /\*\*composition\*\* `reply_drafter`[\s\S]*`brief`/);
    assert.match(await hover(8), /\*\*step\*\* `draft` of composition `reply_drafter`[\s\S]*Model: `local`/);
    assert.match(await hover(4), /The text equals its golden file/);

    // Definition: template → its file, service → its key, context file → the JSON, snapshot → its golden file,
    // composition → its key, a mocked step and an assertion's step → the step's id.
    assert.deepEqual(await def(1), ['templates/greet.hbs:0']);
    assert.deepEqual(await def(2), ['service_mappings.yaml:2']);
    assert.deepEqual(await def(3), ['contexts/ada.json:0']);
    assert.deepEqual(await def(4), ['prompt_tests/__snapshots__/greets_ada/output.txt:0']);
    assert.deepEqual(await def(6), ['composition_rules.yaml:7']);
    assert.deepEqual(await def(7), ['composition_rules.yaml:12']);
    assert.deepEqual(await def(8), ['composition_rules.yaml:12']);

    // References of the step from the configuration file reach the tests; a rename edits them.
    const rules = path.join(dir, 'composition_rules.yaml');
    await c.open(rules);
    const stepAt = { textDocument: { uri: uri(rules) }, position: { line: 12, character: 15 } };
    const refs = await c.request<Location[]>('textDocument/references', { ...stepAt, context: { includeDeclaration: false } });
    assert.deepEqual(refs.filter((r) => r.uri === uri(main)).map((r) => r.range.start.line).sort(), [13, 15]);
    const edit = await c.request<WorkspaceEdit>('textDocument/rename', { ...stepAt, newName: 'compose' });
    const inTests = (edit.documentChanges as TextDocumentEdit[]).find((d) => d.textDocument.uri === uri(main))!;
    assert.deepEqual((inTests.edits as { range: { start: { line: number } }; newText: string }[]).map((e) => [e.range.start.line, e.newText]).sort(), [[13, 'compose'], [15, 'compose']]);

    // The outline: the tests, their assertions below them.
    const symbols = await c.request<DocumentSymbol[]>('textDocument/documentSymbol', { textDocument: { uri: uri(main) } });
    assert.deepEqual(symbols.map((s) => [s.name, s.detail, s.children?.map((x) => x.name)]), [
      ['greets_ada', 'template greet', ['1. contains', '2. snapshot']],
      ['drafts_a_reply', 'composition reply_drafter', ['1. status (step draft)']],
    ]);
  } finally {
    await c.stop();
  }
});
