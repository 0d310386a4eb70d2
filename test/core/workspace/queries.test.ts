/**
 * The workspace queries (core/workspace/queries.ts) as plain functions over a validated model,
 * and the engine's access check held to the same rule: the templates a service may render are
 * the ones PromptManager lets it render.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { PromptError } from '../../../core/errors.js';
import { PromptManager } from '../../../core/manager/promptManager.js';
import { validateWorkspace } from '../../../core/validate/validateWorkspace.js';
import {
  compositionNamed,
  compositionsUsingTemplate,
  compositionTemplates,
  innermostHolding,
  isPathUnder,
  isWorkspaceFile,
  providerCalls,
  providerNamed,
  providersInUse,
  serviceNamed,
  servicesNamingTemplate,
  servicesRunningComposition,
  serviceTemplateRefs,
  stepsCallingProvider,
  stepsRenderingTemplate,
  templateNameOfFile,
  templatesServiceMayRender,
  workspaceRootOf,
} from '../../../core/workspace/queries.js';
import { nodeFileSystem } from '../../../core/workspace/fileSystem.js';
import { removeDir, writeWorkspace } from '../manager/fixtures.js';

const SERVICES = `version: 1
services:
  writer:
    primary_templates: [w/main]
    templates: [w/extra]
    compositions: [draft]
    fallback: { template: w/sorry }
  reviewer:
    primary_templates: [r/main]
    compositions: [review]
  idle:
    templates: [w/extra]
`;

const RULES = `version: 1
providers:
  fast: { type: openai-compatible, base_url: http://127.0.0.1:1/v1, model: m1 }
  slow: { type: openai-compatible, base_url: http://127.0.0.1:2/v1, model: m2 }
  spare: { type: openai-compatible, base_url: http://127.0.0.1:3/v1, model: m3 }
compositions:
  draft:
    steps:
      - id: outline
        template: d/outline
        model: fast
      - id: body
        template: d/body
        depends_on: [outline]
        fallback: { template: d/plain }
    overrides:
      experience_levels:
        beginner:
          steps:
            body: { template: d/simple, model: slow }
  review:
    steps:
      - id: check
        template: r/check
      - id: polish
        template: d/body
        depends_on: [check]
    overrides:
      states:
        final:
          steps:
            check: { model: fast }
`;

const TEMPLATES = Object.fromEntries(
  ['w/main', 'w/extra', 'w/sorry', 'r/main', 'r/check', 'd/outline', 'd/body', 'd/plain', 'd/simple', 'unused'].map((n) => [n, `{{!-- ${n} --}}${n}`]),
);

function workspace() {
  const dir = writeWorkspace({ 'service_mappings.yaml': SERVICES, 'composition_rules.yaml': RULES }, { templates: TEMPLATES });
  const v = validateWorkspace(dir);
  assert.equal(v.errorCount, 0, v.diagnostics.map((d) => `${d.code} ${d.message}`).join('\n'));
  return { dir, v, rules: v.compositionRules!, mappings: v.serviceMappings! };
}

test('queries by name: the first definition, nothing for an unknown or missing name', () => {
  const { dir, rules, mappings } = workspace();
  try {
    assert.equal(compositionNamed(rules, 'review')?.name, 'review');
    assert.equal(compositionNamed(rules, 'nope'), undefined);
    assert.equal(compositionNamed(rules, undefined), undefined);
    assert.equal(compositionNamed(undefined, 'review'), undefined);
    assert.equal(serviceNamed(mappings, 'idle')?.name, 'idle');
    assert.equal(serviceNamed(mappings, 'nope'), undefined);
    assert.equal(providerNamed(rules, 'slow')?.baseUrl, 'http://127.0.0.1:2/v1');
    assert.equal(providerNamed(rules, undefined), undefined);
    // Twice the same name (a model the editor sees while the user types): the first.
    const twice = { ...rules, compositions: [...rules.compositions, { ...rules.compositions[0]!, steps: [] }] };
    assert.equal(compositionNamed(twice, 'draft'), rules.compositions[0]);
  } finally {
    removeDir(dir);
  }
});

test('the templates a service may render: its lists, its fallback and its compositions\' templates, overrides included', () => {
  const { dir, rules, mappings } = workspace();
  try {
    const writer = serviceNamed(mappings, 'writer')!;
    assert.deepEqual(serviceTemplateRefs(writer).map((r) => r.name), ['w/main', 'w/extra']);
    assert.deepEqual(compositionTemplates(compositionNamed(rules, 'draft')!), ['d/outline', 'd/body', 'd/plain', 'd/simple']);
    assert.deepEqual([...templatesServiceMayRender(writer, (c) => compositionNamed(rules, c))], ['w/main', 'w/extra', 'w/sorry', 'd/outline', 'd/body', 'd/plain', 'd/simple']);
    // A composition that is not defined (the validator reports it) adds nothing.
    const ghostly = { ...writer, compositions: [{ ...writer.compositions[0]!, name: 'ghost' }, ...writer.compositions] };
    assert.deepEqual([...templatesServiceMayRender(ghostly, (c) => compositionNamed(rules, c))], ['w/main', 'w/extra', 'w/sorry', 'd/outline', 'd/body', 'd/plain', 'd/simple']);
    assert.deepEqual([...templatesServiceMayRender(serviceNamed(mappings, 'reviewer')!, (c) => compositionNamed(rules, c))], ['r/main', 'r/check', 'd/body']);
    assert.deepEqual([...templatesServiceMayRender(writer, () => undefined)], ['w/main', 'w/extra', 'w/sorry']);
    // Naming a template is narrower than being allowed to render it through a composition.
    assert.deepEqual(servicesNamingTemplate(mappings.services, 'w/extra').map((s) => s.name), ['writer', 'idle']);
    assert.deepEqual(servicesNamingTemplate(mappings.services, 'w/sorry').map((s) => s.name), ['writer']);
    assert.deepEqual(servicesNamingTemplate(mappings.services, 'd/body').map((s) => s.name), []);
    assert.deepEqual(servicesRunningComposition(mappings.services, 'draft').map((s) => s.name), ['writer']);
    assert.deepEqual(servicesRunningComposition(mappings.services, 'nope').map((s) => s.name), []);
  } finally {
    removeDir(dir);
  }
});

test('the engine allows a service exactly the templates the query gives, and refuses the others', async () => {
  const { dir, rules, mappings } = workspace();
  const pm = await PromptManager.create({ root: dir, environment: 'testing' });
  try {
    for (const s of mappings.services) {
      const allowed = templatesServiceMayRender(s, (c) => compositionNamed(rules, c));
      assert.deepEqual(pm.listTemplates({ serviceName: s.name }), [...allowed].sort(), s.name);
      for (const t of Object.keys(TEMPLATES)) {
        const r = pm.render(t, {}, { serviceName: s.name });
        if (allowed.has(t)) assert.equal((await r).template, t);
        else await assert.rejects(r, (e: unknown) => e instanceof PromptError && e.code === 'access_denied', `${s.name} may not render ${t}`);
      }
    }
    // getTemplateInfo's compositions are the query's.
    assert.deepEqual(pm.getTemplateInfo('d/body').usedBy.compositions, ['draft', 'review']);
    assert.deepEqual(pm.getTemplateInfo('d/simple').usedBy.compositions, ['draft']);
  } finally {
    await pm.close();
    removeDir(dir);
  }
});

test('the compositions that use a template, and the steps that render it', () => {
  const { dir, rules } = workspace();
  try {
    const names = (t: string) => compositionsUsingTemplate(rules.compositions, t).map((c) => c.name);
    assert.deepEqual(names('d/body'), ['draft', 'review']);
    assert.deepEqual(names('d/plain'), ['draft'], 'a step fallback');
    assert.deepEqual(names('d/simple'), ['draft'], 'an override only');
    assert.deepEqual(names('unused'), []);
    const draft = compositionNamed(rules, 'draft')!;
    assert.deepEqual(stepsRenderingTemplate(draft, 'd/body').map((s) => s.id), ['body']);
    assert.deepEqual(stepsRenderingTemplate(draft, 'd/plain').map((s) => s.id), ['body']);
    // Given by the override: the step it overrides, once.
    assert.deepEqual(stepsRenderingTemplate(draft, 'd/simple').map((s) => s.id), ['body']);
    assert.deepEqual(stepsRenderingTemplate(draft, 'r/check'), []);
  } finally {
    removeDir(dir);
  }
});

test('the steps that call a provider: their own model and their overrides\'', () => {
  const { dir, rules } = workspace();
  try {
    const calls = providerCalls(rules).map((c) => `${c.composition.name}.${c.stepId}${c.override ? ` (${c.override})` : ''} -> ${c.provider.name}${c.step ? '' : ' [no such step]'}`);
    assert.deepEqual(calls, ['draft.outline -> fast', 'draft.body (experience_levels.beginner) -> slow', 'review.check (states.final) -> fast']);
    assert.deepEqual(stepsCallingProvider(rules, 'fast').map((c) => c.step?.id), ['outline', 'check']);
    assert.deepEqual(stepsCallingProvider(rules, 'spare'), []);
    assert.deepEqual([...providersInUse(rules)], ['fast', 'slow']);
    assert.deepEqual([...providersInUse(undefined)], []);
    // An override of a step the composition lacks still names the provider (the validator reports the step).
    const c = compositionNamed(rules, 'review')!;
    const stray = { ...c.overrides.states[0]!, steps: [{ ...c.overrides.states[0]!.steps[0]!, stepName: { ...c.overrides.states[0]!.steps[0]!.stepName, name: 'gone' }, model: { ...c.overrides.states[0]!.steps[0]!.model!, name: 'spare' } }] };
    const edited = { ...rules, compositions: [{ ...c, overrides: { states: [stray], experienceLevels: [] } }] };
    assert.deepEqual(providerCalls(edited).map((x) => [x.stepId, x.step, x.provider.name]), [['gone', undefined, 'spare']]);
    assert.deepEqual([...providersInUse(edited)], ['spare']);
  } finally {
    removeDir(dir);
  }
});

test('the workspace a path belongs to', () => {
  const root = path.resolve('/w/app');
  const nested = path.join(root, 'prompts');
  assert.ok(isPathUnder(root, root));
  assert.ok(isPathUnder(path.join(root, 'a', 'b.hbs'), root));
  assert.ok(isPathUnder(path.join(root, 'x'), root + path.sep), 'a folder written with its separator');
  assert.ok(!isPathUnder(root + '2', root), 'a sibling whose name starts alike');
  assert.ok(!isPathUnder(path.dirname(root), root));
  assert.equal(innermostHolding(path.join(nested, 'templates', 't.hbs'), [root, nested, path.resolve('/w/other')]), nested);
  assert.equal(innermostHolding(path.join(root, 'x.yaml'), [nested, root]), root);
  assert.equal(innermostHolding(root, [root]), root);
  assert.equal(innermostHolding(path.resolve('/elsewhere/x'), [root, nested]), undefined);
  // Which workspace a file is in, from the files that exist (here, the ones in `existing`).
  const existing = new Set([path.join(root, 'composition_rules.yaml'), path.join(nested, 'service_mappings.yaml')]);
  const onDisk = { ...nodeFileSystem, realpath: (f: string) => (existing.has(f) ? f : undefined) };
  assert.equal(workspaceRootOf(path.join(root, 'templates', 'a', 't.hbs'), onDisk), root);
  assert.equal(workspaceRootOf(path.join(nested, 'templates', 't.hbs'), onDisk), nested, 'the nearest');
  assert.equal(workspaceRootOf(path.join(root, 'x', 'service_mappings.yaml'), onDisk), path.join(root, 'x'), 'a configuration file not written yet');
  assert.equal(workspaceRootOf(path.resolve('/w/other/t.hbs'), onDisk), undefined);
  const troot = path.join(root, 'templates');
  assert.equal(templateNameOfFile(troot, path.join(troot, 'a', 'b.hbs')), 'a/b');
  assert.equal(templateNameOfFile(troot, path.join(troot, 'c.handlebars')), 'c');
  assert.equal(templateNameOfFile(troot, path.join(troot, 'notes.md')), undefined);
  assert.equal(templateNameOfFile(troot, path.join(root, 'elsewhere.hbs')), undefined);
  const files = { serviceMappingsFile: path.join(root, 'service_mappings.yaml'), compositionRulesFile: path.join(root, 'composition_rules.yaml'), templatesRoot: path.join(root, 'templates') };
  assert.ok(isWorkspaceFile(files, files.serviceMappingsFile));
  assert.ok(isWorkspaceFile(files, files.compositionRulesFile));
  assert.ok(isWorkspaceFile(files, path.join(root, 'templates', 'a', 't.hbs')));
  assert.ok(!isWorkspaceFile(files, path.join(root, 'templates')), 'the templates root itself holds no diagnostics');
  assert.ok(!isWorkspaceFile(files, path.join(root, 'templates2', 't.hbs')));
  assert.ok(!isWorkspaceFile(files, path.join(root, 'README.md')));
});
