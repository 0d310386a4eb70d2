// Bundles the extension client, the language server, the CLI and the core library, and (with
// --tests) every test file. `--watch` rebuilds on change. One script so that CI, `npm test`
// and a developer's watch mode build the same way.
import * as esbuild from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { clientSlimPlugin } from './build/clientSlim.mjs';
import { precompiledSchemas } from './build/precompiledSchemas.mjs';
import { serverSlimPlugin } from './build/serverSlim.mjs';
import { serverSplitPlugin } from './build/serverSplit.mjs';

const watch = process.argv.includes('--watch');
const tests = process.argv.includes('--tests');
const production = process.argv.includes('--production');

// dist/client.js is what VS Code loads when the extension activates: at most this
// many bytes minified, checked by the production build (`npm run package`).
const CLIENT_BUDGET = 300 * 1024;

const common = {
  bundle: true,
  platform: 'node',
  // The extension's bundles run on the Node inside VS Code (1.95: Node 20); the library and the
  // CLI need Node 22 or later (package.json engines.node), which runs node20 output as well.
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  minify: production,
  logLevel: 'warning',
  // Handlebars' package main pulls in its `require` hook, which would bundle `fs` lookups
  // for .hbs files we never use; the runtime entry is what we want.
  mainFields: ['module', 'main'],
  plugins: [precompiledSchemas],
};

function walk(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const builds = tests
  ? [{ ...common, entryPoints: walk('test'), outdir: 'out/test', outbase: 'test', external: ['vscode'] }]
  : [
      // The extension client: vscode-languageclient made tree-shakable and without the language
      // features our server does not offer (build/clientSlim.mjs), within CLIENT_BUDGET.
      { ...common, entryPoints: ['client/extension.ts'], outfile: 'dist/client.js', external: ['vscode'], plugins: [...common.plugins, clientSlimPlugin()] },
      // The language server, in two parts for a quick start (server/main.ts): the connection, with
      // vscode-languageserver made tree-shakable (build/serverSlim.mjs), and the rest, loaded on
      // `initialized`, which uses the first one's library (build/serverSplit.mjs).
      { ...common, entryPoints: ['server/main.ts'], outfile: 'dist/server.js', external: ['./serverCore.js'], plugins: [...common.plugins, serverSlimPlugin()] },
      { ...common, entryPoints: ['server/core.ts'], outfile: 'dist/serverCore.js', plugins: [...common.plugins, serverSplitPlugin()] },
      // The template-analysis worker thread's own small bundle (server/templateWorkerMain.ts).
      { ...common, entryPoints: ['server/templateWorkerMain.ts'], outfile: 'dist/templateWorker.js' },
      { ...common, entryPoints: ['cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } },
      { ...common, entryPoints: ['core/index.ts'], outfile: 'dist/core.js' },
    ].filter((b) => existsSync(b.entryPoints[0]));

if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
  console.log('esbuild: watching for changes');
} else {
  // A test moved or deleted since the last build must not run from a stale bundle.
  if (tests) rmSync('out/test', { recursive: true, force: true });
  await Promise.all(builds.map((b) => esbuild.build(b)));
  if (production && !tests && existsSync('dist/client.js')) {
    const size = statSync('dist/client.js').size;
    if (size > CLIENT_BUDGET) {
      console.error(`dist/client.js is ${(size / 1024).toFixed(1)} KB, over its ${CLIENT_BUDGET / 1024} KB budget (see build/clientSlim.mjs)`);
      process.exit(1);
    }
  }
  if (!tests && !process.argv.includes('--no-types')) {
    // Type declarations for applications that import the engine (package.json exports['./core']).
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.decl.json'], { stdio: 'inherit' });
  }
}
