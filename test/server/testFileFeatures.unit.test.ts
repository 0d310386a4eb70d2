/**
 * The plain functions behind the prompt test files in the server: which paths are test files
 * (with and without their workspace's root), which file changes the server follows, and what a
 * document is.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { isWatchedFile, looksLikePromptTestFile, WATCHED_GLOBS } from '../../server/watchedFiles.js';
import { docKindOf } from '../../server/workspaceSnapshot.js';

const root = path.resolve('/srv/prompt-workspace');
const p = (rel: string) => path.join(root, ...rel.split('/'));

test('a prompt test file by its path: prompt_tests.yaml, and *.yaml below prompt_tests/ but not in its snapshots or dot-folders', () => {
  for (const yes of ['prompt_tests.yaml', 'prompt_tests/a.yaml', 'prompt_tests/deep/er/b.yaml', 'sub/prompt_tests.yaml']) assert.ok(looksLikePromptTestFile(p(yes)), yes);
  for (const no of ['prompt_tests/__snapshots__/t/x.yaml', 'prompt_tests/.hidden/a.yaml', 'prompt_tests/a.txt', 'prompt_tests', 'tests/a.yaml', 'composition_rules.yaml']) assert.ok(!looksLikePromptTestFile(p(no)), no);
});

test('the files whose changes the server follows, and the globs a client watches for it', () => {
  for (const yes of ['composition_rules.yaml', 'service_mappings.yaml', 'templates/a.hbs', 'templates/a.handlebars', 'prompt_tests.yaml', 'prompt_tests/x.yaml', 'contexts/ada.json']) assert.ok(isWatchedFile(p(yes)), yes);
  for (const no of ['README.md', 'other.yaml', 'prompt_tests/__snapshots__/t/output.txt']) assert.ok(!isWatchedFile(p(no)), no);
  assert.deepEqual(WATCHED_GLOBS, ['**/{service_mappings,composition_rules}.yaml', '**/*.{hbs,handlebars}', '**/prompt_tests.yaml', '**/prompt_tests/**/*.yaml', '**/*.json']);
});

test('what a document is: a YAML file below prompt_tests/ is a test file only with its workspace known', () => {
  assert.equal(docKindOf(p('prompt_tests.yaml')), 'prompt_tests');
  assert.equal(docKindOf(p('prompt_tests/replies.yaml'), root), 'prompt_tests');
  assert.equal(docKindOf(p('prompt_tests/replies.yaml')), 'other');
  assert.equal(docKindOf(p('prompt_tests/__snapshots__/x.yaml'), root), 'other');
  assert.equal(docKindOf(p('composition_rules.yaml'), root), 'composition_rules');
  assert.equal(docKindOf(p('templates/a.hbs'), root), 'template');
});
