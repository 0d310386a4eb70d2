/**
 * A configuration with errors: refused as a whole by default (an application loading an invalid
 * workspace fails), or, with `configErrors: 'isolate'` (the language server's), loaded with each
 * render, run and preview refused only for the errors in what it uses, and told how many are
 * elsewhere. Which part of the workspace an error belongs to: core/validate/errorScope.ts.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { PromptError } from '../../../core/errors.js';
import { PromptManager } from '../../../core/manager/promptManager.js';
import { attributeErrors } from '../../../core/validate/errorScope.js';
import { validateWorkspace } from '../../../core/validate/validateWorkspace.js';
import { memoryFileSystem, type FileSystemHost } from '../../../core/workspace/fileSystem.js';

const ROOT = path.resolve('/virtual/isolate');

const MAPPINGS = `version: 1
services:
  writer:
    primary_templates: [greet]
    compositions: [good]
  broken_service:
    primary_templates: [greet, nope]
`;

const RULES = `version: 1
providers:
  local:
    type: openai-compatible
    base_url: http://127.0.0.1:9/v1
    model: m
compositions:
  good:
    inputs: { required: [name] }
    steps:
      - id: a
        template: greet
  bad:
    inputs: { required: [name] }
    steps:
      - id: ok_step
        template: greet
      - id: typo
        template: greet
        depends_on: [ok_stp]
  uses_broken_partial:
    steps:
      - id: x
        template: framed
`;

const TEMPLATES: Record<string, string> = {
  greet: 'Hello {{name}}',
  framed: '{{> frame}} {{name}}',
  frame: 'Frame {{#if}}',
  plain: 'Plain',
};

function files(overrides: Record<string, string> = {}): Record<string, string> {
  const all: Record<string, string> = { 'service_mappings.yaml': MAPPINGS, 'composition_rules.yaml': RULES, ...Object.fromEntries(Object.entries(TEMPLATES).map(([n, t]) => [`templates/${n}.hbs`, t])), ...overrides };
  return Object.fromEntries(Object.entries(all).map(([k, v]) => [path.join(ROOT, k), v]));
}

const refused = (re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof PromptError, String(e));
  assert.equal(e.code, 'invalid_configuration');
  assert.match(e.message, re);
  return true;
};

test('by default a workspace with errors does not load, as before', async () => {
  await assert.rejects(PromptManager.create({ root: ROOT, fs: memoryFileSystem(files()), watch: false }), refused(/has 3 errors/));
});

test('isolate: what uses no error works and counts the others; what uses one is refused, naming it', async () => {
  const m = await PromptManager.create({ root: ROOT, fs: memoryFileSystem(files()), watch: false, environment: 'testing', configErrors: 'isolate' });
  try {
    assert.equal(m.snapshot.validation.errorCount, 3);
    const r = await m.render('greet', { name: 'Ada' });
    assert.equal(r.text, 'Hello Ada');
    assert.equal(r.errorsElsewhere, 3);
    assert.equal((await m.render('greet', { name: 'Ada' }, { serviceName: 'writer' })).errorsElsewhere, 3);
    // The service with the error, the template with the syntax error, a template including it.
    await assert.rejects(m.render('greet', { name: 'Ada' }, { serviceName: 'broken_service' }), refused(/^Template greet \(as service broken_service\) uses parts of the prompt workspace .* with 1 error \(2 more elsewhere in the workspace do not stop it\); fix it to go on:\n.*unknown-template .*'nope'/));
    await assert.rejects(m.render('frame', {}), refused(/template-syntax/));
    await assert.rejects(m.render('framed', { name: 'x' }), refused(/Template framed uses .* 1 error/));
    // Runs: the good composition runs; the broken one, and the one whose template includes the broken partial, do not.
    const ok = await m.executeWorkflow('good', { name: 'Ada' });
    assert.equal(ok.status, 'succeeded');
    await assert.rejects(m.executeWorkflow('bad', { name: 'Ada' }), refused(/^Composition bad uses .* 1 error.*\n.*unknown-step/));
    await assert.rejects(m.executeWorkflow('uses_broken_partial', {}), refused(/template-syntax/));
    // A preview of the step of `bad` without the error goes on; the one with it does not.
    assert.equal(m.previewStep('bad', 'ok_step', { name: 'Ada' }).text, 'Hello Ada');
    assert.throws(() => m.previewStep('bad', 'typo', { name: 'Ada' }), refused(/^Step typo of composition bad uses/));
    assert.deepEqual(m.configurationErrors({ composition: 'bad', step: 'ok_step' }).blocking, []);
    assert.equal(m.configurationErrors({ composition: 'bad' }).blocking.length, 1);
    // Health says so.
    const h = m.healthCheck().components.config!;
    assert.equal(h.status, 'degraded');
    assert.match(h.reason, /loaded with 3 errors: renders, runs and previews that use them are refused/);
  } finally {
    await m.close();
  }
});

test('isolate: an error in what every composition reads (defaults, a provider a run uses) stops those runs, not plain renders', async () => {
  const broken = RULES.replace('version: 1\n', 'version: 1\ndefaults:\n  max_parallel: many\n').replace('    type: openai-compatible\n', '    type: openai-compatible\n    timeout_ms: -5\n');
  const withModel = broken.replace('      - id: a\n        template: greet\n', '      - id: a\n        template: greet\n        model: local\n');
  const m = await PromptManager.create({ root: ROOT, fs: memoryFileSystem(files({ 'composition_rules.yaml': withModel })), watch: false, environment: 'testing', configErrors: 'isolate' });
  try {
    const owners = attributeErrors(m.snapshot.validation).map((a) => a.owner.kind);
    assert.ok(owners.includes('file') && owners.includes('provider'), owners.join(','));
    await assert.rejects(m.executeWorkflow('good', { name: 'Ada' }), refused(/max_parallel[\s\S]*timeout_ms/));
    assert.equal((await m.render('plain', {})).text, 'Plain');
  } finally {
    await m.close();
  }
});

test('isolate: a reload with errors is used, not rejected; the reload that fixes them clears the count', async () => {
  const store = files();
  // The files as they are now: a new in-memory file system at each read of `store`.
  const fs = new Proxy({} as FileSystemHost, { get: (_, k) => (...args: unknown[]) => (memoryFileSystem(store) as unknown as Record<string | symbol, (...a: unknown[]) => unknown>)[k]!(...args) });
  const m = await PromptManager.create({ root: ROOT, fs, watch: false, environment: 'testing', configErrors: 'isolate' });
  try {
    store[path.join(ROOT, 'templates', 'greet.hbs')] = 'Hi {{name}}';
    const r = m.reload();
    assert.equal(r.status, 'reloaded');
    assert.equal((await m.render('greet', { name: 'A' })).text, 'Hi A');
    store[path.join(ROOT, 'composition_rules.yaml')] = RULES.replace('depends_on: [ok_stp]', 'depends_on: [ok_step]');
    store[path.join(ROOT, 'service_mappings.yaml')] = MAPPINGS.replace('[greet, nope]', '[greet]');
    store[path.join(ROOT, 'templates', 'frame.hbs')] = 'Frame';
    assert.equal(m.reload().status, 'reloaded');
    const after = await m.render('greet', { name: 'A' });
    assert.equal(after.errorsElsewhere, undefined);
    assert.equal(m.healthCheck().components.config!.status, 'healthy');
  } finally {
    await m.close();
  }
});

test('attribution: each error goes to the part of the workspace its range starts in', () => {
  const v = validateWorkspace(ROOT, { fs: memoryFileSystem(files({ 'composition_rules.yaml': RULES.replace('version: 1\n', 'version: 1\ndefaults: { fail_fast: perhaps }\n') })) });
  const owners = attributeErrors(v).map(({ d, owner }) => [d.code, owner]);
  assert.deepEqual(owners, [
    ['schema', { kind: 'file', file: path.join(ROOT, 'composition_rules.yaml') }],
    ['unknown-step', { kind: 'composition', name: 'bad', step: 'typo' }],
    ['unknown-template', { kind: 'service', name: 'broken_service' }],
    ['template-syntax', { kind: 'template', name: 'frame' }],
  ]);
  // Without the line indexes (a validation built by hand), a configuration file's error is the whole file's.
  const bare = { ...v, configLines: undefined };
  assert.deepEqual(attributeErrors(bare).map((a) => a.owner.kind), ['file', 'file', 'file', 'template']);
});
