/**
 * Prompt test files in the one validator: where they are found, the model built from them,
 * and every diagnostic a test can get, with the exact range it is reported on. A mistake in a
 * test never keeps the application's configuration from loading.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { PromptManager } from '../../../core/manager/promptManager.js';
import type { PromptDiagnostic } from '../../../core/model/diagnostics.js';
import { validateWorkspace, ValidationCache } from '../../../core/validate/validateWorkspace.js';
import { memoryFileSystem } from '../../../core/workspace/fileSystem.js';
import { isPromptTestFile, listPromptTestFiles } from '../../../core/workspace/testFiles.js';

const ROOT = path.resolve('/virtual/tests-ws');

const BASE: Record<string, string> = {
  'templates/greet.hbs': 'Hello {{name}}!',
  'templates/brief.hbs': 'Brief for {{name}}',
  'templates/reply.hbs': 'Reply to {{steps.brief.output}}',
  'service_mappings.yaml': 'version: 1\nservices:\n  greeter:\n    primary_templates: [greet]\n    compositions: [answer]\n  other:\n    primary_templates: [brief]\n',
  'composition_rules.yaml':
    'version: 1\nproviders:\n  local: { type: openai-compatible, base_url: "http://127.0.0.1:1/v1", model: m }\ncompositions:\n  answer:\n    inputs: { required: [name] }\n    steps:\n      - id: brief\n        template: brief\n      - id: reply\n        template: reply\n        depends_on: [brief]\n        model: local\n',
  'contexts/ada.json': '{ "name": "Ada" }',
};

function fsOf(files: Record<string, string>) {
  return memoryFileSystem(Object.fromEntries(Object.entries({ ...BASE, ...files }).map(([k, v]) => [path.join(ROOT, k), v])));
}
function validate(files: Record<string, string>, overlays?: Map<string, string>) {
  return validateWorkspace(ROOT, { fs: fsOf(files), ...(overlays ? { overlays } : {}) });
}
/** `[file, line, col, endLine, endCol, code]`, one-based like an editor shows them. */
function where(d: PromptDiagnostic): [string, number, number, number, number, string] {
  return [path.relative(ROOT, d.file), d.range.start.line + 1, d.range.start.character + 1, d.range.end.line + 1, d.range.end.character + 1, d.code];
}
/** The diagnostics of a test file (the workspace itself is clean), sorted. */
function diagnosticsOf(tests: string, extra: Record<string, string> = {}): PromptDiagnostic[] {
  const v = validate({ 'prompt_tests.yaml': tests, ...extra });
  const elsewhere = v.diagnostics.filter((d) => !v.promptTestFiles.includes(d.file) && d.severity !== 'information');
  assert.deepEqual(elsewhere.map((d) => d.message), [], 'the workspace itself is clean');
  return v.diagnostics.filter((d) => v.promptTestFiles.includes(d.file));
}
function one(tests: string, extra: Record<string, string> = {}): PromptDiagnostic {
  const ds = diagnosticsOf(tests, extra);
  assert.equal(ds.length, 1, ds.map((d) => `${d.code}: ${d.message}`).join('\n'));
  return ds[0]!;
}

const T = (body: string) => `version: 1\ntests:\n${body}`;

describe('prompt test files: discovery and model', () => {
  test('prompt_tests.yaml and every *.yaml below prompt_tests/, but not snapshots, dot-folders or other files', () => {
    const fs = fsOf({
      'prompt_tests.yaml': T(''),
      'prompt_tests/b.yaml': T(''),
      'prompt_tests/a/deep.yaml': T(''),
      'prompt_tests/__snapshots__/x/output.txt': 'x',
      'prompt_tests/__snapshots__/odd.yaml': 'x',
      'prompt_tests/.hidden/h.yaml': 'x',
      'prompt_tests/notes.md': 'x',
    });
    assert.deepEqual(
      listPromptTestFiles(ROOT, fs).map((f) => path.relative(ROOT, f)),
      ['prompt_tests.yaml', path.join('prompt_tests', 'a', 'deep.yaml'), path.join('prompt_tests', 'b.yaml')],
    );
    assert.ok(isPromptTestFile(path.join(ROOT, 'prompt_tests', 'new.yaml'), ROOT));
    assert.ok(!isPromptTestFile(path.join(ROOT, 'prompt_tests', '__snapshots__', 'a.yaml'), ROOT));
    assert.ok(!isPromptTestFile(path.join(ROOT, 'other.yaml'), ROOT));
  });

  test('a valid file builds the model: target, service, context, mocks, live, repeat and assertions', () => {
    const v = validate({
      'prompt_tests.yaml': T(
        [
          '  replies:',
          '    description: The reply',
          '    composition: answer',
          '    service: greeter',
          '    context_file: contexts/ada.json',
          '    context: { extra: 1 }',
          '    mocks:',
          '      reply:',
          '        - { status: 429, retry_after: 2 }',
          '        - { reply: Hi, delay_ms: 5 }',
          '        - { error: timeout, message: slow, retryable: false }',
          '        - { down: true }',
          '        - { hang: true }',
          '        - { malformed: "{" }',
          '        - plain text',
          '    repeat: 3',
          '    pass_rate: 0.5',
          '    timeout_ms: 1000',
          '    expect:',
          '      - contains: [a, b]',
          '      - step: reply',
          '        of: prompt',
          '        regex: x',
          '        flags: i',
          '        ignore_case: true',
          '      - snapshot: mine',
          '',
        ].join('\n'),
      ),
    });
    assert.equal(v.errorCount, 0, v.diagnostics.map((d) => d.message).join('\n'));
    const [file] = v.promptTests;
    const t = file!.tests[0]!;
    assert.equal(t.name, 'replies');
    assert.equal(t.composition?.name, 'answer');
    assert.equal(t.service?.name, 'greeter');
    assert.equal(t.contextFile?.value, 'contexts/ada.json');
    assert.deepEqual(t.context, { extra: 1 });
    assert.deepEqual([t.repeat, t.passRate, t.timeoutMs, t.live], [3, 0.5, 1000, false]);
    assert.deepEqual(t.mocks[0]!.answers, [
      { kind: 'status', status: 429, retryAfterSeconds: 2 },
      { kind: 'reply', output: 'Hi', delayMs: 5 },
      { kind: 'error', code: 'timeout', message: 'slow', retryable: false },
      { kind: 'down' },
      { kind: 'hang' },
      { kind: 'malformed', body: '{' },
      { kind: 'reply', output: 'plain text' },
    ]);
    assert.deepEqual(
      t.expect.map((a) => [a.kind, a.value, a.step?.name, a.of, a.flags, a.ignoreCase]),
      [
        ['contains', ['a', 'b'], undefined, 'output', undefined, false],
        ['regex', 'x', 'reply', 'prompt', 'i', true],
        ['snapshot', 'mine', undefined, 'output', undefined, false],
      ],
    );
    assert.deepEqual([...v.contextFiles.entries()], [[path.join(ROOT, 'contexts/ada.json'), { name: 'Ada' }]]);
  });

  test('an unsaved test file (an open buffer) is checked too', () => {
    const file = path.join(ROOT, 'prompt_tests', 'draft.yaml');
    const v = validate({}, new Map([[file, T('  t:\n    template: gret\n')]]));
    assert.deepEqual(v.diagnostics.filter((d) => d.file === file).map((d) => d.code), ['unknown-template']);
  });

  test('promptTests: false reads no test file', () => {
    const v = validateWorkspace(ROOT, { fs: fsOf({ 'prompt_tests.yaml': T('  t:\n    template: nope\n') }), promptTests: false });
    assert.deepEqual([v.errorCount, v.promptTestFiles, v.promptTests], [0, [], []]);
  });

  test('a cached validation sees a test file appear and change', () => {
    const cache = new ValidationCache();
    const fs = fsOf({});
    const file = path.join(ROOT, 'prompt_tests.yaml');
    assert.equal(validateWorkspace(ROOT, { fs, cache }).promptTests.length, 0);
    const v1 = validateWorkspace(ROOT, { fs, cache, overlays: new Map([[file, T('  t:\n    template: gret\n')]]) });
    assert.deepEqual(v1.diagnostics.map((d) => d.code), ['unknown-template']);
    const v2 = validateWorkspace(ROOT, { fs, cache, overlays: new Map([[file, T('  t:\n    template: greet\n')]]) });
    assert.deepEqual(v2.diagnostics.map((d) => d.code), []);
  });
});

describe('prompt test files: diagnostics', () => {
  test('unknown-template on the template name, with the path looked for', () => {
    const d = one(T('  t:\n    template: gret\n'));
    assert.deepEqual(where(d), ['prompt_tests.yaml', 4, 15, 4, 19, 'unknown-template']);
    assert.match(d.message, /template 'gret' not found: looked for .*gret\.hbs.*did you mean 'greet'/);
  });

  test('a test does not count as a use of a template', () => {
    const v = validate({ 'templates/lonely.hbs': 'x', 'prompt_tests.yaml': T('  t:\n    template: lonely\n') });
    assert.deepEqual(v.diagnostics.map((d) => [path.relative(ROOT, d.file), d.code]), [['templates/lonely.hbs', 'unused-template']]);
  });

  test('unknown-composition, with a did-you-mean', () => {
    const d = one(T('  t:\n    composition: answr\n'));
    assert.deepEqual(where(d), ['prompt_tests.yaml', 4, 18, 4, 23, 'unknown-composition']);
    assert.match(d.message, /composition 'answr' is not defined: composition_rules\.yaml does not define it \(did you mean 'answer'\?\)/);
  });

  test('unknown-service, with a did-you-mean', () => {
    const d = one(T('  t:\n    template: greet\n    service: greter\n'));
    assert.deepEqual(where(d), ['prompt_tests.yaml', 5, 14, 5, 20, 'unknown-service']);
    assert.match(d.message, /service 'greter' is not defined.*did you mean 'greeter'/);
  });

  test('invalid-test: a service that may not use the template, unless the test expects the refusal', () => {
    const d = one(T('  t:\n    template: greet\n    service: other\n'));
    assert.deepEqual(where(d), ['prompt_tests.yaml', 5, 14, 5, 19, 'invalid-test']);
    assert.match(d.message, /service 'other' may not render template 'greet' \(the render would fail with access_denied\)/);
    assert.deepEqual(diagnosticsOf(T('  t:\n    template: greet\n    service: other\n    expect:\n      - error: access_denied\n')), []);
    assert.match(one(T('  t:\n    composition: answer\n    service: other\n    mocks: { reply: x }\n')).message, /service 'other' may not run composition 'answer'/);
  });

  test('invalid-context-file: missing (with a did-you-mean), outside the workspace, not JSON (line and column), not an object', () => {
    const missing = one(T('  t:\n    template: greet\n    context_file: contexts/adaa.json\n'));
    assert.deepEqual(where(missing), ['prompt_tests.yaml', 5, 19, 5, 37, 'invalid-context-file']);
    assert.match(missing.message, /does not exist: looked for .*adaa\.json; did you mean 'contexts\/ada\.json'\?/);
    assert.match(one(T('  t:\n    template: greet\n    context_file: ../secrets.json\n')).message, /is outside the prompt workspace/);
    assert.match(one(T('  t:\n    template: greet\n    context_file: contexts/bad.json\n'), { 'contexts/bad.json': '{\n  "a": 1,\n}' }).message, /is not valid JSON \(line 3, column 1\): /);
    assert.match(one(T('  t:\n    template: greet\n    context_file: contexts/list.json\n'), { 'contexts/list.json': '[1]' }).message, /must hold a JSON object .*got a list/);
  });

  test('unknown-step in mocks and in assertions; unused-mock for a step without a model', () => {
    const ds = diagnosticsOf(T('  t:\n    composition: answer\n    mocks:\n      reply: x\n      brief: y\n      replay: z\n    expect:\n      - step: breif\n        status: succeeded\n'));
    assert.deepEqual(ds.map(where), [
      ['prompt_tests.yaml', 7, 7, 7, 12, 'unused-mock'],
      ['prompt_tests.yaml', 8, 7, 8, 13, 'unknown-step'],
      ['prompt_tests.yaml', 10, 15, 10, 20, 'unknown-step'],
    ]);
    assert.equal(ds[0]!.severity, 'warning');
    assert.match(ds[2]!.message, /names step 'breif', which composition 'answer' does not define \(did you mean 'brief'\?\)/);
  });

  test('invalid-test: a model step without a mock, unless the test is live', () => {
    const d = one(T('  t:\n    composition: answer\n'));
    assert.deepEqual(where(d), ['prompt_tests.yaml', 4, 18, 4, 24, 'invalid-test']);
    assert.match(d.message, /step 'reply' \(provider 'local'\), and test 't' gives no mock for it: add `mocks: \{ reply: .*or mark the test `live: true`/);
    assert.deepEqual(diagnosticsOf(T('  t:\n    composition: answer\n    live: true\n')), []);
  });

  test('invalid-test: neither or both targets, mocks on a template, a step in a template test', () => {
    assert.match(one(T('  t:\n    description: nothing\n')).message, /names neither a template nor a composition/);
    assert.match(one(T('  t:\n    template: greet\n    composition: answer\n')).message, /names both a template and a composition/);
    assert.match(one(T('  t:\n    template: greet\n    mocks: { reply: x }\n')).message, /renders a template, which calls no model/);
    const d = one(T('  t:\n    template: greet\n    expect:\n      - step: brief\n        contains: x\n'));
    assert.deepEqual(where(d), ['prompt_tests.yaml', 6, 15, 6, 20, 'invalid-test']);
  });

  test('invalid-test: assertions that check nothing or two things, and assertions that do not fit their target', () => {
    const ds = diagnosticsOf(
      T(
        [
          '  t:',
          '    composition: answer',
          '    mocks: { reply: x }',
          '    expect:',
          '      - {}',
          '      - { contains: a, regex: b }',
          '      - { of: prompt, contains: a }',
          '      - { step: reply, status: partial }',
          '      - { status: skipped }',
          '      - { attempts: 2 }',
          '      - { step: reply, of: prompt, status: failed }',
          '      - { regex: "(a" }',
          '      - { snapshot: true }',
          '      - { snapshot: true, ignore_case: true }',
          '',
        ].join('\n'),
      ),
    );
    assert.deepEqual(
      ds.map((d) => [where(d)[1], where(d)[2], d.message.replace(/:.*$/, '')]),
      [
        [7, 9, 'this assertion checks nothing'],
        [8, 9, 'an assertion checks one thing, and this one has `contains` and `regex`'],
        [9, 15, 'a run has no prompt of its own, its steps do'],
        [10, 32, "a step never ends 'partial'"],
        [11, 19, "a run never ends 'skipped'"],
        [12, 21, '`attempts` counts a step\'s attempts'],
        [13, 28, '`of` says which text a text assertion reads; `status` reads how the target ended'],
        [14, 18, 'this regular expression does not compile'],
        [16, 21, "assertion 9 of test 't' already keeps its snapshot in output.txt"],
      ],
    );
  });

  test('invalid-test: a test name used in another file, on the repeat, with the first as related', () => {
    const v = validate({ 'prompt_tests.yaml': T('  same:\n    template: greet\n'), 'prompt_tests/more.yaml': T('  same:\n    template: greet\n') });
    assert.deepEqual(v.diagnostics.map(where), [[path.join('prompt_tests', 'more.yaml'), 3, 3, 3, 7, 'invalid-test']]);
    assert.match(v.diagnostics[0]!.message, /test name 'same' is already used in prompt_tests\.yaml/);
    assert.equal(v.diagnostics[0]!.related?.[0]?.file, path.join(ROOT, 'prompt_tests.yaml'));
  });

  test('schema: unknown keys with a did-you-mean, wrong values, bad names, and a JSON schema that is not one', () => {
    const ds = diagnosticsOf(
      T(['  "bad name":', '    template: greet', '  t:', '    template: greet', '    expects: []', '    repeat: 0', '    expect:', '      - json_schema: { type: strng }', '      - { contains: [] }', '      - { snapshot: false }', ''].join('\n')),
    );
    assert.deepEqual(
      ds.map((d) => [d.code, where(d)[1], d.message]),
      [
        ['schema', 3, `'bad name' is not a valid name in 'tests': use letters, digits, '_', '.' and '-', starting with a letter, digit or '_'`],
        ['schema', 7, `unknown key 'expects' in test 't' (did you mean 'expect'?)`],
        ['schema', 8, `'repeat' must be an integer from 1 to 100, got 0`],
        ['schema', 10, `'type' must be one of array, boolean, integer, null, number, object, string, got "strng" (did you mean 'string'?)`],
        ['schema', 11, `'contains' must list at least 1 item(s)`],
        ['schema', 12, `'snapshot' must be true, got false`],
      ],
    );
  });

  test('schema: a bad name behind a $ref is one diagnostic that says what to use (compositions too)', () => {
    const v = validate({ 'composition_rules.yaml': 'version: 1\ncompositions:\n  "bad name":\n    steps:\n      - id: a\n        template: greet\n' });
    assert.deepEqual(
      v.diagnostics.filter((d) => d.code === 'schema').map((d) => d.message),
      [`'bad name' is not a valid name in 'compositions': use letters, digits, '_', '.' and '-', starting with a letter`],
    );
  });

  test("a broken test file never keeps the application's configuration from loading", async () => {
    const fs = fsOf({ 'prompt_tests.yaml': T('  t:\n    template: nope\n') });
    const v = validateWorkspace(ROOT, { fs });
    assert.deepEqual([v.errorCount, v.configErrorCount], [1, 0]);
    // The engine validates without the tests, and accepts a validation (the server's) that has them.
    for (const m of [await PromptManager.create({ root: ROOT, fs, environment: 'testing' }), await PromptManager.create({ root: ROOT, fs, environment: 'testing', validation: v })]) {
      assert.equal((await m.render('greet', { name: 'Ada' })).text, 'Hello Ada!');
      await m.close();
    }
    const broken = validateWorkspace(ROOT, { fs: fsOf({ 'composition_rules.yaml': 'version: 1\ncompositions:\n  x:\n    steps:\n      - id: a\n        template: nope\n', 'prompt_tests.yaml': T('  t:\n    template: nope\n') }) });
    await assert.rejects(PromptManager.create({ root: ROOT, fs, environment: 'testing', validation: broken }), (e: Error) => e.message.includes('composition_rules.yaml') && !e.message.includes('prompt_tests.yaml'));
  });
});
