/**
 * Provider limits in composition_rules.yaml (`max_concurrency`, `requests_per_minute`,
 * `tokens_per_minute`): the schema's bounds and messages on the exact value, the model's
 * fields, never sent as request fields, and the engine's own bounds for providers built in code.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import type { PromptDiagnostic } from '../../../core/model/diagnostics.js';
import { validateWorkspace } from '../../../core/validate/validateWorkspace.js';
import { memoryFileSystem } from '../../../core/workspace/fileSystem.js';
import { MAX_PROVIDER_CONCURRENCY, MAX_REQUESTS_PER_MINUTE, MAX_TOKENS_PER_MINUTE, providerBoundsProblem } from '../../../core/workflow/bounds.js';
import type { ProviderDef } from '../../../core/model/types.js';
import { REPO } from '../../helpers/paths.js';

const ROOT = path.resolve('/virtual/limits');

function validate(provider: string) {
  const rules = `version: 1\nproviders:\n  llm:\n    type: openai-compatible\n    base_url: http://127.0.0.1:9/v1\n    model: m\n${provider}compositions:\n  flow:\n    steps:\n      - id: a\n        template: a\n        model: llm\n`;
  const files = { 'composition_rules.yaml': rules, 'templates/a.hbs': 'A' };
  const fsHost = memoryFileSystem(Object.fromEntries(Object.entries(files).map(([k, v]) => [path.join(ROOT, k), v])));
  return validateWorkspace(ROOT, { fs: fsHost });
}

function schemaErrors(provider: string): { line: number; col: number; endCol: number; message: string }[] {
  return validate(provider)
    .diagnostics.filter((d: PromptDiagnostic) => d.severity !== 'information')
    .map((d) => ({ line: d.range.start.line + 1, col: d.range.start.character + 1, endCol: d.range.end.character + 1, message: `${d.code}: ${d.message}` }));
}

describe('provider limits: schema and model', () => {
  test('valid limits load into the model and are never request fields', () => {
    const v = validate('    max_concurrency: 8\n    requests_per_minute: 0.5\n    tokens_per_minute: 90000\n    temperature: 0.2\n');
    assert.deepEqual(v.diagnostics.filter((d) => d.severity !== 'information'), []);
    const p = v.compositionRules!.providers[0]!;
    assert.equal(p.maxConcurrency, 8);
    assert.equal(p.requestsPerMinute, 0.5);
    assert.equal(p.tokensPerMinute, 90000);
    assert.deepEqual(p.options, { temperature: 0.2 });
  });

  test('out of bounds: on the value, saying the bounds', () => {
    assert.deepEqual(schemaErrors('    max_concurrency: 0\n'), [{ line: 7, col: 22, endCol: 23, message: `schema: 'max_concurrency' must be an integer from 1 to 100000, got 0` }]);
    assert.deepEqual(schemaErrors('    max_concurrency: 2.5\n'), [{ line: 7, col: 22, endCol: 25, message: `schema: 'max_concurrency' must be an integer from 1 to 100000, got 2.5` }]);
    assert.deepEqual(schemaErrors('    requests_per_minute: 0\n'), [{ line: 7, col: 26, endCol: 27, message: `schema: 'requests_per_minute' must be a number more than 0 and at most 1000000, got 0` }]);
    assert.deepEqual(schemaErrors('    tokens_per_minute: -5\n'), [{ line: 7, col: 24, endCol: 26, message: `schema: 'tokens_per_minute' must be a number more than 0 and at most 1000000000, got -5` }]);
    assert.deepEqual(schemaErrors('    tokens_per_minute: lots\n'), [{ line: 7, col: 24, endCol: 28, message: `schema: 'tokens_per_minute' must be a number more than 0 and at most 1000000000, got "lots"` }]);
  });

  test('a misspelt limit gets a did-you-mean', () => {
    const e = schemaErrors('    max_concurency: 4\n');
    assert.equal(e.length, 1);
    assert.match(e[0]!.message, /unknown key 'max_concurency' in provider 'llm' \(did you mean 'max_concurrency'\?\)/);
  });

  test('the schema states the bounds the engine enforces, with a description for hover and completion', () => {
    const schema = JSON.parse(fs.readFileSync(path.join(REPO, 'schemas', 'composition_rules.schema.json'), 'utf8'));
    const p = schema.definitions.provider.properties;
    assert.equal(p.max_concurrency.maximum, MAX_PROVIDER_CONCURRENCY);
    assert.equal(p.max_concurrency.minimum, 1);
    assert.equal(p.requests_per_minute.maximum, MAX_REQUESTS_PER_MINUTE);
    assert.equal(p.requests_per_minute.exclusiveMinimum, 0);
    assert.equal(p.tokens_per_minute.maximum, MAX_TOKENS_PER_MINUTE);
    assert.equal(p.tokens_per_minute.exclusiveMinimum, 0);
    for (const k of ['max_concurrency', 'requests_per_minute', 'tokens_per_minute']) assert.match(p[k].description, /across every run/);
    assert.match(p.tokens_per_minute.description, /characters \/ 4/);
  });

  test('a provider built in code is held to the same bounds', () => {
    const base = { name: 'llm', type: 'x', options: {} } as unknown as ProviderDef;
    assert.equal(providerBoundsProblem({ ...base, maxConcurrency: 3, requestsPerMinute: 1e6, tokensPerMinute: 0.1 }), undefined);
    assert.match(providerBoundsProblem({ ...base, maxConcurrency: 0 })!, /max_concurrency must be a whole number from 1 to 100000, not 0/);
    assert.match(providerBoundsProblem({ ...base, requestsPerMinute: NaN })!, /requests_per_minute must be a number more than 0/);
    assert.match(providerBoundsProblem({ ...base, tokensPerMinute: Infinity })!, /tokens_per_minute must be a number more than 0 and at most 1000000000, not Infinity/);
  });
});
