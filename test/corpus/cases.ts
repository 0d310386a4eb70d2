/**
 * The bad-input corpus, generated at test time (nothing big is committed): one small prompt
 * workspace per hostile input, written into a temporary folder beside an `outside/` folder that
 * symlinks point at and that nothing may read.
 *
 * Each case says which diagnostic codes the validator must report (none: it validates without
 * errors), and optionally a render the engine must answer (its error code, or a check of the
 * text). The validator, the engine and the CLI tests all run the same cases.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ErrorCode } from '../../core/errors.js';
import type { DiagnosticCode } from '../../core/model/diagnostics.js';
import type { WorkspaceValidation } from '../../core/validate/api.js';

export interface CorpusCase {
  name: string;
  /** Relative path -> content. Buffers are written as they are (invalid UTF-8, NUL bytes). */
  files: Record<string, string | Buffer>;
  /** Symbolic links: `path` (relative to the case) -> `target` (relative to the link's folder). */
  links?: { path: string; target: string }[];
  /** Codes that must be reported; the engine refuses the workspace when one is an error. Empty: no errors. */
  codes: DiagnosticCode[];
  /** Codes that must not be reported. */
  notCodes?: DiagnosticCode[];
  /** A render the engine must answer once the workspace loads. */
  render?: { template: string; context: Record<string, unknown>; code?: ErrorCode; text?: (t: string) => string | undefined };
  /** Further checks of the validation (exact ranges and the like); returns a problem or undefined. */
  check?: (v: WorkspaceValidation) => string | undefined;
}

/** What templates outside the root hold: no output, message or read may ever contain it. */
export const OUTSIDE_SECRET = 'OUTSIDE-SECRET-7f3a9c';

const RULES_OK = `version: 1
compositions:
  greet:
    inputs: { required: [name] }
    steps:
      - id: hello
        template: hello
`;
const HELLO = 'Hello {{name}}';

function rules(steps: string, extra = ''): string {
  return `version: 1\n${extra}compositions:\n  c:\n    inputs: { required: [name] }\n    steps:\n${steps}`;
}

/** A composition step per template name, for reference checks. */
function stepsFor(names: string[]): string {
  return names.map((n, i) => `      - id: s${i}\n        template: ${n}\n`).join('');
}

function billionLaughs(levels: number, width: number): string {
  const lines = [`l0: &l0 [${Array(width).fill('"lol"').join(', ')}]`];
  for (let i = 1; i < levels; i++) lines.push(`l${i}: &l${i} [${Array(width).fill(`*l${i - 1}`).join(', ')}]`);
  return `version: 1\n${lines.join('\n')}\ncompositions: {}\n`;
}

function tenMegabytes(): string {
  const parts: string[] = ['version: 1\ncompositions:\n'];
  let size = parts[0]!.length;
  for (let i = 0; size < 10 * 1024 * 1024; i++) {
    const entry = `  c${i}:\n    description: Composition number ${i} of a generated file\n    steps:\n      - id: a\n        template: hello\n      - id: b\n        template: hello\n        depends_on: [a]\n`;
    parts.push(entry);
    size += entry.length;
  }
  return parts.join('');
}

function deepBlock(depth: number): string {
  let s = 'version: 1\nx:\n';
  for (let i = 1; i <= depth; i++) s += `${' '.repeat(i * 2)}k${i}:\n`;
  return s;
}

/** Prose with an expression now and then, to a size, with at most `expressions` of them. */
function bigTemplate(bytes: number, expressions: number): string {
  const line = 'The quick brown fox considers the document carefully before it answers the question. ';
  const lines: string[] = [];
  let size = 0;
  const every = Math.max(1, Math.floor(bytes / line.length / Math.max(1, expressions)));
  for (let i = 0; size < bytes; i++) {
    const l = i % every === 0 && lines.filter((x) => x.includes('{{')).length < expressions ? `${line}{{name}}\n` : `${line}\n`;
    lines.push(l);
    size += l.length;
  }
  return lines.join('');
}

/**
 * Three lists of `n` distinct objects: every iteration of nested `each` blocks over them has a
 * context of its own, so `../` and `../../` reach the lists in strict mode too (Handlebars
 * keeps no parent frame for an iteration whose context equals its parent's).
 */
export function nestedLists(n: number): Record<string, unknown> {
  const list = (k: string) => Array.from({ length: n }, (_, i) => ({ [k]: i }));
  return { a: list('a'), b: list('b'), c: list('c') };
}

/** A list that an `each` iterates over without writing anything. */
export function silentList(n: number): Record<string, unknown> {
  return { name: 'x', items: new Array<number>(n).fill(0) };
}

/** Checks that a diagnostic with `code` starts at `line:character` (0-based) and ends on the same line. */
function at(code: DiagnosticCode, file: string, line: number, character: number, endCharacter?: number): (v: WorkspaceValidation) => string | undefined {
  return (v) => {
    const d = v.diagnostics.find((x) => x.code === code && x.file.endsWith(file));
    if (!d) return `no ${code} in ${file}`;
    const r = d.range;
    if (r.start.line !== line || r.start.character !== character) return `${code} starts at ${r.start.line}:${r.start.character}, expected ${line}:${character}`;
    if (endCharacter !== undefined && (r.end.line !== line || r.end.character !== endCharacter)) return `${code} ends at ${r.end.line}:${r.end.character}, expected ${line}:${endCharacter}`;
    return undefined;
  };
}

export function corpusCases(): CorpusCase[] {
  const oneMb = 1024 * 1024;
  const [head, tail] = RULES_OK.split('greet:\n') as [string, string];
  // "café" saved as Latin-1, and two bytes that are never UTF-8, inside a description.
  const bad = Buffer.concat([Buffer.from(`${head}greet:\n    description: caf`), Buffer.from([0xe9, 0x20, 0xff, 0xfe]), Buffer.from(`\n${tail}`)]);
  return [
    // ---------------------------------------------------------------- YAML
    { name: 'yaml-alias-bomb', files: { 'composition_rules.yaml': billionLaughs(9, 9) }, codes: ['yaml-syntax'] },
    {
      name: 'yaml-alias-count',
      files: { 'composition_rules.yaml': `version: 1\nx: &a 1\ny: [${Array(150).fill('*a').join(', ')}]\ncompositions: {}\n` },
      codes: ['yaml-syntax'],
    },
    { name: 'yaml-10mb', files: { 'composition_rules.yaml': tenMegabytes(), 'templates/hello.hbs': 'Hi' }, codes: ['yaml-syntax'] },
    { name: 'yaml-deep-500', files: { 'composition_rules.yaml': deepBlock(500) }, codes: ['yaml-syntax'] },
    { name: 'yaml-deep-500-flow', files: { 'composition_rules.yaml': `version: 1\nx: ${'['.repeat(500)}${']'.repeat(500)}\n` }, codes: ['yaml-syntax'] },
    {
      name: 'yaml-line-1mb',
      files: { 'composition_rules.yaml': RULES_OK.replace('greet:', `greet:\n    description: ${'x'.repeat(oneMb)}`), 'templates/hello.hbs': HELLO },
      codes: [],
      render: { template: 'hello', context: { name: 'Ada' }, text: (t) => (t === 'Hello Ada' ? undefined : `rendered ${JSON.stringify(t.slice(0, 40))}`) },
    },
    {
      name: 'yaml-line-1mb-name',
      files: { 'composition_rules.yaml': rules(stepsFor(['a'.repeat(oneMb)])), 'templates/aaa.hbs': 'x {{name}}' },
      codes: ['unknown-template'],
      check: (v) => (v.diagnostics.some((d) => d.message.length > 5000) ? 'a message longer than 5,000 characters' : undefined),
    },
    { name: 'yaml-invalid-utf8', files: { 'composition_rules.yaml': bad, 'templates/hello.hbs': HELLO }, codes: ['yaml-syntax'] },
    { name: 'yaml-nul', files: { 'composition_rules.yaml': `${RULES_OK}\u0000\nx: "a\u0000b"\n`, 'templates/hello.hbs': HELLO }, codes: ['yaml-syntax'] },
    { name: 'yaml-bom', files: { 'composition_rules.yaml': '\uFEFF' + RULES_OK, 'templates/hello.hbs': HELLO }, codes: [] },
    {
      name: 'yaml-bom-error',
      files: { 'composition_rules.yaml': '\uFEFF' + RULES_OK.replace('template: hello', 'template: nope'), 'templates/hello.hbs': HELLO },
      codes: ['unknown-template'],
      // The mark is not content: the same position as without it (line 6, `nope` at column 19).
      check: at('unknown-template', 'composition_rules.yaml', 6, 18, 22),
    },
    { name: 'yaml-crlf', files: { 'composition_rules.yaml': RULES_OK.replace(/\n/g, '\r\n'), 'templates/hello.hbs': HELLO.replace(/\n/g, '\r\n') }, codes: [] },
    {
      name: 'yaml-crlf-error',
      files: { 'composition_rules.yaml': RULES_OK.replace('template: hello', 'template: nope').replace(/\n/g, '\r\n'), 'templates/hello.hbs': HELLO },
      codes: ['unknown-template'],
      check: at('unknown-template', 'composition_rules.yaml', 6, 18, 22),
    },
    {
      name: 'yaml-mixed-eol',
      files: {
        'composition_rules.yaml': RULES_OK.split('\n').map((l, i) => l + (i % 2 ? '\r\n' : '\n')).join('').replace('template: hello', 'template: nope'),
        'templates/hello.hbs': 'Hello\r\n{{name}}\n',
      },
      codes: ['unknown-template'],
      check: at('unknown-template', 'composition_rules.yaml', 6, 18, 22),
    },
    {
      name: 'yaml-lone-cr',
      files: { 'composition_rules.yaml': RULES_OK.replace('template: hello', 'template: nope').replace(/\n/g, '\r'), 'templates/hello.hbs': HELLO },
      codes: ['unknown-template'],
      // Editors (and LSP) end a line at a lone CR too.
      check: at('unknown-template', 'composition_rules.yaml', 6, 18, 22),
    },
    { name: 'yaml-tabs', files: { 'composition_rules.yaml': RULES_OK.replace('    steps:', '\tsteps:'), 'templates/hello.hbs': HELLO }, codes: ['yaml-syntax'] },
    {
      name: 'yaml-duplicate-keys',
      files: {
        'composition_rules.yaml': `version: 1\nversion: 1\ncompositions:\n  greet:\n    inputs: { required: [name] }\n    steps:\n      - id: hello\n        template: hello\n        template: hello\n  greet:\n    steps: []\n`,
        'templates/hello.hbs': HELLO,
      },
      codes: ['schema'],
    },
    {
      name: 'yaml-proto-keys',
      files: {
        'composition_rules.yaml': `version: 1
__proto__: { polluted: yes }
constructor: { prototype: { polluted: yes } }
prototype: { polluted: yes }
compositions:
  __proto__:
    steps:
      - id: __proto__
        template: hello
        context: { __proto__: { polluted: 1 }, constructor: { prototype: { isAdmin: true } } }
  constructor: { steps: [ { id: constructor, template: hello } ] }
  prototype: { __proto__: 1, steps: [] }
`,
        'service_mappings.yaml': `version: 1\nservices:\n  __proto__: { primary_templates: [hello] }\n  constructor: { primary_templates: [__proto__] }\n  s:\n    primary_templates: [hello]\n    __proto__: { polluted: 1 }\n`,
        'templates/hello.hbs': HELLO,
      },
      codes: ['schema'],
    },
    {
      name: 'yaml-nonstring-keys',
      files: {
        'composition_rules.yaml': `version: 1\n1: 2\n? [a, b]\n: c\n? { x: 1 }\n: d\nnull: 3\ntrue: 4\ncompositions:\n  123:\n    steps:\n      - id: 5\n        template: 6\n        depends_on: [null, 7, { a: 1 }]\n  ? [x]\n  : { steps: [] }\n`,
      },
      codes: ['schema'],
    },
    {
      name: 'yaml-numbers-nulls-as-names',
      files: {
        'composition_rules.yaml': `version: 1\ncompositions:\n  c:\n    steps:\n      - id: ~\n        template: null\n        model: 12\n      - id: 3.5\n        template: [a]\n        depends_on: 7\n      - id: .inf\n        template: 0x1F\n`,
        'service_mappings.yaml': `version: 1\nservices:\n  s:\n    primary_templates: [1, null, 2.5, { a: 1 }]\n    compositions: [~]\n    fallback: { template: 0 }\n`,
      },
      codes: ['schema'],
    },
    { name: 'yaml-empty', files: { 'composition_rules.yaml': '', 'service_mappings.yaml': '' }, codes: [] },
    { name: 'yaml-only-comments', files: { 'composition_rules.yaml': '# nothing here\n\n   \n# at all\n' }, codes: [] },
    { name: 'yaml-multi-document', files: { 'composition_rules.yaml': `${RULES_OK}---\n${RULES_OK}`, 'templates/hello.hbs': HELLO }, codes: ['yaml-syntax'] },
    {
      name: 'yaml-many-unknown-keys',
      files: { 'composition_rules.yaml': rules(`      - id: a\n        template: hello\n${Array.from({ length: 5000 }, (_, i) => `        k${i}: v\n`).join('')}`), 'templates/hello.hbs': HELLO },
      codes: ['schema'],
      check: (v) => (v.diagnostics.length > 1100 ? `${v.diagnostics.length} diagnostics: the per-file cap did not apply` : undefined),
    },
    {
      name: 'yaml-huge-list',
      files: { 'composition_rules.yaml': rules(Array(20_000).fill('      - 5\n').join('')) },
      codes: ['yaml-syntax'],
    },
    {
      name: 'yaml-many-top-keys',
      files: { 'composition_rules.yaml': `version: 1\n${Array.from({ length: 40_000 }, (_, i) => `k${i}: v\n`).join('')}` },
      codes: ['yaml-syntax'],
    },

    // ---------------------------------------------------------------- templates
    { name: 'tpl-unclosed-block', files: { 'composition_rules.yaml': rules(stepsFor(['t'])), 'templates/t.hbs': '{{#if name}}\n  {{#each items}}\n{{name}}' }, codes: ['template-syntax'] },
    {
      name: 'tpl-self-partial',
      files: { 'composition_rules.yaml': rules(stepsFor(['t'])), 'templates/t.hbs': 'Hi {{name}} {{> t}}' },
      codes: [],
      render: { template: 't', context: { name: 'x' }, code: 'limit_exceeded' },
    },
    {
      name: 'tpl-mutual-partials',
      files: { 'composition_rules.yaml': rules(stepsFor(['a'])), 'templates/a.hbs': 'A {{name}} {{> b}}', 'templates/b.hbs': 'B {{> a}}' },
      codes: [],
      render: { template: 'a', context: { name: 'x' }, code: 'limit_exceeded' },
    },
    { name: 'tpl-1mb-dense', files: { 'composition_rules.yaml': rules(stepsFor(['big'])), 'templates/big.hbs': bigTemplate(oneMb, 20_000) }, codes: ['template-syntax'] },
    {
      name: 'tpl-1mb-prose',
      files: { 'composition_rules.yaml': rules(stepsFor(['big'])), 'templates/big.hbs': bigTemplate(oneMb, 200) },
      codes: [],
      render: { template: 'big', context: { name: 'Ada' }, text: (t) => (t.length > 1_000_000 && t.includes('Ada') ? undefined : `rendered ${t.length} characters`) },
    },
    {
      name: 'tpl-huge-output',
      files: { 'composition_rules.yaml': rules(stepsFor(['boom']), '').replace('required: [name]', 'required: [name, items, big]'), 'templates/boom.hbs': '{{name}}{{#each items}}{{../big}}{{/each}}' },
      codes: [],
      // 100,000 x 100,000 characters: 10 GB if nothing stopped it.
      render: { template: 'boom', context: { name: 'x', items: new Array(100_000).fill(0), big: 'y'.repeat(100_000) }, code: 'limit_exceeded' },
    },
    {
      name: 'tpl-nested-each',
      files: {
        'composition_rules.yaml': rules(stepsFor(['nested'])).replace('required: [name]', 'required: [a, b, c]'),
        'templates/nested.hbs': 'Nothing to write:{{#each a}}{{#each ../b}}{{#each ../../c}}{{/each}}{{/each}}{{/each}}',
      },
      codes: [],
      // 2,000 x 2,000 x 2,000 = 8e9 iterations that write nothing: minutes of CPU if nothing stopped it.
      render: {
        template: 'nested',
        get context() {
          return nestedLists(2000);
        },
        code: 'render_budget_exceeded',
      },
    },
    {
      name: 'tpl-huge-each-silent',
      files: {
        'composition_rules.yaml': rules(stepsFor(['silent'])).replace('required: [name]', 'required: [name, items]'),
        'templates/silent.hbs': '{{name}}{{#each items}}{{/each}}',
      },
      codes: [],
      // 5,000,000 iterations that write nothing: the output limit never sees them. (Built when read: other suites never do.)
      render: {
        template: 'silent',
        get context() {
          return silentList(5_000_000);
        },
        code: 'render_budget_exceeded',
      },
    },
    {
      name: 'tpl-nested-json',
      files: { 'composition_rules.yaml': rules(stepsFor(['nested_json'])), 'templates/nested_json.hbs': `Record: {{${'json ('.repeat(39)}json name${')'.repeat(39)}}}` },
      codes: [],
      // Each json escapes the quotes and backslashes of the one inside: the text doubles at each of 40 levels.
      render: { template: 'nested_json', context: { name: 'a "quoted" name' }, code: 'limit_exceeded' },
    },
    { name: 'tpl-invalid-utf8', files: { 'composition_rules.yaml': rules(stepsFor(['t'])), 'templates/t.hbs': Buffer.from([0x48, 0x69, 0x20, 0xe9, 0x7b, 0x7b, 0x6e, 0x61, 0x6d, 0x65, 0x7d, 0x7d]) }, codes: ['template-syntax'] },
    { name: 'tpl-nul', files: { 'composition_rules.yaml': rules(stepsFor(['t'])), 'templates/t.hbs': 'Hi\u0000{{name}}' }, codes: ['template-syntax'] },
    {
      name: 'tpl-bom',
      files: { 'composition_rules.yaml': rules(stepsFor(['t'])), 'templates/t.hbs': '\uFEFFHi {{name}}' },
      codes: [],
      render: { template: 't', context: { name: 'Ada' }, text: (t) => (t === 'Hi Ada' ? undefined : `rendered ${JSON.stringify(t)}`) },
    },
    {
      name: 'tpl-crlf-error',
      files: { 'composition_rules.yaml': rules(stepsFor(['t'])), 'templates/t.hbs': 'line one\r\nline two\r\n  {{#if name}}\r\n' },
      codes: ['template-syntax'],
      check: at('template-syntax', 't.hbs', 2, 2),
    },

    // ---------------------------------------------------------------- names and the templates root
    {
      name: 'name-dotdot',
      files: { 'composition_rules.yaml': rules(stepsFor(['../outside/secret', 'a/../../outside/secret', 'ok/../../../x'])), 'templates/ok.hbs': 'x' },
      codes: ['template-outside-root'],
      notCodes: ['schema'],
    },
    { name: 'name-absolute', files: { 'composition_rules.yaml': rules(stepsFor(['/etc/passwd', '"C:/Windows/x"'])) }, codes: ['template-outside-root'], notCodes: ['schema'] },
    { name: 'name-backslash', files: { 'composition_rules.yaml': rules(stepsFor(['"a\\\\..\\\\..\\\\outside\\\\secret"', '"\\\\\\\\server\\\\share"'])) }, codes: ['template-outside-root'], notCodes: ['schema'] },
    {
      name: 'partial-outside',
      files: { 'composition_rules.yaml': rules(stepsFor(['t'])), 'templates/t.hbs': '{{name}} {{> ../outside/secret}} {{> "/etc/passwd"}}' },
      codes: ['template-outside-root'],
    },
    {
      name: 'symlink-out',
      files: { 'composition_rules.yaml': rules(stepsFor(['leak', 'linked/secret'])), 'templates/real.hbs': '{{name}}' },
      links: [
        { path: 'templates/leak.hbs', target: '../../outside/secret.hbs' },
        { path: 'templates/linked', target: '../../outside' },
      ],
      codes: ['template-outside-root'],
    },
    {
      name: 'templates-root-is-link',
      // A templates folder reached through a link: its own files are its templates; a link inside it that leaves it is not.
      files: { 'composition_rules.yaml': rules(stepsFor(['t', 'up'])), 'real/t.hbs': '{{name}}' },
      links: [
        { path: 'templates', target: 'real' },
        { path: 'real/up.hbs', target: '../../outside/secret.hbs' },
      ],
      codes: ['template-outside-root'],
    },
  ];
}

export interface WrittenCorpus {
  root: string;
  outside: string;
  dirs: Map<string, string>;
  /** Cases that could not be written here (no symlinks on this system). */
  skipped: string[];
  remove(): void;
}

/** Writes every case into a fresh temporary folder. */
export function writeCorpus(cases: CorpusCase[] = corpusCases()): WrittenCorpus {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-corpus-'));
  const outside = path.join(root, 'outside');
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'secret.hbs'), `${OUTSIDE_SECRET} {{name}}`);
  const dirs = new Map<string, string>();
  const skipped: string[] = [];
  for (const c of cases) {
    const dir = path.join(root, c.name);
    fs.mkdirSync(dir);
    for (const [rel, content] of Object.entries(c.files)) {
      const f = path.join(dir, rel);
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, content);
    }
    try {
      for (const l of c.links ?? []) {
        const p = path.join(dir, l.path);
        fs.mkdirSync(path.dirname(p), { recursive: true });
        fs.symlinkSync(l.target, p);
      }
    } catch {
      skipped.push(c.name);
      fs.rmSync(dir, { recursive: true, force: true });
      continue;
    }
    dirs.set(c.name, dir);
  }
  return { root, outside, dirs, skipped, remove: () => fs.rmSync(root, { recursive: true, force: true }) };
}
