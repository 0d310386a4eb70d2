/**
 * Every diagnostic code of the contract, with the exact range it is reported on and a message
 * that names what is wrong.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import type { PromptDiagnostic } from '../../../core/model/diagnostics.js';
import { validateWorkspace } from '../../../core/validate/validateWorkspace.js';
import { memoryFileSystem } from '../../../core/workspace/fileSystem.js';

const ROOT = path.resolve('/virtual/ws');

function validate(files: Record<string, string>) {
  const fs = memoryFileSystem(Object.fromEntries(Object.entries(files).map(([k, v]) => [path.join(ROOT, k), v])));
  return validateWorkspace(ROOT, { fs });
}

/** `[file, line, col, endLine, endCol, code]`, one-based like an editor shows them. */
function where(d: PromptDiagnostic): [string, number, number, number, number, string] {
  return [path.relative(ROOT, d.file), d.range.start.line + 1, d.range.start.character + 1, d.range.end.line + 1, d.range.end.character + 1, d.code];
}

function only(files: Record<string, string>, code: string): PromptDiagnostic[] {
  const r = validate(files);
  const of = r.diagnostics.filter((d) => d.code === code);
  const others = r.diagnostics.filter((d) => d.code !== code && d.severity !== 'information');
  assert.deepEqual(others.map((d) => `${d.code}: ${d.message}`), [], 'no other error or warning');
  return of;
}

const T = { 'templates/a.hbs': 'A {{task}}', 'templates/b.hbs': 'B {{task}} {{steps.a.output}}' };

function rules(steps: string, extra = ''): string {
  return `version: 1\n${extra}compositions:\n  flow:\n    inputs: { required: [task] }\n    steps:\n${steps}`;
}

describe('diagnostics', () => {
  test('yaml-syntax: on the offending line, and nothing else for that file', () => {
    const ds = only({ ...T, 'composition_rules.yaml': rules('      - id: a\n        template: a\n       depends_on: [b]\n') }, 'yaml-syntax');
    assert.equal(ds.length, 1);
    assert.equal(where(ds[0]!)[1], 8);
    assert.match(ds[0]!.message, /YAML syntax error/);
  });

  test('schema: wrong type names the key, the expectation and the value', () => {
    const ds = only({ ...T, 'composition_rules.yaml': 'version: 1\ndefaults:\n  max_parallel: four\n' + rules('      - id: a\n        template: a\n').slice('version: 1\n'.length) }, 'schema');
    assert.equal(ds.length, 1);
    assert.deepEqual(where(ds[0]!), ['composition_rules.yaml', 3, 17, 3, 21, 'schema']);
    assert.equal(ds[0]!.message, `'max_parallel' must be an integer of at least 1, got "four"`);
  });

  test('schema: unknown key with a did-you-mean, on the key', () => {
    const ds = only({ ...T, 'composition_rules.yaml': rules('      - id: a\n        template: a\n      - id: b\n        template: a\n        dependz: [a]\n') }, 'schema');
    assert.equal(ds.length, 1);
    assert.deepEqual(where(ds[0]!), ['composition_rules.yaml', 10, 9, 10, 16, 'schema']);
    assert.match(ds[0]!.message, /^unknown key 'dependz' in step 2 \(did you mean 'depends_on'\?\)$/);
  });

  test('schema: a missing required key is reported on the step\'s first key', () => {
    const ds = only({ ...T, 'composition_rules.yaml': rules('      - id: a\n        depends_on: []\n') }, 'schema');
    assert.equal(ds.length, 1);
    assert.deepEqual(where(ds[0]!), ['composition_rules.yaml', 6, 9, 6, 11, 'schema']);
    assert.match(ds[0]!.message, /step 1 is missing required key 'template'/);
  });

  test('schema: a bad step id says which characters are allowed', () => {
    const ds = only({ ...T, 'composition_rules.yaml': rules('      - id: 9 lives\n        template: a\n') }, 'schema');
    assert.equal(ds.length, 1);
    assert.deepEqual(where(ds[0]!), ['composition_rules.yaml', 6, 13, 6, 20, 'schema']);
    assert.match(ds[0]!.message, /step id "9 lives" is not valid: use letters, digits/);
  });

  test('schema: a duplicate key is reported on the repeat', () => {
    const ds = only({ ...T, 'composition_rules.yaml': rules('      - id: a\n        template: a\n        template: b\n') }, 'schema');
    assert.equal(ds.length, 1);
    assert.equal(where(ds[0]!)[1], 8);
    assert.match(ds[0]!.message, /duplicate key 'template'/);
  });

  test('unknown-template: on the reference, naming the path looked for', () => {
    const ds = only({ ...T, 'composition_rules.yaml': rules('      - id: a\n        template: missing/thing\n') }, 'unknown-template');
    assert.equal(ds.length, 1);
    assert.deepEqual(where(ds[0]!), ['composition_rules.yaml', 7, 19, 7, 32, 'unknown-template']);
    assert.match(ds[0]!.message, /template 'missing\/thing' not found: looked for .*templates\/missing\/thing\.hbs/);
  });

  test('unknown-template: a {{> partial}} that does not exist, in the .hbs file', () => {
    const ds = only({ ...T, 'templates/a.hbs': 'A {{task}}\n{{> common/nope}}\n', 'composition_rules.yaml': rules('      - id: a\n        template: a\n') }, 'unknown-template');
    assert.equal(ds.length, 1);
    assert.equal(where(ds[0]!)[0], path.join('templates', 'a.hbs'));
    assert.equal(where(ds[0]!)[1], 2);
    assert.match(ds[0]!.message, /partial 'common\/nope' not found/);
  });

  test('template-outside-root: never read, not also a schema error', () => {
    const ds = only({ ...T, 'composition_rules.yaml': rules('      - id: a\n        template: ../secrets/key\n') }, 'template-outside-root');
    assert.equal(ds.length, 1);
    assert.deepEqual(where(ds[0]!), ['composition_rules.yaml', 7, 19, 7, 33, 'template-outside-root']);
    assert.match(ds[0]!.message, /outside the templates root/);
  });

  test('template-syntax: in the template where Handlebars says, and on each reference', () => {
    const ds = only({ ...T, 'templates/broken.hbs': 'Hello {{task}}\n{{#if task}}\nyes\n{{/each}}\n', 'composition_rules.yaml': rules('      - id: a\n        template: broken\n') }, 'template-syntax');
    assert.equal(ds.length, 2);
    const files = ds.map((d) => where(d)[0]).sort();
    assert.deepEqual(files, ['composition_rules.yaml', path.join('templates', 'broken.hbs')]);
    const inHbs = ds.find((d) => d.file.endsWith('.hbs'))!;
    assert.equal(inHbs.range.start.line, 1);
    const onRef = ds.find((d) => d.file.endsWith('.yaml'))!;
    assert.equal(onRef.related?.[0]?.file, path.join(ROOT, 'templates', 'broken.hbs'));
  });

  test('unknown-composition: on the list item, with a did-you-mean', () => {
    const ds = only(
      { ...T, 'composition_rules.yaml': rules('      - id: a\n        template: a\n'), 'service_mappings.yaml': 'version: 1\nservices:\n  svc:\n    primary_templates: [a]\n    compositions:\n      - flow\n      - flwo\n' },
      'unknown-composition',
    );
    assert.equal(ds.length, 1);
    assert.deepEqual(where(ds[0]!), ['service_mappings.yaml', 7, 9, 7, 13, 'unknown-composition']);
    // 'flow' is already on the list: suggesting it would only make a duplicate.
    assert.doesNotMatch(ds[0]!.message, /did you mean/);
    const alone = only(
      { ...T, 'composition_rules.yaml': rules('      - id: a\n        template: a\n'), 'service_mappings.yaml': 'version: 1\nservices:\n  svc:\n    primary_templates: [a]\n    compositions:\n      - flwo\n' },
      'unknown-composition',
    );
    assert.match(alone[0]!.message, /composition 'flwo' is not defined.*did you mean 'flow'/);
  });

  test('unknown-step: in depends_on and in overrides', () => {
    const ds = only(
      {
        ...T,
        'composition_rules.yaml': rules('      - id: a\n        template: a\n        depends_on: [nope]\n') + '    overrides:\n      states:\n        draft:\n          steps:\n            b: { skip: true }\n',
      },
      'unknown-step',
    );
    assert.deepEqual(ds.map((d) => where(d).slice(1, 3)), [[8, 22], [13, 13]]);
    assert.match(ds[0]!.message, /step 'nope'/);
  });

  test('duplicate-step-id: on the repeat only, pointing at the first', () => {
    const ds = only({ ...T, 'composition_rules.yaml': rules('      - id: a\n        template: a\n      - id: a\n        template: a\n') }, 'duplicate-step-id');
    assert.equal(ds.length, 1);
    assert.deepEqual(where(ds[0]!), ['composition_rules.yaml', 8, 13, 8, 14, 'duplicate-step-id']);
    assert.equal(ds[0]!.related?.[0]?.range.start.line, 5);
  });

  test('dependency-cycle: every edge, each message with the whole cycle', () => {
    const ds = only(
      { ...T, 'composition_rules.yaml': rules('      - id: a\n        template: a\n        depends_on: [c]\n      - id: b\n        template: a\n        depends_on: [a]\n      - id: c\n        template: a\n        depends_on: [b]\n') },
      'dependency-cycle',
    );
    assert.equal(ds.length, 3);
    assert.deepEqual(ds.map((d) => where(d)[1]), [8, 11, 14]);
    assert.match(ds[0]!.message, /a -> c -> b -> a/);
    assert.match(ds[1]!.message, /b -> a -> c -> b/);
  });

  test('dependency-cycle: a self-dependency is a cycle of one', () => {
    const ds = only({ ...T, 'composition_rules.yaml': rules('      - id: a\n        template: a\n        depends_on: [a]\n') }, 'dependency-cycle');
    assert.equal(ds.length, 1);
    assert.match(ds[0]!.message, /a -> a/);
  });

  test('unknown-provider: names the defined providers', () => {
    const prov = 'providers:\n  local:\n    type: openai-compatible\n    base_url: http://127.0.0.1:9/v1\n    model: m\n';
    const ds = only({ ...T, 'composition_rules.yaml': rules('      - id: a\n        template: a\n        model: locl\n', prov) }, 'unknown-provider');
    assert.equal(ds.length, 1);
    assert.equal(where(ds[0]!)[1], 13);
    assert.match(ds[0]!.message, /'locl' is not defined \(did you mean 'local'\?\)/);
  });

  test('undeclared-step-read: on the context value, and on the template when it reads the step', () => {
    const ds = only(
      {
        ...T,
        'composition_rules.yaml': rules('      - id: a\n        template: a\n      - id: c\n        template: a\n      - id: d\n        template: b\n        depends_on: [c]\n        context:\n          prior: "{{steps.a.output}}"\n'),
      },
      'undeclared-step-read',
    );
    assert.deepEqual(ds.map((d) => where(d).slice(1, 3)), [[11, 19], [14, 18]]);
    assert.match(ds[0]!.message, /template 'b' reads steps\.a, but step 'd' does not depend on 'a'/);
  });

  test('undeclared-variable: on the template reference, naming the variable', () => {
    const ds = only({ ...T, 'templates/aud.hbs': 'for {{audience}} about {{task}}', 'composition_rules.yaml': rules('      - id: a\n        template: aud\n') }, 'undeclared-variable');
    assert.equal(ds.length, 1);
    assert.deepEqual(where(ds[0]!), ['composition_rules.yaml', 7, 19, 7, 22, 'undeclared-variable']);
    assert.match(ds[0]!.message, /reads 'audience'/);
  });

  test('undeclared-variable: inputs and step context provide variables', () => {
    const r = validate({ ...T, 'templates/aud.hbs': 'for {{audience}} about {{task}}', 'composition_rules.yaml': rules('      - id: a\n        template: aud\n        context: { audience: experts }\n') });
    assert.deepEqual(r.diagnostics.filter((d) => d.severity !== 'information'), []);
  });

  test('unused-template: information on the unused file only', () => {
    const r = validate({ ...T, 'templates/lonely.hbs': 'nobody uses me', 'composition_rules.yaml': rules('      - id: a\n        template: a\n      - id: b\n        template: b\n        depends_on: [a]\n') });
    assert.deepEqual(r.diagnostics.map((d) => [path.relative(ROOT, d.file), d.code, d.severity]), [[path.join('templates', 'lonely.hbs'), 'unused-template', 'information']]);
  });

  test('templates-dir-mismatch: both files name different folders', () => {
    const r = validate({
      'prompts/a.hbs': 'A {{task}}',
      'composition_rules.yaml': 'version: 1\ntemplates_dir: ./prompts\n' + rules('      - id: a\n        template: a\n').slice('version: 1\n'.length),
      'service_mappings.yaml': 'version: 1\ntemplates_dir: ./other\nservices:\n  s:\n    primary_templates: [a]\n',
    });
    const codes = r.diagnostics.filter((d) => d.code === 'templates-dir-mismatch');
    assert.equal(codes.length, 2);
  });
});
