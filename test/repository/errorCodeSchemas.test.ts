/**
 * The error codes a configuration may name (`non_retryable`, a service fallback's `on`) are
 * core's ERROR_CODES, in both schemas and the contract's copy: a code the engine can raise but
 * the schema refuses could not be handled, and a code the schema allows but the engine never
 * raises would be a promise nothing keeps.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { ERROR_CODES } from '../../core/errors.js';
import { REPO } from '../helpers/paths.js';

/** Raised only when a run or render is refused before it starts: no step fails with it. */
const NOT_A_STEP_ERROR = new Set(['invalid_configuration']);

for (const file of ['composition_rules.schema.json', 'service_mappings.schema.json']) {
  test(`${file}: errorCode is core's ERROR_CODES (but invalid_configuration), each described`, () => {
    const schema = JSON.parse(fs.readFileSync(path.join(REPO, 'schemas', file), 'utf8')) as { definitions: { errorCode: { enum: string[]; description: string } } };
    const { enum: codes, description } = schema.definitions.errorCode;
    assert.deepEqual([...codes].sort(), ERROR_CODES.filter((c) => !NOT_A_STEP_ERROR.has(c)).sort());
    for (const c of codes) assert.ok(description.includes('`' + c + '`'), `the description names ${c}`);
  });
}

test('docs/config-format.md lists every error code', () => {
  const spec = fs.readFileSync(path.join(REPO, 'docs', 'config-format.md'), 'utf8');
  const section = spec.slice(spec.indexOf('- Error codes'), spec.indexOf('## Diagnostics'));
  for (const c of ERROR_CODES) assert.ok(section.includes('`' + c + '`'), `${c} is in the list of error codes`);
});
