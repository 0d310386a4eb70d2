/**
 * The extension client's bundle (build/clientSlim.mjs) converts vscode-languageclient and the
 * protocol packages to ES modules so that esbuild can tree-shake them, leaves out the language
 * features the server does not offer and stands in for semver. These tests check that what is
 * left is the same library: the same exports, the same client capabilities but for the left-out
 * features, a server that offers none of those, and semver's answers for the VS Code version check.
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { assertSameExports } from '../helpers/sameExports.js';
import { REPO, SERVER } from '../helpers/paths.js';

type Lib = Record<string, any>;
type Caps = Record<string, any>;

const requireFromRepo = createRequire(path.join(REPO, 'package.json'));
// Loaded when the tests run, not bundled into them.
const importFromRepo = (rel: string): Promise<any> => import(pathToFileURL(path.join(REPO, rel)).href);

/** The client capabilities the left-out features would have asked for. */
const LEFT_OUT_CAPABILITIES = [
  'notebookDocument',
  'textDocument.callHierarchy',
  'textDocument.codeLens',
  'textDocument.colorProvider',
  'textDocument.declaration',
  'textDocument.diagnostic',
  'textDocument.documentHighlight',
  'textDocument.documentLink',
  'textDocument.foldingRange',
  'textDocument.formatting',
  'textDocument.implementation',
  'textDocument.inlayHint',
  'textDocument.inlineCompletion',
  'textDocument.inlineValue',
  'textDocument.linkedEditingRange',
  'textDocument.onTypeFormatting',
  'textDocument.rangeFormatting',
  'textDocument.selectionRange',
  'textDocument.semanticTokens',
  'textDocument.signatureHelp',
  'textDocument.typeDefinition',
  'textDocument.typeHierarchy',
  'workspace.codeLens',
  'workspace.diagnostics',
  'workspace.executeCommand',
  'workspace.fileOperations',
  'workspace.foldingRange',
  'workspace.inlayHint',
  'workspace.inlineValue',
  'workspace.semanticTokens',
  'workspace.textDocumentContent',
];

/** Enough of the `vscode` module for the library to load and build a LanguageClient (which it never starts here). */
function fakeVscode(): Lib {
  const dts = fs.readFileSync(path.join(REPO, 'node_modules', '@types', 'vscode', 'index.d.ts'), 'utf8');
  const api: Lib = {};
  for (const m of dts.matchAll(/export (?:class|enum|namespace|const|let|function) (\w+)/g)) api[m[1]!] = class {};
  const anything = (): any =>
    new Proxy(function () {}, {
      get: (_t, k) => (k === Symbol.iterator ? function* () {} : k === 'then' || typeof k === 'symbol' ? undefined : k === 'get' ? (_k: string, d: unknown) => d : anything()),
      apply: () => anything(),
      construct: () => anything(),
    });
  for (const ns of ['workspace', 'window', 'languages', 'env', 'commands', 'extensions', 'notebooks']) api[ns] = anything();
  api.EventEmitter = class {
    event = () => ({ dispose() {} });
    fire() {}
    dispose() {}
  };
  api.version = '1.95.0';
  return api;
}

/** `vscode-languageclient/node` bundled as the client build bundles it (slim) or as the package is (full). */
async function bundleLibrary(slim: boolean): Promise<Lib> {
  const esbuild = await importFromRepo('node_modules/esbuild/lib/main.js');
  const plugins = slim ? [(await importFromRepo('build/clientSlim.mjs')).clientSlimPlugin()] : [];
  const r = await esbuild.build({
    stdin: { contents: "module.exports = require('vscode-languageclient/node');", resolveDir: REPO, loader: 'js' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    mainFields: ['module', 'main'],
    external: ['vscode'],
    write: false,
    logLevel: 'silent',
    plugins,
  });
  assert.deepEqual(r.warnings.map((w: { text: string }) => w.text), [], 'every module converts');
  const vscode = fakeVscode();
  const mod = { exports: {} as Lib };
  new Function('require', 'module', 'exports', r.outputFiles[0].text)((id: string) => (id === 'vscode' ? vscode : requireFromRepo(id)), mod, mod.exports);
  return mod.exports;
}

let libraries: Promise<{ full: Lib; slim: Lib }> | undefined;
const bothLibraries = () => (libraries ??= Promise.all([bundleLibrary(false), bundleLibrary(true)]).then(([full, slim]) => ({ full, slim })));

function newClient(lib: Lib): Lib {
  return new lib.LanguageClient('promptManagerTest', 'Test', { module: SERVER, transport: lib.TransportKind.ipc }, { documentSelector: [{ scheme: 'file', language: 'yaml' }], synchronize: { configurationSection: 'promptManager' } });
}

/** Paths (a.b.c) where two JSON values differ. */
function differences(a: unknown, b: unknown, at = ''): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObj(a) || !isObj(b)) return JSON.stringify(a) === JSON.stringify(b) ? [] : [at.slice(0, -1)];
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].flatMap((k) => differences(a[k], b[k], `${at}${k}.`));
}

const get = (o: Caps | undefined, p: string): unknown => p.split('.').reduce<any>((v, k) => (v == null ? undefined : v[k]), o);

test('the slim vscode-languageclient exports what the package exports, in the same shapes', async () => {
  const { full, slim } = await bothLibraries();
  assertSameExports(full, slim);
});

test('the slim client asks for the same client capabilities, but for the features it leaves out', async () => {
  const { full, slim } = await bothLibraries();
  const fullCaps: Caps = newClient(full).computeClientCapabilities();
  const slimCaps: Caps = newClient(slim).computeClientCapabilities();
  assert.deepEqual(differences(fullCaps, slimCaps).sort(), [...LEFT_OUT_CAPABILITIES].sort());
  for (const p of LEFT_OUT_CAPABILITIES) assert.equal(get(slimCaps, p), undefined, p);
  // What the PromptManager server uses, unchanged.
  for (const p of ['textDocument.synchronization', 'textDocument.completion', 'textDocument.hover', 'textDocument.definition', 'textDocument.references', 'textDocument.rename', 'textDocument.codeAction', 'textDocument.documentSymbol', 'textDocument.publishDiagnostics', 'workspace.symbol', 'workspace.configuration', 'workspace.didChangeWatchedFiles', 'workspace.workspaceEdit', 'workspace.workspaceFolders', 'window.workDoneProgress']) {
    assert.notEqual(get(slimCaps, p), undefined, p);
    assert.deepEqual(get(slimCaps, p), get(fullCaps, p), p);
  }
});

test('the server offers no feature the slim client leaves out, and registers only features it keeps (over the slim IPC transport)', async () => {
  const { full, slim } = await bothLibraries();
  const { STUBBED } = await importFromRepo('build/clientSlim.mjs');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-slim-'));
  fs.writeFileSync(path.join(dir, 'service_mappings.yaml'), 'services: {}\n');
  const child = fork(SERVER, ['--node-ipc'], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  const conn = slim.createProtocolConnection(new slim.IPCMessageReader(child), new slim.IPCMessageWriter(child));
  const registered: string[] = [];
  conn.onRequest('client/registerCapability', (p: { registrations: { method: string }[] }) => void registered.push(...p.registrations.map((r) => r.method)));
  conn.onRequest('workspace/configuration', (p: { items: unknown[] }) => p.items.map(() => ({})));
  conn.onRequest('window/workDoneProgress/create', () => null);
  conn.listen();
  try {
    const folder = pathToFileURL(dir).href;
    // Everything the full client would ask for, so that the server offers all it can.
    const capabilities = newClient(full).computeClientCapabilities();
    const init = (await conn.sendRequest('initialize', { processId: process.pid, rootUri: folder, capabilities, workspaceFolders: [{ uri: folder, name: 'x' }] })) as { capabilities: Caps };
    for (const features of Object.values(STUBBED) as Record<string, string>[]) {
      for (const [feature, capability] of Object.entries(features)) {
        const offered = get(init.capabilities, capability);
        assert.ok(offered === undefined || offered === false, `the server offers ${capability}: keep ${feature} in build/clientSlim.mjs`);
      }
    }
    await conn.sendNotification('initialized', {});
    for (let i = 0; i < 100 && registered.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(registered.includes('workspace/didChangeWatchedFiles'), `registrations: ${registered}`);
    const client = newClient(slim);
    for (const method of registered) assert.ok(client.getFeature(method), `the server registers ${method}, which the slim client leaves out`);
    await conn.sendRequest('shutdown');
    await conn.sendNotification('exit');
  } finally {
    conn.dispose();
    child.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the semver stand-ins answer as semver for the VS Code version check', () => {
  const parse = requireFromRepo('semver/functions/parse');
  const satisfies = requireFromRepo('semver/functions/satisfies');
  const stubParse = requireFromRepo('./build/stubs/semverParse.js');
  const stubSatisfies = requireFromRepo('./build/stubs/semverSatisfies.js');
  const versions = [
    '1.95.0', '1.91.0', '1.90.9', '1.91.1', '1.200.3', '2.0.0', '0.9.0', '1.0.0', '1.91.0-insider', '1.95.0-insider', '1.90.0-insider',
    '2.0.0-0', 'v1.95.3', ' 1.95.0 ', '=1.95.0', '1.95', '1.95.0.1', '01.95.0', '1.95.0+build.5', '1.95.0-alpha.1+b', '1.95.0-01',
    '1.95.0-a.01', '1.95.0-rc.2', 'garbage', '', '99999999999999999.0.0', `1.95.0-${'a'.repeat(300)}`,
  ];
  const shape = (v: any) => v && { major: v.major, minor: v.minor, patch: v.patch, prerelease: [...v.prerelease] };
  for (const v of versions) {
    assert.deepEqual(shape(stubParse(v)), shape(parse(v)), `parse(${JSON.stringify(v)})`);
    for (const range of ['^1.91.0', '^1.95.0', '^1.0.0', '^2.0.0']) {
      assert.equal(stubSatisfies(v, range), satisfies(v, range), `satisfies(${JSON.stringify(v)}, ${range})`);
      // As vscode-languageclient checks: the insider prerelease dropped first.
      const a = parse(v);
      const b = stubParse(v);
      if (a) a.prerelease = [];
      if (b) b.prerelease = [];
      if (a) assert.equal(stubSatisfies(b, range), satisfies(a, range), `checkVersion(${JSON.stringify(v)}, ${range})`);
    }
  }
  assert.throws(() => stubSatisfies('1.95.0', '>=1.91.0'), /unsupported range/);
});
