/**
 * Security properties of the engine, each tested:
 * - Handlebars prototype access stays off (`constructor`, `__proto__`, `lookup` tricks, the
 *   well-known RCE payload);
 * - nothing outside the templates root is read (a spy FileSystemHost records every access);
 * - a provider's base_url must be http or https, at run time too, whatever the executor;
 * - an API key never appears in run status, events, metrics (JSON and Prometheus), health,
 *   error messages, logs or the CLI's output, whole or any 8-character piece of it (a canary
 *   key through a provider that echoes it, also past the point where long messages are cut),
 *   nor a password in a base_url;
 * - nothing from the workspace is executed (no `.js` is loaded, no YAML tag runs code);
 * - an untrusted manager runs no provider step.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { systemClock } from '../../core/clock.js';
import { PromptManager } from '../../core/manager/promptManager.js';
import { PromptError } from '../../core/errors.js';
import { nodeFileSystem, type FileSystemHost } from '../../core/workspace/fileSystem.js';
import { ExecutorRegistry, type StepExecutionRequest } from '../../core/workflow/executors.js';
import { createOpenAICompatibleExecutor } from '../../core/workflow/openaiCompatible.js';
import type { WorkflowEvent } from '../../core/workflow/types.js';
import { CLI } from '../helpers/paths.js';

const CANARY = 'sk-CANARY-5e1f0c2b9d7a4e63b8f1';
/** A password in a base_url (`http://user:PASSWORD@host`). */
const PASSWORD_CANARY = 'pw-CANARY-7c3d9e1f0a2b4c6d';

/** The secret and every 8-character piece of it: a message cut in the middle of a key still leaks what it shows. */
function secretPieces(secret: string): string[] {
  const out = [secret];
  for (let i = 0; i + 8 <= secret.length; i++) out.push(secret.slice(i, i + 8));
  return out;
}
const SECRET_PIECES = [...secretPieces(CANARY), ...secretPieces(PASSWORD_CANARY)];
function leaksIn(text: string): string[] {
  return SECRET_PIECES.filter((p) => text.includes(p));
}
const KEY_ENV = 'PM_SECURITY_TEST_KEY';

let server: Server;
let base = '';
let requests = 0;

before(async () => {
  // A provider that fails and echoes the key it was sent: in its body, its headers and its status text.
  server = createServer((req, res) => {
    requests++;
    req.resume();
    req.on('end', () => {
      const auth = String(req.headers.authorization ?? '');
      const decoded = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString() : '';
      // Echoes placed where a message is cut: after 290 characters (error bodies are quoted up to 300), after 90 (malformed JSON, 100).
      if (req.url!.includes('/long/')) {
        res.writeHead(401, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ error: { message: `${'x'.repeat(290)} ${auth} ${decoded}` } }));
      }
      if (req.url!.includes('/malformed/')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(`{"choices": [${'y'.repeat(75)} ${auth} ${decoded}`);
      }
      if (req.url!.includes('/ok/')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ choices: [{ message: { content: `fine (you sent ${auth})` } }] }));
      }
      res.writeHead(401, `Unauthorized ${auth}`, { 'content-type': 'application/json', 'www-authenticate': auth, 'x-echo': auth });
      res.end(JSON.stringify({ error: { message: `invalid api key: ${auth}` }, key: auth }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

const SECRET = 'OUTSIDE-ROOT-SECRET-91c2';

/** A prompt workspace on disk, with a secret beside it and a link from its templates to the secret. */
function workspace(rules: string, templates: Record<string, string>, extra: Record<string, string> = {}): { root: string; dir: string; remove: () => void } {
  const top = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-security-'));
  const dir = path.join(top, 'ws');
  fs.mkdirSync(path.join(dir, 'templates'), { recursive: true });
  fs.writeFileSync(path.join(top, 'secret.hbs'), SECRET);
  fs.writeFileSync(path.join(top, 'secret.txt'), SECRET);
  fs.writeFileSync(path.join(dir, 'composition_rules.yaml'), rules);
  for (const [name, text] of Object.entries(templates)) {
    fs.mkdirSync(path.dirname(path.join(dir, 'templates', name)), { recursive: true });
    fs.writeFileSync(path.join(dir, 'templates', `${name}.hbs`), text);
  }
  for (const [rel, text] of Object.entries(extra)) fs.writeFileSync(path.join(dir, rel), text);
  try {
    fs.symlinkSync('../../secret.hbs', path.join(dir, 'templates', 'link.hbs'));
  } catch {
    // No symlinks here: the lexical cases still run.
  }
  return { root: top, dir, remove: () => fs.rmSync(top, { recursive: true, force: true }) };
}

function rules(providerBase: string, steps: string, keyEnv: string | null = KEY_ENV): string {
  return `version: 1
providers:
  p:
    type: openai-compatible
    base_url: ${providerBase}
    model: m
${keyEnv ? `    api_key_env: ${keyEnv}\n` : ''}compositions:
  flow:
    inputs: { required: [doc] }
    fail_fast: false
    steps:
${steps}`;
}

const PROVIDER_FLOW = `      - id: local
        template: hello
      - id: ask
        template: hello
        model: p
        retry: { max_attempts: 2, initial_interval_ms: 1 }
`;

// ------------------------------------------------------------------ Handlebars prototype access

test('security: Handlebars prototype access stays off (constructor, __proto__, lookup tricks, the RCE payload)', async () => {
  const g = globalThis as Record<string, unknown>;
  const payloads: Record<string, string> = {
    ctor: '[{{constructor.constructor}}]',
    ctorName: '[{{this.constructor.name}}]',
    proto: '[{{__proto__}}][{{__proto__.constructor}}]',
    lookup: '[{{lookup this "constructor"}}][{{lookup (lookup this "constructor") "name"}}][{{lookup (lookup this "__proto__") "toString"}}]',
    withCtor: '[{{#with constructor}}{{name}}{{prototype}}{{/with}}][{{#with __proto__}}{{constructor}}{{/with}}]',
    strCtor: '[{{#with "s" as |s|}}{{s.constructor}}{{lookup s "constructor"}}{{s.sub.apply}}{{/with}}]',
    root: '[{{@root.constructor}}][{{@root.__proto__}}][{{toString}}][{{valueOf}}][{{hasOwnProperty}}]',
    // The published Handlebars RCE: builds Function from String.prototype.sub's constructor.
    rce:
      '{{#with "s" as |string|}}{{#with "e"}}{{#with split as |conslist|}}{{this.pop}}{{this.push (lookup string.sub "constructor")}}{{this.pop}}' +
      '{{#with string.split as |codelist|}}{{this.pop}}{{this.push "globalThis.__PM_PWNED = 1; return 1;"}}{{this.pop}}' +
      '{{#each conslist}}{{#with (string.sub.apply 0 codelist)}}{{this}}{{/with}}{{/each}}{{/with}}{{/with}}{{/with}}{{/with}}',
  };
  const ws = workspace('version: 1\n', payloads);
  try {
    for (const strict of [false, true]) {
      const m = await PromptManager.create({ root: ws.dir, watch: false, strict, cache: false });
      try {
        for (const name of Object.keys(payloads)) {
          // A plain context, then one that itself tries: own `__proto__` and `constructor` keys are data, not prototypes.
          const hostile = JSON.parse('{"__proto__": {"polluted": "yes"}, "constructor": {"prototype": {"polluted": "yes"}}, "doc": "d"}') as Record<string, unknown>;
          for (const [label, context, exposed] of [
            ['plain', { doc: 'd' }, /function|native code|\[object|Object|polluted|String|=>/i],
            ['hostile', hostile, /function|native code|=>/i],
          ] as const) {
            let text = '';
            try {
              text = (await m.render(name, context)).text;
            } catch (e) {
              assert.ok(e instanceof PromptError, `${name}: ${(e as Error).stack}`);
              assert.ok(['missing_context', 'template_error'].includes(e.code), `${name}: ${e.code}`);
              text = e.message.replace(/Missing context variable "[^"]*"|template \S+|Template \S+/g, '');
            }
            assert.doesNotMatch(text, exposed, `${name} (strict ${strict}, ${label} context) exposed: ${text}`);
          }
        }
      } finally {
        await m.close();
      }
    }
    assert.equal(g.__PM_PWNED, undefined, 'the RCE payload ran');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
  } finally {
    ws.remove();
  }
});

// ------------------------------------------------------------------ nothing outside the templates root is read

test('security: nothing outside the templates root is read (every file system call recorded)', async () => {
  const ws = workspace(
    `version: 1
compositions:
  flow:
    inputs: { required: [doc, p] }
    steps:
      - id: a
        template: hello
      - id: b
        template: dyn
`,
    { hello: 'Hello {{doc}}', dyn: 'partial [{{> (lookup . "p")}}]' },
  );
  const calls: { op: string; path: string }[] = [];
  const spy: FileSystemHost = {
    readFile: (f) => (calls.push({ op: 'readFile', path: f }), nodeFileSystem.readFile(f)),
    readDirectory: (d) => (calls.push({ op: 'readDirectory', path: d }), nodeFileSystem.readDirectory(d)),
    realpath: (f) => (calls.push({ op: 'realpath', path: f }), nodeFileSystem.realpath(f)),
    fileSize: (f) => (calls.push({ op: 'fileSize', path: f }), nodeFileSystem.fileSize(f)),
  };
  const templatesRoot = path.join(ws.dir, 'templates');
  const allowedFile = (f: string) => f === path.join(ws.dir, 'service_mappings.yaml') || f === path.join(ws.dir, 'composition_rules.yaml') || f.startsWith(templatesRoot + path.sep);
  try {
    // A workspace whose YAML names files outside: refused, and not one of them read.
    const hostile = rules(
      `${base}/v1`,
      `      - id: a\n        template: ../../secret\n      - id: b\n        template: /etc/passwd\n      - id: c\n        template: link\n      - id: d\n        template: "..\\\\..\\\\secret"\n`,
    );
    fs.writeFileSync(path.join(ws.dir, 'composition_rules.yaml'), hostile);
    await assert.rejects(PromptManager.create({ root: ws.dir, fs: spy, watch: false }), (e: unknown) => e instanceof PromptError && /template-outside-root/.test(e.message) && !e.message.includes(SECRET));

    // A valid workspace: load, render, run with dynamic partial names that try to climb out, reload.
    fs.writeFileSync(path.join(ws.dir, 'composition_rules.yaml'), `version: 1\ncompositions:\n  flow:\n    inputs: { required: [doc, p] }\n    steps:\n      - id: a\n        template: hello\n      - id: b\n        template: dyn\n`);
    const m = await PromptManager.create({ root: ws.dir, fs: spy, watch: false });
    try {
      for (const p of ['../../secret', '/etc/passwd', 'link', '../secret', 'hello']) {
        const r = await m.render('dyn', { p }).then((x) => x.text, (e: unknown) => (e as Error).message);
        assert.ok(!r.includes(SECRET), `partial ${p}: ${r}`);
        const run = await m.executeWorkflow('flow', { doc: 'd', p });
        assert.ok(!JSON.stringify(run).includes(SECRET));
      }
      assert.equal(m.listTemplates().includes('link'), false, 'a link out of the root is not a template');
      m.reload();
    } finally {
      await m.close();
    }
    assert.ok(calls.length > 0);
    for (const c of calls) {
      assert.ok(c.path.startsWith(ws.dir + path.sep) || c.path === ws.dir, `${c.op} ${c.path}: outside the prompt workspace`);
      if (c.op === 'readFile') assert.ok(allowedFile(c.path), `read ${c.path}: neither a configuration file nor under the templates root`);
      if (c.op === 'readFile') assert.ok(!c.path.endsWith(`${path.sep}link.hbs`), 'read the link that leaves the root');
      if (c.op === 'readDirectory') assert.ok(c.path === templatesRoot || c.path.startsWith(templatesRoot + path.sep), `listed ${c.path}`);
    }
  } finally {
    ws.remove();
  }
});

// ------------------------------------------------------------------ base_url

test('security: a provider base_url must be http or https: the schema refuses others, and the engine at run time, whatever the executor', async () => {
  for (const bad of ['file:///etc/passwd', 'ftp://127.0.0.1/v1', 'javascript:alert(1)', 'data:text/plain,hi']) {
    const ws = workspace(rules(bad, PROVIDER_FLOW), { hello: 'Hello {{doc}}' });
    try {
      await assert.rejects(PromptManager.create({ root: ws.dir, watch: false }), (e: unknown) => e instanceof PromptError && e.code === 'invalid_configuration' && /base_url|schema/.test(e.message), bad);
    } finally {
      ws.remove();
    }
  }
  // Valid YAML, then an override (or an application's own executor) points elsewhere: the run refuses before any call.
  const ws = workspace(rules(`${base}/v1`, PROVIDER_FLOW), { hello: 'Hello {{doc}}' });
  try {
    for (const bad of ['file:///etc/passwd', 'ftp://127.0.0.1/v1', 'gopher://127.0.0.1:70/x', 'not a url']) {
      const calls: StepExecutionRequest[] = [];
      const executors = new ExecutorRegistry([
        { name: 'render', execute: (r) => Promise.resolve(r.prompt) },
        { name: 'openai-compatible', execute: (r) => (calls.push(r), Promise.resolve('called')) },
      ]);
      const m = await PromptManager.create({ root: ws.dir, watch: false, workflow: { executors, providerOverrides: { p: { baseUrl: bad } }, env: () => CANARY } });
      try {
        const r = await m.executeWorkflow('flow', { doc: 'd' });
        assert.equal(r.status, 'failed', bad);
        assert.equal(r.error?.code, 'invalid_configuration');
        assert.match(String(r.error?.message), /http or https/);
        assert.equal(calls.length, 0, `${bad}: the executor was called`);
      } finally {
        await m.close();
      }
    }
    // The built-in executor refuses on its own too (defence in depth).
    const direct = createOpenAICompatibleExecutor();
    await assert.rejects(
      direct.execute({ runId: 'r', composition: 'c', stepId: 's', attempt: 1, prompt: 'p', context: {}, provider: { name: 'p', type: 'openai-compatible', baseUrl: 'file:///etc/passwd', options: {} } as never, signal: new AbortController().signal, clock: systemClock, env: () => undefined }),
      (e: unknown) => e instanceof PromptError && e.code === 'provider_error' && /http or https/.test(e.message),
    );
  } finally {
    ws.remove();
  }
});

// ------------------------------------------------------------------ API keys

test('security: a canary API key never appears in status, events, metrics, health, errors or logs', async () => {
  const ws = workspace(rules(`${base}/v1`, PROVIDER_FLOW), { hello: 'Hello {{doc}}' });
  const outputs: string[] = [];
  const notCalled: string[] = [];
  const originals = { log: console.log, error: console.error, warn: console.warn, info: console.info, debug: console.debug };
  const capture = (...args: unknown[]) => outputs.push(args.map(String).join(' '));
  const origStderr = process.stderr.write.bind(process.stderr);
  Object.assign(console, { log: capture, error: capture, warn: capture, info: capture, debug: capture });
  (process.stderr as { write: unknown }).write = (chunk: unknown, ...rest: unknown[]) => (outputs.push(String(chunk)), (origStderr as (...a: unknown[]) => boolean)(chunk, ...rest));
  try {
    const m = await PromptManager.create({ root: ws.dir, watch: false, workflow: { env: (n) => (n === KEY_ENV ? CANARY : undefined) } });
    const events: unknown[] = [];
    m.events.on('workflow.progress', (e: WorkflowEvent) => events.push(e));
    try {
      const before = requests;
      const handle = await m.startWorkflow('flow', { doc: 'd' });
      for await (const e of handle) events.push(e);
      const result = await handle.done;
      assert.ok(requests - before >= 1, 'the provider was called');
      assert.equal(result.steps.find((s) => s.id === 'ask')?.status, 'failed');
      // The provider did echo the key: the engine replaced it.
      assert.match(JSON.stringify(result.steps.find((s) => s.id === 'ask')?.errors), /invalid api key: Bearer \*\*\*/);
      // The key really was sent, and echoed back in every place a server can put it.
      outputs.push(
        JSON.stringify(result),
        JSON.stringify(await m.getWorkflowStatus(result.id)),
        JSON.stringify(await m.listWorkflowRuns()),
        JSON.stringify(events),
        JSON.stringify(m.getMetrics()),
        m.getMetrics({ format: 'prometheus' }),
        JSON.stringify(m.getWorkflowMetrics()),
        JSON.stringify(m.healthCheck()),
      );
      for (const s of result.steps) for (const e of s.errors) outputs.push(String(e.message));
      // A success that echoes the key is redacted too.
      const okWs = rules(`${base}/ok/v1`, PROVIDER_FLOW);
      fs.writeFileSync(path.join(ws.dir, 'composition_rules.yaml'), okWs);
      assert.equal(m.reload().status, 'reloaded');
      const ok = await m.executeWorkflow('flow', { doc: 'd' });
      assert.equal(ok.status, 'succeeded');
      assert.match(String(ok.outputs.ask), /fine \(you sent Bearer \*\*\*\)/);
      outputs.push(JSON.stringify(ok));
      // Echoes where messages are cut, with the key and with a password in the base_url.
      const withPassword = base.replace('http://', `http://user:${PASSWORD_CANARY}@`);
      for (const [url, keyEnv] of [
        [`${base}/long/v1`, KEY_ENV],
        [`${base}/malformed/v1`, KEY_ENV],
        [`${withPassword}/long/v1`, null],
        [`${withPassword}/malformed/v1`, null],
        [`${withPassword}/v1`, null],
      ] as const) {
        fs.writeFileSync(path.join(ws.dir, 'composition_rules.yaml'), rules(url, PROVIDER_FLOW, keyEnv));
        assert.equal(m.reload().status, 'reloaded', url);
        const before = requests;
        const r = await m.executeWorkflow('flow', { doc: 'd' });
        if (requests === before) notCalled.push(url.replace(PASSWORD_CANARY, '<password>'));
        assert.equal(r.steps.find((s) => s.id === 'ask')?.status, 'failed', url);
        outputs.push(JSON.stringify(r), JSON.stringify(await m.getWorkflowStatus(r.id)), JSON.stringify(m.healthCheck()), m.getMetrics({ format: 'prometheus' }));
      }
    } finally {
      await m.close();
    }
  } finally {
    Object.assign(console, originals);
    (process.stderr as { write: unknown }).write = origStderr;
    ws.remove();
  }
  const leaks = outputs.flatMap((o) => leaksIn(o).map((p) => `${p} in: ${o.slice(0, 2000)}`));
  assert.deepEqual(leaks, [], 'a secret leaked');
  assert.deepEqual(notCalled, [], 'the provider was called at each address (credentials in base_url are sent as Basic authentication)');
});

/** The CLI as a child process, without blocking this process (whose HTTP server it calls). */
function runCli(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill(), 30_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

test('security: the CLI never prints the API key, whatever the provider echoes', { skip: !fs.existsSync(CLI) && 'dist/cli.js is not built' }, async () => {
  const ws = workspace(rules(`${base}/v1`, PROVIDER_FLOW), { hello: 'Hello {{doc}}' });
  try {
    const ctx = path.join(ws.root, 'ctx.json');
    fs.writeFileSync(ctx, '{"doc": "d"}');
    for (const url of [`${base}/v1`, `${base}/long/v1`]) {
      fs.writeFileSync(path.join(ws.dir, 'composition_rules.yaml'), rules(url, PROVIDER_FLOW));
      for (const args of [['run', 'flow', '--json'], ['run', 'flow']]) {
        const r = await runCli([...args, '--dir', ws.dir, '--context', ctx], { [KEY_ENV]: CANARY });
        assert.equal(r.status, 2, `a partial run exits 2: ${r.stderr}`);
        if (args.includes('--json')) assert.match(r.stdout, /401/, 'the provider was called and its answer reported');
        assert.deepEqual(leaksIn(r.stdout + r.stderr), [], `the CLI printed the key:\n${r.stdout}\n${r.stderr}`);
      }
    }
  } finally {
    ws.remove();
  }
});

// ------------------------------------------------------------------ no code from the workspace

test('security: nothing from the workspace is executed (.js files, YAML tags, template text)', async () => {
  const g = globalThis as Record<string, unknown>;
  const evil = 'globalThis.__PM_WORKSPACE_CODE_RAN = true; module.exports = {};';
  const ws = workspace(
    `version: 1
compositions:
  flow:
    inputs: { required: [doc] }
    steps:
      - id: a
        template: hello
        context:
          f: !!js/function "function () { globalThis.__PM_WORKSPACE_CODE_RAN = true }"
          g: "{{#with doc}}{{this}}{{/with}}"
`,
    { hello: 'Hello {{doc}} {{f}}' },
    { 'helpers.js': evil, 'promptmanager.config.js': evil, 'index.js': evil },
  );
  fs.writeFileSync(path.join(ws.dir, 'templates', 'hello.js'), evil);
  fs.writeFileSync(path.join(ws.dir, 'templates', 'hello.hbs.js'), evil);
  const loadedBefore = new Set(Object.keys(require.cache));
  try {
    // An unknown tag is not code: the value stays a string (or the file is refused); either way nothing runs.
    const m = await PromptManager.create({ root: ws.dir, watch: false }).catch((e: unknown) => e);
    if (m instanceof PromptManager) {
      try {
        const r = await m.executeWorkflow('flow', { doc: 'd' });
        assert.ok(!JSON.stringify(r).includes('[Function'), 'a function value reached the run');
        m.reload();
      } finally {
        await m.close();
      }
    } else {
      assert.ok(m instanceof PromptError, String(m));
    }
  } finally {
    ws.remove();
  }
  assert.equal(g.__PM_WORKSPACE_CODE_RAN, undefined, 'code from the workspace ran');
  const loadedNow = Object.keys(require.cache).filter((k) => !loadedBefore.has(k));
  assert.deepEqual(loadedNow.filter((k) => k.includes('pm-security-')), [], 'a module of the workspace was loaded');
});

// ------------------------------------------------------------------ untrusted workspaces

test('security: an untrusted manager runs no provider step (and no request leaves); render-only runs still work', async () => {
  const ws = workspace(rules(`${base}/v1`, PROVIDER_FLOW), { hello: 'Hello {{doc}}' });
  try {
    const calls: string[] = [];
    const executors = new ExecutorRegistry([
      { name: 'render', execute: (r) => Promise.resolve(r.prompt) },
      { name: 'openai-compatible', execute: (r) => (calls.push(r.stepId), Promise.resolve('called')) },
    ]);
    const m = await PromptManager.create({ root: ws.dir, watch: false, workflow: { trusted: false, executors, env: () => CANARY } });
    try {
      const before = requests;
      const r = await m.executeWorkflow('flow', { doc: 'd' });
      assert.equal(r.status, 'failed');
      assert.equal(r.error?.code, 'access_denied');
      assert.match(String(r.error?.message), /untrusted/);
      assert.equal(calls.length, 0);
      assert.equal(requests, before);
      assert.ok(r.steps.every((s) => s.attempts === 0), 'no step ran, not even the local one');
      // Renders are not provider calls: they work in an untrusted workspace.
      assert.equal((await m.render('hello', { doc: 'd' })).text, 'Hello d');
      // Trust granted (VS Code's workspace trust): the same run goes out.
      m.setTrusted(true);
      const r2 = await m.executeWorkflow('flow', { doc: 'd' });
      assert.equal(r2.status, 'succeeded');
      assert.deepEqual(calls, ['ask']);
      m.setTrusted(false);
      assert.equal((await m.executeWorkflow('flow', { doc: 'd' })).error?.code, 'access_denied');
    } finally {
      await m.close();
    }
  } finally {
    ws.remove();
  }
});
