// Integration suite run inside VS Code's extension host by @vscode/test-electron
// (test/vscode/runTest.mjs). CommonJS, no test framework dependency: a small sequential runner
// with node:assert. VS Code calls run(); a rejected promise fails the run.
'use strict';

const assert = require('node:assert/strict');
const path = require('node:path');
const vscode = require('vscode');

const manifest = require(path.resolve(__dirname, '..', '..', '..', 'package.json'));
const EXTENSION_ID = `${manifest.publisher}.${manifest.name}`;

const tests = [];
const test = (name, fn, timeoutMs = 30_000) => tests.push({ name, fn, timeoutMs });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(fn, timeoutMs, what) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

test('the workspace is a copy of examples/', () => {
  const folders = vscode.workspace.workspaceFolders || [];
  assert.equal(folders.length, 1, 'one workspace folder');
  assert.equal(path.basename(folders[0].uri.fsPath), 'examples');
});

test(`the extension ${EXTENSION_ID} is installed and activates on the examples`, async () => {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is not loaded`);
  // activationEvents include workspaceContains:**/composition_rules.yaml: it activates by itself
  await waitFor(() => ext.isActive, 15_000, 'the extension to activate from its workspaceContains events').catch(async () => {
    await ext.activate();
  });
  assert.equal(ext.isActive, true);
});

test('every command the manifest contributes is registered', async () => {
  const contributed = ((manifest.contributes && manifest.contributes.commands) || []).map((c) => c.command);
  assert.ok(contributed.length > 0, 'package.json contributes no commands');
  const registered = new Set(await vscode.commands.getCommands(true));
  const missing = contributed.filter((c) => !registered.has(c));
  assert.deepEqual(missing, [], `contributed but not registered: ${missing.join(', ')}`);
});

test('contributed commands are in the "PromptManager" category', () => {
  const commands = (manifest.contributes && manifest.contributes.commands) || [];
  const stray = commands.filter((c) => c.category !== 'PromptManager').map((c) => c.command);
  assert.deepEqual(stray, []);
});

async function run() {
  const failures = [];
  for (const t of tests) {
    const started = Date.now();
    try {
      await Promise.race([
        Promise.resolve().then(t.fn),
        sleep(t.timeoutMs).then(() => {
          throw new Error(`timed out after ${t.timeoutMs} ms`);
        }),
      ]);
      console.log(`  ✔ ${t.name} (${Date.now() - started} ms)`);
    } catch (e) {
      failures.push(t.name);
      console.error(`  ✖ ${t.name}\n    ${(e && e.stack) || e}`);
    }
  }
  console.log(`\n${tests.length - failures.length} passed, ${failures.length} failed`);
  if (failures.length) throw new Error(`${failures.length} integration test(s) failed: ${failures.join('; ')}`);
}

module.exports = { run };
