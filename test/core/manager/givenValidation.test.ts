/**
 * A PromptManager built from, and reloaded with, a validation its caller already made (the
 * language server's): it does not run the validator again, and it refuses a configuration
 * with errors exactly as it refuses one it validated itself.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { PromptError } from '../../../core/errors.js';
import { ConfigurationError } from '../../../core/manager/configError.js';
import { PromptManager } from '../../../core/manager/promptManager.js';
import { validateWorkspace } from '../../../core/validate/validateWorkspace.js';
import { CONTEXT, removeDir, writeWorkspace } from './fixtures.js';

const BROKEN_MAPPINGS = 'version: 1\nservices:\n  s:\n    primary_templates: [no/such]\n';

test('built from a given validation: no validation of its own, the same renders', async () => {
  const dir = writeWorkspace();
  const v = validateWorkspace(dir);
  const given = await PromptManager.create({ root: dir, environment: 'testing', validation: v });
  const own = await PromptManager.create({ root: dir, environment: 'testing' });
  try {
    assert.equal(given.validations, 0);
    assert.equal(own.validations, 1);
    assert.equal(given.snapshot.validation, v);
    assert.equal((await given.render('analysis/summary', CONTEXT)).text, (await own.render('analysis/summary', CONTEXT)).text);
    assert.deepEqual(given.listTemplates({ serviceName: 'analysis_service' }), own.listTemplates({ serviceName: 'analysis_service' }));
  } finally {
    await given.close();
    await own.close();
    removeDir(dir);
  }
});

test('reload with a given validation swaps it in without validating; reload without one validates', async () => {
  const dir = writeWorkspace();
  const pm = await PromptManager.create({ root: dir, environment: 'testing', validation: validateWorkspace(dir) });
  try {
    const file = path.join(dir, 'templates', 'common', 'apology.hbs');
    fs.writeFileSync(file, 'Apologies, {{user_id}}.');
    const r = pm.reload({ validation: validateWorkspace(dir) });
    assert.equal(r.status, 'reloaded');
    assert.deepEqual(r.changedTemplates, ['common/apology']);
    assert.equal(pm.validations, 0);
    assert.equal((await pm.render('common/apology', { user_id: 'u' })).text, 'Apologies, u.');
    assert.equal(pm.reload({ validation: validateWorkspace(dir) }).status, 'unchanged');
    assert.equal(pm.reload().status, 'unchanged');
    assert.equal(pm.validations, 1);
  } finally {
    await pm.close();
    removeDir(dir);
  }
});

test('a given validation with errors is refused as the manager\'s own would be: at creation and at reload', async () => {
  const dir = writeWorkspace({ 'service_mappings.yaml': BROKEN_MAPPINGS });
  try {
    const own = await PromptManager.create({ root: dir }).then(
      () => assert.fail('created'),
      (e: unknown) => e,
    );
    const given = await PromptManager.create({ root: dir, validation: validateWorkspace(dir) }).then(
      () => assert.fail('created'),
      (e: unknown) => e,
    );
    assert.ok(own instanceof ConfigurationError && given instanceof ConfigurationError);
    assert.equal(given.code, 'invalid_configuration');
    assert.equal(given.message, own.message);
    assert.match(given.message, /no\/such/);
  } finally {
    removeDir(dir);
  }

  const ok = writeWorkspace();
  const pm = await PromptManager.create({ root: ok, environment: 'testing', validation: validateWorkspace(ok) });
  try {
    fs.writeFileSync(path.join(ok, 'service_mappings.yaml'), BROKEN_MAPPINGS);
    const given = pm.reload({ validation: validateWorkspace(ok) });
    const own = pm.reload();
    assert.equal(given.status, 'rejected');
    assert.equal(own.status, 'rejected');
    assert.equal(given.error?.message, own.error?.message);
    assert.deepEqual(given.diagnostics, own.diagnostics);
    // The last good configuration stays in use.
    assert.equal(pm.snapshot.generation, 1);
    assert.match((await pm.render('analysis/summary', CONTEXT, { serviceName: 'analysis_service' })).text, /Quarterly report/);
  } finally {
    await pm.close();
    removeDir(ok);
  }
});

test('a validation of another workspace or templates root is refused with what does not match', async () => {
  const a = writeWorkspace();
  const b = writeWorkspace();
  try {
    await assert.rejects(PromptManager.create({ root: a, validation: validateWorkspace(b) }), (e: unknown) => {
      assert.ok(e instanceof PromptError);
      assert.equal(e.code, 'invalid_configuration');
      assert.ok(e.message.includes(a) && e.message.includes(b), e.message);
      return true;
    });
    fs.cpSync(path.join(a, 'templates'), path.join(a, 'prompts'), { recursive: true });
    await assert.rejects(PromptManager.create({ root: a, templatesRoot: 'prompts', validation: validateWorkspace(a) }), /templates root/);
    const pm = await PromptManager.create({ root: a, environment: 'testing', templatesRoot: 'prompts', validation: validateWorkspace(a, { templatesRoot: 'prompts' }) });
    try {
      assert.equal(pm.reload({ validation: validateWorkspace(b) }).status, 'rejected');
      assert.equal(pm.validations, 0);
    } finally {
      await pm.close();
    }
  } finally {
    removeDir(a);
    removeDir(b);
  }
});
