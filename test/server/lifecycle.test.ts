/**
 * The LSP lifecycle of the built server (dist/server.js), over raw JSON-RPC as a second editor
 * would speak it: requests before `initialize` (ServerNotInitialized), after `shutdown`
 * (InvalidRequest), a second `initialize` (refused, nothing changes), dropped notifications,
 * and the exit codes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import * as path from 'node:path';
import { tempWorkspace } from '../helpers/paths.js';
import { RawRpc, type RpcMessage } from './rawRpc.js';

const SERVER_NOT_INITIALIZED = -32002;
const INVALID_REQUEST = -32600;

const rules = (composition: string) => `version: 1\ncompositions:\n  ${composition}:\n    steps:\n      - id: a\n        template: greet\n`;

function workspace(composition: string): string {
  return tempWorkspace({ 'composition_rules.yaml': rules(composition), 'templates/greet.hbs': 'Hello {{name}}\n' });
}

const initializeParams = (folder: string) => ({
  processId: null,
  rootUri: null,
  workspaceFolders: [{ uri: pathToFileURL(folder).href, name: path.basename(folder) }],
  capabilities: {},
});

/** Starts a server and takes it through `initialize` and `initialized` to its first indexing. */
async function ready(folder: string): Promise<RawRpc> {
  const rpc = new RawRpc();
  rpc.request(1, 'initialize', initializeParams(folder));
  assert.ok((await rpc.response(1)).result, 'initialize answered');
  rpc.notify('initialized', {});
  await rpc.until((m) => m.method === 'promptManager/indexed', 20000, 'the first indexing');
  return rpc;
}

const errorCode = (m: RpcMessage) => m.error?.code;
const symbolNames = (m: RpcMessage) => ((m.result ?? []) as { name: string }[]).map((s) => s.name).sort();

test('lifecycle: before initialize, requests get ServerNotInitialized (-32002) and exit ends with 1', async () => {
  const rpc = new RawRpc();
  try {
    rpc.request(1, 'textDocument/hover', { textDocument: { uri: 'file:///nowhere/a.hbs' }, position: { line: 0, character: 0 } });
    rpc.request(2, 'shutdown');
    rpc.request(3, 'workspace/symbol', { query: '' });
    for (const id of [1, 2, 3]) {
      const r = await rpc.response(id);
      assert.equal(errorCode(r), SERVER_NOT_INITIALIZED, JSON.stringify(r));
      assert.match(r.error!.message, /not initialized/);
    }
    rpc.notify('exit');
    assert.equal(await rpc.exit(), 1, 'exit without shutdown');
  } finally {
    rpc.kill();
  }
});

test('lifecycle: notifications before initialize are dropped, and the server then starts as usual', async () => {
  const folder = workspace('from_disk');
  const file = path.join(folder, 'composition_rules.yaml');
  const rpc = new RawRpc();
  try {
    // Had the server kept this buffer, its composition would win over the file's.
    rpc.notify('textDocument/didOpen', { textDocument: { uri: pathToFileURL(file).href, languageId: 'yaml', version: 1, text: rules('from_buffer') } });
    rpc.notify('initialized', {});
    rpc.request(1, 'initialize', initializeParams(folder));
    assert.ok((await rpc.response(1)).result);
    rpc.notify('initialized', {});
    await rpc.until((m) => m.method === 'promptManager/indexed', 20000, 'the first indexing');
    rpc.request(2, 'workspace/symbol', { query: 'from_' });
    assert.deepEqual(symbolNames(await rpc.response(2)), ['from_disk']);
  } finally {
    rpc.kill();
  }
});

test('lifecycle: after shutdown, requests get InvalidRequest (-32600), a second shutdown too, and exit ends with 0', async () => {
  const folder = workspace('flow');
  const rpc = await ready(folder);
  try {
    rpc.request(2, 'shutdown');
    assert.deepEqual((await rpc.response(2)).result, null);
    rpc.request(3, 'workspace/symbol', { query: '' });
    rpc.request(4, 'textDocument/completion', { textDocument: { uri: pathToFileURL(path.join(folder, 'composition_rules.yaml')).href }, position: { line: 0, character: 0 } });
    rpc.request(5, 'shutdown');
    for (const id of [3, 4, 5]) {
      const r = await rpc.response(id);
      assert.equal(errorCode(r), INVALID_REQUEST, JSON.stringify(r));
      assert.match(r.error!.message, /shutting down/);
    }
    // Dropped: no diagnostics for a broken buffer opened now.
    const before = rpc.received.length;
    rpc.notify('textDocument/didOpen', { textDocument: { uri: pathToFileURL(path.join(folder, 'composition_rules.yaml')).href, languageId: 'yaml', version: 1, text: 'version: [' } });
    rpc.request(6, 'workspace/symbol', { query: '' });
    await rpc.response(6);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(rpc.received.slice(before).filter((m) => m.method === 'textDocument/publishDiagnostics'), []);
    rpc.notify('exit');
    assert.equal(await rpc.exit(), 0, 'exit after shutdown');
  } finally {
    rpc.kill();
  }
});

test('lifecycle: a second initialize is refused with InvalidRequest and changes nothing; later requests are answered', async () => {
  const first = workspace('first_flow');
  const second = workspace('second_flow');
  const rpc = await ready(first);
  try {
    rpc.request(2, 'initialize', initializeParams(second));
    const r = await rpc.response(2);
    assert.equal(errorCode(r), INVALID_REQUEST, JSON.stringify(r));
    assert.match(r.error!.message, /already initialized/);
    rpc.notify('initialized', {});
    // Today these never got an answer: the second initialize started a second core.
    rpc.request(3, 'workspace/symbol', { query: '_flow' });
    assert.deepEqual(symbolNames(await rpc.response(3, 10000)), ['first_flow']);
    const uri = pathToFileURL(path.join(first, 'templates/greet.hbs')).href;
    rpc.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'handlebars', version: 1, text: 'Hello {{name}}\n' } });
    rpc.request(4, 'textDocument/documentSymbol', { textDocument: { uri: pathToFileURL(path.join(first, 'composition_rules.yaml')).href } });
    const symbols = await rpc.response(4, 10000);
    assert.equal(symbols.error, undefined);
    assert.match(JSON.stringify(symbols.result), /first_flow/);
    rpc.request(5, 'shutdown');
    assert.deepEqual((await rpc.response(5)).result, null);
    rpc.notify('exit');
    assert.equal(await rpc.exit(), 0);
  } finally {
    rpc.kill();
  }
});

test('lifecycle: exit without shutdown ends an initialized server with 1', async () => {
  const rpc = await ready(workspace('flow'));
  try {
    rpc.notify('exit');
    assert.equal(await rpc.exit(), 1);
  } finally {
    rpc.kill();
  }
});
