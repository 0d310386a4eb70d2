/**
 * The size budgets of the bundles that activation loads (build/sizeBudget.mjs, esbuild.mjs):
 * checked on every build, minified or not, so that a dependency upgrade that brings in much more
 * code, or an import that pulls the server's core into dist/server.js, fails the build.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { REPO } from '../helpers/paths.js';

const importFromRepo = (rel: string): Promise<any> => import(pathToFileURL(path.join(REPO, rel)).href);

async function build(minify: boolean, budget: { minified: number; unminified: number }): Promise<string[]> {
  const esbuild = await importFromRepo('node_modules/esbuild/lib/main.js');
  const { sizeBudget } = await importFromRepo('build/sizeBudget.mjs');
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-budget-'));
  try {
    await esbuild.build({
      stdin: { contents: `export const text = ${JSON.stringify('x'.repeat(5000))};`, loader: 'js' },
      bundle: true,
      minify,
      outfile: path.join(outdir, 'out.js'),
      logLevel: 'silent',
      plugins: [sizeBudget(budget, 'look at what grew')],
    });
    return [];
  } catch (e) {
    return (e as { errors: { text: string }[] }).errors.map((x) => x.text);
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

test('a bundle over its budget fails the build, minified or not, saying by how much and what to look at', async () => {
  assert.deepEqual(await build(false, { minified: 100, unminified: 10_000 }), []);
  assert.deepEqual(await build(true, { minified: 10_000, unminified: 100 }), []);
  const [unminified] = await build(false, { minified: 10_000, unminified: 4000 });
  assert.match(unminified ?? '', /out\.js is 4\.\d KB, over its 3\.9 KB budget \(unminified\): look at what grew/);
  const [minified] = await build(true, { minified: 4000, unminified: 10_000 });
  assert.match(minified ?? '', /over its 3\.9 KB budget \(minified\)/);
});

test('esbuild.mjs gives both bundles that activation loads a budget, in every mode', () => {
  const src = fs.readFileSync(path.join(REPO, 'esbuild.mjs'), 'utf8');
  assert.match(src, /entryPoints: \['client\/extension\.ts'\][^\n]*sizeBudget\(CLIENT_BUDGET/);
  assert.match(src, /entryPoints: \['server\/main\.ts'\][^\n]*sizeBudget\(SERVER_ENTRY_BUDGET/);
  assert.doesNotMatch(src, /production\s*&&[^\n]*sizeBudget/);
});
