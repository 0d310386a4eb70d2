/**
 * The whole project type-checks under `strict` (tsconfig.json), as part of `npm test`: esbuild
 * bundles without checking types, and some checks live only in types (test/protocol/
 * wireTypes.test.ts holds the protocol's wire shapes to core's, exactly).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import { REPO } from '../helpers/paths.js';

test('the project type-checks (tsc --noEmit -p tsconfig.json)', { timeout: 300_000 }, () => {
  const tsc = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '--noEmit', '--pretty', 'false', '-p', path.join(REPO, 'tsconfig.json')], { cwd: REPO, encoding: 'utf8' });
  assert.equal(r.error, undefined, `could not run tsc: ${r.error?.message}`);
  const errors = `${r.stdout}${r.stderr}`.split('\n').filter((l) => /error TS\d+/.test(l));
  assert.deepEqual(errors, [], `tsc found ${errors.length} type error(s): run \`npm run typecheck\``);
  assert.equal(r.status, 0, `tsc exited ${r.status}: ${r.stdout}${r.stderr}`);
});
