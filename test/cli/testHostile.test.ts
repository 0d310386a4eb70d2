/**
 * `promptmanager test` against a hostile repository, run as CI or a terminal runs it (the built
 * dist/cli.js): what it writes (golden files, `.promptmanager/` with the history and the
 * response cache, the `--output` report) goes only into real folders of the workspace, never
 * through a link a pull request put there (git stores links), and nothing outside is written,
 * truncated or removed; what it reads back (golden files, history, cache entries) is read
 * bounded and checked, so a FIFO, /dev/zero, a huge or hostile file neither hangs nor crashes
 * it; and a live run writes the API key nowhere (every written file is searched for the key
 * and for every 8-character piece of it). Runs that hung before have a time bound.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { TestHistory, summarizeTest } from '../../core/testing/history.js';
import { HANG_GUARD_MS } from '../corpus/support.js';
import { CLI } from '../helpers/paths.js';

const RULES = (port = 9) => `version: 1
providers:
  local: { type: openai-compatible, base_url: "http://127.0.0.1:${port}/v1", model: m, api_key_env: PM_HOSTILE_KEY }
compositions:
  answer:
    steps:
      - id: brief
        template: brief
      - id: reply
        template: brief
        depends_on: [brief]
        model: local
        retry: { max_attempts: 1 }
    output: "{{{steps.reply.output}}}"
`;
const TESTS = `version: 1
tests:
  greets:
    template: greet
    context: { name: Ada }
    expect:
      - snapshot: true
`;
const LIVE_TESTS = `${TESTS}  live_reply:
    composition: answer
    context: { name: Ada }
    live: true
    expect:
      - snapshot: true
      - step: reply
        snapshot: true
      - equals: something else
`;

/** A workspace and a folder beside it that stands for the user's files (~/.ssh, a project of theirs). */
function setup(tests = TESTS, port?: number): { root: string; outside: string } {
  const top = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-hostile-'));
  const root = path.join(top, 'ws');
  const outside = path.join(top, 'users-files');
  const files: Record<string, string> = {
    'service_mappings.yaml': 'version: 1\nservices:\n  greeter:\n    primary_templates: [greet]\n',
    'composition_rules.yaml': RULES(port),
    'templates/greet.hbs': 'Hello {{name}}!',
    'templates/brief.hbs': 'Brief for {{name}}',
    'prompt_tests.yaml': tests,
  };
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'authorized_keys'), 'ssh-ed25519 AAAA-the-users-own-key user@laptop\n');
  for (let i = 0; i < 105; i++) fs.writeFileSync(path.join(outside, `settings-${String(i).padStart(3, '0')}.json`), '{"mine": true}\n');
  return { root, outside };
}

/** Every file below `dir` with its content, to compare before and after. */
function snapshotOf(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const rel of fs.readdirSync(dir, { recursive: true }).map(String).sort()) {
    const p = path.join(dir, rel);
    const st = fs.lstatSync(p);
    out.set(rel, st.isFile() ? fs.readFileSync(p, 'utf8') : st.isSymbolicLink() ? `-> ${fs.readlinkSync(p)}` : '<dir>');
  }
  return out;
}

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete e.CI;
  return e;
}
/** The CLI with a time bound: a run that hangs (a FIFO, /dev/zero) fails the test instead of the suite. */
function cli(args: string[], cwd: string, extra: Record<string, string> = {}) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: env(extra), timeout: HANG_GUARD_MS });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0, timedOut: r.error !== undefined };
}
function cliAsync(args: string[], cwd: string, extra: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: env(extra), timeout: HANG_GUARD_MS }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

test('golden files: a snapshot folder linked out of the workspace is refused by name; nothing is written there', () => {
  for (const linkAt of ['prompt_tests/__snapshots__', 'prompt_tests/__snapshots__/greets']) {
    const { root, outside } = setup();
    const before = snapshotOf(outside);
    fs.mkdirSync(path.join(root, path.dirname(linkAt)), { recursive: true });
    fs.symlinkSync(outside, path.join(root, linkAt));
    for (const args of [['test'], ['test', '--update-snapshots']]) {
      const r = cli(args, root);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.ok(r.stdout.includes(`the snapshot cannot be used: ${path.join(root, linkAt)} is a symbolic link`), r.stdout);
      assert.match(r.stdout, /remove the link/);
    }
    assert.deepEqual(snapshotOf(outside), before, `${linkAt}: the user's files are as they were`);
  }
});

test("golden files: one linked to the user's credentials is never read into a message, nor written through", () => {
  const { root, outside } = setup();
  const keys = path.join(outside, 'authorized_keys');
  fs.mkdirSync(path.join(root, 'prompt_tests/__snapshots__/greets'), { recursive: true });
  fs.symlinkSync(keys, path.join(root, 'prompt_tests/__snapshots__/greets/output.txt'));
  for (const args of [['test'], ['test', '--reporter', 'json'], ['test', '--reporter', 'junit'], ['test', '--update-snapshots']]) {
    const r = cli(args, root);
    assert.equal(r.code, 1);
    assert.ok(!(r.stdout + r.stderr).includes('AAAA-the-users-own-key'), `${args.join(' ')} printed the linked file:\n${r.stdout}`);
    assert.match(r.stdout, /output\.txt is a symbolic link/);
  }
  assert.equal(fs.readFileSync(keys, 'utf8'), 'ssh-ed25519 AAAA-the-users-own-key user@laptop\n');
  assert.ok(fs.lstatSync(path.join(root, 'prompt_tests/__snapshots__/greets/output.txt')).isSymbolicLink(), 'the link is left for the user to remove');
});

test('golden files: a FIFO or /dev/zero fails the assertion at once; a huge one says so, and --update-snapshots rewrites it', () => {
  const dir = 'prompt_tests/__snapshots__/greets';
  const fifo = setup().root;
  fs.mkdirSync(path.join(fifo, dir), { recursive: true });
  execFileSync('mkfifo', [path.join(fifo, dir, 'output.txt')]);
  const f = cli(['test'], fifo);
  assert.ok(!f.timedOut, 'a FIFO golden file made the run wait for a writer');
  assert.equal(f.code, 1);
  assert.match(f.stdout, /output\.txt is a FIFO \(named pipe\), not a regular file/);

  const zero = setup().root;
  fs.mkdirSync(path.join(zero, dir), { recursive: true });
  fs.symlinkSync('/dev/zero', path.join(zero, dir, 'output.txt'));
  const z = cli(['test'], zero);
  assert.ok(!z.timedOut, 'a golden file linked to /dev/zero was read for ever');
  assert.equal(z.code, 1);
  assert.match(z.stdout, /output\.txt is a symbolic link \(to \/dev\/zero\)/);

  const huge = setup().root;
  fs.mkdirSync(path.join(huge, dir), { recursive: true });
  fs.writeFileSync(path.join(huge, dir, 'output.txt'), 'x'.repeat(17 * 1024 * 1024));
  const h = cli(['test'], huge);
  assert.equal(h.code, 1);
  assert.match(h.stdout, /output\.txt is \d+ bytes, larger than the limit of 16777216 bytes/);
  assert.equal(cli(['test', '--update-snapshots'], huge).code, 0);
  assert.equal(fs.readFileSync(path.join(huge, dir, 'output.txt'), 'utf8'), 'Hello Ada!');
});

test('.promptmanager or its history folder linked to a folder of the user: nothing written into it, nothing pruned from it', () => {
  for (const linkAt of ['.promptmanager', '.promptmanager/test-history']) {
    const { root, outside } = setup();
    // Through `.promptmanager`, the history folder is the user's folder's `test-history`.
    const history = linkAt === '.promptmanager' ? path.join(outside, 'test-history') : outside;
    fs.mkdirSync(history, { recursive: true });
    for (let i = 0; i < 105; i++) fs.writeFileSync(path.join(history, `old-${String(i).padStart(3, '0')}.json`), '{"mine": true}\n');
    const before = snapshotOf(outside);
    fs.mkdirSync(path.join(root, path.dirname(linkAt)), { recursive: true });
    fs.symlinkSync(outside, path.join(root, linkAt));
    const r = cli(['test', '--compare'], root);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.ok(r.stdout.includes(`the run could not be recorded in the history: ${path.join(root, linkAt)} is a symbolic link`), r.stdout);
    assert.ok(r.stderr.includes('the history of . is not read'), r.stderr);
    assert.deepEqual(snapshotOf(outside), before, `${linkAt}: the user's .json files are all there, and nothing was added`);
  }
});

test('history: FIFOs, /dev/zero, huge and hostile files neither hang nor crash --compare; hostile entries never reach a summary', async () => {
  const { root } = setup();
  const dir = path.join(root, '.promptmanager/test-history');
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('mkfifo', [path.join(dir, '3000-fifo.json')]);
  fs.symlinkSync('/dev/zero', path.join(dir, '3000-zero.json'));
  fs.writeFileSync(path.join(dir, '3000-bomb.json'), '['.repeat(1_900_000) + ']'.repeat(1_900_000));
  fs.writeFileSync(path.join(dir, '3000-huge.json'), JSON.stringify({ startedAt: 1, tests: { greets: { outcome: 'passed', durationMs: 1, pad: 'x'.repeat(6 * 1024 * 1024) } } }));
  fs.writeFileSync(path.join(dir, '2999-far-future.json'), JSON.stringify({ startedAt: 1e300, durationMs: 1, tests: { greets: { outcome: 'passed', durationMs: 1 } } }));
  fs.writeFileSync(
    path.join(dir, '2998-shapes.json'),
    '{"startedAt":5,"durationMs":"x","tests":{"greets":{"outcome":"recent","durationMs":{"a":1}},"other":null,"__proto__":{"outcome":"failed","durationMs":-5,"failures":[1,"boom"],"snapshots":"abc"},"third":{"outcome":"passed","durationMs":1e999,"snapshots":{"__proto__":"x","output.txt":7}}}}',
  );
  const r = cli(['test', '--compare'], root);
  assert.ok(!r.timedOut, 'the history made --compare hang');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.ok(!/Invalid time value|TypeError|RangeError/.test(r.stdout + r.stderr), r.stdout + r.stderr);
  assert.ok(r.ms < HANG_GUARD_MS);

  const runs = await new TestHistory(root).runs();
  const hostile = runs.find((x) => x.id === '2998-shapes')!;
  assert.ok(hostile, 'the run with some bad entries is read');
  assert.ok(!runs.some((x) => x.startedAt === 1e300), 'a time no Date can hold is not a run');
  assert.deepEqual(Object.keys(hostile.tests).sort(), ['__proto__', 'third']);
  assert.deepEqual(hostile.tests['__proto__'], { outcome: 'failed', durationMs: 0, repetitions: 0, passRate: 0, failures: ['boom'] });
  assert.equal(hostile.tests['third']!.durationMs, 0);
  const snaps = hostile.tests['third']!.snapshots!;
  assert.equal(Object.getPrototypeOf(snaps), null);
  assert.deepEqual(Object.keys(snaps), ['__proto__'], 'a digest named __proto__ is data; one that is not text is dropped');
  assert.equal(summarizeTest(runs, '__proto__').failed, 1);
  assert.equal(summarizeTest(runs, 'greets').runs, 1, 'only the run just recorded: "recent" is no outcome');
  assert.equal(({} as Record<string, unknown>).outcome, undefined, 'no prototype was touched');
});

test('--output: a report path the repository made a link, or a FIFO, is refused by name; nothing outside is written', () => {
  const { root, outside } = setup();
  const keys = path.join(outside, 'authorized_keys');
  fs.mkdirSync(path.join(root, 'reports'));
  fs.symlinkSync(keys, path.join(root, 'reports/junit.xml'));
  const r = cli(['test', '--reporter', 'junit', '--output', 'reports/junit.xml'], root);
  assert.equal(r.code, 1);
  assert.ok(r.stderr.includes(`the report was not written: ${path.join(root, 'reports/junit.xml')} is a symbolic link`), r.stderr);
  assert.equal(fs.readFileSync(keys, 'utf8'), 'ssh-ed25519 AAAA-the-users-own-key user@laptop\n', 'the linked file is not truncated');

  fs.symlinkSync(outside, path.join(root, 'out'));
  const before = snapshotOf(outside);
  const d = cli(['test', '--reporter', 'json', '--output', 'out/report.json'], root);
  assert.equal(d.code, 1);
  assert.match(d.stderr, /out is a symbolic link/);
  assert.deepEqual(snapshotOf(outside), before);

  execFileSync('mkfifo', [path.join(root, 'reports/fifo.xml')]);
  const f = cli(['test', '--reporter', 'junit', '--output', 'reports/fifo.xml'], root);
  assert.ok(!f.timedOut, 'writing the report waited for a reader of the FIFO');
  assert.equal(f.code, 1);
  assert.match(f.stderr, /fifo\.xml is a FIFO \(named pipe\), not a regular file/);

  // A plain path still works, a folder made on the way, and an existing report is replaced.
  assert.equal(cli(['test', '--reporter', 'junit', '--output', 'reports/new/junit.xml'], root).code, 0);
  assert.equal(cli(['test', '--reporter', 'junit', '--output', 'reports/new/junit.xml'], root).code, 0);
  assert.match(fs.readFileSync(path.join(root, 'reports/new/junit.xml'), 'utf8'), /^<\?xml/);
});

const KEY = 'sk-HOSTILE-canary-0123456789abcdefghijklmnopqrstuvwxyz';

/** A provider that echoes the API key, and pieces of it, in its answers. */
async function echoingProvider(): Promise<{ port: number; requests: () => number; close: () => Promise<void> }> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      const key = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
      const content = `key=${key} head=${key.slice(0, 12)} middle=${key.slice(9, 19)} tail=${key.slice(-9)}`;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }] }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, requests: () => requests, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test('a live run writes the API key nowhere: golden files, history, cache entries, JUnit and JSON reports, for the key and each 8-character piece', async () => {
  const provider = await echoingProvider();
  try {
    const { root } = setup(LIVE_TESTS, provider.port);
    const runs = [
      await cliAsync(['test', '--live', '--reporter', 'junit', '--output', 'out/junit.xml'], root, { PM_HOSTILE_KEY: KEY }),
      await cliAsync(['test', '--live', '--reporter', 'json', '--output', 'out/report.json', '--compare'], root, { PM_HOSTILE_KEY: KEY }),
      await cliAsync(['test', '--live', '--update-snapshots'], root, { PM_HOSTILE_KEY: KEY }),
    ];
    assert.equal(provider.requests(), 1, 'the answer came from the cache after the first call');
    const written = fs.readdirSync(root, { recursive: true }).map(String).filter((f) => fs.lstatSync(path.join(root, f)).isFile());
    for (const want of ['out/junit.xml', 'out/report.json', 'prompt_tests/__snapshots__/live_reply/output.txt', 'prompt_tests/__snapshots__/live_reply/reply.output.txt']) assert.ok(written.includes(want), `${want} in ${written.join(', ')}`);
    assert.ok(written.some((f) => f.startsWith('.promptmanager/responses/')) && written.some((f) => f.startsWith('.promptmanager/test-history/')));
    const texts = [...written.map((f) => [f, fs.readFileSync(path.join(root, f), 'utf8')]), ...runs.map((r, i) => [`run ${i}`, r.stdout + r.stderr])];
    for (const [name, text] of texts) {
      for (let i = 0; i + 8 <= KEY.length; i++) assert.ok(!text!.includes(KEY.slice(i, i + 8)), `${name} holds ${KEY.slice(i, i + 8)}`);
    }
  } finally {
    await provider.close();
  }
});

test('the response cache folder, or a shard of it, linked out of the workspace: nothing written there, and the summary says why the cache was not used', async () => {
  const provider = await echoingProvider();
  try {
    for (const linkAt of ['.promptmanager/responses', '.promptmanager/responses/SHARD']) {
      const { root, outside } = setup(LIVE_TESTS, provider.port);
      const before = snapshotOf(outside);
      // The shard the live test's answer goes to: learnt from a first run elsewhere.
      let at = linkAt;
      if (linkAt.endsWith('SHARD')) {
        const probe = setup(LIVE_TESTS, provider.port).root;
        await cliAsync(['test', '--live'], probe, { PM_HOSTILE_KEY: KEY });
        at = linkAt.replace('SHARD', fs.readdirSync(path.join(probe, '.promptmanager/responses'))[0]!);
      }
      fs.mkdirSync(path.join(root, path.dirname(at)), { recursive: true });
      fs.symlinkSync(outside, path.join(root, at));
      const r = await cliAsync(['test', '--live'], root, { PM_HOSTILE_KEY: KEY });
      assert.equal(r.code, 1, 'live_reply fails its equals');
      assert.ok(r.stdout.includes(`Response cache not used (2 times): ${path.join(root, at)} is a symbolic link`), r.stdout);
      assert.deepEqual(snapshotOf(outside), before, at);
    }
  } finally {
    await provider.close();
  }
});
