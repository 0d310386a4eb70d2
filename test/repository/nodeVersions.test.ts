/**
 * Node versions: one decision, stated everywhere it matters. The supported lines
 * are test/nodeVersions.mjs's SUPPORTED_NODE (which `.ci/run` runs the whole suite on, before
 * `npm test`); package.json and its lock say the oldest in `engines.node`; the README says
 * which lines and what a newcomer on an older Node sees; no production dependency refuses a
 * supported line.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { REPO } from '../helpers/paths.js';
import { extractSnippets } from '../readme/snippets.js';

const read = (rel: string) => fs.readFileSync(path.join(REPO, rel), 'utf8');
const pkg = JSON.parse(read('package.json')) as { engines: { node: string }; scripts: Record<string, string> };
const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { engines?: Record<string, string> | string[]; dev?: boolean; devOptional?: boolean }> };
const script = read('test/nodeVersions.mjs');
const supported = JSON.parse((/export const SUPPORTED_NODE = (\[[^\]]*\]);/.exec(script)?.[1] ?? '[]').replace(/'/g, '"')) as string[];
const semver = createRequire(path.join(REPO, 'package.json'))('semver') as { satisfies(v: string, range: string): boolean };

test('the supported lines are consecutive LTS (even) majors, and engines.node names the oldest', () => {
  assert.ok(supported.length >= 2, `SUPPORTED_NODE in test/nodeVersions.mjs: ${JSON.stringify(supported)}`);
  const majors = supported.map(Number);
  for (let i = 0; i < majors.length; i++) {
    assert.equal(majors[i]! % 2, 0, `${majors[i]} is not an LTS line`);
    if (i) assert.equal(majors[i], majors[i - 1]! + 2, 'no LTS line left out between the oldest and the newest');
  }
  assert.ok(majors[0]! >= 22, 'Node 20 reached its end of life in April 2026');
  assert.equal(pkg.engines.node, `>=${supported[0]}`);
  assert.equal((lock.packages['']!.engines as Record<string, string>).node, `>=${supported[0]}`, 'package-lock.json says the same as package.json');
});

test('no production dependency refuses a supported line', () => {
  const refused: string[] = [];
  for (const [where, entry] of Object.entries(lock.packages)) {
    if (!where || entry.dev || entry.devOptional || !entry.engines || Array.isArray(entry.engines) || !entry.engines.node) continue;
    for (const major of supported) if (!semver.satisfies(`${major}.0.0`, entry.engines.node)) refused.push(`${where} (engines.node ${entry.engines.node}) refuses Node ${major}`);
  }
  assert.deepEqual(refused, []);
});

test('npm scripts hand node --test files, not a folder (Node 22 and 24 take a folder for a missing file)', () => {
  for (const [name, command] of Object.entries(pkg.scripts)) {
    assert.doesNotMatch(command, /node --test(\s+--?[\w-]+(=\S+)?)*\s+[\w./-]+\/(\s|$|&)/, `npm run ${name}: ${command}`);
  }
  assert.match(pkg.scripts.test!, /node test\/runTests\.mjs --test-reporter=spec out\/test\/$/);
});

test('CI runs the suite on every supported line, and npm test stays the last command', () => {
  assert.equal(pkg.scripts['test:node-versions'], 'node test/nodeVersions.mjs');
  const lines = read('.ci/run').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  assert.ok(lines.includes('npm run test:node-versions'), '.ci/run runs npm run test:node-versions');
  assert.equal(lines.at(-1), 'npm test', 'the summary CI reads is the README\'s npm test');
  assert.match(script, /node-\$\{platform\}-\$\{process\.arch\}/, 'binaries come from npm');
  // Only the source checks (which read files, not the runtime) are left to npm test's one run.
  assert.match(script, /export const SOURCE_ONLY_TEST_FOLDERS = \['repository'\];/);
});

test('the README says which Node lines, and what happens on an older one', () => {
  const readme = read('README.md');
  const list = supported.slice(0, -1).join(', ') + ' and ' + supported.at(-1);
  assert.ok(readme.includes(`Node ${list}`), `the README names the supported lines as "Node ${list}"`);
  assert.ok(readme.includes(`\`engines.node\` is \`>=${supported[0]}\``));
  assert.match(readme, /EBADENGINE/, 'what a newcomer on Node 20 sees from npm ci is explained');
  for (const s of extractSnippets(readme).filter((x) => x.lang === 'yaml' && x.code.includes('actions/setup-node'))) {
    const steps = parseYaml(s.code) as { uses?: string; with?: { 'node-version'?: string | number } }[];
    for (const step of steps.filter((x) => x.uses?.startsWith('actions/setup-node'))) {
      const v = String(step.with?.['node-version']);
      assert.ok(v === 'lts/*' || supported.includes(v), `README.md:${s.line}: setup-node node-version ${v} is not supported`);
    }
  }
});
