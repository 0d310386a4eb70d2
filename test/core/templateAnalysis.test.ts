import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import { DEFAULT_LIMITS } from '../../core/limits.js';
import { analyzeTemplate } from '../../core/templates/analyze.js';
import type { TemplateAnalysis } from '../../core/templates/analysis.js';
import type { Range } from '../../core/model/diagnostics.js';
import { CONFORMANCE } from '../helpers/paths.js';

// ------------------------------------------------------------------------------------------
// helpers

function r(line: number, from: number, to: number, endLine = line): Range {
  return { start: { line, character: from }, end: { line: endLine, character: to } };
}

function ok(source: string, options?: { helpers?: ReadonlySet<string> }): TemplateAnalysis {
  const a = analyzeTemplate(source, options);
  assert.equal(a.error, undefined, `unexpected error: ${a.error?.message}`);
  return a;
}

/** Root variable names in order of appearance. */
function vars(source: string, options?: { helpers?: ReadonlySet<string> }): string[] {
  return ok(source, options).variables.map((v) => v.name);
}

function steps(source: string): string[] {
  return ok(source).stepReads.map((s) => s.stepId);
}

function err(source: string): { message: string; range: Range } {
  const a = analyzeTemplate(source);
  assert.ok(a.error, `expected a parse error for ${JSON.stringify(source)}`);
  assert.deepEqual(a.variables, []);
  assert.deepEqual(a.partials, []);
  assert.doesNotMatch(a.error.message, /Expecting|got 'EOF'|OPEN_|CLOSE|INVALID/, 'no token dump');
  return a.error;
}


// ------------------------------------------------------------------------------------------

describe('variables: root reads', () => {
  test('top-level names, whole path and range of the path expression', () => {
    const a = ok('Hi {{user_id}}\n  {{ document.title }} {{{raw_html}}} {{~trimmed~}}');
    assert.deepEqual(a.variables, [
      { name: 'user_id', path: 'user_id', range: r(0, 5, 12) },
      { name: 'document', path: 'document.title', range: r(1, 5, 19) },
      { name: 'raw_html', path: 'raw_html', range: r(1, 26, 34) },
      { name: 'trimmed', path: 'trimmed', range: r(1, 41, 48) },
    ]);
  });

  test('paths written with /, [literal] segments and this./ ./ prefixes', () => {
    const a = ok('{{a/b}} {{[first name].x}} {{this.c}} {{./d}}');
    assert.deepEqual(
      a.variables.map((v) => [v.name, v.path]),
      [
        ['a', 'a/b'],
        ['first name', '[first name].x'],
        ['c', 'this.c'],
        ['d', './d'],
      ],
    );
  });

  test('this, . and ../ past the root are not variables', () => {
    assert.deepEqual(vars('{{this}} {{.}} {{#if a}}{{../b}}{{/if}}'), ['a']);
  });

  test('CRLF and CR line endings count as one line break each', () => {
    const a = ok('x\r\n{{a}}\r{{b}}\n{{c}}');
    assert.deepEqual(
      a.variables.map((v) => v.range),
      [r(1, 2, 3), r(2, 2, 3), r(3, 2, 3)],
    );
  });

  test('every read is listed, repeats included', () => {
    assert.deepEqual(vars('{{a}}{{a.b}}{{a}}'), ['a', 'a', 'a']);
  });

  test('a literal in a callee position is looked up like a name', () => {
    assert.deepEqual(vars('{{"quoted name"}}'), ['quoted name']);
  });
});

describe('variables: helpers are not variables', () => {
  test('built-in and prompt helpers without params are helper calls', () => {
    const a = ok('{{trim}} {{log}} {{json}} {{name}}');
    assert.deepEqual(a.variables.map((v) => v.name), ['name']);
    assert.deepEqual(a.helpers, ['trim', 'log', 'json']);
  });

  test('a mustache with params or a hash calls a helper, whatever its name', () => {
    const a = ok('{{myfn a}} {{other key=b}} {{upper (myconv c)}}');
    assert.deepEqual(a.variables.map((v) => v.name), ['a', 'b', 'c']);
    assert.deepEqual(a.helpers, ['myfn', 'other', 'upper', 'myconv']);
  });

  test('options.helpers adds known helper names', () => {
    assert.deepEqual(vars('{{custom}} {{x}}'), ['custom', 'x']);
    assert.deepEqual(vars('{{custom}} {{x}}', { helpers: new Set(['custom']) }), ['x']);
    assert.deepEqual(ok('{{custom}}', { helpers: new Set(['custom']) }).helpers, ['custom']);
  });

  test('a dotted path with params is a function of the context, so a read', () => {
    assert.deepEqual(vars('{{obj.fn x}}'), ['obj', 'x']);
  });

  test('helpers lists each helper once, in order of first call', () => {
    assert.deepEqual(ok('{{#if a}}{{upper b}}{{/if}}{{#if c}}{{upper d}}{{/if}}{{lookup e "f"}}').helpers, ['if', 'upper', 'lookup']);
  });
});

describe('variables: @data and block params', () => {
  test('@data paths are not variables, but @root.x reads the root x', () => {
    const a = ok('{{@index}} {{@key}} {{@root}} {{@root.x.y}}');
    assert.deepEqual(a.variables, [{ name: 'x', path: '@root.x.y', range: r(0, 32, 41) }]);
  });

  test('block params are locals, in nested blocks too', () => {
    assert.deepEqual(
      vars('{{#each items as |item i|}}{{item.name}} {{i}} {{#if item.ok}}{{item}}{{/if}}{{/each}}{{item}}'),
      ['items', 'item'],
    );
    assert.deepEqual(vars('{{#with doc as |d|}}{{d.title}}{{@root.t}}{{/with}}'), ['doc', 't']);
  });

  test('a block param called like a helper is still the local', () => {
    assert.deepEqual(ok('{{#each fns as |f|}}{{f x}}{{/each}}').helpers, ['each']);
  });
});

describe('variables: which reads a strict render requires', () => {
  const required = (source: string) => ok(source).variables.filter((v) => !v.optional).map((v) => v.name);
  const optional = (source: string) => ok(source).variables.filter((v) => v.optional).map((v) => v.name);

  test('mustaches and sections are required; a lone helper argument is not', () => {
    assert.deepEqual(required('{{a}} {{{b.c}}} {{#d}}x{{/d}} {{#if e}}y{{/if}} {{default f "z"}}'), ['a', 'b', 'd']);
    assert.deepEqual(optional('{{a}} {{{b.c}}} {{#d}}x{{/d}} {{#if e}}y{{/if}} {{default f "z"}}'), ['e', 'f']);
  });

  test('an argument with a path needs its first segment (a strict render reads through it)', () => {
    assert.deepEqual(required('{{#if doc.title}}x{{/if}} {{json (lookup a "b")}}'), ['doc']);
  });

  test("what a block's body or else reads is optional, however it is read", () => {
    assert.deepEqual(required('{{#if locale}}{{locale}} {{tone}}{{else}}{{fallback}}{{/if}}{{#each xs}}{{../y}}{{/each}}{{#with w}}{{z}}{{/with}}'), []);
    assert.deepEqual(optional('{{#if locale}}{{locale}} {{tone}}{{else}}{{fallback}}{{/if}}'), ['locale', 'locale', 'tone', 'fallback']);
  });

  test('partials used inside a block are optional; those at the top level are not', () => {
    const a = ok('{{> top}}{{#if x}}{{> inner}}{{/if}}');
    assert.deepEqual(a.partials.map((p) => [p.name, p.optional === true]), [['top', false], ['inner', true]]);
  });
});

describe('variables: contexts of blocks', () => {
  test('#each body is relative to the element; ../ climbs to the root; @root is root', () => {
    const a = ok('{{#each items}}{{name}} {{../x}} {{@root.y}} {{this}}{{/each}}');
    assert.deepEqual(a.variables, [
      { name: 'items', path: 'items', range: r(0, 8, 13), optional: true },
      { name: 'x', path: '../x', range: r(0, 26, 30), optional: true },
      { name: 'y', path: '@root.y', range: r(0, 35, 42), optional: true },
    ]);
  });

  test("#each's {{else}} runs in the outer context", () => {
    assert.deepEqual(vars('{{#each items}}{{name}}{{else}}{{empty_message}}{{/each}}'), ['items', 'empty_message']);
  });

  test('#with body is relative; its else is outer', () => {
    assert.deepEqual(vars('{{#with doc}}{{title}}{{../e}}{{else}}{{h}}{{/with}}'), ['doc', 'e', 'h']);
  });

  test('#if / #unless keep the context, in the body and the else', () => {
    assert.deepEqual(vars('{{#if a}}{{b}}{{else}}{{c}}{{/if}}{{#unless d}}{{e}}{{else}}{{f}}{{/unless}}'), ['a', 'b', 'c', 'd', 'e', 'f']);
    assert.deepEqual(vars('{{#if a}}{{else if b}}{{c}}{{else}}{{d}}{{/if}}'), ['a', 'b', 'c', 'd']);
  });

  test('nested contexts: ../ climbs one context change at a time; #if in between does not count', () => {
    assert.deepEqual(
      vars('{{#each a}}{{#each b}}{{../../r}}{{../s}}{{#if t}}{{../../u}}{{/if}}{{/each}}{{/each}}'),
      ['a', 'r', 'u'],
    );
    assert.deepEqual(vars('{{#each a}}{{#each ../b}}{{../../c}}{{/each}}{{/each}}'), ['a', 'b', 'c']);
  });

  test('a Mustache section ({{#foo}} without params, foo no helper) changes the context like #with', () => {
    assert.deepEqual(vars('{{#doc}}{{title}}{{../x}}{{/doc}}'), ['doc', 'x']);
    assert.deepEqual(vars('{{#doc.meta}}{{author}}{{/doc.meta}}'), ['doc']);
  });

  test('an inverted section {{^x}} reads x and runs in the outer context', () => {
    assert.deepEqual(vars('{{^missing}}{{shown}}{{/missing}}'), ['missing', 'shown']);
  });

  test('an unknown block helper with params keeps the context', () => {
    const a = ok('{{#myhelper x y=z}}{{inner}}{{/myhelper}}');
    assert.deepEqual(a.variables.map((v) => v.name), ['x', 'z', 'inner']);
    assert.deepEqual(a.helpers, ['myhelper']);
  });

  test('a known helper used as a block without params is a helper, not a section', () => {
    assert.deepEqual(vars('{{#custom}}{{x}}{{/custom}}', { helpers: new Set(['custom']) }), ['x']);
  });

  test('the params and hash of a block are read in the outer context', () => {
    assert.deepEqual(vars('{{#each a}}{{#each b key=c}}{{d}}{{/each}}{{/each}}'), ['a']);
    assert.deepEqual(vars('{{#with a}}{{#if (eq b ../c)}}{{/if}}{{/with}}'), ['a', 'c']);
  });
});

describe('partials', () => {
  test('names as written with the range of the name; context and hash params are reads', () => {
    const a = ok('{{> common/preamble}}\n  {{> other ctx k=v}}{{> "quoted name"}}');
    assert.deepEqual(a.partials, [
      { name: 'common/preamble', range: r(0, 4, 19) },
      { name: 'other', range: r(1, 6, 11) },
      { name: 'quoted name', range: r(1, 25, 38) },
    ]);
    assert.deepEqual(a.variables.map((v) => v.name), ['ctx', 'v']);
  });

  test('dynamic partials are not recorded, but their expression is analysed', () => {
    const a = ok('{{> (which kind) }}{{> (lookup . "p")}}');
    assert.deepEqual(a.partials, []);
    assert.deepEqual(a.helpers, ['which', 'lookup']);
    assert.deepEqual(a.variables.map((v) => v.name), ['kind']);
  });

  test('partial blocks: name recorded, body analysed; @partial-block is not a template', () => {
    const a = ok('{{#> layout title=t}}{{body}}{{title}}{{/layout}}{{> @partial-block}}');
    assert.deepEqual(a.partials, [{ name: 'layout', range: r(0, 5, 11) }]);
    assert.deepEqual(a.variables.map((v) => v.name), ['t', 'body']);
    // with a context param, the body is relative to it
    assert.deepEqual(vars('{{#> layout doc}}{{title}}{{../x}}{{/layout}}'), ['doc', 'x']);
  });

  test('inline partials are defined locally, not templates', () => {
    const a = ok('{{#*inline "row"}}{{cell}}{{/inline}}{{> row}}{{> common/footer}}');
    assert.deepEqual(a.partials.map((p) => p.name), ['common/footer']);
    assert.deepEqual(a.variables.map((v) => v.name), ['cell']);
  });
});

describe('stepReads', () => {
  test('steps.X at the root, via @root and via ../', () => {
    const a = ok('{{steps.extract.output}}\n{{@root.steps.b.output}} {{#each xs}}{{../steps.d.status}}{{/each}}');
    assert.deepEqual(a.stepReads, [
      { stepId: 'extract', range: r(0, 2, 22) },
      { stepId: 'b', range: r(1, 2, 22) },
      { stepId: 'd', range: r(1, 39, 56) },
    ]);
    assert.deepEqual(a.variables.map((v) => v.name), ['steps', 'steps', 'xs', 'steps']);
  });

  test('in params, hashes, sub-expressions and block params', () => {
    assert.deepEqual(steps('{{#if (eq steps.a.status "succeeded")}}{{json steps.b.output}}{{/if}}{{> p x=steps.c.output}}'), ['a', 'b', 'c']);
    assert.deepEqual(steps('{{#each steps.list.output}}{{this}}{{/each}}{{#with steps.w}}{{output}}{{/with}}'), ['list', 'w']);
  });

  test('steps relative to a block, steps alone and lookup are no step reads', () => {
    assert.deepEqual(steps('{{#each xs}}{{steps.c.output}}{{/each}}{{steps}}{{lookup steps "e"}}'), []);
    assert.deepEqual(vars('{{steps}}{{lookup steps "e"}}'), ['steps', 'steps']);
  });

  test('block params named steps shadow the root', () => {
    assert.deepEqual(steps('{{#each runs as |steps|}}{{steps.a.output}}{{/each}}'), []);
  });
});

describe('parse errors', () => {
  test('conformance broken.hbs: reported on the {{#if task}} line (index 1)', () => {
    const source = readFileSync(join(CONFORMANCE, 'template-syntax/templates/broken.hbs'), 'utf8');
    const e = err(source);
    assert.equal(e.range.start.line, 1);
    assert.deepEqual(e.range, r(1, 0, 12));
    assert.match(e.message, /^'\{\{#if\}\}' opened on line 2 is closed by '\{\{\/each\}\}' on line 4/);
    assert.match(e.message, /'\{\{\/if\}\}'/);
  });

  test('mismatched close inside an enclosing block: on the block left open', () => {
    const e = err('{{#each a}}\n  {{#if b}}x\n{{/each}}');
    assert.deepEqual(e.range, r(1, 2, 11));
    assert.equal(e.message, "'{{#if}}' opened on line 2 is closed by '{{/each}}' on line 3; add '{{/if}}' before it");
  });

  test('unclosed block: on the innermost opening tag', () => {
    const e = err('Intro\n{{#each items}}\n- {{name}}\n');
    assert.deepEqual(e.range, r(1, 0, 15));
    assert.equal(e.message, "unclosed '{{#each}}' block opened on line 2: add '{{/each}}'");
    const two = err('{{#if a}}\n{{#with b}}');
    assert.deepEqual(two.range, r(1, 0, 11));
    assert.match(two.message, /unclosed '\{\{#with\}\}'.*\(2 blocks are unclosed\)/);
    assert.match(err('{{#> layout}}body').message, /unclosed '\{\{#> layout\}\}' block/);
  });

  test('a close or else without a block', () => {
    const close = err('a\n{{/if}}');
    assert.deepEqual(close.range, r(1, 0, 7));
    assert.equal(close.message, "'{{/if}}' closes a block that was never opened");
    const els = err('x {{else}} y');
    assert.deepEqual(els.range, r(0, 2, 10));
    assert.match(els.message, /^'\{\{else\}\}' is outside any block/);
    assert.match(err('{{else if x}}').message, /^'\{\{else if x\}\}' is outside any block/);
  });

  test('a second {{else}} and {{else}} in a partial block', () => {
    const twice = err('{{#if a}}x{{else}}y{{else}}z{{/if}}');
    assert.deepEqual(twice.range, r(0, 19, 27));
    assert.match(twice.message, /comes after the '\{\{else\}\}' of '\{\{#if\}\}'/);
    assert.match(err('{{#> p}}a{{else}}b{{/p}}').message, /cannot be used inside '\{\{#> p\}\}'/);
  });

  test('a tag that never closes', () => {
    const e = err('Hello {{name');
    assert.deepEqual(e.range, r(0, 6, 12));
    assert.equal(e.message, "the tag '{{name' opened on line 1 is never closed: expected '}}'");
    assert.match(err('{{#if a').message, /'\{\{#if a' opened on line 1 is never closed/);
  });

  test('plain-word parse errors keep what was expected and what was found', () => {
    const e = err('line\n  {{foo bar=}}');
    assert.deepEqual(e.range, r(1, 12, 14));
    assert.equal(e.message, "Parse error: expected a name or value, got '}}'");
    assert.equal(err('{{foo (bar}}').message, "Parse error: expected ')' or a name or value, got '}}'");
    assert.equal(err('{{{foo}}').message, "Parse error: expected '}}}' or a name or value, got '}}'");
    assert.match(err("{{foo 'abc}}").message, /a string opened with ' is not closed/);
    assert.match(err('{{a b=c d}}').message, /named arguments, key=value, must come after/);
  });

  test('raw blocks, comments, paths and NUL characters', () => {
    const raw = err('{{{{raw}}}} {{x}} {{{{/other}}}}');
    assert.deepEqual(raw.range, r(0, 0, 11));
    assert.match(raw.message, /^'\{\{\{\{raw\}\}\}\}' opened on line 1 is closed by '\{\{\{\{\/other\}\}\}\}'/);
    assert.match(err('{{{{raw}}}} never closed').message, /^unclosed raw block '\{\{\{\{raw\}\}\}\}'/);
    const comment = err('ok\n{{!-- never closed');
    assert.deepEqual(comment.range, r(1, 0, 5));
    assert.match(comment.message, /^unclosed comment/);
    const path = err('{{foo/../bar}}');
    assert.deepEqual(path.range, r(0, 2, 12));
    assert.match(path.message, /^invalid path 'foo\/\.\.'/);
    const nul = err('ab\u0000c');
    assert.deepEqual(nul.range, r(0, 2, 3));
    assert.match(nul.message, /NUL character/);
  });

  test("a failed analysis leaves Handlebars' shared parser usable", () => {
    err('{{#if a}}{{/each}}');
    err('{{foo');
    assert.equal(Handlebars.compile('{{a}}-{{#if b}}y{{/if}}')({ a: 1, b: true }), '1-y');
    assert.deepEqual(vars('{{a}}'), ['a']);
  });
});

describe('robustness', () => {
  test('never throws, whatever the input', () => {
    assert.doesNotThrow(() => analyzeTemplate(undefined as unknown as string));
    assert.doesNotThrow(() => analyzeTemplate(null as unknown as string));
    assert.doesNotThrow(() => analyzeTemplate(42 as unknown as string));
    assert.deepEqual(analyzeTemplate(''), { partials: [], variables: [], stepReads: [], helpers: [] });
    const alphabet = ['{{', '}}', '{{{', '}}}', '{{#', '{{/', '{{^', '{{else', '{{>', '{{#>', '{{!--', '--}}', '{{{{', '}}}}', '(', ')', '"', "'", '=', '|', 'as |', '@', '.', '..', '/', '~', ' ', '\n', 'a', 'if', 'each', 'steps', '\\', '[', ']', '*', '\u0000'];
    let seed = 12345;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    for (let i = 0; i < 1500; i++) {
      let s = '';
      const len = 1 + rand(14);
      for (let k = 0; k < len; k++) s += alphabet[rand(alphabet.length)];
      const a = analyzeTemplate(s);
      assert.ok(Array.isArray(a.variables) && Array.isArray(a.partials) && Array.isArray(a.stepReads) && Array.isArray(a.helpers), s);
      if (a.error) {
        assert.equal(typeof a.error.message, 'string');
        assert.ok(a.error.message.length > 0);
        assert.doesNotMatch(a.error.message, /Expecting '|got 'EOF'/, s);
        for (const p of [a.error.range.start, a.error.range.end]) assert.ok(p.line >= 0 && p.character >= 0, s);
      }
      // Agrees with Handlebars on whether the template parses.
      let parses = true;
      try {
        Handlebars.parse(s);
      } catch {
        parses = false;
      }
      assert.equal(!a.error, parses, `${JSON.stringify(s)}: ${a.error?.message}`);
    }
  });

  test('never executes anything: helpers and context are not touched', () => {
    let called = false;
    const hb = Handlebars.create();
    hb.registerHelper('spy', () => {
      called = true;
    });
    const a = ok('{{spy}} {{constructor.constructor "return process"}} {{#each __proto__}}{{/each}}');
    assert.equal(called, false);
    assert.deepEqual(a.variables.map((v) => v.name), ['spy', 'constructor', '__proto__']);
  });

  test('a 1 MB template in reasonable time', () => {
    const para = 'The quick brown fox jumps over the lazy dog (again). Summarise the document below, keeping every figure exact. ';
    const chunks: string[] = [];
    let size = 0;
    for (let i = 0; size < 1 << 20; i++) {
      const chunk = `${para}${para}{{document.title}} {{#each items}}{{name}} {{../locale}}{{/each}} {{> common/p}}{{steps.s${i % 7}.output}}\n`;
      chunks.push(chunk);
      size += chunk.length;
    }
    const source = chunks.join('');
    const t0 = performance.now();
    const a = ok(source);
    const ms = performance.now() - t0;
    assert.equal(a.variables.filter((v) => v.name === 'document').length, chunks.length);
    assert.equal(a.partials.length, chunks.length);
    assert.equal(a.stepReads.length, chunks.length);
    assert.equal(a.variables[a.variables.length - 1]!.range.start.line, chunks.length - 1);
    assert.ok(ms < 20_000, `took ${ms.toFixed(0)} ms`);

    // prose without tags is linear and quick; an error at the end of 1 MB is still located
    const t1 = performance.now();
    const broken = analyzeTemplate('x'.repeat(1 << 20) + '\n{{#if a}}');
    assert.deepEqual(broken.error?.range, r(1, 0, 9));
    assert.ok(performance.now() - t1 < 5_000);
  });

  test('500-deep nesting is analysed', () => {
    const n = 500;
    const ifs = ok('{{#if a}}'.repeat(n) + '{{b}}' + '{{/if}}'.repeat(n));
    assert.equal(ifs.variables.length, n + 1);
    const eachs = ok('{{#each a}}'.repeat(n) + '{{name}}{{@root.r}}' + '../'.repeat(n).replace(/^/, '{{').concat('x}}') + '{{/each}}'.repeat(n));
    assert.deepEqual(eachs.variables.map((v) => v.name), ['a', 'r', 'x']);
    const sexpr = ok('{{f ' + '(g '.repeat(n) + 'v' + ')'.repeat(n) + '}}');
    assert.deepEqual(sexpr.variables.map((v) => v.name), ['v']);
    const chain = ok('{{#if a}}' + '{{else if b}}x'.repeat(n) + '{{/if}}');
    assert.equal(chain.variables.length, n + 1);
  });

  test('absurd nesting is refused quickly, not parsed for minutes', () => {
    for (const source of [
      '{{#if a}}'.repeat(100_000) + '{{/if}}'.repeat(100_000),
      '{{#each a}}'.repeat(50_000),
      '{{x ' + '('.repeat(200_000),
      '{{#if a}}' + '{{else if b}}'.repeat(20_000) + '{{/if}}',
    ]) {
      const t0 = performance.now();
      const a = analyzeTemplate(source);
      assert.ok(a.error, 'an error');
      assert.match(a.error.message, /^template nesting is too deep/);
      assert.ok(a.error.range.start.character > 0, 'located at the level that goes too deep');
      assert.ok(performance.now() - t0 < 5_000);
    }
    assert.ok(DEFAULT_LIMITS.maxTemplateNesting >= 500);
  });
});
