/**
 * The limits of core/limits.ts: one place (no module keeps a copy under another name), each
 * limit enforced where it is documented, and changeable (process-wide with `configureLimits`,
 * per manager for the render limits and the history).
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { PromptManager } from '../../core/manager/promptManager.js';
import { PromptError } from '../../core/errors.js';
import { configureLimits, DEFAULT_LIMITS, LIMITS, resetLimits } from '../../core/limits.js';
import * as library from '../../core/index.js';
import { ValidationCache, validateWorkspace } from '../../core/validate/validateWorkspace.js';
import { DEFAULT_HISTORY_LIMIT } from '../../core/workflow/engine.js';
import { memoryFileSystem } from '../../core/workspace/fileSystem.js';
import { parseSource, ts, tsFilesUnder, type TS } from '../helpers/typescript.js';

afterEach(() => resetLimits());

function validate(files: Record<string, string>) {
  return validateWorkspace('/ws', { fs: memoryFileSystem(Object.fromEntries(Object.entries(files).map(([k, v]) => [`/ws/${k}`, v]))) });
}
const codes = (v: ReturnType<typeof validate>) => v.diagnostics.map((d) => `${d.code}: ${d.message}`);

/** Exported constants of core/ (outside core/limits.ts) whose value is read from LIMITS or DEFAULT_LIMITS: a limit under a second name. */
function limitAliases(): { file: string; name: string }[] {
  const out: { file: string; name: string }[] = [];
  for (const file of tsFilesUnder('core')) {
    if (file === 'core/limits.ts') continue;
    for (const st of parseSource(file).statements) {
      if (!ts.isVariableStatement(st) || !st.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) continue;
      for (const d of st.declarationList.declarations) {
        let readsLimits = false;
        const visit = (n: TS.Node): void => {
          if (ts.isIdentifier(n) && (n.text === 'LIMITS' || n.text === 'DEFAULT_LIMITS')) readsLimits = true;
          ts.forEachChild(n, visit);
        };
        if (d.initializer) visit(d.initializer);
        if (readsLimits && ts.isIdentifier(d.name)) out.push({ file, name: d.name.text });
      }
    }
  }
  return out;
}

test('limits: one table; no module keeps a limit under another name, but for the library API', () => {
  assert.ok(Object.isFrozen(DEFAULT_LIMITS));
  // A copy of a limit goes stale when `configureLimits` changes it; code and tests read
  // LIMITS (in force) or DEFAULT_LIMITS. Only what the library already exports stays, as its API.
  const aliases = limitAliases();
  assert.ok(aliases.some((a) => a.name === 'DEFAULT_HISTORY_LIMIT'), 'the check sees the aliases it allows');
  const internal = aliases.filter((a) => !(a.name in library)).map((a) => `${a.file}: ${a.name}`);
  assert.deepEqual(internal, [], 'remove these aliases and read LIMITS or DEFAULT_LIMITS (core/limits.ts) instead');
  assert.equal(DEFAULT_HISTORY_LIMIT, DEFAULT_LIMITS.historyLimit);
  assert.equal(library.DEFAULT_HISTORY_LIMIT, DEFAULT_LIMITS.historyLimit);
});

test('limits: configureLimits validates, changes every caller at once, and resets', () => {
  assert.throws(() => configureLimits({ maxConfigBytes: 0 }), RangeError);
  assert.throws(() => configureLimits({ maxPartialDepth: 2.5 }), RangeError);
  assert.throws(() => configureLimits({ maxYamlDepth: Number.NaN }), RangeError);
  assert.throws(() => configureLimits({ nope: 1 } as never), /unknown limit 'nope'/);
  assert.deepEqual({ ...LIMITS }, { ...DEFAULT_LIMITS }, 'a refused change changes nothing');
  assert.equal(configureLimits({ historyLimit: 0 }).historyLimit, 0);
  resetLimits();
  assert.deepEqual({ ...LIMITS }, { ...DEFAULT_LIMITS });
});

test('limits: each validator limit applies where documented, and follows configureLimits', () => {
  const rules = 'version: 1\ncompositions:\n  c:\n    inputs: { required: [name] }\n    steps:\n      - id: a\n        template: t\n';
  const ok = { 'composition_rules.yaml': rules, 'templates/t.hbs': 'Hi {{name}}' };
  assert.equal(validate(ok).errorCount, 0);

  configureLimits({ maxConfigBytes: 50 });
  assert.match(codes(validate(ok)).join('\n'), /yaml-syntax: the file is .* MB, larger than the .* MB limit \(maxConfigBytes\)/);
  resetLimits();

  configureLimits({ maxTemplateBytes: 5 });
  assert.match(codes(validate(ok)).join('\n'), /template-syntax: the template is .*maxTemplateBytes/);
  resetLimits();

  configureLimits({ maxTemplateExpressions: 2 });
  assert.match(codes(validate({ ...ok, 'templates/t.hbs': '{{name}} {{name}} {{{name}}}' })).join('\n'), /more than 2 '\{\{\.\.\.\}\}' expressions/);
  assert.equal(validate({ ...ok, 'templates/t.hbs': '{{name}} {{name}}' }).errorCount, 0);
  resetLimits();

  configureLimits({ maxTemplateNesting: 3 });
  assert.match(codes(validate({ ...ok, 'templates/t.hbs': '{{#if name}}{{#if name}}{{#if name}}{{#if name}}x{{/if}}{{/if}}{{/if}}{{/if}}' })).join('\n'), /nesting is too deep: more than 3/);
  resetLimits();

  configureLimits({ maxYamlAliases: 2 });
  assert.match(codes(validate({ ...ok, 'composition_rules.yaml': `${rules}x: &a 1\ny: [*a, *a, *a]\n` })).join('\n'), /yaml-syntax: the file uses more than 2 aliases/);
  resetLimits();

  configureLimits({ maxYamlValues: 50 });
  assert.match(codes(validate({ ...ok, 'composition_rules.yaml': `${rules}x: &a [1, 2, 3, 4, 5, 6, 7, 8]\ny: [*a, *a, *a, *a, *a, *a, *a, *a]\n` })).join('\n'), /more than 50 values \(maxYamlValues\) once its aliases are expanded/);
  resetLimits();

  configureLimits({ maxYamlDepth: 5 });
  assert.match(codes(validate({ ...ok, 'composition_rules.yaml': `${rules}x: [[[[[[[1]]]]]]]\n` })).join('\n'), /nests deeper than 5 levels/);
  resetLimits();

  configureLimits({ maxCollectionItems: 3 });
  const listed = validate({ ...ok, 'composition_rules.yaml': `${rules}x: [1, 2, 3, 4]\n` });
  assert.match(codes(listed).join('\n'), /yaml-syntax: this list has 4 entries, more than the limit of 3 \(maxCollectionItems\)/);
  const d = listed.diagnostics.find((x) => /maxCollectionItems/.test(x.message))!;
  assert.deepEqual(d.range, { start: { line: 7, character: 3 }, end: { line: 7, character: 15 } }, 'on the list itself');
  resetLimits();

  configureLimits({ maxSchemaProblemsPerFile: 5 });
  const many = validate({ ...ok, 'composition_rules.yaml': rules + Array.from({ length: 12 }, (_, i) => `k${i}: 1\n`).join('') });
  assert.equal(many.diagnostics.filter((x) => x.code === 'schema').length, 6);
  const more = many.diagnostics.find((x) => /more than 5 schema problems/.test(x.message));
  assert.ok(more, 'one diagnostic says more were left out');
  assert.equal(more.range.start.line, 0, 'on the first key of the file');
});

test('limits: the render limits and the history, per manager and process-wide', async () => {
  const files = {
    '/ws/composition_rules.yaml': 'version: 1\ncompositions:\n  c:\n    steps:\n      - id: a\n        template: leaf\n',
    '/ws/templates/deep.hbs': '{{#if n}}[{{> deep n=(lookup next "n") next=next.next}}]{{/if}}',
    '/ws/templates/leaf.hbs': 'leaf',
    '/ws/templates/wide.hbs': '{{#each items}}{{../s}}{{/each}}',
  };
  // Legitimate recursion (a tree rendered by a partial that calls itself) works below the limit.
  let tree: Record<string, unknown> = {};
  for (let i = 0; i < 10; i++) tree = { n: i + 1, next: tree };
  const m = await PromptManager.create({ root: '/ws', fs: memoryFileSystem(files), strict: false, limits: { maxPartialDepth: 12, maxRenderOutputChars: 100 }, workflow: { historyLimit: 2 } });
  try {
    assert.equal((await m.render('deep', tree)).text, '[[[[[[[[[[]]]]]]]]]]');
    let deeper: Record<string, unknown> = {};
    for (let i = 0; i < 13; i++) deeper = { n: i + 1, next: deeper };
    await assert.rejects(m.render('deep', deeper), (e: unknown) => e instanceof PromptError && e.code === 'limit_exceeded' && /12 levels \(maxPartialDepth\)/.test(e.message));
    assert.equal((await m.render('wide', { items: [1, 2, 3], s: 'x'.repeat(30) })).text.length, 90);
    await assert.rejects(m.render('wide', { items: [1, 2, 3, 4], s: 'x'.repeat(30) }), (e: unknown) => e instanceof PromptError && e.code === 'limit_exceeded' && /maxRenderOutputChars/.test(e.message));
    // Failures are counted under their code.
    assert.equal(m.getMetrics().templates.wide!.errors.limit_exceeded, 1);
    for (let i = 0; i < 5; i++) await m.executeWorkflow('c', {});
    assert.equal((await m.listWorkflowRuns()).length, 2);
  } finally {
    await m.close();
  }
  await assert.rejects(PromptManager.create({ root: '/ws', fs: memoryFileSystem(files), limits: { maxPartialDepth: 0 } }), RangeError);

  // Process-wide defaults reach a manager created afterwards.
  configureLimits({ maxRenderOutputChars: 10, historyLimit: 1 });
  const n = await PromptManager.create({ root: '/ws', fs: memoryFileSystem(files) });
  try {
    await assert.rejects(n.render('wide', { items: [1, 2], s: 'abcdef' }), (e: unknown) => e instanceof PromptError && e.code === 'limit_exceeded');
    for (let i = 0; i < 3; i++) await n.executeWorkflow('c', {});
    assert.equal((await n.listWorkflowRuns()).length, 1);
  } finally {
    await n.close();
  }
});

test('limits: maxYamlValues counts reused entries, so a validation with a warm cache agrees with a fresh one', () => {
  // Each composition expands an aliased list: 3 compositions of about 60 values each.
  const list = Array.from({ length: 50 }, (_, i) => `v${i}`).join(', ');
  const rules = [
    'version: 1',
    'defaults:',
    `  tags: &t [${list}]`,
    'compositions:',
    ...[1, 2, 3].flatMap((k) => [`  c${k}:`, `    description: d`, `    metadata: {tags: *t}`, `    steps:`, `      - id: s`, `        template: t`]),
    '',
  ].join('\n');
  const fs = memoryFileSystem({ '/ws/composition_rules.yaml': rules, '/ws/templates/t.hbs': 'hi' });
  const cache = new ValidationCache();
  const warm = validateWorkspace('/ws', { fs, cache });
  assert.ok(!warm.diagnostics.some((d) => /maxYamlValues/.test(d.message)), codes(warm as ReturnType<typeof validate>).join('\n'));
  // Lowered below the file's total but above any one composition's share: only a count that
  // includes the reused entries notices.
  configureLimits({ maxYamlValues: 150 });
  const fresh = validateWorkspace('/ws', { fs });
  const reused = validateWorkspace('/ws', { fs, cache });
  assert.ok(fresh.diagnostics.some((d) => d.code === 'yaml-syntax' && /maxYamlValues/.test(d.message)), 'a fresh validation reports the budget');
  assert.deepEqual(
    reused.diagnostics.map((d) => `${d.code} ${d.message}`),
    fresh.diagnostics.map((d) => `${d.code} ${d.message}`),
  );
});

test('limits: the render work budget and deadline, per manager and process-wide', async () => {
  const files = {
    '/ws/composition_rules.yaml': 'version: 1\ncompositions:\n  c:\n    steps:\n      - id: a\n        template: loop\n',
    '/ws/templates/loop.hbs': '{{#each items}}{{#if this}}{{/if}}{{/each}}',
  };
  const items = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
  const m = await PromptManager.create({ root: '/ws', fs: memoryFileSystem(files), limits: { maxRenderWork: 20 } });
  try {
    assert.equal((await m.render('loop', { items: items(10) })).text, '', '10 iterations + 10 ifs = 20 units');
    await assert.rejects(m.render('loop', { items: items(11) }), (e: unknown) => e instanceof PromptError && e.code === 'render_budget_exceeded' && /more than 20 units of work \(maxRenderWork/.test(e.message) && e.template === 'loop');
    assert.equal(m.getMetrics().templates.loop!.errors.render_budget_exceeded, 1);
    const run = await m.executeWorkflow('c', { items: items(11) });
    assert.equal(run.steps[0]!.errors[0]?.code, 'render_budget_exceeded');
  } finally {
    await m.close();
  }
  configureLimits({ maxRenderWork: 5 });
  const n = await PromptManager.create({ root: '/ws', fs: memoryFileSystem(files) });
  try {
    await assert.rejects(n.render('loop', { items: items(3) }), (e: unknown) => e instanceof PromptError && e.code === 'render_budget_exceeded');
  } finally {
    await n.close();
  }
  resetLimits();
  configureLimits({ maxRenderWork: Infinity, maxRenderMs: 1 });
  const d = await PromptManager.create({ root: '/ws', fs: memoryFileSystem(files) });
  try {
    await assert.rejects(d.render('loop', { items: new Array(5_000_000).fill(1) }), (e: unknown) => e instanceof PromptError && e.code === 'render_budget_exceeded' && /\(maxRenderMs\)/.test(e.message));
  } finally {
    await d.close();
  }
});
