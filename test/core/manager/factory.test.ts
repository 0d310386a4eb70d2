import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  createPromptManagerForApp,
  createServiceManager,
  createTesting,
  findAppWorkspace,
  TESTING_ROOT,
  WORKSPACE_ENV_VAR,
} from '../../../core/manager/factory.js';
import { recommendConfiguration, environmentFromNodeEnv, ENVIRONMENTS } from '../../../core/manager/presets.js';
import { PromptEnabledService } from '../../../core/manager/promptEnabledService.js';
import { FakeClock } from '../../../core/clock.js';
import { PromptError } from '../../../core/errors.js';
import { COMPOSITION_RULES, CONTEXT, SERVICE_MAPPINGS, TEMPLATES, removeDir, writeWorkspace } from './fixtures.js';

function appDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'pm-app-'));
}

function copyWorkspaceTo(dir: string): void {
  const ws = writeWorkspace();
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  fs.cpSync(ws, dir, { recursive: true });
  removeDir(ws);
}

test('createTesting with no files at all', async () => {
  const m = await createTesting();
  assert.deepEqual(m.listTemplates(), []);
  assert.deepEqual(m.listCompositions(), []);
  assert.equal(m.healthCheck().status, 'healthy');
  await assert.rejects(m.render('x', {}), { code: 'unknown_template' });
  assert.equal(m.snapshot.validation.root, TESTING_ROOT);
  await m.close();
});

test('createTesting with templates only, and with configuration given as objects', async () => {
  const a = await createTesting({ templates: { hello: 'Hello {{name}}' } });
  assert.equal((await a.render('hello', { name: 'Ada' })).text, 'Hello Ada');
  await a.close();
  const b = await createTesting({
    templates: { 'x/t': 'T {{user_id}}' },
    serviceMappings: { services: { svc: { primary_templates: ['x/t'], context_requirements: { required: ['user_id'] } } } },
  });
  assert.equal((await b.render('x/t', { user_id: 1 }, { serviceName: 'svc' })).text, 'T 1');
  await assert.rejects(b.render('x/t', {}, { serviceName: 'svc' }), { code: 'missing_context' });
  await b.close();
});

test('createTesting is validated by the same validator', async () => {
  await assert.rejects(
    createTesting({ templates: {}, serviceMappings: { services: { svc: { primary_templates: ['absent'] } } } }),
    (e: unknown) => e instanceof PromptError && e.code === 'invalid_configuration' && /service_mappings\.yaml:\d+:\d+ unknown-template /.test(e.message),
  );
});

test('testing preset: no cache, no watching, deterministic ids, injectable clock', async () => {
  const clock = new FakeClock();
  const m = await createTesting({ templates: TEMPLATES, serviceMappings: SERVICE_MAPPINGS, compositionRules: COMPOSITION_RULES, clock });
  assert.equal(m.environment, 'testing');
  assert.equal(m.cacheMode, 'off');
  assert.equal(m.clock, clock);
  assert.equal(m.reloadPending, false);
  assert.equal(m.idGenerator(), 'run-1');
  assert.equal(m.idGenerator(), 'run-2');
  const r = await m.render('chat/greeting', { user_id: 'u' });
  assert.equal(r.durationMs, 0, 'the fake clock does not move by itself');
  assert.equal(m.getMetrics().cache.mode, 'off');
  await m.close();
  assert.equal(clock.pending, 0);
});

test('presets: development watches with a small cache; production does not watch and caches more', async () => {
  const dev = recommendConfiguration('development');
  const prod = recommendConfiguration('production');
  const testing = recommendConfiguration('testing');
  assert.equal(dev.settings.watch, true);
  assert.equal(prod.settings.watch, false);
  assert.equal(testing.settings.watch, false);
  assert.equal(testing.settings.cache.mode, 'off');
  assert.ok(dev.settings.strict && prod.settings.strict && testing.settings.strict);
  assert.ok(prod.settings.cache.maxBytes > dev.settings.cache.maxBytes);
  for (const env of ENVIRONMENTS) {
    const r = recommendConfiguration(env);
    for (const key of Object.keys(r.settings)) assert.ok((r.reasons as Record<string, string>)[key]?.length, `${env}.${key} has a reason`);
  }
  assert.throws(() => recommendConfiguration('staging' as never), TypeError);
  assert.equal(environmentFromNodeEnv('production'), 'production');
  assert.equal(environmentFromNodeEnv('test'), 'testing');
  assert.equal(environmentFromNodeEnv(undefined), 'development');
});

test('search order: explicit workspace, then env var, appRoot itself, conventional folders, the only one below', async () => {
  const app = appDir();
  try {
    assert.throws(() => findAppWorkspace(app, { env: {} }), (e: unknown) => e instanceof PromptError && /No prompt workspace/.test(e.message));
    copyWorkspaceTo(path.join(app, 'deep', 'nested', 'ws'));
    assert.equal(findAppWorkspace(app, { env: {} }), path.join(app, 'deep', 'nested', 'ws'));
    copyWorkspaceTo(path.join(app, 'other'));
    assert.throws(() => findAppWorkspace(app, { env: {} }), (e: unknown) => e instanceof PromptError && /Several prompt workspaces.*deep[/\\]nested[/\\]ws, other/.test(e.message));
    copyWorkspaceTo(path.join(app, 'config', 'prompts'));
    assert.equal(findAppWorkspace(app, { env: {} }), path.join(app, 'config', 'prompts'));
    copyWorkspaceTo(path.join(app, 'prompts'));
    assert.equal(findAppWorkspace(app, { env: {} }), path.join(app, 'prompts'));
    fs.writeFileSync(path.join(app, 'service_mappings.yaml'), 'version: 1\n');
    assert.equal(findAppWorkspace(app, { env: {} }), app);
    assert.equal(findAppWorkspace(app, { env: { [WORKSPACE_ENV_VAR]: 'other' } }), path.join(app, 'other'));
    assert.equal(findAppWorkspace(app, { workspace: 'deep/nested/ws', env: { [WORKSPACE_ENV_VAR]: 'other' } }), path.join(app, 'deep', 'nested', 'ws'));
    assert.throws(() => findAppWorkspace(app, { workspace: 'deep' }), { code: 'invalid_configuration' });
  } finally {
    removeDir(app);
  }
});

test('createPromptManagerForApp applies the preset', async () => {
  const app = appDir();
  copyWorkspaceTo(path.join(app, 'prompts'));
  try {
    const prod = await createPromptManagerForApp({ appRoot: app, environment: 'production' });
    assert.equal(prod.environment, 'production');
    assert.equal(prod.reloadPending, false);
    assert.equal((await prod.render('chat/greeting', { user_id: 'p' })).text, 'Hello p');
    assert.equal(prod.cacheMode, 'auto');
    await prod.close();
    const dev = await createPromptManagerForApp({ appRoot: app, environment: 'development', clock: new FakeClock() });
    assert.equal(dev.environment, 'development');
    assert.equal(dev.root, path.join(app, 'prompts'));
    await dev.close();
  } finally {
    removeDir(app);
  }
});

test('createServiceManager binds a PromptEnabledService to a service', async () => {
  const m = await createTesting({ templates: TEMPLATES, serviceMappings: SERVICE_MAPPINGS, compositionRules: COMPOSITION_RULES });
  const svc = await createServiceManager('analysis_service', { promptManager: m });
  assert.ok(svc instanceof PromptEnabledService);
  assert.equal(svc.serviceName, 'analysis_service');
  const r = await svc.renderPrompt({ context: CONTEXT });
  assert.equal(r.template, 'analysis/summary');
  await assert.rejects(createServiceManager('ghost', { promptManager: m }), { code: 'access_denied' });
  await m.close();

  const app = appDir();
  copyWorkspaceTo(path.join(app, 'prompts'));
  try {
    const own = await createServiceManager('chat_service', { appRoot: app, environment: 'testing' });
    assert.equal((await own.renderPrompt({ context: { user_id: 'c' } })).text, 'Reply to c as chat_service');
    await own.promptManager.close();
  } finally {
    removeDir(app);
  }
});

test('turning the cache on in the testing preset gives it sensible bounds', async () => {
  const m = await createTesting({ templates: { t: 'x {{a}}' }, cache: { mode: 'on' } });
  assert.equal(m.cacheMode, 'on');
  await m.render('t', { a: 1 });
  assert.equal((await m.render('t', { a: 1 })).fromCache, true);
  const c = m.getMetrics().cache;
  assert.ok('maxBytes' in c && c.maxBytes > 0);
  await m.close();
});
