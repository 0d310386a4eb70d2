/**
 * Every editor feature over real LSP against the bundled server, with `|` cursor markers:
 * completion, hover, definition, references, document and workspace symbols, prepareRename
 * and rename, code actions.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { CodeAction, CompletionList, DocumentSymbol, Hover, Location, Range, SymbolInformation, WorkspaceEdit } from 'vscode-languageserver-protocol';
import { applyEdits, editsFor, markedWorkspace, reviewWorkspace, type MarkedFile } from './fixture.js';
import { LspClient, uri } from './lsp.js';

let c: LspClient;
let dir: string;
let files: Record<string, MarkedFile>;

before(async () => {
  ({ dir, files } = reviewWorkspace());
  c = await LspClient.start({ folders: [dir] });
  for (const f of Object.values(files)) await c.open(f.file, f.text);
});
after(async () => {
  await c.stop();
});

const at = (rel: string, i: number) => ({ textDocument: { uri: uri(files[rel]!.file) }, position: files[rel]!.at[i]! });
const labels = (l: CompletionList | null) => (l?.items ?? []).map((i) => i.label);

test('completion over LSP: keys, depends_on, templates, providers, compositions, Handlebars', async () => {
  const R = 'composition_rules.yaml';
  // Nothing can be added: one item that says so (an empty list lets VS Code offer the file's words).
  assert.deepEqual(labels(await c.request<CompletionList>('textDocument/completion', at(R, 2))), ['(no step to add)']);
  assert.deepEqual(labels(await c.request<CompletionList>('textDocument/completion', at(R, 8))), ['outline']);
  assert.ok(labels(await c.request<CompletionList>('textDocument/completion', at(R, 1))).includes('review/outline'));
  assert.deepEqual(labels(await c.request<CompletionList>('textDocument/completion', at(R, 5))), ['local']);
  assert.deepEqual(labels(await c.request<CompletionList>('textDocument/completion', at('service_mappings.yaml', 0))), ['review']);
  const hb = labels(await c.request<CompletionList>('textDocument/completion', at(R, 7)));
  for (const l of ['document', 'locale', 'steps.outline.output', 'join']) assert.ok(hb.includes(l), l);
  // Keys at the top level, typed on a new line.
  const rules = files[R]!;
  const text = rules.text + 'te';
  await c.change(rules.file, text);
  const top = labels(await c.request<CompletionList>('textDocument/completion', { textDocument: { uri: uri(rules.file) }, position: { line: text.split('\n').length - 1, character: 2 } }));
  assert.ok(top.includes('templates_dir') && top.includes('defaults') && !top.includes('compositions'), top.join(','));
  await c.change(rules.file, rules.text);
  // Partials in a template, as typed.
  const fb = files['templates/review/feedback.hbs']!;
  await c.change(fb.file, fb.text + '{{> ');
  const partials = labels(await c.request<CompletionList>('textDocument/completion', { textDocument: { uri: uri(fb.file) }, position: { line: fb.text.split('\n').length - 1, character: 4 } }));
  assert.ok(partials.includes('common/preamble'));
  await c.change(fb.file, fb.text);
});

test('hover over LSP: key description, template, step, composition', async () => {
  const value = async (p: ReturnType<typeof at>) => ((await c.request<Hover | null>('textDocument/hover', p))?.contents as { value: string } | undefined)?.value ?? '';
  assert.match(await value(at('composition_rules.yaml', 3)), /Ids of the steps/);
  assert.match(await value(at('composition_rules.yaml', 1)), /Reads: `document`/);
  assert.match(await value(at('composition_rules.yaml', 4)), /\*\*step\*\* `outline`/);
  assert.match(await value(at('service_mappings.yaml', 0)), /\*\*composition\*\* `review`/);
  assert.match(await value(at('templates/review/outline.hbs', 0)), /\*\*template\*\* `common\/preamble`/);
});

test('definition and references over LSP', async () => {
  const defs = await c.request<Location[]>('textDocument/definition', at('composition_rules.yaml', 1));
  assert.deepEqual(defs.map((d) => d.uri), [uri(path.join(dir, 'templates/review/outline.hbs'))]);
  const partial = await c.request<Location[]>('textDocument/definition', at('templates/review/outline.hbs', 0));
  assert.deepEqual(partial.map((d) => d.uri), [uri(path.join(dir, 'templates/common/preamble.hbs'))]);
  const step = await c.request<Location[]>('textDocument/definition', at('templates/review/feedback.hbs', 0));
  assert.deepEqual(step.map((d) => [path.basename(d.uri), d.range.start.line]), [['composition_rules.yaml', 13]]);
  const comp = await c.request<Location[]>('textDocument/definition', at('service_mappings.yaml', 0));
  assert.deepEqual(comp.map((d) => d.range.start.line), [7]);
  const refs = await c.request<Location[]>('textDocument/references', { ...at('composition_rules.yaml', 6), context: { includeDeclaration: true } });
  assert.deepEqual(refs.map((r) => `${path.basename(r.uri)}:${r.range.start.line}`).sort(), ['composition_rules.yaml:13', 'composition_rules.yaml:18', 'composition_rules.yaml:21', 'feedback.hbs:0']);
  const provider = await c.request<Location[]>('textDocument/references', { ...at('composition_rules.yaml', 0), context: { includeDeclaration: false } });
  assert.deepEqual(provider.map((r) => r.range.start.line), [19]);
});

test('document and workspace symbols over LSP', async () => {
  const syms = await c.request<DocumentSymbol[]>('textDocument/documentSymbol', { textDocument: { uri: uri(files['composition_rules.yaml']!.file) } });
  assert.deepEqual(syms.map((s) => s.name), ['local', 'review']);
  assert.deepEqual(syms[1]!.children!.map((s) => s.name), ['outline', 'feedback', 'wrap_up']);
  const ws = await c.request<SymbolInformation[]>('workspace/symbol', { query: 'feedb' });
  assert.deepEqual(ws.map((s) => s.name).sort(), ['feedback', 'review/feedback']);
});

test('prepareRename and rename over LSP', async () => {
  const prep = await c.request<{ range: Range; placeholder: string }>('textDocument/prepareRename', at('composition_rules.yaml', 4));
  assert.equal(prep.placeholder, 'outline');
  await assert.rejects(c.request('textDocument/prepareRename', { textDocument: { uri: uri(files['composition_rules.yaml']!.file) }, position: { line: 8, character: 5 } }), /can be renamed/);
  const edit = await c.request<WorkspaceEdit>('textDocument/rename', { ...at('composition_rules.yaml', 4), newName: 'plan' });
  const rules = files['composition_rules.yaml']!;
  const renamed = applyEdits(rules.text, editsFor(edit, rules.file));
  assert.match(renamed, /- id: plan\n[\s\S]*depends_on: \[plan\][\s\S]*steps\.plan\.output/);
  const fb = files['templates/review/feedback.hbs']!;
  assert.match(applyEdits(fb.text, editsFor(edit, fb.file)), /steps\.plan\.output/);
  await assert.rejects(c.request('textDocument/rename', { ...at('composition_rules.yaml', 4), newName: 'wrap_up' }), /already has a step 'wrap_up'/);
  const t = await c.request<WorkspaceEdit>('textDocument/rename', { ...at('composition_rules.yaml', 1), newName: 'review/plan' });
  assert.ok(t.documentChanges!.some((d) => 'kind' in d && d.kind === 'rename'));
});

test('code actions over LSP: quick fixes for the diagnostics the client sends back', async () => {
  const { dir: d2, files: f2 } = markedWorkspace({
    'composition_rules.yaml': 'version: 1\ncompositions:\n  c:\n    steps:\n      - id: a\n        template: gretting\n',
    'templates/greeting.hbs': 'Hello\n',
  });
  const c2 = await LspClient.start({ folders: [d2] });
  try {
    const rules = f2['composition_rules.yaml']!;
    await c2.open(rules.file, rules.text);
    const ds = await c2.diagnosticsOf(rules.file, (x) => x.length > 0);
    const actions = await c2.request<CodeAction[]>('textDocument/codeAction', { textDocument: { uri: uri(rules.file) }, range: ds[0]!.range, context: { diagnostics: ds } });
    assert.deepEqual(actions.map((a) => a.title), ["Change to 'greeting'", "Create template 'gretting' (templates/gretting.hbs)"]);
    const fixed = applyEdits(rules.text, editsFor(actions[0]!.edit!, rules.file));
    await c2.change(rules.file, fixed);
    await c2.diagnosticsOf(rules.file, (x) => x.length === 0);
  } finally {
    await c2.stop();
  }
});
