/**
 * The language server's bundle (build/serverSlim.mjs) converts vscode-languageserver and the
 * protocol packages to ES modules so that esbuild can leave out what the server never uses.
 * These tests check that what is converted is the same library: the same exports in the same
 * shapes, and a connection built from it that answers as the package's does. (Every other server
 * test runs dist/server.js, built with the plugin.) The server is two bundles (server/main.ts):
 * the second must use the first one's library, never a copy of its own.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { assertSameExports } from '../helpers/sameExports.js';
import { REPO } from '../helpers/paths.js';

type Lib = Record<string, any>;

const requireFromRepo = createRequire(path.join(REPO, 'package.json'));
const importFromRepo = (rel: string): Promise<any> => import(pathToFileURL(path.join(REPO, rel)).href);

/** `vscode-languageserver/node` bundled as the server build bundles it (slim) or as the package is (full). */
async function bundleLibrary(slim: boolean): Promise<Lib> {
  const esbuild = await importFromRepo('node_modules/esbuild/lib/main.js');
  const plugins = slim ? [(await importFromRepo('build/serverSlim.mjs')).serverSlimPlugin()] : [];
  const r = await esbuild.build({
    stdin: { contents: "module.exports = require('vscode-languageserver/node');", resolveDir: REPO, loader: 'js' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    mainFields: ['module', 'main'],
    write: false,
    logLevel: 'silent',
    plugins,
  });
  assert.deepEqual(r.warnings.map((w: { text: string }) => w.text), [], 'every module converts');
  const mod = { exports: {} as Lib };
  // The library's node entry reads process.argv for a transport: none here.
  new Function('require', 'module', 'exports', 'process', r.outputFiles[0].text)(requireFromRepo, mod, mod.exports, Object.create(process, { argv: { value: [process.argv[0], 'x'] } }));
  return mod.exports;
}

let libraries: Promise<{ full: Lib; slim: Lib }> | undefined;
const bothLibraries = () => (libraries ??= Promise.all([bundleLibrary(false), bundleLibrary(true)]).then(([full, slim]) => ({ full, slim })));

test('the slim vscode-languageserver exports what the package exports, in the same shapes', async () => {
  const { full, slim } = await bothLibraries();
  assert.ok(Object.keys(full).length > 100, 'the package was loaded');
  assertSameExports(full, slim);
});

/** A connection made by `lib` over in-memory streams, and a client end to talk to it. */
function connectionPair(lib: Lib) {
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  const server = lib.createConnection(lib.ProposedFeatures.all, new lib.StreamMessageReader(toServer), new lib.StreamMessageWriter(toClient));
  const client = lib.createProtocolConnection(new lib.StreamMessageReader(toClient), new lib.StreamMessageWriter(toServer));
  client.listen();
  return { server, client };
}

test('a connection from the slim library answers initialize, requests and notifications as the package does', async () => {
  const { full, slim } = await bothLibraries();
  const transcript = async (lib: Lib) => {
    const { server, client } = connectionPair(lib);
    const seen: unknown[] = [];
    server.onInitialize((p: { capabilities: unknown }) => ({ capabilities: { hoverProvider: true, textDocumentSync: lib.TextDocumentSyncKind.Incremental }, echo: p.capabilities }));
    server.onHover((p: unknown) => ({ contents: { kind: 'markdown', value: JSON.stringify(p) } }));
    server.onRequest('custom/echo', (p: unknown) => ({ p }));
    server.onRequest('custom/fail', () => new lib.ResponseError(-32001, 'no', { code: 'x' }));
    client.onNotification('textDocument/publishDiagnostics', (p: unknown) => seen.push(p));
    server.onDidOpenTextDocument((p: { textDocument: { uri: string } }) => server.sendDiagnostics({ uri: p.textDocument.uri, diagnostics: [] }));
    server.listen();
    seen.push(await client.sendRequest('initialize', { processId: null, rootUri: null, capabilities: { textDocument: { hover: {} } } }));
    seen.push(await client.sendRequest('textDocument/hover', { textDocument: { uri: 'file:///a' }, position: { line: 1, character: 2 } }));
    seen.push(await client.sendRequest('custom/echo', { a: [1, 'b'] }));
    seen.push(await client.sendRequest('custom/fail', {}).catch((e: { code: number; message: string; data: unknown }) => [e.code, e.message, e.data]));
    seen.push(await client.sendRequest('custom/unknown', {}).catch((e: { code: number }) => e.code));
    await client.sendNotification('textDocument/didOpen', { textDocument: { uri: 'file:///a', languageId: 'yaml', version: 1, text: 'x' } });
    for (let i = 0; i < 100 && seen.length < 6; i++) await new Promise((r) => setTimeout(r, 10));
    client.dispose();
    server.dispose();
    return seen;
  };
  const [a, b] = [await transcript(full), await transcript(slim)];
  assert.equal(a.length, 6, JSON.stringify(a));
  assert.deepEqual(b, a);
});

test('the server ships as two bundles with one copy of the library: dist/serverCore.js uses the one in dist/server.js', () => {
  const entry = fs.readFileSync(path.join(REPO, 'dist', 'server.js'), 'utf8');
  const core = fs.readFileSync(path.join(REPO, 'dist', 'serverCore.js'), 'utf8');
  // Messages of vscode-jsonrpc's connection, which only a bundled copy of the library holds.
  for (const marker of ['Connection is closed.', 'Received response message without id']) {
    assert.ok(entry.includes(marker), `dist/server.js holds the library (${marker})`);
    assert.ok(!core.includes(marker), `dist/serverCore.js holds a second copy of the library (${marker})`);
  }
  assert.ok(core.includes('promptmanager.languageServerLibrary'), 'dist/serverCore.js reads the shared library');
  assert.ok(entry.length < core.length / 4, `dist/server.js stays small: ${entry.length} bytes against ${core.length}`);
});

test('dist/serverCore.js loaded on its own says what is wrong', () => {
  const r = spawnSync(process.execPath, [path.join(REPO, 'dist', 'serverCore.js')], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /dist\/serverCore\.js must be loaded by dist\/server\.js/);
});
