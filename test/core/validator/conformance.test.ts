/**
 * Runs every conformance case through the one validator: the reported set of (file, line,
 * code) for errors and warnings must equal the expected set exactly. The cases are the
 * repository's copy (test/conformance), plus, when PROMPTMANAGER_CONFORMANCE_DIR names a
 * folder, the cases there (`.ci/run` points it at the shared set beside the clone, which may
 * have grown).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { validateWorkspace } from '../../../core/validate/validateWorkspace.js';
import { CONFORMANCE, EXTRA_CONFORMANCE, REPO } from '../../helpers/paths.js';

function casesIn(dir: string): string[] {
  return (fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }) : [])
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

const sets: { label: string; dir: string; cases: string[] }[] = [{ label: 'conformance', dir: CONFORMANCE, cases: casesIn(CONFORMANCE) }];
if (EXTRA_CONFORMANCE !== undefined) sets.push({ label: 'conformance (PROMPTMANAGER_CONFORMANCE_DIR)', dir: EXTRA_CONFORMANCE, cases: casesIn(EXTRA_CONFORMANCE) });

test("the repository's conformance cases are present, inside the repository", () => {
  assert.ok(!path.relative(REPO, CONFORMANCE).startsWith('..'), `${CONFORMANCE} is outside the repository ${REPO}`);
  assert.ok(sets[0]!.cases.length >= 10, `expected the conformance cases in ${CONFORMANCE}`);
});

const extra = EXTRA_CONFORMANCE;
if (extra !== undefined) {
  test('PROMPTMANAGER_CONFORMANCE_DIR names a folder of cases', () => {
    assert.ok(fs.existsSync(extra), `PROMPTMANAGER_CONFORMANCE_DIR is ${extra}, which does not exist`);
    assert.ok(sets[1]!.cases.length > 0, `no case folders in ${extra}`);
  });
}

for (const { label, dir: base, cases } of sets) {
  for (const name of cases) {
    const dir = path.join(base, name);
    const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as { about: string; expected: [string, number, string][] };
    test(`${label}: ${name} (${expected.about})`, () => {
      const result = validateWorkspace(dir);
      const got = result.diagnostics
        .filter((d) => d.severity === 'error' || d.severity === 'warning')
        .map((d) => JSON.stringify([path.relative(dir, d.file).split(path.sep).join('/'), d.range.start.line + 1, d.code]));
      const want = expected.expected.map((e) => JSON.stringify(e));
      const detail = result.diagnostics.map((d) => `${path.relative(dir, d.file)}:${d.range.start.line + 1}:${d.range.start.character + 1} ${d.code} ${d.message}`).join('\n');
      assert.deepEqual([...new Set(got)].sort(), [...new Set(want)].sort(), `reported:\n${detail}`);
    });
  }
}
