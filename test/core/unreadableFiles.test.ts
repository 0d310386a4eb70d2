/**
 * Files that exist but are not read. Git stores symlinks, so a pull
 * request can put a link to /dev/zero, to a credentials file or to a FIFO where a
 * configuration file or template is expected; a checkout can hold files the user may not read.
 * - only regular files are read: a FIFO, a socket, a folder (or a link to one) is an
 *   `unreadable-file` error, and `validate` and `render` exit 1 without waiting or reading;
 * - a configuration file linked out of the workspace is refused and never read;
 * - reads stop at the limit whatever `stat` said;
 * - a file the system refuses (EACCES, EMFILE) or that vanished is `unreadable-file`, never an
 *   empty text: the load fails, a reload keeps the last good configuration with
 *   `configRejected`, and health is degraded until it recovers.
 * What hung or read forever before runs in a child process with a time bound, so that a
 * regression fails instead of hanging the suite.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { PromptManager } from '../../core/manager/promptManager.js';
import { DEFAULT_SEVERITY, DIAGNOSTIC_CODES } from '../../core/model/diagnostics.js';
import { validateWorkspace } from '../../core/validate/validateWorkspace.js';
import { memoryFileSystem, nodeFileSystem, type FileSystemHost } from '../../core/workspace/fileSystem.js';
import { HANG_GUARD_MS } from '../corpus/support.js';
import { CLI, REPO, TEMPLATE_WORKER } from '../helpers/paths.js';

const RULES = 'version: 1\ncompositions:\n  flow:\n    inputs: { required: [name] }\n    steps:\n      - id: a\n        template: hello\n';
const MAPPINGS = 'version: 1\nservices:\n  svc:\n    primary_templates: [hello]\n';
const POSIX = process.platform !== 'win32';

function workspace(dir: string, files: Record<string, string> = {}): string {
  const all = { 'composition_rules.yaml': RULES, 'service_mappings.yaml': MAPPINGS, 'templates/hello.hbs': 'Hello {{name}}', ...files };
  for (const [rel, text] of Object.entries(all)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'pm-unreadable-'));
}

/**
 * Node in a child process. What read /dev/zero before grew by gigabytes a second: the child's
 * address space is capped (4 GB), so that a regression fails fast instead of exhausting a
 * shared machine.
 */
function node(argv: string[], binary: string, options: Parameters<typeof spawnSync>[2] & object) {
  if (!POSIX) return spawnSync(binary, argv, { encoding: 'utf8', timeout: HANG_GUARD_MS, ...options });
  return spawnSync('/bin/sh', ['-c', 'ulimit -v 4194304 2>/dev/null; exec "$@"', 'sh', binary, ...argv], { encoding: 'utf8', timeout: HANG_GUARD_MS, ...options });
}

/**
 * The Node binary and the CLI bundle that `uid` may run: this process's and the repository's,
 * unless they lie where that user cannot go (CI's Node lines run binaries kept under
 * /root/.cache, which is 0700; a clone in a folder of `mktemp -d` is 0700 too): then copies in a
 * folder of their own under the system's temporary folder, made once.
 */
let copies: { dir: string; node?: string; cli?: string } | undefined;
function runnableFor(uid: number | undefined): { binary: string; cliPath: string } {
  if (uid === undefined) return { binary: process.execPath, cliPath: CLI };
  const reach = (binary: string, file?: string) => spawnSync(binary, ['-e', file ? `require('fs').accessSync(${JSON.stringify(file)}, 4)` : ''], { uid, gid: uid }).status === 0;
  if (!copies) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-runnable-'));
    fs.chmodSync(dir, 0o755);
    copies = { dir };
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  const c = copies;
  if (!c.node) {
    c.node = process.execPath;
    if (!reach(c.node)) {
      c.node = path.join(c.dir, 'node');
      fs.copyFileSync(process.execPath, c.node);
      fs.chmodSync(c.node, 0o755);
    }
  }
  if (!c.cli) {
    c.cli = CLI;
    if (!reach(c.node, CLI)) {
      // The bundles the CLI loads (itself, the template worker) side by side, as in dist/.
      for (const f of fs.readdirSync(path.dirname(CLI))) if (f.endsWith('.js')) fs.copyFileSync(path.join(path.dirname(CLI), f), path.join(c.dir, f));
      c.cli = path.join(c.dir, path.basename(CLI));
    }
  }
  return { binary: c.node, cliPath: c.cli };
}

function cli(args: string[], options: { cwd?: string; uid?: number; input?: string } = {}) {
  const { binary, cliPath } = runnableFor(options.uid);
  const r = node([cliPath, ...args], binary, {
    cwd: options.cwd ?? (options.uid === undefined ? REPO : os.tmpdir()),
    input: options.input,
    env: { ...process.env, PROMPTMANAGER_API_KEY: '' },
    ...(options.uid !== undefined ? { uid: options.uid, gid: options.uid } : {}),
  });
  assert.equal(r.error, undefined, `promptmanager ${args.join(' ')} did not finish within ${HANG_GUARD_MS} ms (it hung or read forever)`);
  return { code: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

interface JsonDiag {
  file: string;
  code: string;
  severity: string;
  message: string;
}

test('unreadable-file is a diagnostic code like the others: an error in core, in the README table, in the disabledCodes setting (and every code is in all three)', () => {
  assert.ok((DIAGNOSTIC_CODES as readonly string[]).includes('unreadable-file'));
  assert.equal(DEFAULT_SEVERITY['unreadable-file' as keyof typeof DEFAULT_SEVERITY], 'error');
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { contributes: { configuration: { properties: Record<string, { items?: { enum?: string[] } }> } } };
  const setting = pkg.contributes.configuration.properties['promptManager.diagnostics.disabledCodes'];
  assert.deepEqual([...(setting?.items?.enum ?? [])].sort(), [...DIAGNOSTIC_CODES].sort());
  const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
  for (const code of DIAGNOSTIC_CODES) assert.match(readme, new RegExp(`^\\| \`${code}\` \\| ${DEFAULT_SEVERITY[code]} \\|`, 'm'), `README's diagnostics table: ${code}`);
});

// ------------------------------------------------------------------ only regular files

test('not a regular file: a FIFO, a socket, a folder or a link to one, as either configuration file or a template: unreadable-file, and validate and render exit 1 at once', async (t) => {
  if (!POSIX) return t.skip('FIFOs and Unix sockets are POSIX features');
  const parent = tempDir();
  const servers: net.Server[] = [];
  const kinds: Record<string, { make: (p: string) => Promise<void>; says: RegExp }> = {
    fifo: { make: async (p) => void execFileSync('mkfifo', [p]), says: /is a FIFO \(named pipe\), not a regular file/ },
    socket: {
      make: (p) =>
        new Promise<void>((resolve) => {
          const s = net.createServer().listen(p, resolve);
          servers.push(s);
        }),
      says: /is a socket, not a regular file/,
    },
    folder: { make: async (p) => void fs.mkdirSync(p), says: /is a folder/ },
    'link to a fifo': {
      make: async (p) => {
        execFileSync('mkfifo', [p + '.fifo']);
        fs.symlinkSync(path.basename(p) + '.fifo', p);
      },
      says: /is a FIFO \(named pipe\), not a regular file/,
    },
  };
  const targets = ['composition_rules.yaml', 'service_mappings.yaml', 'templates/hello.hbs'];
  const cases: { dir: string; file: string; says: RegExp; name: string }[] = [];
  try {
    for (const [kind, k] of Object.entries(kinds)) {
      for (const target of targets) {
        const dir = workspace(path.join(parent, `${kind.replace(/ /g, '-')}-${target.replace(/[/.]/g, '_')}`));
        const file = path.join(dir, target);
        fs.rmSync(file);
        await k.make(file);
        cases.push({ dir, file, says: k.says, name: `${target} as a ${kind}` });
      }
    }
    const v = cli(['validate', parent, '--format', 'json']);
    assert.equal(v.code, 1, v.stderr);
    const diags = JSON.parse(v.stdout) as JsonDiag[];
    for (const c of cases) {
      const mine = diags.filter((d) => d.file === c.file && d.code === 'unreadable-file');
      assert.equal(mine.length, 1, `${c.name}: ${JSON.stringify(diags.filter((d) => d.file.startsWith(c.dir + path.sep)))}`);
      assert.equal(mine[0]!.severity, 'error');
      assert.match(mine[0]!.message, c.says, c.name);
      if (c.file.endsWith('.hbs')) {
        // Each use names the file and why, rather than "not found" or an empty template.
        assert.ok(diags.some((d) => d.file === path.join(c.dir, 'composition_rules.yaml') && d.code === 'unreadable-file' && /template 'hello' cannot be used: templates\/hello\.hbs is/.test(d.message)), c.name);
      }
      const r = cli(['render', 'hello', '--dir', c.dir, '--context', '-'], { input: '{"name":"x"}' });
      assert.equal(r.code, 1, `${c.name}: render printed ${JSON.stringify(r.stdout)}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /unreadable-file/, c.name);
    }
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    fs.rmSync(parent, { recursive: true, force: true });
  }
});

test('a configuration file linked out of the workspace is refused like a template outside the root, and never read: not /dev/zero, not a credentials file', async () => {
  const parent = tempDir();
  const secret = path.join(parent, 'credentials');
  const KEY = 'AKIA_CANARY_KEY_NAME_7f3a';
  const VALUE = 'wJalrXUtnFEMI-CANARY-SECRET-0b9e';
  fs.writeFileSync(secret, `${KEY}: ${VALUE}\n[default]\naws_secret_access_key = ${VALUE}\n`);
  try {
    const cred = workspace(path.join(parent, 'cred'));
    fs.rmSync(path.join(cred, 'service_mappings.yaml'));
    fs.symlinkSync('../credentials', path.join(cred, 'service_mappings.yaml'));
    const zero = workspace(path.join(parent, 'zero'));
    if (POSIX) {
      fs.rmSync(path.join(zero, 'composition_rules.yaml'));
      fs.symlinkSync('/dev/zero', path.join(zero, 'composition_rules.yaml'));
    }

    // The validator and the engine: the link is never read (every read recorded).
    const reads: string[] = [];
    const spy: FileSystemHost = { ...nodeFileSystem, readFile: (f, max) => (reads.push(f), nodeFileSystem.readFile(f, max)) };
    const v = validateWorkspace(cred, { fs: spy });
    const d = v.diagnostics.find((x) => x.code === 'unreadable-file');
    assert.ok(d, JSON.stringify(v.diagnostics));
    assert.equal(d.file, path.join(cred, 'service_mappings.yaml'));
    assert.match(d.message, /is a link to .*credentials, outside the prompt workspace/);
    assert.ok(!reads.includes(path.join(cred, 'service_mappings.yaml')), 'the link was read');
    await assert.rejects(PromptManager.create({ root: cred, fs: spy, watch: false }), (e: Error) => /unreadable-file/.test(e.message) && !e.message.includes(KEY) && !e.message.includes(VALUE));
    assert.ok(!reads.includes(path.join(cred, 'service_mappings.yaml')), 'the engine read the link');

    // The CLI, in CI: exit 1 at once, the secret nowhere.
    for (const dir of POSIX ? [cred, zero] : [cred]) {
      for (const args of [['validate', dir], ['validate', dir, '--format', 'json'], ['render', 'hello', '--dir', dir]]) {
        const r = cli(args);
        assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
        const all = r.stdout + r.stderr;
        assert.match(all, /unreadable-file/);
        assert.match(all, dir === cred ? /is a link to \S*credentials, outside the prompt workspace/ : /is a link to \/dev\/zero, outside the prompt workspace/);
        assert.ok(!all.includes(KEY) && !all.includes(VALUE), `${args.join(' ')} printed the linked file's content`);
      }
    }
  } finally {
    fs.rmSync(parent, { recursive: true, force: true });
  }
});

test('an application whose configuration file is a link to /dev/zero: finding its workspace reads nothing, and the load fails with unreadable-file', (t) => {
  if (!POSIX) return t.skip('/dev/zero is a POSIX device');
  const app = tempDir();
  try {
    const dir = workspace(path.join(app, 'prompts'));
    fs.rmSync(path.join(dir, 'composition_rules.yaml'));
    fs.symlinkSync('/dev/zero', path.join(dir, 'composition_rules.yaml'));
    const script = `const core = require(${JSON.stringify(path.join(REPO, 'dist', 'core.js'))});
      console.log(core.findAppWorkspace(${JSON.stringify(app)}));
      core.createPromptManagerForApp({ appRoot: ${JSON.stringify(app)}, watch: false }).then(() => console.log('loaded'), (e) => console.log(e.code, e.message));`;
    const r = node(['-e', script], process.execPath, {});
    assert.equal(r.error, undefined, 'it hung or read /dev/zero');
    assert.equal(String(r.stdout).split('\n')[0], dir);
    assert.match(String(r.stdout), /invalid_configuration [\s\S]*unreadable-file [\s\S]*link to \/dev\/zero/);
  } finally {
    fs.rmSync(app, { recursive: true, force: true });
  }
});

test('reads stop at the limit whatever stat said: a file whose size says 0 (a /proc file) or whose host says less than it holds', (t) => {
  // The disk: /proc files are regular files that stat as 0 bytes.
  if (process.platform === 'linux') {
    assert.equal(fs.statSync('/proc/self/status').size, 0);
    assert.throws(
      () => nodeFileSystem.readFile('/proc/self/status', 64),
      (e: Error & { problem?: string }) => e.name === 'FileReadError' && e.problem === 'too-large' && /more than the limit of 64 bytes/.test(e.message),
    );
    assert.ok(nodeFileSystem.readFile('/proc/self/status', 1 << 20)!.includes('Name:'), 'under the limit it is read whole');
  } else t.diagnostic('the /proc part runs on Linux only');

  // The validator checks what a host returned, whatever its fileSize said.
  const big = '# generated\n'.repeat(500_000); // 6 MB
  const lying = (files: Record<string, string>): FileSystemHost => ({ ...memoryFileSystem(files), fileSize: () => 0 });
  const v = validateWorkspace('/ws', { fs: lying({ '/ws/composition_rules.yaml': RULES + big, '/ws/templates/hello.hbs': 'Hello {{name}}' }) });
  assert.ok(v.diagnostics.some((d) => d.code === 'yaml-syntax' && /larger than the 4 MB limit \(maxConfigBytes\)/.test(d.message)), JSON.stringify(v.diagnostics));
  const v2 = validateWorkspace('/ws', { fs: lying({ '/ws/composition_rules.yaml': RULES, '/ws/templates/hello.hbs': 'Hello {{name}}' + big }) });
  assert.ok(v2.diagnostics.some((d) => d.code === 'template-syntax' && /maxTemplateBytes/.test(d.message)), JSON.stringify(v2.diagnostics));
});

test('the template worker (language server start) skips what it cannot read, and does not wait on a FIFO', (t) => {
  if (!POSIX) return t.skip('FIFOs are a POSIX feature');
  const dir = workspace(tempDir());
  try {
    execFileSync('mkfifo', [path.join(dir, 'templates', 'pipe.hbs')]);
    fs.mkdirSync(path.join(dir, 'templates', 'folder.hbs'));
    fs.writeFileSync(path.join(dir, 'templates', 'folder.hbs', 'inner.hbs'), 'Inner {{x}}');
    // The worker's own bundle, in a child process: a FIFO that blocked would hang this one.
    const script = `const { Worker } = require('node:worker_threads');
      new Worker(${JSON.stringify(TEMPLATE_WORKER)}, { workerData: { role: 'promptmanager-template-prewarm', requests: [{ templatesRoot: ${JSON.stringify(path.join(dir, 'templates'))}, limits: {} }] } })
        .once('message', (m) => console.log(JSON.stringify(m[0].map((x) => x.file))));`;
    const child = node(['-e', script], process.execPath, {});
    assert.equal(child.error, undefined, 'the prewarm hung on the FIFO');
    const files = (JSON.parse(String(child.stdout)) as string[]).map((f) => path.relative(path.join(dir, 'templates'), f).split(path.sep).join('/')).sort();
    assert.deepEqual(files, ['folder.hbs/inner.hbs', 'hello.hbs']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ------------------------------------------------------------------ unreadable is not empty

/** The disk, with one file refused as the system would refuse it, while `failing` is on. */
function failingFs(file: string, how: 'EACCES' | 'EMFILE' | 'vanished'): { fs: FileSystemHost; failing: { on: boolean } } {
  const failing = { on: false };
  return {
    failing,
    fs: {
      ...nodeFileSystem,
      readFile: (f, max) => {
        if (failing.on && f === file) {
          if (how === 'vanished') return undefined;
          const text = how === 'EACCES' ? 'permission denied' : 'too many open files';
          throw Object.assign(new Error(`${how}: ${text}, open '${f}'`), { code: how, errno: how === 'EACCES' ? -13 : -24, syscall: 'open', path: f });
        }
        return nodeFileSystem.readFile(f, max);
      },
    },
  };
}

for (const [what, how, rel, says] of [
  ['a template the system refuses (EACCES)', 'EACCES', 'templates/hello.hbs', /templates\/hello\.hbs cannot be read: permission denied \(EACCES\)/],
  ['composition_rules.yaml with too many open files (EMFILE)', 'EMFILE', 'composition_rules.yaml', /composition_rules\.yaml cannot be read: too many open files in this process \(EMFILE\); it is read again on the next change/],
  ['service_mappings.yaml refused (EACCES)', 'EACCES', 'service_mappings.yaml', /service_mappings\.yaml cannot be read: permission denied \(EACCES\)/],
  ['a template listed, then gone when read', 'vanished', 'templates/hello.hbs', /templates\/hello\.hbs disappeared while being read/],
] as const) {
  test(`unreadable is not empty: ${what} is unreadable-file; the load fails, a reload keeps the last good configuration with configRejected and degraded health, then recovers`, async () => {
    const dir = workspace(tempDir());
    const file = path.join(dir, rel);
    const { fs: host, failing } = failingFs(file, how);
    try {
      failing.on = true;
      const v = validateWorkspace(dir, { fs: host });
      const d = v.diagnostics.filter((x) => x.code === 'unreadable-file' && x.file === file);
      assert.equal(d.length, 1, JSON.stringify(v.diagnostics));
      assert.equal(d[0]!.severity, 'error');
      assert.match(d[0]!.message, says);
      assert.ok(v.errorCount > 0);
      await assert.rejects(PromptManager.create({ root: dir, fs: host, watch: false }), (e: Error & { code?: string }) => e.code === 'invalid_configuration' && says.test(e.message));

      failing.on = false;
      const m = await PromptManager.create({ root: dir, fs: host, watch: false });
      const rejected: { diagnostics: { code: string }[] }[] = [];
      m.events.on('configRejected', (e: { diagnostics: { code: string }[] }) => rejected.push(e));
      try {
        fs.writeFileSync(file, rel.endsWith('.hbs') ? 'Changed {{name}}' : fs.readFileSync(file, 'utf8') + '\n');
        failing.on = true;
        const r = m.reload();
        assert.equal(r.status, 'rejected');
        assert.equal(rejected.length, 1);
        assert.ok(rejected[0]!.diagnostics.some((x) => x.code === 'unreadable-file'));
        assert.equal(m.snapshot.generation, 1);
        assert.equal((await m.render('hello', { name: 'n' })).text, 'Hello n', 'the last good configuration is served');
        const health = m.healthCheck();
        assert.equal(health.status, 'degraded');
        assert.match(health.components.config.reason, /unreadable-file/);
        assert.equal(m.reload().status, 'rejected', 'still refused while it cannot be read');
        assert.equal(m.healthCheck().status, 'degraded');

        failing.on = false;
        assert.equal(m.reload().status, 'reloaded');
        assert.equal(m.healthCheck().components.config.status, 'healthy');
        assert.equal((await m.render('hello', { name: 'n' })).text, rel.endsWith('.hbs') ? 'Changed n' : 'Hello n');
      } finally {
        await m.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('unreadable is not empty, on the real disk: chmod 000 on a template or a configuration file, validate and render exit 1 and say EACCES', (t) => {
  if (!POSIX) return t.skip('chmod 000 does not stop reads on Windows');
  // Root reads whatever the mode says: the CLI then runs as an unprivileged user.
  const asRoot = process.getuid?.() === 0;
  const uid = asRoot ? 65534 : undefined;
  const dir = workspace(tempDir());
  try {
    fs.chmodSync(dir, 0o755);
    for (const rel of ['templates/hello.hbs', 'composition_rules.yaml']) {
      const file = path.join(dir, rel);
      fs.chmodSync(file, 0o000);
      try {
        const v = cli(['validate', dir, '--format', 'json'], { uid });
        assert.equal(v.code, 1, v.stdout + v.stderr);
        const diags = JSON.parse(v.stdout) as JsonDiag[];
        const d = diags.find((x) => x.file === file && x.code === 'unreadable-file');
        assert.ok(d, `${rel}: ${v.stdout}`);
        assert.match(d.message, /cannot be read: permission denied \(EACCES\)/);
        const r = cli(['render', 'hello', '--dir', dir, '--context', '-'], { uid, input: '{"name":"x"}' });
        assert.equal(r.code, 1, `${rel}: render printed ${JSON.stringify(r.stdout)}`);
        assert.equal(r.stdout, '');
        assert.match(r.stderr, /unreadable-file .*permission denied \(EACCES\)/);
      } finally {
        fs.chmodSync(file, 0o644);
      }
    }
    // Readable again: clean.
    assert.equal(cli(['validate', dir], { uid }).code, 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ------------------------------------------------------------------ the CLI's --context: user-given, bounded

test('render --context: a FIFO is waited for (as <(...) gives), /dev/zero stops at maxContextBytes, a folder is refused', async (t) => {
  if (!POSIX) return t.skip('FIFOs and /dev/zero are POSIX features');
  const dir = workspace(tempDir());
  try {
    const fifo = path.join(dir, 'context.fifo');
    execFileSync('mkfifo', [fifo]);
    const child = spawn(process.execPath, [CLI, 'render', 'hello', '--dir', dir, '--context', fifo], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += String(c)));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const guard = setTimeout(() => child.kill(), HANG_GUARD_MS);
    // The writer's end opened without blocking this process: it waits (polling) for the reader.
    let fd: number | undefined;
    while (fd === undefined) {
      try {
        fd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENXIO' || child.exitCode !== null || child.killed) throw e;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    fs.writeSync(fd, '{"name":"piped"}');
    fs.closeSync(fd);
    const code = await exited;
    clearTimeout(guard);
    assert.equal(code, 0);
    assert.equal(out, 'Hello piped\n');

    const zero = cli(['render', 'hello', '--dir', dir, '--context', '/dev/zero']);
    assert.equal(zero.code, 64, zero.stderr);
    assert.match(zero.stderr, /cannot read the context file \/dev\/zero: it holds more than \d+ bytes \(maxContextBytes\)/);
    const folder = cli(['render', 'hello', '--dir', dir, '--context', 'templates'], { cwd: dir });
    assert.equal(folder.code, 64);
    assert.match(folder.stderr, /cannot read the context file templates: is a folder/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
