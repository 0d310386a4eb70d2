/**
 * Every README snippet runs as written, so that none can rot. Each fenced block is
 * found automatically, whoever adds it:
 * - ```js: run with Node as an ES module (a CommonJS one when it uses require and no import),
 *   and type-checked (checkJs) against the built package's declarations;
 * - ```ts: type-checked strictly with the project's tsc, then run (esbuild strips the types);
 * - ```sh: run with bash;
 * - ```yaml: parsed; service_mappings, composition_rules and prompt_tests content is validated
 *   by the validator (syntax and schema); ```json: parsed;
 * - ```text and unlabelled blocks are prose (listings), counted, not run.
 * All run in a temporary application folder whose `prompts/` is a copy of examples/ and whose
 * node_modules/promptmanager is this repository (its package.json exports and dist/), with
 * node_modules/.bin/promptmanager. A block that cannot run is marked right before it with
 * `<!-- snippet: skip (why) -->`; the test counts those and prints why. Any other language
 * fails until it is taught here or marked.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createRequire } from 'node:module';
import { parseDocument } from 'yaml';
import { validateWorkspace } from '../../core/validate/validateWorkspace.js';
import { PROMPT_TESTS_FILE } from '../../core/workspace/discover.js';
import { EXAMPLES, REPO } from '../helpers/paths.js';
import { sh } from '../helpers/npm.js';
import { extractSnippets, type Snippet } from './snippets.js';

const README = path.join(REPO, 'README.md');
// esbuild's JS API finds its native binary from its own package: load it from node_modules, not bundled.
const esbuild = createRequire(path.join(REPO, 'package.json'))('esbuild') as typeof import('esbuild');
const snippets = extractSnippets(fs.readFileSync(README, 'utf8'));
const where = (s: Snippet) => `README.md:${s.line} (${s.lang || 'no language'})`;

const JS = new Set(['js', 'javascript', 'mjs', 'cjs']);
const TS = new Set(['ts', 'typescript', 'mts']);
const SH = new Set(['sh', 'bash', 'shell']);
const YAML = new Set(['yaml', 'yml']);
const PROSE = new Set(['', 'text', 'txt']);

let app: string;
const tsc = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');

/** The environment a snippet runs in: no PromptManager settings from the machine running the tests. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${path.join(app, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH ?? ''}` };
  for (const k of Object.keys(env)) if (k.startsWith('PROMPTMANAGER_') || /^npm_(package|lifecycle)_/.test(k)) delete env[k];
  return env;
}

function fileFor(s: Snippet): string {
  if (JS.has(s.lang)) {
    const cjs = s.lang === 'cjs' || (s.lang !== 'mjs' && /\brequire\(/.test(s.code) && !/^\s*import\s/m.test(s.code));
    return `readme-${s.line}.${cjs ? 'cjs' : 'mjs'}`;
  }
  return `readme-${s.line}.mts`;
}

/** One tsc run over several snippet files; its errors by snippet file. */
function typeCheck(files: string[], options: Record<string, unknown>): Map<string, string[]> {
  const errors = new Map<string, string[]>();
  if (!files.length) return errors;
  const config = path.join(app, `tsconfig.${files.length}.${Object.keys(options).join('-') || 'strict'}.json`);
  fs.writeFileSync(
    config,
    JSON.stringify({
      compilerOptions: {
        module: 'node16',
        moduleResolution: 'node16',
        target: 'ES2022',
        lib: ['ES2023'],
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: ['node'],
        typeRoots: [path.join(REPO, 'node_modules', '@types')],
        ...options,
      },
      files,
    }),
  );
  const r = sh(process.execPath, [tsc, '-p', config, '--pretty', 'false'], { cwd: app, check: false });
  for (const line of (r.stdout + r.stderr).split('\n')) {
    const m = /^([^(]+)\(\d+,\d+\): error/.exec(line);
    if (m) errors.set(path.basename(m[1]!), [...(errors.get(path.basename(m[1]!)) ?? []), line]);
    else if (line.trim() && r.code !== 0 && !/^\s/.test(line)) errors.set('(tsc)', [...(errors.get('(tsc)') ?? []), line]);
  }
  if (r.code !== 0 && !errors.size) errors.set('(tsc)', [r.stdout + r.stderr]);
  return errors;
}

let jsTypes = new Map<string, string[]>();
let tsTypes = new Map<string, string[]>();

before(() => {
  for (const f of ['dist/core.js', 'dist/cli.js', 'dist/types/core/index.d.ts']) assert.ok(fs.existsSync(path.join(REPO, f)), `${f} is missing: npm test builds it first`);
  app = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-readme-'));
  // The workspace where an application keeps it (prompts/), and as a clone has it (examples/).
  for (const dir of ['prompts', 'examples']) fs.cpSync(EXAMPLES, path.join(app, dir), { recursive: true, filter: (src) => !/[\\/]examples[\\/](broken|app)([\\/]|$)/.test(src) });
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'readme-app', version: '1.0.0', private: true }));
  fs.mkdirSync(path.join(app, 'node_modules', '.bin'), { recursive: true });
  fs.symlinkSync(REPO, path.join(app, 'node_modules', 'promptmanager'), 'dir');
  // What npm links for the package's bin (npm makes the target executable; the build does not).
  const bin = path.join(app, 'node_modules', '.bin', 'promptmanager');
  fs.writeFileSync(bin, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(REPO, 'dist', 'cli.js'))} "$@"\n`, { mode: 0o755 });
  const runnable = snippets.filter((s) => s.skip === undefined && !s.unknownDirective);
  for (const s of runnable) if (JS.has(s.lang) || TS.has(s.lang)) fs.writeFileSync(path.join(app, fileFor(s)), s.code);
  jsTypes = typeCheck(runnable.filter((s) => JS.has(s.lang)).map(fileFor), { allowJs: true, checkJs: true, noImplicitAny: false });
  tsTypes = typeCheck(runnable.filter((s) => TS.has(s.lang)).map(fileFor), {});
});

after(() => {
  if (app) fs.rmSync(app, { recursive: true, force: true });
});

test('the README has snippets, and every skipped one says why', (t) => {
  assert.ok(snippets.length >= 5, `found ${snippets.length} code blocks`);
  const skipped = snippets.filter((s) => s.skip !== undefined);
  for (const s of skipped) assert.ok(s.skip, `${where(s)}: <!-- snippet: skip (why) --> needs its reason`);
  for (const s of snippets) assert.equal(s.unknownDirective, undefined, `${where(s)}: unknown directive "snippet: ${s.unknownDirective}" (only "skip (why)")`);
  const count = (set: Set<string>) => snippets.filter((s) => s.skip === undefined && set.has(s.lang)).length;
  t.diagnostic(
    `README snippets: ${snippets.length} blocks; run: ${count(JS)} js, ${count(TS)} ts, ${count(SH)} sh; checked: ${count(YAML)} yaml, ${count(new Set(['json']))} json; ` +
      `prose: ${count(PROSE)}; not run (marked skip): ${skipped.length}`,
  );
  for (const s of skipped) t.diagnostic(`not run: ${where(s)}: ${s.skip}`);
});

describe('README snippets', () => {
  for (const s of snippets) {
    if (s.skip !== undefined || s.unknownDirective) continue;
    const name = `${where(s)}: ${s.code.split('\n').find((l) => l.trim())?.trim().slice(0, 60) ?? ''}`;
    if (JS.has(s.lang)) {
      test(name, () => {
        const file = fileFor(s);
        assert.deepEqual(jsTypes.get(file) ?? [], [], `${where(s)} does not type-check against the package's declarations`);
        const r = sh(process.execPath, [file], { cwd: app, env: cleanEnv(), check: false, timeout: 120_000 });
        assert.equal(r.code, 0, `${where(s)} failed when run as ${file}:\n${r.stdout}\n${r.stderr}`);
      });
    } else if (TS.has(s.lang)) {
      test(name, () => {
        const file = fileFor(s);
        assert.deepEqual(tsTypes.get(file) ?? [], [], `${where(s)} does not type-check (strict) against the package's declarations`);
        const js = esbuild.transformSync(s.code, { loader: 'ts', format: 'esm', target: 'node20' }).code;
        const out = `readme-${s.line}.ts-run.mjs`;
        fs.writeFileSync(path.join(app, out), js);
        const r = sh(process.execPath, [out], { cwd: app, env: cleanEnv(), check: false, timeout: 120_000 });
        assert.equal(r.code, 0, `${where(s)} failed when run:\n${r.stdout}\n${r.stderr}`);
      });
    } else if (SH.has(s.lang)) {
      test(name, () => {
        const r = sh('bash', ['-euo', 'pipefail', '-c', s.code], { cwd: app, env: cleanEnv(), check: false, timeout: 120_000 });
        assert.equal(r.code, 0, `${where(s)} failed in bash:\n${r.stdout}\n${r.stderr}`);
      });
    } else if (YAML.has(s.lang)) {
      test(name, () => {
        const doc = parseDocument(s.code);
        assert.deepEqual(doc.errors.map((e) => e.message), [], `${where(s)} is not valid YAML`);
        const value = doc.toJS() as unknown;
        if (!value || typeof value !== 'object' || Array.isArray(value)) return;
        const keys = Object.keys(value);
        const file = keys.includes('services')
          ? 'service_mappings.yaml'
          : keys.some((k) => k === 'compositions' || k === 'providers')
            ? 'composition_rules.yaml'
            : keys.includes('tests')
              ? PROMPT_TESTS_FILE
              : undefined;
        if (!file) return;
        // Configuration: its syntax and every key and value against the schema (a fragment
        // may name templates and compositions it does not show).
        const ws = fs.mkdtempSync(path.join(app, 'yaml-'));
        fs.writeFileSync(path.join(ws, file), s.code);
        const bad = validateWorkspace(ws).diagnostics.filter((d) => d.code === 'yaml-syntax' || d.code === 'schema');
        assert.deepEqual(bad.map((d) => `${file}:${d.range.start.line + 1}: ${d.code} ${d.message}`), [], `${where(s)} is not valid ${file}`);
      });
    } else if (s.lang === 'json') {
      test(name, () => assert.doesNotThrow(() => JSON.parse(s.code), `${where(s)} is not valid JSON`));
    } else if (!PROSE.has(s.lang)) {
      test(name, () => assert.fail(`${where(s)}: the snippet test does not know \`\`\`${s.lang} blocks: mark it <!-- snippet: skip (why) --> or teach test/readme/snippets.test.ts to run it`));
    }
  }
});
