/**
 * A clone stands alone: `npm test` reads nothing outside the repository. The
 * contract and the conformance cases are copied in (docs/config-format.md, test/conformance);
 * this guard fails when a test or the build reaches for the team's shared folder beside the
 * clone or an absolute path of a development machine again.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { CONFORMANCE, REPO } from '../helpers/paths.js';

/** What `npm test` builds and runs: the test sources (not the e2e and VS Code suites, which it does not run) and the build scripts. */
function sources(): string[] {
  const out: string[] = [path.join(REPO, 'esbuild.mjs')];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (p === CONFORMANCE || p === path.join(REPO, 'test', 'e2e') || p === path.join(REPO, 'test', 'vscode')) continue;
        walk(p);
      } else if (/\.(ts|mjs|js)$/.test(e.name) && e.name !== 'standalone.test.ts') out.push(p);
    }
  };
  walk(path.join(REPO, 'test'));
  walk(path.join(REPO, 'build'));
  return out;
}

const OUTSIDE = [
  { re: /\.\.\/shared\b|['"]\.\.['"],\s*['"]shared['"]/, what: 'the shared folder beside the clone (../shared)' },
  { re: /['"`]\/work\//, what: 'an absolute path of a development machine (/work/...)' },
];

test('no test or build script reads outside the repository', () => {
  const found: string[] = [];
  for (const file of sources()) {
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      for (const { re, what } of OUTSIDE) if (re.test(line)) found.push(`${path.relative(REPO, file)}:${i + 1}: ${what}: ${line.trim()}`);
    });
  }
  assert.deepEqual(found, [], 'copy what the test needs into the repository instead');
});

test('the contract and the conformance cases are in the repository', () => {
  const spec = fs.readFileSync(path.join(REPO, 'docs', 'config-format.md'), 'utf8');
  assert.match(spec, /^# PromptManager configuration: the contract/);
  // Every diagnostic code a case expects is one the contract's table defines.
  const codes = new Set<string>();
  for (const name of fs.readdirSync(CONFORMANCE)) {
    const file = path.join(CONFORMANCE, name, 'expected.json');
    if (!fs.existsSync(file)) continue;
    for (const [, , code] of (JSON.parse(fs.readFileSync(file, 'utf8')) as { expected: [string, number, string][] }).expected) codes.add(code);
  }
  assert.ok(codes.size >= 10, `codes expected by the cases: ${[...codes].join(', ')}`);
  for (const code of codes) assert.ok(spec.includes('`' + code + '`'), `docs/config-format.md does not define ${code}`);
});
