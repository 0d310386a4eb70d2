/**
 * The fast YAML parser must build exactly the tree the `yaml` package builds (every offset
 * included) or decline. Differential tests compare the two on real config files, a generated
 * large file and thousands of seeded random mutations of them; unit cases pin each construct.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { fastParseYaml } from '../../../core/yaml/fastParse.js';
import { IncrementalYamlParser } from '../../../core/yaml/incrementalParse.js';
import { parseWithYamlPackage, parseYaml, setSubsetParser } from '../../../core/yaml/parse.js';
import type { SMap, SNode, SScalar, SSeq } from '../../../core/yaml/sourceTree.js';
import { CONFORMANCE, EXAMPLES, REPO } from '../../helpers/paths.js';
import { rng } from '../../helpers/rng.js';

// ---------------------------------------------------------------------------------------------
// Helpers

/** Asserts that the fast parser agrees with the package, or declined. Returns whether it accepted. */
function agrees(text: string, label = ''): boolean {
  const fast = fastParseYaml(text);
  if (fast === undefined) return false;
  const pkg = parseWithYamlPackage(text);
  if (pkg.errors.length) {
    assert.fail(`fast parser accepted text the package rejects (${pkg.errors[0]!.message}) ${label}\n---\n${text}\n---`);
  }
  try {
    assert.deepStrictEqual(fast, pkg.root);
  } catch (e) {
    (e as Error).message = `fast parser differs from the package ${label}\n---\n${JSON.stringify(text)}\n---\n${(e as Error).message}`;
    throw e;
  }
  return true;
}

/** The fast parser must accept this text and agree with the package. */
function accepted(text: string): SNode | null {
  assert.ok(agrees(text), `expected the fast parser to accept:\n${text}`);
  return fastParseYaml(text)!;
}

function declined(text: string): void {
  assert.equal(fastParseYaml(text), undefined, `expected a decline for ${JSON.stringify(text)}`);
}

function rootMap(text: string): SMap {
  const r = accepted(text);
  assert.ok(r && r.kind === 'map');
  return r;
}

function valueOf(text: string): SScalar['value'] {
  const v = rootMap(text).items[0]!.value;
  assert.ok(v && v.kind === 'scalar');
  return v.value;
}

function yamlFilesUnder(dir: string): string[] {
  const out: string[] = [];
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...yamlFilesUnder(p));
    else if (/\.ya?ml$/.test(e.name)) out.push(p);
  }
  return out.sort();
}

/** `npm test` runs a quarter of the cases; `npm run fuzz` sets PM_FUZZ_SCALE higher. */
const FUZZ_SCALE = Number(process.env.PM_FUZZ_SCALE ?? '0.25');

let generatedDir: string | undefined;
/** The benchmark's large workspace, generated once into a temporary folder. */
function generatedRules(): string {
  if (!generatedDir) {
    generatedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-fastparse-'));
    execFileSync(process.execPath, [path.join(REPO, 'bench', 'generate.mjs'), generatedDir], { stdio: 'ignore' });
  }
  return fs.readFileSync(path.join(generatedDir, 'composition_rules.yaml'), 'utf8');
}

process.on('exit', () => {
  if (generatedDir) fs.rmSync(generatedDir, { recursive: true, force: true });
});

// Hand-written seeds covering the subset's constructs, so mutations start from all of them.
const SEEDS = [
  `version: 1
templates_dir: ./templates          # optional
defaults:                           # optional
  max_parallel: 4
  fail_fast: true
  step_timeout_ms: 30000
  retry: { max_attempts: 1 }
providers:
  local:
    type: openai-compatible
    base_url: http://127.0.0.1:11434/v1
    api_key_env: OPENAI_API_KEY     # name of a variable
compositions:
  complete_analysis:
    description: Extract facts, then summarise
    inputs: { required: [document], optional: [locale, user_experience_level, state] }
    steps:
      - id: extract                 # unique
        template: analysis/extract
        retry:
          max_attempts: 3
          backoff_coefficient: 2.5
          non_retryable: [template_error, missing_context]
      - id: summary
        depends_on: [extract]
        context:
          facts: "{{steps.extract.output}}"
      - id: critique
        when: { path: user_experience_level, not_equals: beginner }
        fallback: { template: 'analysis/critique_lite' }
    output: "{{steps.summary.output}}\\n\\n{{steps.critique.output}}"
    overrides:
      states:
        draft: { max_parallel: 1, steps: { critique: { skip: true } } }
`,
  `# leading comment

services:
  # a comment before the first entry
  analysis_service:
    description: Summarises documents
    primary_templates:
      - analysis/summary
      # between items
      - analysis/critique
    templates: [common/preamble]
    context_requirements:
      required: [user_id, document]
        # more indented comment
      optional: []
    performance_targets:
      render_p95_ms: 20
      min_cache_hit_rate: 0.5
    fallback:
      template: common/apology
      on: [template_error, timeout]
    # trailing comment at the entry's indentation

  other:
    empty:
    list:
    - a
    - b
    after: x
`,
  `a:
  b: |
    literal line
      more indented

    after blank
  c: >-
    folded
    text

    new paragraph
  d: |+
    keep

  e: >
    x
  f: |-
    y
g: end
`,
  `- plain
- 'single ''quoted'''
- "double \\"esc\\" \\t \\u00e9 \\x41 \\\\"
-
- # empty with comment
- key: value
  other: 2
- [a, 'b', "c", [d], {e: f}]
- {a: 1, 'b': [x, y], "c": {d: null}}
-   spaced: x
    next: y
- 0x1F
- 0o17
- -12
- +3
- 1.5e3
- .inf
- -.Inf
- .NaN
- ~
- True
- FALSE
- Null
- 1.
- .5
- 12abc
- http://x.y/z?q=1#frag
- a # comment
`,
  `key1:
key2: # comment only
key3:
  # comment then nothing
key4: value
nested:
  deeper:
    deepest:
      - x
      -
      - y:
        z: 1
    # at deeper indentation
  # at nested indentation
# at root
last: 1
`,
  `x:
  a:
    b: 1
    # t
`,
];

function corpus(): { name: string; text: string }[] {
  const out: { name: string; text: string }[] = [];
  for (const f of [...yamlFilesUnder(EXAMPLES), ...yamlFilesUnder(CONFORMANCE)]) out.push({ name: path.relative(REPO, f), text: fs.readFileSync(f, 'utf8') });
  SEEDS.forEach((text, i) => out.push({ name: `seed ${i}`, text }));
  const big = generatedRules().split('\n');
  out.push({ name: 'generated (head)', text: big.slice(0, 120).join('\n') + '\n' });
  return out;
}

const INSERTS = [':', ': ', '-', '- ', "'", '"', '#', ' #', '[', ']', '{', '}', ',', ' ', '  ', '0', '7', '1.5', 'true', 'null', '~', '|', '>', '|-', '\\', '\\n', '\n', '?', '&a ', '*a', '!t ', '.', 'x', '\r\n', 'é', '\t', '---', '%'];
const VALUES = ['0x1F', '1e3', '.inf', '-.5', 'True', 'NULL', '~', "'a''b'", '"a\\tb"', '"\\u00e9"', '"\\q"', '[a, b]', '{a: 1}', '[]', '{}', '|', '>-', '|+', '- a', 'a: b', '', '# c', '[a, [b, {c: d}]]', '{ a: [x], b: { c: "d" } }', '"x" # c', "'it''s'", '0o8', '+12', '-0', '012', '1_000', 'yes', 'on'];

function mutate(text: string, r: () => number): string {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  let lines = text.split('\n');
  const ops = 1 + Math.floor(r() * 3);
  for (let k = 0; k < ops; k++) {
    const i = Math.floor(r() * lines.length);
    const line = lines[i] ?? '';
    switch (Math.floor(r() * 11)) {
      case 0:
        lines.splice(i, 1);
        break;
      case 1:
        lines.splice(i, 0, line);
        break;
      case 2:
        lines[i] = ' '.repeat(1 + Math.floor(r() * 4)) + line;
        break;
      case 3:
        lines[i] = line.replace(/^ {1,2}/, '');
        break;
      case 4: {
        const at = Math.floor(r() * (line.length + 1));
        lines[i] = line.slice(0, at) + pick(INSERTS) + line.slice(at);
        break;
      }
      case 5:
        lines.splice(i, 0, ' '.repeat(Math.floor(r() * 10)) + '# inserted');
        break;
      case 6:
        lines.splice(i, 0, ' '.repeat(Math.floor(r() * 6)));
        break;
      case 7: {
        const m = /^(\s*(?:- )?[^:#]+:)(.*)$/.exec(line);
        if (m) lines[i] = `${m[1]} ${pick(VALUES)}`;
        break;
      }
      case 8:
        // A line copied from elsewhere, at this position.
        lines.splice(i, 0, pick(lines));
        break;
      case 9:
        lines[i] = line.replace(/ +$/, '') + pick(['', ' ', '   ', ' # tail', '#x', ':']);
        break;
      default:
        lines = lines.slice(0, Math.max(1, i));
    }
  }
  let out = lines.join('\n');
  const end = r();
  if (end < 0.1) out = out.replace(/\n+$/, '');
  else if (end < 0.2) out += '\n\n  ';
  if (r() < 0.15) out = out.replace(/\n/g, '\r\n');
  return out;
}

// ---------------------------------------------------------------------------------------------
// Differential tests

test('agrees with the yaml package on every example and conformance file', () => {
  const files = [...yamlFilesUnder(EXAMPLES), ...yamlFilesUnder(CONFORMANCE)];
  assert.ok(files.length > 0, 'no YAML files found to compare');
  let acceptedCount = 0;
  for (const f of files) {
    const text = fs.readFileSync(f, 'utf8');
    if (agrees(text, f)) acceptedCount++;
    // The same file with Windows line breaks.
    agrees(text.replace(/\n/g, '\r\n'), `${f} (CRLF)`);
  }
  // Only files with YAML errors (conformance/yaml-syntax) may be declined.
  assert.ok(acceptedCount >= files.length - 2, `accepted only ${acceptedCount} of ${files.length}`);
});

test('agrees with the yaml package on every hand-written seed', () => {
  for (const [i, s] of SEEDS.entries()) {
    assert.ok(agrees(s, `seed ${i}`), `seed ${i} was declined`);
    assert.ok(agrees(s.replace(/\n/g, '\r\n'), `seed ${i} (CRLF)`), `seed ${i} with CRLF was declined`);
  }
});

test('agrees with the yaml package on the generated large file', () => {
  const text = generatedRules();
  assert.ok(text.length > 2_000_000);
  const fast = fastParseYaml(text);
  assert.ok(fast, 'the generated file was declined');
  const pkg = parseWithYamlPackage(text);
  assert.deepStrictEqual(pkg.errors, []);
  assert.deepStrictEqual(fast, pkg.root);
  assert.ok(agrees(fs.readFileSync(path.join(generatedDir!, 'service_mappings.yaml'), 'utf8'), 'generated service_mappings.yaml'));
});

test('agrees with the yaml package on seeded random mutations', () => {
  const bases = corpus();
  const r = rng(20240611);
  const perBase = Math.ceil((6000 * FUZZ_SCALE) / bases.length);
  let total = 0;
  let acceptedCount = 0;
  for (const base of bases) {
    for (let k = 0; k < perBase; k++) {
      const text = mutate(base.text, r);
      total++;
      if (agrees(text, `(mutation ${k} of ${base.name})`)) acceptedCount++;
    }
  }
  // A parser that declines everything would pass the loop above; make sure most texts count.
  assert.ok(acceptedCount > total * 0.3, `accepted only ${acceptedCount} of ${total} mutations`);
  console.log(`fastParse differential: ${total} mutations, ${acceptedCount} accepted and identical`);
});

test('agrees on mutations focused on trailing comments and blank lines', () => {
  // Where collections end depends on comment lines after their last entry and their indentation.
  const r = rng(7);
  let total = 0;
  let acceptedCount = 0;
  for (const base of SEEDS) {
    const lines = base.split('\n');
    for (let k = 0; k < 400 * FUZZ_SCALE; k++) {
      const copy = lines.slice();
      const n = 1 + Math.floor(r() * 3);
      for (let j = 0; j < n; j++) {
        const at = Math.floor(r() * (copy.length + 1));
        const choice = r();
        copy.splice(at, 0, choice < 0.6 ? ' '.repeat(Math.floor(r() * 12)) + '# c' : choice < 0.8 ? '' : ' '.repeat(1 + Math.floor(r() * 8)));
      }
      let text = copy.join('\n');
      if (r() < 0.3) text = text.replace(/\n+$/, '');
      total++;
      if (agrees(text, `(comment mutation ${k})`)) acceptedCount++;
    }
  }
  assert.ok(acceptedCount > total * 0.5, `accepted only ${acceptedCount} of ${total}`);
});

/**
 * Random documents built from the subset's grammar, with random indentation steps, comments
 * at random indentation, blank lines and trailing spaces: these reach combinations (the ends
 * of nested collections especially) that line mutations rarely produce.
 */
function randomDocument(r: () => number): string {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const SCALARS = ['a', 'b c', 'x1', '12', '-3', '0x1F', '1.5', '.inf', 'true', 'null', '~', "'q'", "'it''s'", '"d"', '"e\\tf"', '"# h"', 'http://h/p', 'a:b', 'a#b', '[a, b]', '{k: v}', '[]', '{}', '[a, [b]]', '{ a: [1, 2], b: "c" }', ''];
  const KEYS = ['id', 'name', 'steps', 'k', 'a b', "'q k'", '"d k"', '1', 'true', 'x-y'];
  const out: string[] = [];
  const comment = (): string => (r() < 0.5 ? ' # c' : '  #');
  const maybeJunk = (): void => {
    while (r() < 0.25) {
      const c = r();
      out.push(c < 0.5 ? ' '.repeat(Math.floor(r() * 10)) + '# line' : c < 0.8 ? '' : ' '.repeat(1 + Math.floor(r() * 6)));
    }
  };
  const tail = (): string => (r() < 0.15 ? comment() : r() < 0.1 ? '  ' : '');
  const blockScalar = (indent: number): void => {
    const step = 1 + Math.floor(r() * 3);
    const n = Math.floor(r() * 4);
    for (let i = 0; i < n; i++) {
      const c = r();
      out.push(c < 0.2 ? '' : ' '.repeat(indent + step + (c < 0.3 ? 2 : 0)) + pick(['text', 'more text', '# not a comment', 'x']));
    }
  };
  // Writes a value after `prefix` (the key or `-` part of the line); `indent` is the indentation
  // of the collection that holds it.
  const value = (prefix: string, indent: number, depth: number): void => {
    const c = r();
    if (depth < 4 && c < 0.3) {
      out.push(prefix + tail());
      maybeJunk();
      const inner = indent + 1 + Math.floor(r() * 3);
      if (r() < 0.5) map(inner, depth + 1);
      else seq(prefix.trimStart().startsWith('-') || r() < 0.5 ? inner : indent, depth + 1);
    } else if (c < 0.37) {
      out.push(prefix + ' ' + pick(['|', '>', '|-', '>+', '|+', '>-']) + tail());
      blockScalar(indent);
    } else {
      const v = pick(SCALARS);
      out.push(prefix + (v ? ' ' + v : '') + tail());
    }
    maybeJunk();
  };
  const map = (indent: number, depth: number, first?: string): void => {
    const n = 1 + Math.floor(r() * 4);
    for (let i = 0; i < n; i++) {
      const lead = i === 0 && first !== undefined ? first : ' '.repeat(indent);
      value(`${lead}${pick(KEYS)}:`, indent, depth);
    }
  };
  const seq = (indent: number, depth: number): void => {
    const n = 1 + Math.floor(r() * 4);
    for (let i = 0; i < n; i++) {
      const c = r();
      const dash = ' '.repeat(indent) + '-';
      if (depth < 4 && c < 0.35) {
        const gap = 1 + Math.floor(r() * 2);
        map(indent + 1 + gap, depth + 1, dash + ' '.repeat(gap));
        maybeJunk();
      } else value(dash, indent, depth);
    }
  };
  maybeJunk();
  if (r() < 0.8) map(r() < 0.9 ? 0 : 2, 0);
  else seq(0, 0);
  let text = out.join('\n');
  if (r() < 0.8) text += '\n';
  if (r() < 0.15) text = text.replace(/\n/g, '\r\n');
  return text;
}

test('agrees with the yaml package on random documents of the subset', () => {
  const r = rng(99);
  let acceptedCount = 0;
  const total = Math.round(4000 * FUZZ_SCALE);
  for (let k = 0; k < total; k++) {
    const text = randomDocument(r);
    if (agrees(text, `(random document ${k})`)) acceptedCount++;
  }
  // Only a few generated documents are outside the subset or invalid (e.g. `key:` with a block
  // scalar that is empty and then a deeper line).
  assert.ok(acceptedCount > total * 0.7, `accepted only ${acceptedCount} of ${total}`);
  console.log(`fastParse random documents: ${total}, ${acceptedCount} accepted and identical`);
});

// ---------------------------------------------------------------------------------------------
// Unit cases

test('plain scalars resolve as the YAML 1.2 core schema', () => {
  const cases: [string, unknown][] = [
    ['~', null],
    ['null', null],
    ['Null', null],
    ['NULL', null],
    ['nULL', 'nULL'],
    ['true', true],
    ['True', true],
    ['TRUE', true],
    ['false', false],
    ['tRUE', 'tRUE'],
    ['yes', 'yes'],
    ['0', 0],
    ['-0', -0],
    ['+12', 12],
    ['012', 12],
    ['0x1F', 31],
    ['0X1F', '0X1F'],
    ['0o17', 15],
    ['0o8', '0o8'],
    ['1.5', 1.5],
    ['1.', 1],
    ['.5', 0.5],
    ['1e3', 1000],
    ['-1.5E-2', -0.015],
    ['.inf', Infinity],
    ['-.Inf', -Infinity],
    ['+.INF', Infinity],
    ['.nan', NaN],
    ['.NaN', NaN],
    ['1_000', '1_000'],
    ['12abc', '12abc'],
    ['a b  c', 'a b  c'],
    ['-a', '-a'],
    ['?x', '?x'],
    [':x', ':x'],
    ['a:b', 'a:b'],
    ['a#b', 'a#b'],
    ['x, y]', 'x, y]'],
    ["it's", "it's"],
  ];
  for (const [src, want] of cases) assert.deepStrictEqual(valueOf(`k: ${src}\n`), want, src);
  assert.equal(valueOf('k:\n'), null);
  const keys = rootMap('1: a\ntrue: b\nnull: c\n"q": d\n').items.map((p) => (p.key as SScalar).value);
  assert.deepStrictEqual(keys, [1, true, null, 'q']);
});

test('quoted scalars, with escapes in double quotes', () => {
  assert.equal(valueOf("k: 'it''s'\n"), "it's");
  assert.equal(valueOf("k: ''\n"), '');
  assert.equal(valueOf('k: "a\\tb\\n\\"c\\" \\\\ \\/ \\0"\n'), 'a\tb\n"c" \\ / \0');
  assert.equal(valueOf('k: "\\x41\\u00e9\\U0001F600 \\_\\N"\n'), 'A\u00e9\u{1F600} \u00a0\u0085');
  assert.equal(valueOf('k: "  spaced  "  # c\n'), '  spaced  ');
  assert.equal(valueOf('k: "# not a comment"\n'), '# not a comment');
  const v = rootMap('k: "x"\n').items[0]!.value as SScalar;
  assert.deepStrictEqual([v.style, v.start, v.end], ['double', 3, 6]);
  declined('k: "\\q"\n');
  declined('k: "\\x4"\n');
  declined('k: "open\n  more"\n');
  declined("k: 'open\n  more'\n");
  declined('k: "a"b\n');
  declined('k: "a"#c\n');
});

test('flow sequences and mappings on one line', () => {
  const text = 'inputs: { required: [task], optional: [a, "b", \'c\'] }  # c\nx: []\ny: {}\nz: [a, b,]\n';
  const m = rootMap(text);
  const inputs = m.items[0]!.value as SMap;
  assert.equal(inputs.flow, true);
  assert.deepStrictEqual([inputs.start, inputs.end], [text.indexOf('{'), text.indexOf('}') + 1]);
  const req = inputs.items[0]!.value as SSeq;
  assert.deepStrictEqual([req.flow, req.start, req.end], [true, text.indexOf('[task]'), text.indexOf('[task]') + 6]);
  assert.deepStrictEqual(
    (inputs.items[1]!.value as SSeq).items.map((i) => (i as SScalar).style),
    ['plain', 'double', 'single'],
  );
  accepted('k: [a, [b, [c]], {d: {e: [f]}}]\n');
  accepted('k: [ http://x/y, a:b ]\n');
  declined('k: [a,\n  b]\n');
  declined('k: [a: b]\n');
  declined('k: {a}\n');
  declined('k: {a: }\n');
  declined('k: [a, , b]\n');
  declined('k: [a] b\n');
  declined('[a]: b\n');
});

test('literal and folded block scalars with chomping', () => {
  const text = 'a: |\n  one\n   two\n\nb: >\n  x\n  y\n\n  z\nc: |-\n  t\nd: |+\n  k\n\ne: >-\n  f\n';
  const m = rootMap(text);
  const vals = m.items.map((p) => (p.value as SScalar).value);
  assert.deepStrictEqual(vals, ['one\n two\n', 'x y\nz\n', 't', 'k\n\n', 'f']);
  assert.equal((m.items[0]!.value as SScalar).style, 'block');
  accepted('- |\n  in a sequence\n- >\n  folded\n');
  accepted('a: |  # comment\n  text\n  # not a comment\nb: 1\n');
  accepted('a: |\nb: 1\n');
  declined('a: |2\n   x\n');
  declined('a: |x\n  y\n');
});

test('comments, blank lines and empty values', () => {
  assert.equal(accepted(''), null);
  assert.equal(accepted('# only a comment\n\n   # another\n'), null);
  const m = rootMap('# head\na:   # comment\nb:\n\nc: 1 # tail\n');
  const a = m.items[0]!;
  assert.deepStrictEqual(a.value, { kind: 'scalar', value: null, style: 'plain', start: 12, end: 12 });
  assert.deepStrictEqual([a.start, a.end], [7, 12]);
  const s = accepted('- \n-\n- x\n') as SSeq;
  assert.deepStrictEqual(
    s.items.map((i) => [(i as SScalar).value, i!.start, i!.end]),
    // An empty item sits after its `-` and the spaces that follow it.
    [[null, 2, 2], [null, 4, 4], ['x', 7, 8]],
  );
});

test('offsets of sequences in mappings and mappings in sequences', () => {
  const text = 'steps:\n  - id: a\n    template: t\n  - id: b\nnext:\n- x\n- y\n';
  const m = rootMap(text);
  const at = (s: string): number => text.indexOf(s);
  const steps = m.items[0]!.value as SSeq;
  // A block collection ends after the line break of its last value.
  assert.deepStrictEqual([steps.start, steps.end], [at('- id: a'), at('next:')]);
  const first = steps.items[0] as SMap;
  assert.deepStrictEqual([first.start, first.end], [at('id: a'), at('  - id: b')]);
  assert.deepStrictEqual([first.items[1]!.start, first.items[1]!.end], [at('template'), at('t\n  - id: b') + 1]);
  const next = m.items[1]!.value as SSeq;
  assert.deepStrictEqual([next.start, next.end, (next.items[1] as SScalar).start], [at('- x'), text.length, at('y')]);
  assert.deepStrictEqual([m.start, m.end], [0, text.length]);
});

test('trailing comment lines move the ends of collections as in the package', () => {
  // More indented than the entry: glued to the value. At the entry's indentation: kept by the
  // inner mapping up to the next key. Left of it: handed up to the parent.
  for (const text of [
    'a:\n  b: 1\n      # glued\nc: 2\n',
    'a:\n  b: 1\n  # kept\nc: 2\n',
    'x:\n  a:\n    b: 1\n    # kept\n',
    'x:\n  a:\n    b: 1\n# handed up\n',
    'x:\n  a:\n  # in sep\n',
    '- a\n  # glued\n-\n  # c\n- b\n',
  ]) {
    accepted(text);
    accepted(text.replace(/\n/g, '\r\n'));
  }
});

test('edge cases: whitespace-only texts, duplicate keys, comments before an empty last item', () => {
  for (const text of ['', '   ', '\n\n', '  \n  ', '#', ' # c', '\r\n']) assert.equal(accepted(text), null, JSON.stringify(text));
  // The package is run with uniqueKeys: false, so duplicates are kept as they are.
  assert.equal(rootMap('a: 1\na: 2\n').items.length, 2);
  for (const text of [
    'x:\n  - a\n  # c\n  -\ny: 1\n',
    'x:\n  - a\n# c\n  -\n',
    'x:\n  - a\n      # glued\n  - # c\n\n',
    '- k:\n  - a\n  j: 1\n',
    '- k:\n- a\n',
    'a: x\nb:\n',
    'a:\n  b:\n    c: 1\n  # c\n\n  \n',
    '  indented: root\n  next: 1\n',
    'key   : spaced\n',
    "'quoted key' : 1\n",
  ]) {
    accepted(text);
    accepted(text.replace(/\n/g, '\r\n'));
    accepted(text.replace(/\n$/, ''));
  }
});

test('odd but valid inputs either agree or are declined', () => {
  for (const text of [
    '-: 1\n',
    'k:\n- a\n-x: 1\n',
    'k: 0x\nl: 0o\nm: +\nn: -.\no: 12345678901234567890\np: 1E3\n',
    'k: "a\\\\"\nl: "\\ x"\n',
    'k: "abc\\"\n',
    'k: ["a]", \'b,c\', "{d}"]\n',
    'k: b :c\n',
    'k:#c\n',
    '<<: 1\n=: 2\n',
    'k: [a,b]\nl: {a: b,c: d}\n',
    'k: {a: [b, {c: [d]}], e: f}\n',
    'k: -\n',
    'k: [a]]\n',
    'a: 1\n  # c\n    # d\nb: 2\n',
    '- - a\n',
    '-\n  - a\n  - b\n-\n  k: v\n',
    'k: \u00e9\u{1F600}\n',
  ]) {
    agrees(text);
    agrees(text.replace(/\n/g, '\r\n'));
  }
});

test('declines what would exceed the package limits', () => {
  // Nesting deeper than the converter allows, and implicit keys over 1024 characters.
  declined('k: ' + '['.repeat(150) + ']'.repeat(150) + '\n');
  declined('k' + 'x'.repeat(1100) + ': 1\n');
  accepted('k: ' + '['.repeat(50) + ']'.repeat(50) + '\n');
});

test('declines constructs outside the subset', () => {
  for (const text of [
    'a: &x 1\nb: *x\n',
    'a: !tag 1\n',
    '---\na: 1\n',
    'a: 1\n...\n',
    '%YAML 1.2\n---\na: 1\n',
    'a: multi\n  line\n',
    'a:\n  plain text\n',
    'a:\n\tb: 1\n',
    'a: 1\t# tab\n',
    '? complex\n: key\n',
    '\ufeffa: 1\n',
    'a: 1\rb: 2\n',
    'a: b: c\n',
    'a: - b\n',
    '- - a\n',
    'a: 1\n- b\n',
    'a: 1\n  b: 2\n',
    'a:\n    b: 1\n  c: 2\n',
    'just a scalar\n',
    '[a, b]\n',
    'a: @x\n',
    'a: `x`\n',
    'a: %x\n',
    'a: ,x\n',
    'a:1\n',
    '"a":b\n',
  ]) {
    declined(text);
  }
});

test('is the default subset parser of parseYaml', () => {
  const text = 'a: 1\n';
  assert.deepStrictEqual(parseYaml(text).root, fastParseYaml(text));
  // An error still comes from the package.
  assert.ok(parseYaml('a: 1\n  b: 2\n').errors.length > 0);
});

// ---------------------------------------------------------------------------------------------
// Speed


test('the incremental parser with the fast path gives the package\'s tree', () => {
  const text = generatedRules();
  // One-line edits in different compositions, each a new version of the previous text.
  const versions: string[] = [];
  let cur = text;
  for (let k = 0; k < 7; k++) {
    const at = cur.indexOf(`  comp_${200 + k * 250}:\n    description: `);
    const line = cur.indexOf('\n', cur.indexOf('description: ', at));
    cur = cur.slice(0, line) + ' (edited)' + cur.slice(line);
    versions.push(cur);
  }
  const run = (): { first: number; edits: number[]; last: ReturnType<IncrementalYamlParser['parse']> } => {
    const p = new IncrementalYamlParser();
    const t0 = performance.now();
    p.parse(text);
    const first = performance.now() - t0;
    const edits: number[] = [];
    let last = p.parse(text);
    for (const v of versions) {
      const t1 = performance.now();
      last = p.parse(v);
      edits.push(performance.now() - t1);
    }
    return { first, edits, last };
  };
  setSubsetParser(undefined);
  let slow: ReturnType<typeof run>;
  try {
    slow = run();
  } finally {
    setSubsetParser(fastParseYaml);
  }
  const fast = run();
  assert.deepStrictEqual(fast.last.errors, []);
  assert.deepStrictEqual(fast.last, slow.last);
  assert.deepStrictEqual(fast.last.root, parseWithYamlPackage(versions[versions.length - 1]!).root);
});
