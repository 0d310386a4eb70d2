/**
 * `promptmanager test` as CI and a terminal use it: exit codes, the text report in file order
 * with failures at their lines, JUnit and JSON on stdout or in a file, selection, snapshots
 * (written, updated, refused in CI), `--compare`, usage errors, a workspace with errors, and a
 * live run against a local OpenAI-compatible server whose repeat costs nothing (the cache); and
 * `run --response-cache`, the development runs that ask for the cache.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { test } from 'node:test';
import { CLI } from '../helpers/paths.js';
import { parseXml } from '../helpers/xml.js';
import { FILES, T, workspace } from '../core/testing/fixture.js';

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, ...extra };
  if (!('CI' in extra)) delete e.CI;
  return e;
}
function cli(args: string[], cwd: string, extra: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: env(extra) });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
/** The same, without blocking this process (a server in it must answer). */
function cliAsync(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: env() }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

const GOOD = T(`  greets:
    template: greet
    context_file: contexts/ada.json
    expect:
      - contains: Ada
  replies:
    composition: answer
    context_file: contexts/ada.json
    mocks: { reply: "Dear Ada" }
    expect:
      - step: reply
        equals: Dear Ada
  live_only:
    composition: gateway
    context_file: contexts/ada.json
    live: true
`);

test('all pass: exit 0, each test in file order, a skipped test said as skipped, then the summary', () => {
  const root = workspace(GOOD);
  const r = cli(['test'], root);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const lines = r.stdout.split('\n');
  assert.equal(lines[0], 'prompt_tests.yaml');
  assert.match(lines[1]!, /^ {2}✔ greets \(\d/);
  assert.match(lines[2]!, /^ {2}✔ replies \(\d/);
  assert.match(lines[3]!, /^ {2}– live_only \(skipped: it calls a live model \(live: true\): run with --live to include it\)$/);
  assert.match(r.stdout, /^Tests: 2 passed, 1 skipped, 3 tests in \d+\.\d\d s$/m);
});

test('a failure: exit 1, the failed assertion at its file and line, what differs, and the summary', () => {
  const root = workspace(T(`  greets:\n    template: greet\n    context_file: contexts/ada.json\n    expect:\n      - equals: "Hello Ada!\\nYou have 4 new messages."\n`));
  const r = cli(['test', '.'], root);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^ {2}✖ greets/m);
  assert.match(r.stdout, /^ {6}prompt_tests\.yaml:7: rendered text equals "Hello Ada!\\nYou have 4 new messages\."$/m);
  assert.match(r.stdout, /^ {8}the rendered text differs from the expected text at line 2, column 10$/m);
  assert.match(r.stdout, /^ {10}- You have 4 new messages\.$/m);
  assert.match(r.stdout, /^ {10}\+ You have 3 new messages\.$/m);
  assert.match(r.stdout, /^Tests: 1 failed, 0 passed, 1 test in/m);
});

test('--reporter junit and json: the document on stdout (progress on stderr), or in --output with the summary on stdout', () => {
  const root = workspace(GOOD);
  const junit = cli(['test', '--reporter', 'junit'], root);
  assert.equal(junit.code, 0);
  const doc = parseXml(junit.stdout);
  assert.deepEqual([doc.name, doc.attributes.tests, doc.attributes.failures], ['testsuites', '3', '0']);
  assert.match(junit.stderr, /✔ greets/);
  const json = cli(['test', '--reporter', 'json'], root);
  const parsed = JSON.parse(json.stdout) as { workspaces: { results: { id: string; outcome: string }[] }[] };
  assert.deepEqual(parsed.workspaces[0]!.results.map((r) => [r.id, r.outcome]), [['greets', 'passed'], ['replies', 'passed'], ['live_only', 'skipped']]);
  const out = cli(['test', '--reporter', 'junit', '--output', 'reports/junit.xml'], root);
  assert.equal(out.code, 0);
  assert.equal(parseXml(fs.readFileSync(path.join(root, 'reports', 'junit.xml'), 'utf8')).attributes.tests, '3');
  assert.match(out.stdout, /Tests: 2 passed, 1 skipped.*\nJUnit XML written to reports\/junit\.xml\n$/);
});

test('selection: --filter, a test file given as the argument', () => {
  const root = workspace(GOOD, { 'prompt_tests/extra.yaml': T(`  extra_one:\n    template: sorry\n`) });
  assert.match(cli(['test', '--filter', '^gre'], root).stdout, /Tests: 1 passed, 1 test in/);
  const file = cli(['test', 'prompt_tests/extra.yaml'], root);
  assert.equal(file.code, 0);
  assert.match(file.stdout, /^prompt_tests\/extra\.yaml\n {2}✔ extra_one/);
  assert.match(file.stdout, /Tests: 1 passed, 1 test in/);
});

test('snapshots: written on the first run, a change fails, --update-snapshots rewrites it; in CI a missing one fails', () => {
  const root = workspace(T(`  snap:\n    template: greet\n    context_file: contexts/ada.json\n    expect:\n      - snapshot: true\n`));
  const first = cli(['test'], root);
  assert.equal(first.code, 0);
  assert.match(first.stdout, /Snapshots: 1 file written \(review and commit\): prompt_tests\/__snapshots__\/snap\/output\.txt/);
  fs.writeFileSync(path.join(root, 'contexts', 'ada.json'), '{ "name": "Bob", "count": 3 }');
  const changed = cli(['test'], root);
  assert.equal(changed.code, 1);
  assert.match(changed.stdout, /differs from its snapshot prompt_tests\/__snapshots__\/snap\/output\.txt/);
  assert.match(changed.stdout, /^ {10}- Hello Ada!$/m);
  assert.match(changed.stdout, /^ {10}\+ Hello Bob!$/m);
  assert.equal(cli(['test', '--update-snapshots'], root).code, 0);
  assert.equal(cli(['test'], root).code, 0);
  fs.rmSync(path.join(root, 'prompt_tests'), { recursive: true });
  const ci = cli(['test'], root, { CI: 'true' });
  assert.equal(ci.code, 1);
  assert.match(ci.stdout, /there is no snapshot .* yet, and it is not written in CI/);
});

test('a test file that does not parse fails the run (never a pass by running nothing), in text and JUnit', () => {
  const root = workspace(T(`  greets:\n    template: sorry\n`), { 'prompt_tests/broken.yaml': 'version: 1\ntests:\n  oops: [\n' });
  const r = cli(['test'], root);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /✔ greets/);
  assert.match(r.stdout, /^Test files with errors \(fix them: 'promptmanager validate' shows the same\):\n {2}prompt_tests\/broken\.yaml:\d+:\d+: error yaml-syntax /m);
  assert.match(r.stdout, /^Tests: 1 passed, 1 test in [\d.]+ s; 1 test file with errors$/m);
  const doc = parseXml(cli(['test', '--reporter', 'junit'], root).stdout);
  assert.deepEqual([doc.attributes.tests, doc.attributes.failures, doc.attributes.errors], ['2', '0', '1']);
  const suite = doc.children.find((c) => c.attributes.name === 'prompt_tests/broken.yaml')!;
  assert.equal(suite.children[0]!.children[0]!.name, 'error');
  assert.match(suite.children[0]!.children[0]!.attributes.message!, /^yaml-syntax /);
  // Narrowed to one test, the broken file is not this run's matter.
  assert.equal(cli(['test', '--filter', 'greets'], root).code, 0);
});

test('--compare says what changed since the last run', () => {
  const root = workspace(T(`  greets:\n    template: greet\n    context_file: contexts/ada.json\n    expect:\n      - contains: Ada\n`));
  assert.match(cli(['test', '--compare'], root).stdout, /Compare: no earlier run recorded/);
  fs.writeFileSync(path.join(root, 'contexts', 'ada.json'), '{ "name": "Bob", "count": 3 }');
  const r = cli(['test', '--compare'], root);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^Compared with the run of \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: /m);
  assert.match(r.stdout, /^ {2}newly failing: greets: rendered text contains "Ada": the rendered text does not contain "Ada"/m);
});

test('usage errors exit 64; a workspace with errors exits 1 and names them', () => {
  const root = workspace(GOOD);
  for (const args of [['--reporter', 'xml'], ['--repeat', '0'], ['--filter', '('], ['--concurrency', 'x'], ['--bogus'], ['--output', 'x.txt']]) {
    const r = cli(['test', ...args], root);
    assert.equal(r.code, 64, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^promptmanager test: .*\nUsage: promptmanager test /);
  }
  const bad = workspace(GOOD, { 'composition_rules.yaml': FILES['composition_rules.yaml']!.replace('template: wrap', 'template: wrapp') });
  const r = cli(['test'], bad);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /the prompt workspace \. has errors; fix them first \('promptmanager validate \.'\):\n {2}composition_rules\.yaml:\d+:\d+: error unknown-template/);
  const empty = cli(['test'], workspace('version: 1\ntests: {}\n'));
  assert.equal(empty.code, 0);
  assert.match(empty.stdout, /^no prompt tests in \. \(looked for prompt_tests\.yaml and prompt_tests\/\*\*\/\*\.yaml\)$/m);
});

test('--live calls the provider (a local OpenAI-compatible server), repeats as asked, and a second run costs nothing', async () => {
  let requests = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      requests++;
      const { messages, temperature } = JSON.parse(body) as { messages: { content: string }[]; temperature: number };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ message: { content: `Dear Ada (${messages[0]!.content.length} chars, t=${temperature})` } }] }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as AddressInfo).port;
    const rules = FILES['composition_rules.yaml']!.replace('http://127.0.0.1:9/v1', `http://127.0.0.1:${port}/v1`);
    const root = workspace(T(`  live_reply:\n    composition: answer\n    context_file: contexts/ada.json\n    live: true\n    expect:\n      - step: reply\n        contains: Dear Ada\n`), { 'composition_rules.yaml': rules });
    const first = await cliAsync(['test', '--live', '--repeat', '3'], root);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.match(first.stdout, /✔ live_reply \(.*3\/3 runs\)/);
    assert.equal(requests, 3, 'three samples, three calls');
    assert.match(first.stdout, /Response cache: 0 of 3 model calls answered from the cache/);
    const again = await cliAsync(['test', '--live', '--repeat', '3'], root);
    assert.equal(again.code, 0);
    assert.equal(requests, 3, 'the second run costs nothing');
    assert.match(again.stdout, /Response cache: 3 of 3 model calls answered from the cache/);
    const entries = fs.readdirSync(path.join(root, '.promptmanager', 'responses'), { recursive: true }).filter((f) => String(f).endsWith('.json'));
    assert.equal(entries.length, 3);
    await cliAsync(['test', '--live', '--no-cache'], root);
    assert.equal(requests, 4, '--no-cache asks the provider');
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('run --response-cache: a development run asks the model once for the same request, then answers from the cache; without the flag it asks each time', async () => {
  let requests = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ message: { content: 'Dear Ada' } }] }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const rules = FILES['composition_rules.yaml']!.replace('http://127.0.0.1:9/v1', `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`);
    const root = workspace(T(''), { 'composition_rules.yaml': rules });
    const args = ['run', 'answer', '--context', 'contexts/ada.json'];
    for (let i = 0; i < 2; i++) {
      const r = await cliAsync([...args, '--response-cache'], root);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'Wrapped: Dear Ada\n');
    }
    assert.equal(requests, 1);
    await cliAsync(args, root);
    assert.equal(requests, 2, 'off unless asked');
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});
