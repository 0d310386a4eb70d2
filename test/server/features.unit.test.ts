/**
 * The feature functions called directly on plain snapshots (no connection): completion,
 * hover, navigation, rename, code actions, and the YAML cursor they rest on.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { CompletionItem, Position } from 'vscode-languageserver-types';
import { validateWorkspace } from '../../core/validate/validateWorkspace.js';
import { LineIndex } from '../../core/text/lineIndex.js';
import { codeActions } from '../../server/features/codeActions.js';
import { completion } from '../../server/features/completion.js';
import { diagnosticsByFile } from '../../server/features/diagnostics.js';
import { hover } from '../../server/features/hover.js';
import { definition, documentSymbols, references, workspaceSymbols } from '../../server/features/navigation.js';
import { prepareRename, rename } from '../../server/features/rename.js';
import { documentSnapshot, workspaceSnapshot, type WorkspaceSnapshot } from '../../server/workspaceSnapshot.js';
import { yamlCursorAt } from '../../server/features/yamlCursor.js';
import { applyEdits, editsFor, markedWorkspace, reviewWorkspace } from './fixture.js';
import { markers, uri } from './lsp.js';

function snapshotOf(dir: string, overlays = new Map<string, string>()): WorkspaceSnapshot {
  const v = validateWorkspace(dir, { overlays });
  return workspaceSnapshot(v, (f) => overlays.get(f) ?? (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : undefined));
}

function req(ws: WorkspaceSnapshot, file: string, position: Position, text?: string) {
  return { ws, doc: documentSnapshot(file, text ?? ws.textOf(file)!), position };
}

const labels = (items: CompletionItem[]) => items.map((i) => i.label);

test('yamlCursor: key paths, list items and flow collections, on text that does not parse', () => {
  const cases: [string, Partial<ReturnType<typeof yamlCursorAt>> & { path: string[] }][] = [
    ['compositions:\n  a:\n    steps:\n      - id: x\n        re|', { kind: 'key', path: ['compositions', 'a', 'steps', '0'], word: 're' }],
    ['compositions:\n  a:\n    steps:\n      - id: x\n      - id: y\n        depends_on: [x, |', { kind: 'item', path: ['compositions', 'a', 'steps', '1', 'depends_on', '1'] }],
    ['compositions:\n  a:\n    steps:\n      - id: x\n        retry: { max_attempts: 2, | }', { kind: 'key', path: ['compositions', 'a', 'steps', '0', 'retry'] }],
    ['compositions:\n  a:\n    steps:\n      - id: x\n        template: "ana|', { kind: 'value', path: ['compositions', 'a', 'steps', '0', 'template'], word: 'ana', quote: '"' }],
    ['services:\n  s:\n    primary_templates:\n      - a/b\n      - |', { kind: 'key', path: ['services', 's', 'primary_templates', '1'] }],
    ['a:\n  b: 1\n  # comment\n\n  |', { kind: 'key', path: ['a'] }],
  ];
  for (const [src, want] of cases) {
    const m = markers(src);
    const cur = yamlCursorAt(m.text, new LineIndex(m.text), m.offsets[0]!);
    for (const [k, v] of Object.entries(want)) assert.deepEqual((cur as unknown as Record<string, unknown>)[k], v, `${k} in ${JSON.stringify(src)}`);
  }
  const m = markers('compositions:\n  a:\n    steps:\n      - id: first\n        template: t\n      - id: second\n        con|');
  const cur = yamlCursorAt(m.text, new LineIndex(m.text), m.offsets[0]!);
  assert.equal(cur.itemIds.get(3), 'second');
});

test('completion: schema keys with descriptions and snippets, minus the keys already there', () => {
  const { dir, files } = reviewWorkspace();
  const rules = files['composition_rules.yaml']!;
  const text = rules.text.replace('        template: review/outline\n', '        template: review/outline\n        re\n');
  const ws = snapshotOf(dir, new Map([[rules.file, text]]));
  const pos = { line: 15, character: 10 };
  const items = completion(req(ws, rules.file, pos, text)).items;
  const retry = items.find((i) => i.label === 'retry');
  assert.ok(retry, labels(items).join(','));
  assert.match(String((retry.documentation as { value: string }).value), /Temporal/);
  assert.match((retry.textEdit as { newText: string }).newText, /max_attempts: \$\{1:3\}/);
  assert.ok(!labels(items).includes('id') && !labels(items).includes('template'), 'present keys are not offered');
  assert.ok(labels(items).includes('model') && !labels(items).includes('depends_on'));
});

test('completion: depends_on never offers the step itself or a step that would close a cycle', () => {
  const { dir, files } = reviewWorkspace();
  const rules = files['composition_rules.yaml']!;
  const ws = snapshotOf(dir);
  const none = completion(req(ws, rules.file, rules.at[2]!));
  assert.deepEqual(labels(none.items), ['(no step to add)'], 'outline: everything else depends on it');
  assert.equal(none.isIncomplete, false);
  // It says why, and accepting it changes nothing: it writes back what is typed (nothing here).
  assert.match(String((none.items[0]!.documentation as { value: string }).value), /runs after 'outline' \(adding it would close a cycle\)/);
  assert.equal((none.items[0]!.textEdit as { newText: string }).newText, '');
  assert.deepEqual(labels(completion(req(ws, rules.file, rules.at[8]!)).items), ['outline'], 'wrap_up: not itself, not feedback (listed)');
});

test('completion: template names with path and variables, providers, compositions, override steps', () => {
  const { dir, files } = reviewWorkspace();
  const rules = files['composition_rules.yaml']!;
  const ws = snapshotOf(dir);
  const t = completion(req(ws, rules.file, rules.at[1]!)).items.find((i) => i.label === 'review/outline');
  assert.ok(t);
  assert.match(String(t.detail), /templates\/review\/outline\.hbs · reads document/);
  assert.deepEqual(labels(completion(req(ws, rules.file, rules.at[5]!)).items), ['local']);
  const sm = files['service_mappings.yaml']!;
  assert.deepEqual(labels(completion(req(ws, sm.file, sm.at[0]!)).items), ['review']);
  assert.deepEqual(labels(completion(req(ws, rules.file, rules.at[10]!)).items).sort(), ['outline', 'wrap_up']);
});

test('completion: Handlebars in context strings and templates: inputs, dependency outputs, helpers, partials', () => {
  const { dir, files } = reviewWorkspace();
  const rules = files['composition_rules.yaml']!;
  const ws = snapshotOf(dir);
  const inCtx = labels(completion(req(ws, rules.file, rules.at[7]!)).items);
  for (const l of ['document', 'locale', 'steps.outline.output', 'json', 'if']) assert.ok(inCtx.includes(l), `${l} in ${inCtx}`);
  assert.ok(!inCtx.includes('steps.wrap_up.output') && !inCtx.includes('steps.feedback.output'), 'only dependencies');

  const fb = files['templates/review/feedback.hbs']!;
  const edited = fb.text + '{{';
  const ws2 = snapshotOf(dir, new Map([[fb.file, edited]]));
  const lines = edited.split('\n');
  const hbs = labels(completion(req(ws2, fb.file, { line: lines.length - 1, character: 2 }, edited)).items);
  for (const l of ['document', 'locale', 'steps.outline.output', 'notes', 'join']) assert.ok(hbs.includes(l), `${l} in ${hbs}`);

  const withPartial = fb.text + '{{> ';
  const ws3 = snapshotOf(dir, new Map([[fb.file, withPartial]]));
  const partials = labels(completion(req(ws3, fb.file, { line: withPartial.split('\n').length - 1, character: 4 }, withPartial)).items);
  assert.ok(partials.includes('common/preamble') && !partials.includes('review/feedback'), partials.join(','));
});

test('hover: keys, templates, steps, compositions, helpers', () => {
  const { dir, files } = reviewWorkspace();
  const rules = files['composition_rules.yaml']!;
  const ws = snapshotOf(dir);
  const text = (h: ReturnType<typeof hover>) => (h?.contents as { value: string } | undefined)?.value ?? '';
  assert.match(text(hover(req(ws, rules.file, rules.at[3]!))), /\*\*depends_on\*\*\n\nIds of the steps/);
  const t = text(hover(req(ws, rules.file, rules.at[1]!)));
  assert.match(t, /templates\/review\/outline\.hbs/);
  assert.match(t, /Reads: `document`/);
  assert.match(t, /Outline this document/);
  assert.match(text(hover(req(ws, rules.file, rules.at[4]!))), /Template: `review\/outline`/);
  const sm = files['service_mappings.yaml']!;
  assert.match(text(hover(req(ws, sm.file, sm.at[0]!))), /Inputs: required `document`; optional `locale`[\s\S]*`outline` → `review\/outline`/);
  const wu = files['templates/review/wrap_up.hbs']!;
  assert.match(text(hover(req(ws, wu.file, wu.at[0]!))), /\*\*helper\*\* `json`/);
});

test('hover and completion: provider limits, from the schema', () => {
  const { dir, files } = reviewWorkspace();
  const rules = files['composition_rules.yaml']!;
  const text = rules.text.replace('    base_url: http://127.0.0.1:11434/v1\n', '    base_url: http://127.0.0.1:11434/v1\n    requests_per_minute: 600\n    tokens_per_minute: 90000\n    max_con\n');
  const ws = snapshotOf(dir, new Map([[rules.file, text]]));
  const lines = text.split('\n');
  const at = (needle: string) => ({ line: lines.findIndex((l) => l.includes(needle)), character: lines.find((l) => l.includes(needle))!.indexOf(needle) + 2 });
  const value = (h: ReturnType<typeof hover>) => (h?.contents as { value: string } | undefined)?.value ?? '';
  assert.match(value(hover(req(ws, rules.file, at('requests_per_minute'), text))), /\*\*requests_per_minute\*\*\n\nAt most this many calls to this provider a minute, counted across every run of the manager\. Calls are spaced evenly/);
  assert.match(value(hover(req(ws, rules.file, at('tokens_per_minute'), text))), /prompt's characters \/ 4, plus `max_tokens` when set/);
  const pos = at('max_con');
  const items = completion(req(ws, rules.file, { line: pos.line, character: pos.character + 5 }, text)).items;
  const mc = items.find((i) => i.label === 'max_concurrency');
  assert.ok(mc, labels(items).join(','));
  assert.match(JSON.stringify(mc!.documentation), /At most this many calls to this provider at once/);
  assert.ok(!labels(items).includes('requests_per_minute'), 'a key already set is not offered again');
});

test('navigation: definition and references of templates, steps, compositions, providers', () => {
  const { dir, files } = reviewWorkspace();
  const rules = files['composition_rules.yaml']!;
  const sm = files['service_mappings.yaml']!;
  const ws = snapshotOf(dir);
  const outlineHbs = path.join(dir, 'templates/review/outline.hbs');
  assert.deepEqual(definition(req(ws, rules.file, rules.at[1]!)).map((l) => l.uri), [uri(outlineHbs)]);
  const ol = files['templates/review/outline.hbs']!;
  assert.deepEqual(definition(req(ws, ol.file, ol.at[0]!)).map((l) => l.uri), [uri(path.join(dir, 'templates/common/preamble.hbs'))]);
  const stepDef = definition(req(ws, rules.file, rules.at[4]!));
  assert.deepEqual(stepDef.map((l) => [l.uri, l.range.start.line]), [[uri(rules.file), 13]]);
  assert.deepEqual(definition(req(ws, rules.file, rules.at[9]!)).map((l) => l.range.start.line), [16], 'override key -> step feedback');
  assert.deepEqual(definition(req(ws, sm.file, sm.at[0]!)).map((l) => [l.uri, l.range.start.line]), [[uri(rules.file), 7]]);
  assert.deepEqual(definition(req(ws, rules.file, rules.at[5]!)).map((l) => l.range.start.line), [2]);

  const refs = references(req(ws, rules.file, rules.at[4]!), false).map((l) => `${path.basename(l.uri)}:${l.range.start.line}`);
  assert.deepEqual(refs.sort(), ['composition_rules.yaml:18', 'composition_rules.yaml:21', 'feedback.hbs:0'].sort());
  const trefs = references(req(ws, rules.file, rules.at[1]!), false).map((l) => path.basename(l.uri));
  assert.deepEqual(trefs.sort(), ['composition_rules.yaml', 'service_mappings.yaml']);
  assert.equal(references(req(ws, rules.file, rules.at[0]!), true).length, 2, 'provider: definition and one use');
});

test('symbols: outline of both files, workspace symbols by fuzzy query', () => {
  const { dir, files } = reviewWorkspace();
  const ws = snapshotOf(dir);
  const rules = files['composition_rules.yaml']!;
  const syms = documentSymbols(ws, documentSnapshot(rules.file, rules.text));
  assert.deepEqual(syms.map((s) => s.name), ['local', 'review']);
  assert.deepEqual(syms[1]!.children!.map((s) => s.name), ['outline', 'feedback', 'wrap_up']);
  const sm = files['service_mappings.yaml']!;
  assert.deepEqual(documentSymbols(ws, documentSnapshot(sm.file, sm.text)).map((s) => s.name), ['review_service']);
  const found = workspaceSymbols([ws], 'wrap').map((s) => `${s.name}:${s.containerName}`);
  assert.deepEqual(found.sort(), ['review/wrap_up:template', 'wrap_up:review (step)']);
});

test('rename: a step everywhere it is read, a composition across files, a template with its file', () => {
  const { dir, files } = reviewWorkspace();
  const rules = files['composition_rules.yaml']!;
  const ws = snapshotOf(dir);
  const prep = prepareRename(req(ws, rules.file, rules.at[4]!));
  assert.deepEqual('placeholder' in prep && prep.placeholder, 'outline');
  const r = rename(req(ws, rules.file, rules.at[4]!), 'plan');
  assert.ok('edit' in r, JSON.stringify(r));
  const newRules = applyEdits(rules.text, editsFor(r.edit, rules.file));
  assert.match(newRules, /- id: plan\n/);
  assert.match(newRules, /depends_on: \[plan\]/);
  assert.match(newRules, /\{\{steps\.plan\.output\}\}/);
  const fb = files['templates/review/feedback.hbs']!;
  assert.match(applyEdits(fb.text, editsFor(r.edit, fb.file)), /\{\{steps\.plan\.output\}\}/);

  const sm = files['service_mappings.yaml']!;
  const rc = rename(req(ws, sm.file, sm.at[0]!), 'critique');
  assert.ok('edit' in rc);
  assert.match(applyEdits(sm.text, editsFor(rc.edit, sm.file)), /compositions: \[critique\]/);
  assert.match(applyEdits(rules.text, editsFor(rc.edit, rules.file)), /\n {2}critique:\n/);

  const rt = rename(req(ws, rules.file, rules.at[1]!), 'review/plan');
  assert.ok('edit' in rt);
  const ops = rt.edit.documentChanges!.filter((d) => 'kind' in d);
  assert.deepEqual(ops, [{ kind: 'rename', oldUri: uri(path.join(dir, 'templates/review/outline.hbs')), newUri: uri(path.join(dir, 'templates/review/plan.hbs')) }]);
  assert.match(applyEdits(sm.text, editsFor(rt.edit, sm.file)), /primary_templates: \[review\/plan\]/);

  assert.ok('error' in prepareRename(req(ws, rules.file, { line: 8, character: 6 })), 'a key cannot be renamed');
  assert.ok('error' in rename(req(ws, rules.file, rules.at[4]!), 'feedback'), 'a name in use');
  assert.ok('error' in rename(req(ws, rules.file, rules.at[4]!), '9 bad'), 'an invalid name');
});

test('code actions: create template, did-you-mean, break a cycle, add depends_on, add an input', () => {
  const { dir, files } = markedWorkspace({
    'composition_rules.yaml': `version: 1
compositions:
  c:
    inputs: { required: [document] }
    steps:
      - id: a
        template: a
        depends_on: [b]
      - id: b
        template: b
        depends_on: [a]
      - id: c
        template: missing/one
        context:
          x: "{{steps.d.output}}"
      - id: d
        template: tone
`,
    'templates/a.hbs': '{{document}}\n',
    'templates/b.hbs': '{{document}}\n',
    'templates/tone.hbs': 'In a {{tone}} tone\n',
  });
  const rules = files['composition_rules.yaml']!;
  const ws = snapshotOf(dir);
  const byFile = diagnosticsByFile(ws.validation.diagnostics, { disabledCodes: [], maxProblemsPerFile: 100 }, uri);
  const diags = byFile.get(rules.file)!;
  const actionsFor = (code: string) => {
    const d = diags.filter((x) => x.code === code);
    assert.ok(d.length, `a ${code} diagnostic in ${JSON.stringify(diags.map((x) => x.code))}`);
    return codeActions({ ws, doc: documentSnapshot(rules.file, rules.text), range: d[0]!.range, diagnostics: [d[0]!] });
  };
  const create = actionsFor('unknown-template').find((a) => a.title.startsWith('Create template'));
  assert.ok(create);
  const dc = create.edit!.documentChanges!;
  assert.deepEqual(dc[0], { kind: 'create', uri: uri(path.join(dir, 'templates/missing/one.hbs')), options: { ignoreIfExists: true } });
  assert.match(JSON.stringify(dc[1]), /document \(required\)/);
  assert.match(JSON.stringify(dc[1]), /x \(context of step 'c'\)/);

  const cycle = actionsFor('dependency-cycle')[0]!;
  const fixed = applyEdits(rules.text, editsFor(cycle.edit!, rules.file));
  const after = validateWorkspace(dir, { overlays: new Map([[rules.file, fixed]]) });
  assert.ok(!after.diagnostics.some((d) => d.code === 'dependency-cycle'), fixed);

  const dep = actionsFor('undeclared-step-read');
  assert.equal(dep[0]!.title, "Add 'd' to depends_on of step 'c'");
  const withDep = applyEdits(rules.text, editsFor(dep[0]!.edit!, rules.file));
  assert.match(withDep, /- id: c\n {8}template: missing\/one\n[\s\S]*depends_on: \[d\]/);
  assert.ok(!validateWorkspace(dir, { overlays: new Map([[rules.file, withDep]]) }).diagnostics.some((d) => d.code === 'undeclared-step-read'));

  const input = actionsFor('undeclared-variable');
  assert.deepEqual(input.map((a) => a.title), ["Add 'tone' to the optional inputs of composition 'c'", "Add 'tone' to the required inputs of composition 'c'"]);
  const withInput = applyEdits(rules.text, editsFor(input[0]!.edit!, rules.file));
  assert.match(withInput, /inputs: \{ required: \[document\], optional: \[tone\] \}/);
  assert.ok(!validateWorkspace(dir, { overlays: new Map([[rules.file, withInput]]) }).diagnostics.some((d) => d.code === 'undeclared-variable'));
});

test('code actions: replace an unknown name with the closest known one', () => {
  const { dir, files } = markedWorkspace({
    'composition_rules.yaml': 'version: 1\ncompositions:\n  c:\n    steps:\n      - id: a\n        template: summry\n      - id: b\n        template: summary\n        depends_on: [aa]\n',
    'templates/summary.hbs': 'Hi\n',
  });
  const rules = files['composition_rules.yaml']!;
  const ws = snapshotOf(dir);
  const diags = diagnosticsByFile(ws.validation.diagnostics, { disabledCodes: [], maxProblemsPerFile: 100 }, uri).get(rules.file)!;
  let text = rules.text;
  for (const d of diags) {
    const a = codeActions({ ws, doc: documentSnapshot(rules.file, rules.text), range: d.range, diagnostics: [d] }).find((x) => x.title.startsWith('Change to'));
    assert.ok(a, `${d.code}: ${d.message}`);
    text = applyEdits(text, editsFor(a.edit!, rules.file));
  }
  assert.match(text, /template: summary\n[\s\S]*depends_on: \[a\]/);
});

test('diagnostics settings: codes switched off, at most N per file, errors first', () => {
  const { dir, files } = markedWorkspace({
    'composition_rules.yaml': 'version: 1\ncompositions:\n  c:\n    steps:\n      - id: a\n        template: x1\n      - id: b\n        template: x2\n      - id: c\n        template: x3\n',
    'templates/unused.hbs': 'Hi\n',
  });
  const v = validateWorkspace(dir);
  const rules = files['composition_rules.yaml']!.file;
  assert.equal(diagnosticsByFile(v.diagnostics, { disabledCodes: [], maxProblemsPerFile: 2 }, uri).get(rules)!.length, 2);
  const off = diagnosticsByFile(v.diagnostics, { disabledCodes: ['unused-template'], maxProblemsPerFile: 100 }, uri);
  assert.ok(!off.has(path.join(dir, 'templates/unused.hbs')));
});

test('completion: a value typed right after the colon gets its space; a new step on a bare line gets a skeleton', () => {
  const { dir, files } = reviewWorkspace();
  const rules = files['composition_rules.yaml']!;
  const text = rules.text.replace('        model: local\n', '        model:\n');
  const ws = snapshotOf(dir, new Map([[rules.file, text]]));
  const line = text.split('\n').findIndex((l) => l === '        model:');
  const items = completion(req(ws, rules.file, { line, character: 14 }, text)).items;
  assert.equal((items[0]!.textEdit as { newText: string }).newText, ' local');
  const withNew = rules.text.replace('      - id: wrap_up', '      \n      - id: wrap_up');
  const ws2 = snapshotOf(dir, new Map([[rules.file, withNew]]));
  const l2 = withNew.split('\n').findIndex((l) => l === '      ');
  const step = completion(req(ws2, rules.file, { line: l2, character: 6 }, withNew)).items;
  assert.match((step[0]!.textEdit as { newText: string }).newText, /^- id: \$\{1:step\}\n {8}template: \$2/);
});
