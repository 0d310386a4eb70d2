/**
 * The package's bare name: another project installs the packed tarball and gets
 * the core library from `require('promptmanager')` and `import ... from 'promptmanager'`, with
 * types, while VS Code still loads the extension from `main`.
 *
 * Offline and deterministic: the consumer gets a package-lock.json holding the tarball and
 * the production dependencies exactly as this repository's lock pins them (name, version,
 * integrity), and `npm ci --offline` takes them from npm's cache, where this repository's own
 * `npm ci` put them. Nothing is linked to the repository.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { EXAMPLES, REPO } from '../helpers/paths.js';
import { npmEnv, sh } from '../helpers/npm.js';

const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  main: string;
  types: string;
  bin: Record<string, string>;
  exports: Record<string, unknown>;
  dependencies: Record<string, string>;
  license: string;
  engines: Record<string, string>;
};
const lock = JSON.parse(fs.readFileSync(path.join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> };

let work: string;
let app: string;
let packed: string[];

const node = (args: string[]) => sh(process.execPath, args, { cwd: app, env: npmEnv() });

before(() => {
  for (const f of ['dist/core.js', 'dist/cli.js', 'dist/types/core/index.d.ts']) {
    assert.ok(fs.existsSync(path.join(REPO, f)), `${f} is missing: build first (npm test runs node esbuild.mjs)`);
  }
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-consumer-'));
  // --ignore-scripts: npm test has just built dist/; prepack would build it again.
  const listing = JSON.parse(sh('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: REPO, env: npmEnv() }).stdout) as { filename: string; files: { path: string }[] }[];
  const tarball = path.join(work, listing[0]!.filename);
  packed = listing[0]!.files.map((f) => f.path).sort();

  app = path.join(work, 'app');
  fs.mkdirSync(app);
  const spec = `file:../${path.basename(tarball)}`;
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'pm-consumer', version: '1.0.0', private: true, dependencies: { [pkg.name]: spec } }, null, 2));
  // The production dependency closure as this repository's lock lays it out.
  const packages: Record<string, unknown> = {
    '': { name: 'pm-consumer', version: '1.0.0', dependencies: { [pkg.name]: spec } },
    [`node_modules/${pkg.name}`]: {
      version: pkg.version,
      resolved: spec,
      integrity: 'sha512-' + createHash('sha512').update(fs.readFileSync(tarball)).digest('base64'),
      license: pkg.license,
      dependencies: pkg.dependencies,
      bin: pkg.bin,
      engines: pkg.engines,
    },
  };
  for (const [where, entry] of Object.entries(lock.packages)) if (where && !entry.dev && !entry.devOptional) packages[where] = entry;
  fs.writeFileSync(path.join(app, 'package-lock.json'), JSON.stringify({ name: 'pm-consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2));
  sh('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app, env: npmEnv() });

  // The application's prompt workspace: the examples.
  fs.cpSync(EXAMPLES, path.join(app, 'prompts'), { recursive: true, filter: (src) => !src.includes(`${path.sep}broken`) });
});

after(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('the tarball holds the library, its types, the CLI and the server, not the VS Code client', () => {
  for (const f of ['package.json', 'README.md', 'LICENSE', 'dist/core.js', 'dist/cli.js', 'dist/server.js', 'dist/types/core/index.d.ts', 'schemas/composition_rules.schema.json']) {
    assert.ok(packed.includes(f), `${f} is not in the package: ${packed.filter((p) => !p.startsWith('dist/types/')).join(', ')}`);
  }
  for (const f of packed) assert.doesNotMatch(f, /^(core|server|client|test|bench|examples|node_modules)\/|\.map$|^dist\/client\.js$/, `${f} should not be in the npm package`);
  assert.equal(pkg.main, './dist/client.js', 'VS Code loads the extension from main');
});

test("require('promptmanager') is the core library (CommonJS), the same module as 'promptmanager/core'", () => {
  const r = node([
    '-e',
    `const pm = require('promptmanager');
     const core = require('promptmanager/core');
     if (pm !== core) throw new Error('two copies of the library');
     (async () => {
       const manager = await pm.createPromptManagerForApp({ appRoot: __dirname + '/..', workspace: 'app/prompts', environment: 'production' });
       const r = await manager.render('classify/doc_type', { document: { title: 'T', text: 'x' } }, { serviceName: 'classification_service' });
       console.log(typeof pm.PromptManager, r.template, require.resolve('promptmanager'));
       await manager.close();
     })().catch((e) => { console.error(e); process.exit(1); });`,
  ]);
  assert.match(r.stdout, /^function classify\/doc_type .*node_modules\/promptmanager\/dist\/core\.js$/m);
  assert.ok(!fs.existsSync(path.join(app, 'node_modules', 'vscode')), 'no vscode module anywhere');
});

test("import from 'promptmanager' works in an ES module, named and default", () => {
  fs.writeFileSync(
    path.join(app, 'esm.mjs'),
    `import { PromptManager, createTesting, isPromptError } from 'promptmanager';
import pmDefault from 'promptmanager';
import * as core from 'promptmanager/core';
const m = await createTesting({ templates: { hello: 'Hello {{name}}' } });
const { text } = await m.render('hello', { name: 'ESM' });
console.log(text, typeof PromptManager, typeof isPromptError, pmDefault.PromptManager === PromptManager, core.PromptManager === PromptManager);
await m.close();
`,
  );
  assert.equal(node(['esm.mjs']).stdout.trim(), 'Hello ESM function function true true');
});

test('a TypeScript consumer type-checks against the shipped declarations (CommonJS and ES module)', () => {
  fs.writeFileSync(
    path.join(app, 'consumer.cts'),
    `import { createPromptManagerForApp, PromptError, type PromptManager, type RenderResult } from 'promptmanager';
import type { HealthReport } from 'promptmanager/core';
export async function summary(): Promise<string> {
  const manager: PromptManager = await createPromptManagerForApp({ appRoot: __dirname, workspace: 'prompts' });
  const r: RenderResult = await manager.render('classify/doc_type', { document: { title: 'T', text: 'x' } });
  const h: HealthReport = manager.healthCheck();
  const e = new PromptError('timeout', 'x');
  return r.text + h.status + e.code;
}
`,
  );
  fs.writeFileSync(
    path.join(app, 'consumer.mts'),
    `import { createTesting, type WorkflowEvent } from 'promptmanager';
const m = await createTesting({ templates: { a: 'A' } });
const text: string = (await m.render('a')).text;
const ev = null as WorkflowEvent | null;
// @ts-expect-error: render's result has no such field; the declarations are precise, not any.
(await m.render('a')).nope;
export { text, ev };
`,
  );
  fs.writeFileSync(
    path.join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'node16',
        moduleResolution: 'node16',
        target: 'ES2022',
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: ['node'],
        typeRoots: [path.join(REPO, 'node_modules', '@types')],
      },
      files: ['consumer.cts', 'consumer.mts'],
    }),
  );
  const r = sh(process.execPath, [path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: app, check: false });
  assert.equal(r.code, 0, r.stdout + r.stderr);
});

test('the promptmanager command of the installed package validates the workspace', () => {
  const r = sh(path.join(app, 'node_modules', '.bin', 'promptmanager'), ['validate', 'prompts'], { cwd: app, env: npmEnv(), check: false });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /0 errors/);
});
