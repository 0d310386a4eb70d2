/**
 * The language server ships as two bundles (server/main.ts): dist/languageService.js uses the
 * vscode-languageserver that dist/server.js loaded, never a copy of its own (build/serverSplit.mjs).
 * These tests hold what that relies on, and that the build fails, saying why, when a dependency
 * upgrade or an import breaks it. (Every other server test runs the two bundles together.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { REPO } from '../helpers/paths.js';

// Loaded when the tests run, not bundled into them.
const importFromRepo = (rel: string): Promise<any> => import(pathToFileURL(path.join(REPO, rel)).href);

interface BuildFailure {
  errors: { text: string }[];
}

/** Builds `contents` (an ES module in `dir`) as dist/languageService.js is built; the esbuild errors, or [] when it builds. */
async function buildAsCore(contents: string, root = REPO, dir = REPO): Promise<string[]> {
  const esbuild = await importFromRepo('node_modules/esbuild/lib/main.js');
  const { serverSplitPlugin } = await importFromRepo('build/serverSplit.mjs');
  try {
    await esbuild.build({
      stdin: { contents, resolveDir: dir, sourcefile: 'core-like.ts', loader: 'ts' },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      write: false,
      logLevel: 'silent',
      plugins: [serverSplitPlugin(root)],
    });
    return [];
  } catch (e) {
    return (e as BuildFailure).errors.map((x) => x.text);
  }
}

test('the server ships as two bundles with one copy of the library: dist/languageService.js uses the one in dist/server.js', () => {
  const entry = fs.readFileSync(path.join(REPO, 'dist', 'server.js'), 'utf8');
  const core = fs.readFileSync(path.join(REPO, 'dist', 'languageService.js'), 'utf8');
  // Messages of vscode-jsonrpc's connection, which only a bundled copy of the library holds.
  for (const marker of ['Connection is closed.', 'Received response message without id']) {
    assert.ok(entry.includes(marker), `dist/server.js holds the library (${marker})`);
    assert.ok(!core.includes(marker), `dist/languageService.js holds a second copy of the library (${marker})`);
  }
  assert.ok(core.includes('promptmanager.languageServerLibrary'), 'dist/languageService.js reads the shared library');
  // The entry answers `initialize` alone: none of the validator, the engine or the features.
  for (const marker of ['dependency-cycle', 'undeclared-variable']) assert.ok(!entry.includes(marker), `dist/server.js holds the core (${marker})`);
});

test('dist/languageService.js loaded on its own says what is wrong', () => {
  const r = spawnSync(process.execPath, [path.join(REPO, 'dist', 'languageService.js')], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /dist\/languageService\.js must be loaded by dist\/server\.js/);
});

test('what the core imports from the protocol package is, value for value, what vscode-languageserver/node exports', async () => {
  const { sharedExports, SHARED } = await importFromRepo('build/serverSplit.mjs');
  const requireFromRepo = (await import('node:module')).createRequire(path.join(REPO, 'package.json'));
  const library = requireFromRepo('vscode-languageserver/node');
  for (const spec of SHARED) {
    const { shared, own } = sharedExports(spec);
    assert.ok(shared.length > 50, `${spec}: ${shared.length} shared values`);
    for (const n of shared) assert.equal(requireFromRepo(spec)[n], library[n], `${spec}.${n}`);
    for (const n of own) assert.notEqual(requireFromRepo(spec)[n], library[n], `${spec}.${n}`);
  }
  // The protocol package's own createProtocolConnection is the browser-neutral one: not shared.
  assert.deepEqual(sharedExports('vscode-languageserver-protocol').own.sort(), ['createMessageConnection', 'createProtocolConnection']);
  assert.deepEqual(await buildAsCore(`import { ResponseError, ProtocolRequestType } from 'vscode-languageserver-protocol'; import { TextDocuments } from 'vscode-languageserver/node'; console.log(ResponseError, ProtocolRequestType, TextDocuments);`), []);
});

test('the core build fails, saying why, on an import that would bundle a second copy of the library', async () => {
  // A module of the library's packages that dist/server.js does not share.
  const [jsonrpc] = await buildAsCore(`import { ResponseError } from 'vscode-jsonrpc'; console.log(ResponseError);`);
  assert.match(jsonrpc ?? '', /imports vscode-jsonrpc; the server's core may import the language server library only as vscode-languageserver\/node/);
  const [bare] = await buildAsCore(`import { TextDocuments } from 'vscode-languageserver'; console.log(TextDocuments);`);
  assert.match(bare ?? '', /imports vscode-languageserver;/);
  // A value of the protocol package that is not the library's.
  const [own] = await buildAsCore(`import { createProtocolConnection } from 'vscode-languageserver-protocol'; console.log(createProtocolConnection);`);
  assert.match(own ?? '', /No matching export .* for import "createProtocolConnection"/);
});

test('the core build fails when an upgrade leaves a second copy of the protocol package beside the library', async () => {
  // A tree as npm leaves it when vscode-languageserver needs another protocol version than the
  // one at the top: the library (linked, so it resolves its own protocol) and a copy at the top.
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-split-'));
  try {
    const nm = path.join(root, 'node_modules');
    fs.mkdirSync(nm);
    fs.writeFileSync(path.join(root, 'package.json'), '{"name":"pm-split-test","private":true}');
    for (const p of ['vscode-languageserver', 'vscode-jsonrpc', 'vscode-languageserver-types']) fs.symlinkSync(path.join(REPO, 'node_modules', p), path.join(nm, p), 'dir');
    fs.cpSync(path.join(REPO, 'node_modules', 'vscode-languageserver-protocol'), path.join(nm, 'vscode-languageserver-protocol'), { recursive: true });
    const { sharedExports } = await importFromRepo('build/serverSplit.mjs');
    const { own } = sharedExports('vscode-languageserver-protocol', root);
    assert.ok(own.includes('ProtocolRequestType') && own.includes('InitializeRequest'), `the copy's own values: ${own.slice(0, 5)}`);
    const errors = await buildAsCore(`import { ProtocolRequestType } from 'vscode-languageserver-protocol'; console.log(ProtocolRequestType);`, root, root);
    assert.match(errors.join('\n'), /No matching export .* for import "ProtocolRequestType"/);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
