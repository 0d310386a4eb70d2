/**
 * The configuration files' names are spelled once in the code: the core's
 * constants (core/workspace/discover.ts), with copies where the core cannot be imported (the
 * client's in protocol/configFiles.ts, the benchmarks' in bench/configFiles.mjs) and in
 * package.json, all held equal here. Every other string in core/, cli/, server/, client/,
 * protocol/ and bench/ that would spell a name (a message, a glob, a path) uses a constant.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { test } from 'node:test';
import type * as TS from 'typescript';
// @ts-ignore: a plain ES module of the benchmarks (as test/load/load.test.ts imports one)
import * as benchNames from '../../bench/configFiles.mjs';
import { COMPOSITION_RULES_FILE, CONFIG_FILE_NAMES, PROMPT_TESTS_DIR, PROMPT_TESTS_FILE, SERVICE_MAPPINGS_FILE } from '../../core/workspace/discover.js';
import * as protocolNames from '../../protocol/configFiles.js';
import { REPO } from '../helpers/paths.js';

const ts = createRequire(path.join(REPO, 'package.json'))('typescript') as typeof TS;

/** Where the names may be written out: the constants themselves. */
const CONSTANT_MODULES = ['core/workspace/discover.ts', 'protocol/configFiles.ts', 'bench/configFiles.mjs'];
const CODE_DIRS = ['core', 'cli', 'server', 'client', 'protocol', 'bench'];

interface Manifest {
  activationEvents: string[];
  contributes: {
    yamlValidation: { fileMatch: string; url: string }[];
    menus: Record<string, { when?: string }[]>;
  };
}
const manifest = (): Manifest => JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as Manifest;

test("the client's and the benchmarks' names are the core's", () => {
  assert.deepEqual(CONFIG_FILE_NAMES, ['service_mappings.yaml', 'composition_rules.yaml']);
  assert.deepEqual([SERVICE_MAPPINGS_FILE, COMPOSITION_RULES_FILE], CONFIG_FILE_NAMES);
  assert.deepEqual({ ...protocolNames }, { SERVICE_MAPPINGS_FILE, COMPOSITION_RULES_FILE, PROMPT_TESTS_FILE, PROMPT_TESTS_DIR });
  assert.deepEqual({ ...benchNames }, { SERVICE_MAPPINGS_FILE, COMPOSITION_RULES_FILE });
});

test("package.json's activation events, schema associations and menu conditions name the core's files", () => {
  const pkg = manifest();
  const watched = pkg.activationEvents.filter((e) => e.startsWith('workspaceContains:')).map((e) => e.slice('workspaceContains:'.length));
  assert.deepEqual(watched, CONFIG_FILE_NAMES.map((n) => `**/${n}`));
  // The two configuration files, then the prompt test files (beside them and below their folder).
  const testsSchema = `./schemas/${PROMPT_TESTS_FILE.replace(/\.yaml$/, '')}.schema.json`;
  assert.deepEqual(pkg.contributes.yamlValidation, [
    ...CONFIG_FILE_NAMES.map((n) => ({ fileMatch: n, url: `./schemas/${n.replace(/\.yaml$/, '')}.schema.json` })),
    { fileMatch: PROMPT_TESTS_FILE, url: testsSchema },
    { fileMatch: `**/${PROMPT_TESTS_DIR}/**/*.yaml`, url: testsSchema },
  ]);
  const conditions = Object.values(pkg.contributes.menus)
    .flat()
    .flatMap((m) => [...(m.when ?? '').matchAll(/resourceFilename == ([^\s)&|]+)/g)].map((x) => x[1]!));
  assert.ok(conditions.length > 0, 'the menus have conditions on a file name');
  for (const c of conditions) assert.ok((CONFIG_FILE_NAMES as readonly string[]).includes(c), `a menu's when clause names ${c}, not a configuration file`);
});

/** Every file of the code (TypeScript and the benchmarks' JavaScript), relative to the root. */
function codeFiles(): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(REPO, rel), { withFileTypes: true })) {
      const child = `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && !e.name.startsWith('.')) walk(child);
      } else if (/\.(ts|mts|mjs|js)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(child);
    }
  };
  for (const d of CODE_DIRS) walk(d);
  return out.sort();
}

/** The strings of a file (literals, template parts, regular expressions) that hold a configuration file's name, with their lines. */
function namesSpelledIn(file: string): { line: number; text: string }[] {
  const text = fs.readFileSync(path.join(REPO, file), 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, /\.(mjs|js)$/.test(file) ? ts.ScriptKind.JS : ts.ScriptKind.TS);
  const hits: { line: number; text: string }[] = [];
  const visit = (n: TS.Node) => {
    if (ts.isStringLiteralLike(n) || ts.isTemplateLiteralToken(n) || ts.isRegularExpressionLiteral(n)) {
      const t = ts.isRegularExpressionLiteral(n) ? n.text.replace(/\\\./g, '.') : n.text;
      if (CONFIG_FILE_NAMES.some((name) => t.includes(name))) hits.push({ line: sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1, text: t });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return hits;
}

test('no code outside the constants spells a configuration file name', () => {
  const files = codeFiles();
  assert.ok(files.length > 100 && files.includes('bench/generate.mjs') && files.includes('client/extension.ts'), 'the scan sees the code');
  const found = files.filter((f) => !CONSTANT_MODULES.includes(f)).flatMap((f) => namesSpelledIn(f).map((h) => `${f}:${h.line}: ${JSON.stringify(h.text)}`));
  assert.deepEqual(found, [], 'use SERVICE_MAPPINGS_FILE / COMPOSITION_RULES_FILE (core/workspace/discover.ts; protocol/configFiles.ts in the client; bench/configFiles.mjs in the benchmarks)');
  for (const m of CONSTANT_MODULES) assert.equal(namesSpelledIn(m).length, 2, `${m} spells each name once`);
});

test('the scan finds a name in a message, a template, a glob and a regular expression', () => {
  const dir = fs.mkdtempSync(path.join(REPO, 'out', 'names-'));
  const rel = path.relative(REPO, path.join(dir, 'probe.ts')).split(path.sep).join('/');
  try {
    fs.writeFileSync(
      path.join(dir, 'probe.ts'),
      [
        "// service_mappings.yaml in a comment is fine",
        "const a = 'no composition_rules.yaml here';",
        'const b = `${a} and service_mappings.yaml`;',
        "const c = ['**/composition_rules.yaml'];",
        'const d = /service_mappings\\.yaml$/;',
        "const e = 'templates/x.hbs';",
      ].join('\n'),
    );
    assert.deepEqual(
      namesSpelledIn(rel).map((h) => h.line),
      [2, 3, 4, 5],
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
