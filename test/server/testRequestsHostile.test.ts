/**
 * The language server's test requests on a hostile repository opened in Restricted Mode (an
 * untrusted workspace), over real LSP: an offline run calls no provider and writes nothing
 * outside the workspace (a golden-file folder or `.promptmanager` linked out is refused by name;
 * what it writes inside goes only into real folders), and a history holding FIFOs, /dev/zero
 * and hostile entries neither hangs nor fails `testHistory`; a linked history folder is an error
 * that says so, and the server keeps answering.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { ListTestsRequest, RunTestsRequest, SetTrustNotification, TestHistoryRequest } from '../../protocol/protocol.js';
import { LspClient, uri, writeFiles } from './lsp.js';

let modelServer: http.Server;
let port = 0;
let requests = 0;

before(async () => {
  modelServer = http.createServer((req, res) => {
    requests++;
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: 'live' }, finish_reason: 'stop' }] }));
  });
  await new Promise<void>((r) => modelServer.listen(0, '127.0.0.1', r));
  port = (modelServer.address() as { port: number }).port;
});
after(() => {
  modelServer.closeAllConnections();
  modelServer.close();
});

const TESTS = `version: 1
tests:
  greets_ada:
    template: greet
    context: { name: Ada }
    expect:
      - snapshot: true
  drafts:
    composition: flow
    context: { name: Ada }
    expect:
      - status: succeeded
  drafts_live:
    composition: flow
    context: { name: Ada }
    live: true
`;

function workspace(): { root: string; outside: string } {
  const top = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-testreq-hostile-'));
  const root = path.join(top, 'ws');
  const outside = path.join(top, 'users-files');
  writeFiles(root, {
    'composition_rules.yaml': `version: 1\nproviders:\n  local: { type: openai-compatible, base_url: "http://127.0.0.1:${port}/v1", model: m }\ncompositions:\n  flow:\n    steps:\n      - id: a\n        template: greet\n      - id: b\n        template: greet\n        model: local\n        depends_on: [a]\n`,
    'service_mappings.yaml': 'version: 1\nservices:\n  s:\n    primary_templates: [greet]\n',
    'templates/greet.hbs': 'Hello {{name}}.',
    'prompt_tests.yaml': TESTS,
  });
  fs.mkdirSync(outside);
  for (let i = 0; i < 105; i++) fs.writeFileSync(path.join(outside, `keep-${String(i).padStart(3, '0')}.json`), '{}');
  return { root, outside };
}
const listing = (dir: string) => fs.readdirSync(dir, { recursive: true }).map(String).sort();

/** A request that must be answered in time: a FIFO read would never answer. */
function inTime<T>(p: Promise<T>, what: string, ms = 20_000): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} got no answer in ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

test('untrusted: an offline run calls no provider, refuses a golden-file folder linked out, and records the history only inside', async () => {
  const { root, outside } = workspace();
  fs.mkdirSync(path.join(root, 'prompt_tests'));
  fs.symlinkSync(outside, path.join(root, 'prompt_tests/__snapshots__'));
  const before = listing(outside);
  const c = await LspClient.start({ folders: [root], debounceMs: 0 });
  try {
    await c.conn.sendNotification(SetTrustNotification, { trusted: false });
    requests = 0;
    const r = await inTime(c.conn.sendRequest(RunTestsRequest, { workspace: uri(root), updateSnapshots: 'all' }), 'runTests');
    assert.ok(r.ok, JSON.stringify(r));
    const byId = new Map(r.report.results.map((x) => [x.id, x]));
    assert.equal(byId.get('greets_ada')!.outcome, 'failed');
    assert.match(byId.get('greets_ada')!.assertions.map((a) => a.message).join('\n'), /__snapshots__ is a symbolic link .*remove the link/);
    // A model step without a mock fails offline; the live test is skipped; no request left.
    assert.equal(byId.get('drafts')!.outcome, 'failed');
    assert.equal(byId.get('drafts_live')!.outcome, 'skipped');
    assert.equal(requests, 0);
    assert.deepEqual(listing(outside), before);
    assert.equal(fs.readdirSync(path.join(root, '.promptmanager/test-history')).filter((f) => f.endsWith('.json')).length, 1);
  } finally {
    await c.stop();
  }
});

test('testHistory: FIFOs, /dev/zero and hostile entries neither hang nor fail it; a linked history folder is an error that names it', async () => {
  const { root } = workspace();
  const dir = path.join(root, '.promptmanager/test-history');
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('mkfifo', [path.join(dir, '3000-fifo.json')]);
  fs.symlinkSync('/dev/zero', path.join(dir, '3000-zero.json'));
  fs.writeFileSync(path.join(dir, '2000-a.json'), '{"startedAt":1,"tests":{"greets_ada":{"outcome":"recent","durationMs":1},"drafts":{"outcome":"failed","durationMs":2,"passRate":0}}}');
  const linked = workspace();
  fs.mkdirSync(path.join(linked.root, '.promptmanager'));
  fs.symlinkSync(linked.outside, path.join(linked.root, '.promptmanager/test-history'));
  const c = await LspClient.start({ folders: [root, linked.root], debounceMs: 0 });
  try {
    const h = await inTime(c.conn.sendRequest(TestHistoryRequest, { workspace: uri(root) }), 'testHistory');
    assert.deepEqual(h.tests.map((t) => [t.id, t.runs, t.failed]), [['drafts', 1, 1]]);
    await assert.rejects(inTime(c.conn.sendRequest(TestHistoryRequest, { workspace: uri(linked.root) }), 'testHistory'), /test-history is a symbolic link/);
    const r = await inTime(c.conn.sendRequest(RunTestsRequest, { workspace: uri(linked.root), ids: ['greets_ada'] }), 'runTests');
    assert.ok(r.ok);
    assert.match(r.report.historyError ?? '', /test-history is a symbolic link/);
    assert.equal(listing(linked.outside).length, 105, 'nothing written to, nothing pruned from the linked folder');
    // The server still answers.
    assert.equal((await c.conn.sendRequest(ListTestsRequest, {})).workspaces.length, 2);
  } finally {
    await c.stop();
  }
});
