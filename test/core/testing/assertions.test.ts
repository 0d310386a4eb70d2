/** The pieces of the assertions that have rules of their own: the token estimate, characters, the JSON in an answer. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { codePoints, estimateTokens, extractJson } from '../../../core/testing/assertions.js';

test('estimateTokens: one per 4 ASCII characters, rounded up, plus one per other character', () => {
  assert.equal(estimateTokens(''), 0);
  assert.equal(estimateTokens('a'), 1);
  assert.equal(estimateTokens('abcd'), 1);
  assert.equal(estimateTokens('abcde'), 2);
  assert.equal(estimateTokens('The quick brown fox jumps over the lazy dog.'), 11);
  assert.equal(estimateTokens('日本語'), 3);
  assert.equal(estimateTokens('café'), 2, 'three ASCII letters and é');
  assert.equal(estimateTokens('😀'), 1, 'one code point, not two UTF-16 units');
});

test('codePoints counts characters as people do', () => {
  assert.deepEqual([codePoints('abc'), codePoints('😀😀'), codePoints('e\u0301')], [3, 2, 2]);
});

test('extractJson: the whole text, or one fenced block around it', () => {
  assert.deepEqual(extractJson(' {"a": 1}\n'), { value: { a: 1 } });
  assert.deepEqual(extractJson('```json\n{"a": [1, 2]}\n```'), { value: { a: [1, 2] } });
  assert.deepEqual(extractJson('```\r\n[true]\r\n```'), { value: [true] });
  assert.ok('error' in extractJson('Here you go: {"a": 1}'));
  assert.ok('error' in extractJson('```json\n{"a": 1}\n```\nand more'));
});
