/**
 * Every diagnostic code of the contract, with the exact range it is reported on and a message
 * that names what is wrong.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import type { PromptDiagnostic } from '../../../core/model/diagnostics.js';
import { ValidationCache, validateWorkspace } from '../../../core/validate/validateWorkspace.js';
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
    const warnings = ds.filter((d) => d.severity === 'warning');
    assert.deepEqual(warnings.map((d) => where(d).slice(0, 3)), [['composition_rules.yaml', 11, 19], ['composition_rules.yaml', 14, 18]]);
    assert.match(warnings[0]!.message, /template 'b' reads steps\.a, but step 'd' does not depend on 'a'/);
    // The template shows it too, at the read, as information (the warning stays where the contract puts it).
    const side = ds.filter((d) => d.severity === 'information');
    assert.deepEqual(side.map(where), [[path.join('templates', 'b.hbs'), 1, 14, 1, 28, 'undeclared-step-read']]);
    assert.match(side[0]!.message, /^steps\.a is read here, where step 'd' of composition 'flow' renders this template, but step 'd' does not depend on 'a'/);
    assert.deepEqual(side[0]!.related?.map((r) => [path.relative(ROOT, r.file), r.range.start.line + 1, r.range.start.character + 1]), [['composition_rules.yaml', 11, 19]]);
  });

  test('undeclared-variable: on the template reference, naming the variable', () => {
    const ds = only({ ...T, 'templates/aud.hbs': 'for {{audience}} about {{task}}', 'composition_rules.yaml': rules('      - id: a\n        template: aud\n') }, 'undeclared-variable').filter((d) => d.severity === 'warning');
    assert.equal(ds.length, 1);
    assert.deepEqual(where(ds[0]!), ['composition_rules.yaml', 7, 19, 7, 22, 'undeclared-variable']);
    assert.match(ds[0]!.message, /reads 'audience'/);
  });

  test('undeclared-variable in the template too: information at each read, the YAML reference related', () => {
    const r = validate({
      ...T,
      'templates/aud.hbs': 'for {{audience}} about {{task}}\n{{> common/tail}}',
      'templates/common/tail.hbs': 'Tone: {{tone}}, again {{audience}}',
      'templates/other.hbs': 'to {{audience}}',
      'composition_rules.yaml': rules('      - id: a\n        template: aud\n      - id: b\n        template: aud\n      - id: c\n        template: other\n        context: { audience: x }\n'),
    });
    const side = r.diagnostics.filter((d) => d.code === 'undeclared-variable' && d.severity === 'information');
    // `audience` in aud.hbs, `tone` and `audience` in its partial; none in other.hbs (its step provides it).
    assert.deepEqual(side.map(where), [
      [path.join('templates', 'aud.hbs'), 1, 7, 1, 15, 'undeclared-variable'],
      [path.join('templates', 'common', 'tail.hbs'), 1, 9, 1, 13, 'undeclared-variable'],
      [path.join('templates', 'common', 'tail.hbs'), 1, 25, 1, 33, 'undeclared-variable'],
    ]);
    // Two steps render aud without `audience`: one diagnostic per read, naming both, each reference related.
    assert.match(side[0]!.message, /^'audience' is read here, but 2 steps render this template without it: step 'a' of composition 'flow'; step 'b' of composition 'flow'/);
    assert.deepEqual(side[0]!.related?.map((x) => [path.relative(ROOT, x.file), x.range.start.line + 1, x.range.start.character + 1]), [['composition_rules.yaml', 7, 19], ['composition_rules.yaml', 9, 19]]);
    assert.match(side[0]!.related![0]!.message, /^'audience' is read here, but step 'a' of composition 'flow' renders this template without it/);
    assert.match(side[1]!.message, /^'tone' is read here, but 2 steps/);
    // A partial says through which template.
    assert.match(side[1]!.related![0]!.message, /through the partial 'common\/tail' of 'aud'/);
    // The contract's count is unchanged: the warnings are on the template: values, once per step and variable.
    assert.deepEqual(
      r.diagnostics.filter((d) => d.severity === 'warning').map((d) => where(d).slice(0, 2).concat(d.message.match(/reads '(\w+)'/)![1]!)),
      [['composition_rules.yaml', 7, 'audience'], ['composition_rules.yaml', 7, 'tone'], ['composition_rules.yaml', 9, 'audience'], ['composition_rules.yaml', 9, 'tone']],
    );
    assert.equal(r.warningCount, 4);
  });

  test('the template-side diagnostics follow an edit of the YAML (a recorded composition replays them)', () => {
    const cache = new ValidationCache();
    const fsOf = (rulesText: string) => {
      // A new text for the same file: the cache's reads of the files go, its parses stay.
      cache.invalidateAll();
      return memoryFileSystem(Object.fromEntries(Object.entries({ ...T, 'templates/aud.hbs': 'for {{audience}}', 'composition_rules.yaml': rulesText }).map(([k, v]) => [path.join(ROOT, k), v])));
    };
    const base = rules('      - id: a\n        template: aud\n');
    const first = validateWorkspace(ROOT, { fs: fsOf(base), cache });
    const side = (v: typeof first) => v.diagnostics.filter((d) => d.severity === 'information' && d.code === 'undeclared-variable').map((d) => [where(d), d.related?.map((x) => x.range.start.line + 1)]);
    assert.deepEqual(side(first), [[[path.join('templates', 'aud.hbs'), 1, 7, 1, 15, 'undeclared-variable'], [7]]]);
    // Two lines above the composition: its findings are replayed, their YAML positions moved.
    const moved = validateWorkspace(ROOT, { fs: fsOf(base.replace('version: 1\n', 'version: 1\n# a\n# b\n')), cache });
    assert.deepEqual(side(moved), [[[path.join('templates', 'aud.hbs'), 1, 7, 1, 15, 'undeclared-variable'], [9]]]);
    // Providing the variable clears both sides.
    const fixed = validateWorkspace(ROOT, { fs: fsOf(base.replace('template: aud\n', 'template: aud\n        context: { audience: all }\n')), cache });
    assert.deepEqual(side(fixed), []);
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
