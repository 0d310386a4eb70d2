/**
 * The did-you-mean of every "not found" diagnostic: the closest known name, where a name the
 * user extended by whole segments (or cut short) is closer than a sibling a few letters away.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { closest, extraSegments } from '../../../core/validate/didYouMean.js';
import { validateWorkspace } from '../../../core/validate/validateWorkspace.js';
import { memoryFileSystem } from '../../../core/workspace/fileSystem.js';

const TEMPLATES = ['analysis/critique', 'analysis/extract', 'analysis/quick_summary', 'analysis/summary_simple', 'analysis/summary', 'common/preamble'];

test('a name with a segment added suggests the name it extends, before a sibling that is fewer letters away', () => {
  assert.equal(closest('analysis/summary_nope', TEMPLATES), 'analysis/summary');
  // Whatever the order of the candidates.
  assert.equal(closest('analysis/summary_nope', [...TEMPLATES].reverse()), 'analysis/summary');
  assert.equal(closest('analysis/summary/old', TEMPLATES), 'analysis/summary');
  assert.equal(closest('analysis/summary-v2', TEMPLATES), 'analysis/summary');
});

test('a name cut short at a separator suggests the longer one', () => {
  assert.equal(closest('analysis/quick', TEMPLATES), 'analysis/quick_summary');
  assert.equal(closest('depends', ['id', 'template', 'depends_on', 'context']), 'depends_on');
});

test('misspellings keep their suggestions', () => {
  assert.equal(closest('analysis/summry', TEMPLATES), 'analysis/summary');
  assert.equal(closest('analysis/summary_simpel', TEMPLATES), 'analysis/summary_simple');
  assert.equal(closest('dependz', ['id', 'template', 'depends_on', 'context']), 'depends_on');
  assert.equal(closest('summary_nope', ['summary', 'summary_simple']), 'summary');
  assert.equal(closest('zzz/other', TEMPLATES), undefined);
});

test('extraSegments: whole segments only, after a start of three characters or more', () => {
  assert.equal(extraSegments('summary_nope', 'summary'), 1);
  assert.equal(extraSegments('summary', 'summary_a_b'), 2);
  assert.equal(extraSegments('summaryx', 'summary'), undefined, 'not at a separator');
  assert.equal(extraSegments('ab_c', 'ab'), undefined, 'too short a start');
  assert.equal(extraSegments('summary_', 'summary'), undefined, 'a separator alone is no segment');
  assert.equal(extraSegments('summary', 'summary'), undefined);
});

test('the unknown-template diagnostic offers the template the name extends', () => {
  const root = path.resolve('/virtual/dym');
  const files: Record<string, string> = {
    'composition_rules.yaml': 'version: 1\ncompositions:\n  c:\n    steps:\n      - id: a\n        template: analysis/summary_nope\n',
    'templates/analysis/summary.hbs': 'S',
    'templates/analysis/summary_simple.hbs': 'S',
  };
  const fs = memoryFileSystem(Object.fromEntries(Object.entries(files).map(([k, v]) => [path.join(root, k), v])));
  const d = validateWorkspace(root, { fs }).diagnostics.find((x) => x.code === 'unknown-template');
  assert.ok(d);
  assert.match(d.message, /did you mean 'analysis\/summary'\?$/);
});
