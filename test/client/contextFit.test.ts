/**
 * The context picker's logic (client/contextRanking.ts): a context lacking what the template or
 * composition requires is marked ("lacks: document, user_id") and goes after those that fit;
 * "Last used" is remembered per template or composition, never offered for another one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lacksLabel, lastContextKey, missingKeys, orderByFit, rankContexts, remember } from '../../client/contextRanking.js';

test('what a context lacks: absent or null keys; anything but an object lacks everything', () => {
  assert.deepEqual(missingKeys({ document: {}, user_id: null, locale: 'en' }, ['document', 'user_id', 'question']), ['user_id', 'question']);
  assert.deepEqual(missingKeys({ a: 0, b: '', c: false }, ['a', 'b', 'c']), [], 'falsy values are values');
  assert.deepEqual(missingKeys([1], ['a']), ['a']);
  assert.deepEqual(missingKeys({}, undefined), []);
  assert.deepEqual(missingKeys(Object.create({ inherited: 1 }), ['inherited']), ['inherited'], 'own keys only');
  assert.equal(lacksLabel(['document', 'locale']), 'lacks: document, locale');
  assert.equal(lacksLabel([]), '');
});

test('contexts that hold what is required come first, each group in rank order', () => {
  const files = ['analysis_service.json', 'complete_analysis.json', 'notes.json'];
  const ranked = rankContexts(files, { composition: 'complete_analysis', service: 'analysis_service' });
  assert.deepEqual(ranked.map((r) => r.name), ['complete_analysis.json', 'analysis_service.json', 'notes.json']);
  // As analysis_service, user_id is required: complete_analysis.json lacks it.
  const lacks: Record<string, string[]> = { 'complete_analysis.json': ['user_id'], 'notes.json': ['document', 'user_id'] };
  assert.deepEqual(orderByFit(ranked, (n) => lacks[n] ?? []).map((r) => r.name), ['analysis_service.json', 'complete_analysis.json', 'notes.json']);
});

test('"Last used" is kept per workspace and per template or composition', () => {
  const forRun = lastContextKey('file:///w/', { composition: 'complete_analysis' });
  const forPreview = lastContextKey('file:///w', { template: 'analysis/summary' });
  assert.equal(forRun, 'file:///w#composition:complete_analysis');
  assert.equal(forPreview, 'file:///w#template:analysis/summary');
  assert.notEqual(lastContextKey('file:///w', { composition: 'grounded_answer' }), forRun);
  assert.notEqual(lastContextKey('file:///v', { composition: 'complete_analysis' }), forRun);
  // A step's preview names its composition: the run's context is offered for it.
  assert.equal(lastContextKey('file:///w', { template: 'analysis/summary', composition: 'complete_analysis' }), forRun);
  assert.equal(lastContextKey('file:///w', {}), undefined, 'a picker for nothing in particular remembers nothing');
  let all: Record<string, number> = {};
  for (let i = 0; i < 5; i++) all = remember(all, `k${i}`, i, 3);
  assert.deepEqual(Object.keys(all), ['k2', 'k3', 'k4'], 'bounded, the most recent kept');
  all = remember(all, 'k2', 9, 3);
  assert.deepEqual(Object.entries(all), [['k3', 3], ['k4', 4], ['k2', 9]], 'using one again makes it the most recent');
});
