// Bundles the extension client, the language server, the CLI and the core library, and (with
// --tests) every test file. `--watch` rebuilds on change. One script so that CI, `npm test`
// and a developer's watch mode build the same way.
import * as esbuild from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { precompiledSchemas } from './build/precompiledSchemas.mjs';
import { sizeBudget } from './build/sizeBudget.mjs';
import { serverSplitPlugin } from './build/serverSplit.mjs';
import { copyRuntimeDeps } from './build/runtimeDeps.mjs';

const watch = process.argv.includes('--watch');
const tests = process.argv.includes('--tests');
const production = process.argv.includes('--production');

// What VS Code loads to activate the extension, and what answers `initialize`: budgets checked on
// every build (build/sizeBudget.mjs), about 25% above today's sizes (bench/RESULTS.md).
const KB = 1024;
const CLIENT_BUDGET = { minified: 600 * KB, unminified: 1280 * KB };
const SERVER_ENTRY_BUDGET = { minified: 240 * KB, unminified: 530 * KB };

const common = {
  bundle: true,
  // BullMQ reads its Lua scripts from its package at run time, and it and ioredis are loaded only
  // when the BullMQ workflow back end is chosen (core/distributed/connection.ts): never bundled.
  external: ['bullmq', 'ioredis'],
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
  ? [{ ...common, entryPoints: walk('test'), outdir: 'out/test', outbase: 'test', external: [...common.external, 'vscode'] }]
  : [
      // The extension client, vscode-languageclient bundled as it is.
      { ...common, entryPoints: ['client/extension.ts'], outfile: 'dist/client.js', external: [...common.external, 'vscode'], plugins: [...common.plugins, sizeBudget(CLIENT_BUDGET, 'what VS Code loads before activate(): see which package grew (esbuild --analyze)')] },
      // The language server, in two parts for a quick first start (server/main.ts): the connection
      // with vscode-languageserver, and the rest, loaded once `initialize` is answered, which uses
      // the first one's library (build/serverSplit.mjs).
      { ...common, entryPoints: ['server/main.ts'], outfile: 'dist/server.js', external: [...common.external, './languageService.js'], plugins: [...common.plugins, sizeBudget(SERVER_ENTRY_BUDGET, 'the bundle that answers `initialize` holds only the connection: does server/main.ts import more than vscode-languageserver and capabilities.ts?')] },
      { ...common, entryPoints: ['server/languageService.ts'], outfile: 'dist/languageService.js', plugins: [...common.plugins, serverSplitPlugin()] },
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
  const results = await Promise.allSettled(builds.map((b) => esbuild.build(b)));
  // esbuild has printed each failure (a budget exceeded, a library check of build/serverSplit.mjs).
  if (results.some((r) => r.status === 'rejected')) process.exit(1);
  if (!tests) {
    // The .vsix's copy of BullMQ and ioredis (build/runtimeDeps.mjs): only the packaged extension
    // needs it; elsewhere they load from the project's node_modules, and a stale copy must not linger.
    if (production) {
      const { bytes } = copyRuntimeDeps(process.cwd(), 'dist');
      console.log(`dist/node_modules: BullMQ and ioredis for the language server, ${(bytes / 1e6).toFixed(1)} MB`);
    } else rmSync('dist/node_modules', { recursive: true, force: true });
  }
  if (!tests && !process.argv.includes('--no-types')) {
    // Type declarations for applications that import the engine (package.json exports['./core']).
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.decl.json'], { stdio: 'inherit' });
  }
}
