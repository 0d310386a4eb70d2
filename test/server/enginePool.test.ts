/**
 * The server validates each workspace once per change: the engine a preview or a
 * run uses is loaded from the validation the workspace manager made for the diagnostics, not
 * from a second one. In process, with the server's own WorkspaceManager and EnginePool and the
 * steps server.ts takes for a keystroke (the buffer updated, the workspace marked dirty, the
 * debounced validation) and a preview (promptManager/render).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { EnginePool } from '../../server/enginePool.js';
import { WorkspaceManager, type ManagedWorkspace } from '../../server/workspaceManager.js';
import { removeDir, writeWorkspace } from '../core/manager/fixtures.js';

/** What a refused preview says (for assertion messages). */
const why = (r: object) => ('error' in r ? JSON.stringify(r.error) : 'rendered');

/** The server's state over a fixture, with every validation the workspace manager runs counted. */
function serverState(dir: string) {
  const manager = new WorkspaceManager();
  manager.folders.set(dir, { uri: pathToFileURL(dir).href });
  const [ws] = manager.discover(dir);
  assert.ok(ws);
  let validations = 0;
  const validate = manager.validate.bind(manager);
  manager.validate = (w: ManagedWorkspace) => {
    validations++;
    return validate(w);
  };
  const pool = new EnginePool(manager, { snapshot: (w) => manager.snapshot(w), trusted: true });
  let version = 1;
  return {
    manager,
    ws,
    pool,
    get validations() {
      return validations;
    },
    /** A keystroke as server.ts handles it: the buffer changes and the workspace is marked for validation. */
    type(file: string, text: string) {
      manager.open.set(file, { uri: pathToFileURL(file).href, text, version: ++version });
      for (const w of manager.workspacesOf(file, true)) w.dirty = true;
    },
    /** The debounce firing: the validation for the diagnostics. */
    debounce() {
      manager.validate(ws);
    },
    /** A preview as promptManager/render does it. */
    async preview(template: string, context: Record<string, unknown>) {
      const e = await pool.engineFor(ws);
      if ('error' in e) return e;
      return { pm: e.pm, text: (await e.pm.render(template, context)).text };
    },
  };
}

test('a keystroke then a preview validates the workspace once; the engine validates nothing itself', async () => {
  const dir = writeWorkspace();
  const s = serverState(dir);
  try {
    s.debounce(); // the first validation, at start
    const first = await s.preview('common/apology', { user_id: 'u' });
    assert.ok('text' in first, why(first));
    assert.equal(first.text, 'Sorry u, the prompt could not be prepared.');
    assert.equal(s.validations, 1);
    const pm = first.pm;
    assert.equal(pm.validations, 0, 'the engine was built from the diagnostics validation');

    const file = path.join(dir, 'templates', 'common', 'apology.hbs');
    for (const [i, text] of ['Sorry {{user_id}}!', 'Apologies, {{user_id}}.'].entries()) {
      s.type(file, text);
      s.debounce();
      const r = await s.preview('common/apology', { user_id: 'u' });
      assert.ok('text' in r, why(r));
      assert.equal(r.text, text.replace('{{user_id}}', 'u'));
      assert.equal(r.pm, pm, 'the same engine, reloaded');
      assert.equal(s.validations, 2 + i, 'one validation per keystroke-then-preview');
      assert.equal(pm.validations, 0);
    }

    // A preview that comes before the debounce validates (once) for both.
    s.type(file, 'Sorry again, {{user_id}}.');
    const early = await s.preview('common/apology', { user_id: 'u' });
    assert.ok('text' in early && early.text === 'Sorry again, u.', why(early));
    assert.equal(s.validations, 4);
    // Nothing changed since: a second preview validates nothing.
    await s.preview('common/apology', { user_id: 'u' });
    assert.equal(s.validations, 4);
    assert.equal(pm.validations, 0);
  } finally {
    await s.pool.close();
    removeDir(dir);
  }
});

test('a keystroke that breaks the configuration: previews that use the error are refused with the diagnostics validation\'s errors, the others go on', async () => {
  const dir = writeWorkspace();
  const s = serverState(dir);
  try {
    const mappings = path.join(dir, 'service_mappings.yaml');
    const good = fs.readFileSync(mappings, 'utf8');
    const broken = good.replace('primary_templates: [analysis/summary]', 'primary_templates: [analysis/nope]');
    // Broken from the start: the engine loads all the same (configErrors: 'isolate').
    s.type(mappings, broken);
    s.debounce();
    assert.ok(s.ws.validation!.errorCount > 0);
    const plain = await s.preview('common/apology', { user_id: 'u' });
    assert.ok('text' in plain, why(plain));
    assert.equal((await plain.pm.render('common/apology', { user_id: 'u' })).errorsElsewhere, 1);
    // As the service whose entry holds the error: refused, naming it.
    await assert.rejects(plain.pm.render('common/apology', { user_id: 'u' }, { serviceName: 'analysis_service' }), (e: unknown) => {
      assert.match(String((e as Error).message), /analysis\/nope/);
      return (e as { code?: string }).code === 'invalid_configuration';
    });
    const pm = plain.pm;

    s.type(mappings, good);
    s.debounce();
    const fixed = await s.preview('common/apology', { user_id: 'u' });
    assert.ok('text' in fixed, why(fixed));
    assert.equal(fixed.pm, pm, 'the same engine, reloaded');
    assert.equal((await pm.render('common/apology', { user_id: 'u', document: {} }, { serviceName: 'analysis_service' })).text, 'Sorry u, the prompt could not be prepared.');
    assert.equal(s.validations, 2);
    assert.equal(pm.validations, 0);
  } finally {
    await s.pool.close();
    removeDir(dir);
  }
});
