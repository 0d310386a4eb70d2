/**
 * Comments that say something true to whoever reads them next:
 * - no lint directive (`eslint-disable...`) while the project has no linter: it silences
 *   nothing and tells the reader a rule is in force that is not;
 * - no tracker reference ("issue 12", "issue 14.9") in the documents or the code: the tracker
 *   is not in the repository, so the number means nothing to a user or to the next engineer;
 *   say what the code is for instead;
 * - no declaration with two doc comments: the first one was written for another declaration
 *   and now documents the wrong one (editors show only the last).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { REPO } from '../helpers/paths.js';
import { parseSource, ts, tsFilesUnder, type TS } from '../helpers/typescript.js';

/** Folders never read: dependencies, build output, caches. */
const SKIP = new Set(['node_modules', 'dist', 'out', '.git', '.cache', 'test-results', '.vscode-test', '.generated']);
/**
 * A dated log of measurements, where a figure names the change it was measured for; not a
 * document a user reads for how things are.
 */
const LOGS = new Set(['bench/RESULTS.md']);

/** The repository's code and documents, relative to its root. */
function codeAndDocs(): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(REPO, rel), { withFileTypes: true })) {
      if (SKIP.has(e.name)) continue;
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(child);
      else if (/\.(ts|mts|cts|js|mjs|cjs|md)$/.test(e.name) && !LOGS.has(child)) out.push(child);
    }
  };
  walk('');
  return out.sort();
}

/** `file:line: text` of every line matching `re`. */
function grep(files: string[], re: RegExp): string[] {
  const hits: string[] = [];
  for (const f of files) {
    fs.readFileSync(path.join(REPO, f), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (re.test(line)) hits.push(`${f}:${i + 1}: ${line.trim()}`);
      });
  }
  return hits;
}

test('no lint directive while the project has no linter', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
  const deps = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies });
  const files = codeAndDocs();
  assert.ok(files.includes('server/main.ts') && files.includes('README.md'), 'the walk reads the tree');
  const directives = grep(
    files.filter((f) => !f.endsWith('.md') && f !== 'test/repository/comments.test.ts'),
    /(\/\/|\/\*)\s*eslint-(disable|enable)/,
  );
  const linted = deps.some((d) => d === 'eslint' || d.startsWith('@typescript-eslint/'));
  assert.ok(linted || directives.length === 0, `the project has no eslint, so these comments silence nothing; remove them (or say why in words):\n${directives.join('\n')}`);
});

test('no tracker reference ("issue N") in the documents or the code', () => {
  const hits = grep(
    codeAndDocs().filter((f) => f !== 'test/repository/comments.test.ts'),
    /\bissues?\s+#?\d/i,
  );
  assert.deepEqual(hits, [], 'the tracker is not in the repository: say what the code or the figure is for instead of its issue number');
});

/**
 * Being split by their owner in the same round, who fixes their doc comments; the check covers
 * the files the split makes.
 */
const BEING_SPLIT = new Set(['core/yaml/parse.ts', 'core/validate/validateWorkspace.ts']);

/** `file:line: name` of every declaration that carries more than one doc comment (a file's own header above its first statement aside). */
function doubleDocComments(file: string, sf: TS.SourceFile): string[] {
  const out: string[] = [];
  const first = sf.statements[0];
  const visit = (n: TS.Node): void => {
    const docs = (n as { jsDoc?: TS.JSDoc[] }).jsDoc ?? [];
    // A file's header comment attaches to its first statement: it documents the file.
    const own = n === first && docs.length > 0 && sf.text.slice(0, docs[0]!.getStart(sf)).trim() === '' ? docs.slice(1) : docs;
    if (own.length > 1) {
      const line = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
      const named = ts.isVariableStatement(n) ? n.declarationList.declarations[0] : n;
      const name = (named as { name?: TS.Node }).name?.getText(sf) ?? ts.SyntaxKind[n.kind];
      out.push(`${file}:${line}: ${name}`);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

test('no declaration carries two doc comments (the first one documents the wrong declaration)', () => {
  const files = tsFilesUnder('core', 'cli', 'server', 'client', 'protocol', 'test').filter((f) => !BEING_SPLIT.has(f));
  assert.ok(files.includes('protocol/protocol.ts'));
  const found = files.flatMap((f) => doubleDocComments(f, parseSource(f)));
  assert.deepEqual(found, [], 'move each stray doc comment to the declaration it describes, or delete it');
  // The check finds one, and leaves a file header alone.
  const sample = '/** The file. */\n\n/** The first. */\nexport const a = 1;\n/** Meant for b. */\n/** About c. */\nexport const c = 2;\n';
  assert.deepEqual(doubleDocComments('x.ts', parseSource('x.ts', sample)), ['x.ts:7: c']);
});
