import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import Handlebars from 'handlebars';
import {
  BUILTIN_HELPER_NAMES,
  KNOWN_HELPER_NAMES,
  PROMPT_HELPERS,
  registerPromptHelpers,
} from '../../core/templates/helpers.js';
import { analyzeTemplate } from '../../core/templates/analyze.js';

const hb = Handlebars.create();
registerPromptHelpers(hb);

/** Renders as the engine does: no HTML escaping. */
function render(source: string, context: unknown = {}, strict = false): string {
  return hb.compile(source, { noEscape: true, strict })(context);
}

function throwsHelperError(source: string, pattern: RegExp, context: unknown = {}): void {
  assert.throws(() => render(source, context), (e: unknown) => {
    assert.ok(e instanceof Error);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('registration', () => {
  test('every documented helper is registered, on the isolated environment only', () => {
    for (const h of PROMPT_HELPERS) assert.equal(typeof hb.helpers[h.name], 'function', h.name);
    assert.equal(Handlebars.helpers['json'], undefined, 'the global Handlebars is untouched');
    assert.equal(Handlebars.create().helpers['json'], undefined, 'other environments are untouched');
  });

  test('the required helpers exist', () => {
    const names = PROMPT_HELPERS.map((h) => h.name);
    for (const n of ['json', 'join', 'eq', 'ne', 'and', 'or', 'not', 'default', 'indent', 'truncate', 'upper', 'lower', 'trim', 'length', 'bullet_list', 'numbered_list']) {
      assert.ok(names.includes(n), n);
    }
    assert.equal(new Set(names).size, names.length, 'names are unique');
  });

  test('docs: signature starts with the name; description and a parseable example', () => {
    for (const h of PROMPT_HELPERS) {
      assert.ok(h.signature.startsWith(h.name), h.name);
      assert.ok(h.description.length > 10, h.name);
      assert.ok(h.example.includes(h.name), h.name);
      const a = analyzeTemplate(h.example);
      assert.equal(a.error, undefined, `${h.name}: ${a.error?.message}`);
      assert.ok(a.helpers.includes(h.name), h.name);
    }
  });

  test('KNOWN_HELPER_NAMES = Handlebars builtins + prompt helpers', () => {
    for (const n of Object.keys(Handlebars.helpers)) assert.ok(BUILTIN_HELPER_NAMES.includes(n), `builtin ${n}`);
    for (const n of BUILTIN_HELPER_NAMES) assert.ok(KNOWN_HELPER_NAMES.has(n), n);
    for (const h of PROMPT_HELPERS) assert.ok(KNOWN_HELPER_NAMES.has(h.name), h.name);
    assert.equal(KNOWN_HELPER_NAMES.size, BUILTIN_HELPER_NAMES.length + PROMPT_HELPERS.length);
  });
});

describe('json', () => {
  test('compact, indented, and string indent', () => {
    assert.equal(render('{{json v}}', { v: { a: [1, 'x'], b: null } }), '{"a":[1,"x"],"b":null}');
    assert.equal(render('{{json v 2}}', { v: { a: 1 } }), '{\n  "a": 1\n}');
    assert.equal(render('{{json v "\t"}}', { v: [1] }), '[\n\t1\n]');
    assert.equal(render('{{json v 99}}', { v: [1] }), '[\n          1\n]', 'indent capped at 10');
    assert.equal(render('{{json v "x"}}', { v: 'q"uote' }), '"q\\"uote"');
  });

  test('bad inputs: undefined, circular, bigint, functions', () => {
    assert.equal(render('[{{json missing}}]'), '[]');
    assert.equal(render('{{json v}}', { v: null }), 'null');
    const circ: Record<string, unknown> = { name: 'c' };
    circ.self = circ;
    circ.list = [circ];
    assert.equal(render('{{json v}}', { v: circ }), '{"name":"c","self":"[Circular]","list":["[Circular]"]}');
    const shared = { k: 1 };
    assert.equal(render('{{json v}}', { v: { a: shared, b: shared } }), '{"a":{"k":1},"b":{"k":1}}', 'a repeat is not a cycle');
    assert.equal(render('{{json v}}', { v: { n: 10n, f: () => 1 } }), '{"n":"10"}');
    assert.equal(render('{{json v}}', { v: Object.create({ inherited: 1 }) }), '{}', 'own properties only');
  });

  test('requires an argument', () => {
    throwsHelperError('{{json}}', /helper 'json' needs an argument \(\{\{json value \[indent\]\}\}\), got none/);
  });
});

describe('join', () => {
  test('with and without separator', () => {
    assert.equal(render('{{join v}}', { v: ['a', 'b', 'c'] }), 'a, b, c');
    assert.equal(render('{{join v " | "}}', { v: ['a', 'b'] }), 'a | b');
    assert.equal(render('{{join v ""}}', { v: ['a', 'b'] }), 'ab');
  });

  test('bad inputs', () => {
    assert.equal(render('[{{join v}}]', { v: null }), '[]');
    assert.equal(render('[{{join missing}}]'), '[]');
    assert.equal(render('{{join v}}', { v: 'already text' }), 'already text');
    assert.equal(render('{{join v 5}}', { v: ['a', 'b'] }), 'a, b', 'a non-string separator falls back');
    assert.equal(render('{{join v "/"}}', { v: [1, null, undefined, true, { k: 'v' }, ['x', 'y']] }), '1///true/{"k":"v"}/x, y');
    assert.equal(render('{{join v}}', { v: new Set(['s', 't']) }), 's, t');
  });
});

describe('comparisons and logic', () => {
  test('eq / ne are strict', () => {
    assert.equal(render('{{eq a b}}', { a: 1, b: 1 }), 'true');
    assert.equal(render('{{eq a b}}', { a: 1, b: '1' }), 'false');
    assert.equal(render('{{ne a b}}', { a: 1, b: '1' }), 'true');
    assert.equal(render('{{#if (eq level "beginner")}}simple{{else}}full{{/if}}', { level: 'beginner' }), 'simple');
    assert.equal(render('{{eq a b}}', { a: null, b: undefined }), 'false');
  });

  test('block forms render the body or the else', () => {
    assert.equal(render('{{#eq a "x"}}yes{{else}}no{{/eq}}', { a: 'x' }), 'yes');
    assert.equal(render('{{#eq a "x"}}yes{{else}}no{{/eq}}', { a: 'y' }), 'no');
    assert.equal(render('{{#ne a "x"}}yes{{/ne}}', { a: 'x' }), '');
    assert.equal(render('{{#and a b}}{{a}}{{/and}}', { a: 'A', b: 1 }), 'A', 'the body keeps the context');
    assert.equal(render('{{#not a}}none{{/not}}', { a: [] }), 'none');
  });

  test('and / or / not use Handlebars truthiness', () => {
    const ctx = { t: 'x', f: '', z: 0, e: [], n: null, o: {}, arr: [0] };
    assert.equal(render('{{and t o arr}}', ctx), 'true');
    assert.equal(render('{{and t f}}', ctx), 'false');
    assert.equal(render('{{or f z e n missing}}', ctx), 'false');
    assert.equal(render('{{or f t}}', ctx), 'true');
    assert.equal(render('{{not e}} {{not z}} {{not o}} {{not missing}}', ctx), 'true true false true');
  });

  test('required arguments', () => {
    throwsHelperError('{{eq a}}', /helper 'eq' needs 2 arguments \(\{\{eq a b\}\}\), got 1/, { a: 1 });
    throwsHelperError('{{ne}}', /helper 'ne' needs 2 arguments/);
    throwsHelperError('{{and}}', /helper 'and' needs an argument/);
    throwsHelperError('{{or}}', /helper 'or' needs an argument/);
    throwsHelperError('{{not}}', /helper 'not' needs an argument/);
  });
});

describe('default', () => {
  test('value when present, fallback when null, undefined or empty', () => {
    assert.equal(render('{{default a "en"}}', { a: 'fr' }), 'fr');
    assert.equal(render('{{default a "en"}}', { a: null }), 'en');
    assert.equal(render('{{default missing "en"}}'), 'en');
    assert.equal(render('{{default a "en"}}', { a: '' }), 'en');
    assert.equal(render('{{default a "en"}}', { a: 0 }), '0', '0 and false are values');
    assert.equal(render('{{default a "en"}}', { a: false }), 'false');
    assert.equal(render('{{upper (default a b)}}', { b: 'x' }), 'X');
  });

  test('requires both arguments', () => {
    throwsHelperError('{{default a}}', /helper 'default' needs 2 arguments \(\{\{default value fallback\}\}\), got 1/, { a: 1 });
  });
});

describe('text helpers', () => {
  test('indent: non-empty lines, default 2, clamped', () => {
    assert.equal(render('{{indent t}}', { t: 'a\nb' }), '  a\n  b');
    assert.equal(render('{{indent t 4}}', { t: 'a\n\n  b\r\nc' }), '    a\n\n      b\r\n    c');
    assert.equal(render('{{indent t "3"}}', { t: 'a' }), '   a');
    assert.equal(render('{{indent t "lots"}}', { t: 'a' }), '  a', 'not a number: default');
    assert.equal(render('{{indent t -5}}', { t: 'a' }), 'a');
    assert.equal(render('[{{indent t}}]', { t: null }), '[]');
    assert.equal(render('{{indent t 1}}', { t: 42 }), ' 42');
    assert.equal(render('{{indent t 1000}}', { t: 'a' }).length, 101, 'at most 100 spaces');
  });

  test('truncate: cuts with an ellipsis, within max characters', () => {
    assert.equal(render('{{truncate t 5}}', { t: 'hello' }), 'hello');
    assert.equal(render('{{truncate t 5}}', { t: 'hello world' }), 'hell…');
    assert.equal(render('{{truncate t 7}}', { t: 'hello world' }), 'hello…', 'no space before the ellipsis');
    assert.equal(render('{{truncate t 1}}', { t: 'hello' }), '…');
    assert.equal(render('[{{truncate t 0}}]', { t: 'hello' }), '[]');
    assert.equal(render('{{truncate t 3}}', { t: '😀😀😀😀' }), '😀😀…', 'never splits a surrogate pair');
    assert.equal(render('{{truncate t 4}}', { t: '😀😀😀😀' }), '😀😀😀😀');
    assert.equal(render('{{truncate t "3"}}', { t: 'abcdef' }), 'ab…');
  });

  test('truncate: bad inputs', () => {
    assert.equal(render('{{truncate t "many"}}', { t: 'abcdef' }), 'abcdef', 'not a number: unchanged');
    assert.equal(render('{{truncate t -1}}', { t: 'abc' }), '', 'negative counts as 0');
    assert.equal(render('[{{truncate t 3}}]', { t: undefined }), '[]');
    assert.equal(render('{{truncate t 4}}', { t: 123456 }), '123…');
    throwsHelperError('{{truncate t}}', /helper 'truncate' needs 2 arguments \(\{\{truncate text max\}\}\)/, { t: 'x' });
  });

  test('upper / lower / trim', () => {
    assert.equal(render('{{upper t}} {{lower t}} [{{trim s}}]', { t: 'MiXed', s: '  pad \n' }), 'MIXED mixed [pad]');
    assert.equal(render('[{{upper n}}][{{lower n}}][{{trim n}}]', { n: null }), '[][][]');
    assert.equal(render('{{upper v}}', { v: { a: 'b' } }), '{"A":"B"}');
    assert.equal(render('{{upper v}}', { v: ['a', 'b'] }), 'A, B');
    assert.equal(render('{{upper v}}', { v: 12 }), '12');
    throwsHelperError('{{upper}}', /helper 'upper' needs an argument/);
    throwsHelperError('{{lower}}', /helper 'lower' needs an argument/);
    throwsHelperError('{{trim}}', /helper 'trim' needs an argument/);
  });

  test('length', () => {
    const ctx = {
      a: [1, 2, 3],
      s: 'héllo😀',
      o: { x: 1, y: 2 },
      m: new Map([[1, 2]]),
      st: new Set([1, 2]),
      inherited: Object.create({ p: 1 }),
      n: null,
      num: 12345,
    };
    assert.equal(render('{{length a}} {{length s}} {{length o}} {{length m}} {{length st}} {{length inherited}} {{length n}} {{length num}} {{length missing}}', ctx), '3 6 2 1 2 0 0 0 0');
    assert.equal(render('{{#if (eq (length a) 3)}}three{{/if}}', ctx), 'three');
  });
});

describe('lists', () => {
  test('bullet_list', () => {
    assert.equal(render('{{bullet_list v}}', { v: ['a', 'b'] }), '- a\n- b');
    assert.equal(render('{{bullet_list v}}', { v: ['line 1\nline 2', 'c'] }), '- line 1\n  line 2\n- c');
    assert.equal(render('{{bullet_list v}}', { v: ['a', null, undefined, 3, { k: 1 }] }), '- a\n- 3\n- {"k":1}');
  });

  test('numbered_list', () => {
    assert.equal(render('{{numbered_list v}}', { v: ['a', 'b'] }), '1. a\n2. b');
    assert.equal(render('{{numbered_list v}}', { v: [null, 'x\ny'] }), '1. x\n   y');
    const ten = Array.from({ length: 10 }, (_, i) => `i${i}`);
    assert.ok(render('{{numbered_list v}}', { v: ten }).endsWith('\n10. i9'));
  });

  test('bad inputs', () => {
    assert.equal(render('[{{bullet_list v}}]', { v: null }), '[]');
    assert.equal(render('[{{bullet_list v}}]', { v: [] }), '[]');
    assert.equal(render('[{{numbered_list missing}}]'), '[]');
    assert.equal(render('{{bullet_list v}}', { v: 'single' }), '- single');
    assert.equal(render('{{numbered_list v}}', { v: new Set(['s']) }), '1. s');
    throwsHelperError('{{bullet_list}}', /helper 'bullet_list' needs an argument/);
    throwsHelperError('{{numbered_list}}', /helper 'numbered_list' needs an argument/);
  });
});

describe('in strict mode, as the engine renders', () => {
  test('helpers render with strict lookups', () => {
    assert.equal(render('{{join (default tags list) ";"}}', { tags: null, list: ['a', 'b'] }, true), 'a;b');
    assert.equal(render('{{bullet_list doc.points}}', { doc: { points: ['p'] } }, true), '- p');
    assert.throws(() => render('{{name}}', {}, true), /"name" not defined/);
  });

  test('SafeString values render as their text', () => {
    assert.equal(render('{{upper v}} {{length v}}', { v: new Handlebars.SafeString('<b>') }), '<B> 3');
  });
});
