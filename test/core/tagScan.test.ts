/**
 * The one scanner of Handlebars tags as text (core/templates/tagScan.ts), which the
 * nesting guard, the expression limit, the parse-error messages and the editor's cursor use:
 * where tags open and close, what their heads say, and the nesting guard's rough count.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { scanTemplate } from '../../core/templates/blockScan.js';
import { forEachTag, forEachTagOpen, hasTag, innermostOpenBlock, lastTagOpenBefore, nthTagOpen, readTagHead, roughNestingDepth, tagAround, tagInsides } from '../../core/templates/tagScan.js';
import { mustacheAt } from '../../server/features/hbsCursor.js';

test('tags run from their `{{` to the first `}}`; the next starts after it', () => {
  const t = 'a {{x}} b {{#if (eq y "}}")}}c{{/if}} {{open';
  const tags: [number, number][] = [];
  forEachTag(t, (open, close) => tags.push([open, close]));
  assert.deepEqual(tags, [
    [2, 5],
    [10, 23],
    [30, 35],
    [38, -1],
  ]);
  assert.deepEqual(
    tagInsides(t).map(([a, b]) => t.slice(a, b)),
    ['x', '#if (eq y "', '/if', 'open'],
  );
  assert.ok(hasTag(t) && !hasTag('no tags { } here'));
});

test('every opening counts when the tag before it is left open; a brace run is one opening', () => {
  const t = 'Hi {{name ... {{#if x}} {{{{raw}}}}';
  const opens: number[] = [];
  forEachTagOpen(t, (o) => opens.push(o));
  assert.deepEqual(opens, [3, 14, 24]);
  assert.equal(lastTagOpenBefore(t, 27), 24);
  assert.equal(lastTagOpenBefore(t, 3), -1);
});

test('nthTagOpen counts every `{{` without overlap (a bound on the expressions)', () => {
  assert.equal(nthTagOpen('{{a}}{{b}}{{c}}', 3), 10);
  assert.equal(nthTagOpen('{{a}}{{b}}', 3), -1);
  assert.equal(nthTagOpen('{{{{raw}}}}', 2), 2);
});

test('readTagHead: braces, whitespace control and the sigil, as Handlebars lexes them', () => {
  const head = (t: string) => {
    const h = readTagHead(t, 0);
    return { braces: h.braces, strip: h.strip, sigil: h.sigil, rest: t.slice(h.inner) };
  };
  assert.deepEqual(head('{{#each items}}'), { braces: 2, strip: false, sigil: '#', rest: 'each items}}' });
  assert.deepEqual(head('{{~#> layout}}'), { braces: 2, strip: true, sigil: '#>', rest: 'layout}}' });
  assert.deepEqual(head('{{#*inline "p"}}'), { braces: 2, strip: false, sigil: '#*', rest: 'inline "p"}}' });
  assert.deepEqual(head('{{^}}'), { braces: 2, strip: false, sigil: '^', rest: '}}' });
  assert.deepEqual(head('{{/if}}'), { braces: 2, strip: false, sigil: '/', rest: 'if}}' });
  assert.deepEqual(head('{{> partial}}'), { braces: 2, strip: false, sigil: '>', rest: 'partial}}' });
  assert.deepEqual(head('{{!-- note --}}'), { braces: 2, strip: false, sigil: '!', rest: '-- note --}}' });
  assert.deepEqual(head('{{{html}}}'), { braces: 3, strip: false, sigil: '', rest: 'html}}}' });
  assert.deepEqual(head('{{~{html}~}}'), { braces: 2, strip: true, sigil: '{', rest: 'html}~}}' });
  assert.deepEqual(head('{{&html}}'), { braces: 2, strip: false, sigil: '&', rest: 'html}}' });
  assert.deepEqual(head('{{{{raw}}}}'), { braces: 4, strip: false, sigil: '', rest: 'raw}}}}' });
  assert.deepEqual(head('{{ else if x}}'), { braces: 2, strip: false, sigil: 'else', rest: 'if x}}' });
  assert.deepEqual(head('{{elsewhere}}'), { braces: 2, strip: false, sigil: '', rest: 'elsewhere}}' });
});

test('roughNestingDepth: blocks, `{{else if}}` chains and parentheses', () => {
  assert.equal(roughNestingDepth('{{#if a}}{{#each b}}{{x}}{{/each}}{{/if}}'), 2);
  assert.equal(roughNestingDepth('{{#if a}}1{{else if b}}2{{else if c}}3{{else}}4{{/if}}{{#if d}}{{/if}}'), 3);
  assert.equal(roughNestingDepth('{{#if a}}{{x (f (g (h y)))}}{{/if}}'), 4);
  assert.equal(roughNestingDepth('{{^}} {{x}} {{/stray}}'), 0);
});

test("on well-formed templates the nesting guard's rough count is the depth Handlebars' lexer finds", () => {
  const deep = (open: string, close: string, n: number) => open.repeat(n) + 'x' + close.repeat(n);
  const templates = [
    deep('{{#if a}}', '{{/if}}', 40),
    deep('{{^x}}', '{{/x}}', 40),
    deep('{{#> layout}}', '{{/layout}}', 40),
    deep('{{~#each l~}}', '{{~/each~}}', 40),
    '{{#if a}}' + '{{else if b}}'.repeat(40) + '{{/if}}',
    '{{x ' + '(f '.repeat(40) + 'y' + ')'.repeat(40) + '}}',
    deep('{{#with a}}{{#if b}}', '{{/if}}{{/with}}', 10) + '{{#if c}}{{z (f (g y))}}{{/if}}',
  ];
  for (const t of templates) assert.equal(roughNestingDepth(t), scanTemplate(t).maxDepth, t.slice(0, 60));
});

test('tagAround: what closes the tag an error is in', () => {
  assert.deepEqual(tagAround('{{x (f y', 8), { braces: 2, openParens: 1 });
  assert.deepEqual(tagAround('a {{{x', 6), { braces: 3, openParens: 0 });
  assert.deepEqual(tagAround('{{{{raw', 7), { braces: 4, openParens: 0 });
  assert.equal(tagAround('no tag', 6), undefined);
});

test('innermostOpenBlock: the block a `{{/` should close, even after a tag left unclosed', () => {
  assert.equal(innermostOpenBlock('{{#each xs}}{{#if a}}x{{/if}}'), 'each');
  assert.equal(innermostOpenBlock('{{#> layout}}{{#with u}}'), 'with');
  assert.equal(innermostOpenBlock('Hi {{name \n{{#if a}} x '), 'if');
  assert.equal(innermostOpenBlock('{{#*inline "p"}}{{^q}}'), undefined);
  assert.equal(innermostOpenBlock('{{#if a}}{{/if}}'), undefined);
});

test("the editor's cursor reads tags with the same scanner", () => {
  assert.deepEqual(mustacheAt('{{#ea', 5), { sigil: '#', word: 'ea', wordStart: 3, wordEnd: 5, innerStart: 3, firstWord: true });
  assert.equal(mustacheAt('{{> common/pre', 14)?.sigil, '>');
  assert.equal(mustacheAt('{{!-- a comment', 15), undefined);
  assert.equal(mustacheAt('{{x}} after', 10), undefined);
  // `{{` typed at the end of a line: the cursor is in the tag, before the line break.
  assert.deepEqual(mustacheAt('Hello {{\nmore', 8), { sigil: '', word: '', wordStart: 8, wordEnd: 8, innerStart: 8, firstWord: true });
  assert.equal(mustacheAt('{{~{va', 6)?.word, 'va');
});
