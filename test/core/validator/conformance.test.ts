/**
 * Runs every case of ../shared/conformance through the one validator: the reported set of
 * (file, line, code) for errors and warnings must equal the expected set exactly.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { validateWorkspace } from '../../../core/validate/validateWorkspace.js';
import { CONFORMANCE } from '../../helpers/paths.js';

const cases = (fs.existsSync(CONFORMANCE) ? fs.readdirSync(CONFORMANCE, { withFileTypes: true }) : [])
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

test('the conformance suite is present', () => {
  assert.ok(cases.length >= 10, `expected the shared conformance cases in ${CONFORMANCE} (the repository's sibling folder ../shared)`);
});

for (const name of cases) {
  const dir = path.join(CONFORMANCE, name);
  const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as { about: string; expected: [string, number, string][] };
  test(`conformance: ${name} (${expected.about})`, () => {
    const result = validateWorkspace(dir);
    const got = result.diagnostics
      .filter((d) => d.severity === 'error' || d.severity === 'warning')
      .map((d) => JSON.stringify([path.relative(dir, d.file).split(path.sep).join('/'), d.range.start.line + 1, d.code]));
    const want = expected.expected.map((e) => JSON.stringify(e));
    const detail = result.diagnostics.map((d) => `${path.relative(dir, d.file)}:${d.range.start.line + 1}:${d.range.start.character + 1} ${d.code} ${d.message}`).join('\n');
    assert.deepEqual([...new Set(got)].sort(), [...new Set(want)].sort(), `reported:\n${detail}`);
  });
}
