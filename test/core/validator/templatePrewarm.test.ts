/**
 * Template analyses made ahead of a validation (core/validate/templatePrewarm.ts), in this
 * thread and in the language server's worker thread: adopted into a cache they change
 * nothing the validator reports, a stale one is never used, and the worker's answers are
 * the same as this thread's.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { resetLimits, LIMITS } from '../../../core/limits.js';
import { analyzeTemplatesUnder, answerPrewarmRequest, guessTemplatesRoot } from '../../../core/validate/templatePrewarm.js';
import { findPromptWorkspaces, ValidationCache, validateWorkspace } from '../../../core/validate/validateWorkspace.js';
import { analyzeTemplatesInWorker } from '../../../server/templateWorker.js';
import { EXAMPLES, TEMPLATE_WORKER, tempWorkspace } from '../../helpers/paths.js';

const read = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : undefined);
const shape = (v: ReturnType<typeof validateWorkspace>) => JSON.stringify(v.diagnostics);

function prewarmed(root: string): ValidationCache {
  const cache = new ValidationCache();
  const guess = guessTemplatesRoot(root, read(path.join(root, 'service_mappings.yaml')), read(path.join(root, 'composition_rules.yaml')));
  cache.adoptTemplates(analyzeTemplatesUnder(guess));
  return cache;
}

test('prewarm: adopted analyses give the same diagnostics as a fresh validation, on every example workspace', () => {
  // The discovery stops at a prompt workspace: examples/broken/* are listed by hand.
  const broken = path.join(EXAMPLES, 'broken');
  const roots = [EXAMPLES, ...fs.readdirSync(broken).flatMap((d) => findPromptWorkspaces(path.join(broken, d)))];
  assert.ok(roots.length >= 10, `examples and examples/broken/* (found ${roots.length})`);
  let adopted = 0;
  for (const root of roots) {
    const cache = prewarmed(root);
    adopted += cache.templates.size;
    assert.equal(shape(validateWorkspace(root, { cache })), shape(validateWorkspace(root)), root);
  }
  assert.ok(adopted >= 25, `templates were analyzed ahead (${adopted})`);
});

test('prewarm: an analysis of an older text is never used', () => {
  const dir = tempWorkspace({
    'service_mappings.yaml': 'version: 1\nservices:\n  s:\n    templates: [a]\n',
    'templates/a.hbs': 'Hello {{name}}\n',
  });
  const cache = prewarmed(dir);
  assert.equal(cache.templates.size, 1);
  // The file changes after the worker read it: now it does not parse.
  fs.writeFileSync(path.join(dir, 'templates/a.hbs'), 'Hello {{#if name}}\n');
  const v = validateWorkspace(dir, { cache });
  assert.ok(v.diagnostics.some((d) => d.code === 'template-syntax'), JSON.stringify(v.diagnostics));
  assert.equal(shape(v), shape(validateWorkspace(dir)));
});

test('prewarm: the templates root is guessed as the validator will choose it', () => {
  const r = path.resolve('/ws');
  assert.equal(guessTemplatesRoot(r, undefined, undefined), path.join(r, 'templates'));
  assert.equal(guessTemplatesRoot(r, 'version: 1\ntemplates_dir: prompts\n', undefined), path.join(r, 'prompts'));
  // composition_rules.yaml wins, quotes and comments are read as YAML would.
  assert.equal(guessTemplatesRoot(r, 'templates_dir: prompts\n', "templates_dir: 'other dir' # here\n"), path.join(r, 'other dir'));
  // Only a top-level key counts.
  assert.equal(guessTemplatesRoot(r, 'services:\n  s:\n    templates_dir: nope\n', undefined), path.join(r, 'templates'));
  // The editor's setting beats both.
  assert.equal(guessTemplatesRoot(r, 'templates_dir: prompts\n', undefined, '/elsewhere'), path.resolve('/elsewhere'));
});

test('prewarm: the request carries the limits; templates over them are left to the validator', () => {
  try {
    const dir = tempWorkspace({ 'templates/small.hbs': 'hi {{x}}', 'templates/big.hbs': 'x'.repeat(5000) });
    const all = answerPrewarmRequest({ templatesRoot: path.join(dir, 'templates'), limits: { ...LIMITS } });
    assert.deepEqual(all.map((t) => path.basename(t.file)).sort(), ['big.hbs', 'small.hbs']);
    const some = answerPrewarmRequest({ templatesRoot: path.join(dir, 'templates'), limits: { ...LIMITS, maxTemplateBytes: 1000 } });
    assert.deepEqual(some.map((t) => path.basename(t.file)), ['small.hbs']);
  } finally {
    resetLimits();
  }
});

test('prewarm: the worker bundle (dist/templateWorker.js) answers as a worker thread, with the same analyses', async () => {
  const root = path.join(EXAMPLES, 'templates');
  const [fromWorker] = await analyzeTemplatesInWorker([{ templatesRoot: root, limits: { ...LIMITS } }], TEMPLATE_WORKER);
  assert.ok(fromWorker && fromWorker.length >= 25, `the worker analyzed the examples' templates (${fromWorker?.length})`);
  assert.deepEqual(fromWorker, analyzeTemplatesUnder(root));
});

test('prewarm: a worker that cannot start or answer gives empty lists, never an error', async () => {
  const bad = tempWorkspace({ 'worker.js': 'throw new Error("boom")' });
  assert.deepEqual(await analyzeTemplatesInWorker([{ templatesRoot: EXAMPLES, limits: { ...LIMITS } }], path.join(bad, 'worker.js')), [[]]);
  assert.deepEqual(await analyzeTemplatesInWorker([{ templatesRoot: EXAMPLES, limits: { ...LIMITS } }], path.join(bad, 'missing.js')), [[]]);
  const silent = tempWorkspace({ 'worker.js': 'setInterval(() => {}, 1000)' });
  assert.deepEqual(await analyzeTemplatesInWorker([{ templatesRoot: EXAMPLES, limits: { ...LIMITS } }], path.join(silent, 'worker.js'), 300), [[]]);
});
