/**
 * ARCHITECTURE.md names real things. Every name it writes in backticks that looks like one of
 * these must exist, so that a file moved, a function renamed or a request dropped fails
 * `npm test` until the document follows:
 * - a path (`server/server.ts`, `core/yaml/`): its first segment is a top-level entry of the
 *   repository, and the path exists (build output in `dist/` aside);
 * - a file name alone (`limits.ts`): some file of the repository has it;
 * - a function (`validateWorkspace()`, `WorkspaceManager.validate()`): declared in the sources
 *   of the five layers (a method: in a class of that name);
 * - a type or constant (`WorkflowRunner`, `DIAGNOSTIC_CODES`): declared there too;
 * - a `promptManager/*` method: declared by the protocol; a `promptManager.*` command or
 *   setting: contributed by package.json.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { REPO } from '../helpers/paths.js';
import { parseSource, ts, tsFilesUnder, type TS } from '../helpers/typescript.js';

const DOC = 'ARCHITECTURE.md';
const LAYERS = ['core', 'cli', 'server', 'client', 'protocol'];
/** Names from libraries the document may use. */
const LIBRARY_NAMES = new Set(['RequestType']);

/** The backticked spans of a Markdown text, fenced code blocks left out. */
function codeSpans(markdown: string): string[] {
  const spans: string[] = [];
  const prose = markdown.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '');
  for (const m of prose.matchAll(/`([^`\n]+)`/g)) spans.push(m[1]!);
  return spans;
}

/** Every name declared in the layers' sources, and each class's (and interface's) members. */
function declarations(): { names: Set<string>; members: Map<string, Set<string>> } {
  const names = new Set<string>();
  const members = new Map<string, Set<string>>();
  for (const file of tsFilesUnder(...LAYERS)) {
    const visit = (n: TS.Node): void => {
      if ((ts.isFunctionDeclaration(n) || ts.isClassDeclaration(n) || ts.isInterfaceDeclaration(n) || ts.isTypeAliasDeclaration(n) || ts.isEnumDeclaration(n)) && n.name) names.add(n.name.text);
      if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name)) names.add(n.name.text);
      if ((ts.isClassDeclaration(n) || ts.isInterfaceDeclaration(n)) && n.name) {
        const own = members.get(n.name.text) ?? new Set<string>();
        for (const m of n.members) if (m.name && (ts.isIdentifier(m.name) || ts.isStringLiteral(m.name))) own.add(m.name.text);
        members.set(n.name.text, own);
      }
      ts.forEachChild(n, visit);
    };
    visit(parseSource(file));
  }
  return { names, members };
}

function filesNamed(): Set<string> {
  const out = new Set<string>();
  const skip = new Set(['node_modules', 'dist', 'out', '.git', '.cache', 'test-results']);
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(REPO, rel), { withFileTypes: true })) {
      if (skip.has(e.name)) continue;
      if (e.isDirectory()) walk(rel ? `${rel}/${e.name}` : e.name);
      else out.add(e.name);
    }
  };
  walk('');
  return out;
}

/** What each span names that does not exist, as messages. */
function missing(doc: string): { problems: string[]; checked: Record<string, number> } {
  const top = new Set(fs.readdirSync(REPO));
  const { names, members } = declarations();
  const files = filesNamed();
  const protocolText = tsFilesUnder('protocol').map((f) => fs.readFileSync(path.join(REPO, f), 'utf8')).join('\n');
  const methods = new Set([...protocolText.matchAll(/'(promptManager\/\w+)'/g)].map((m) => m[1]!));
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { contributes: { commands: { command: string }[]; configuration: { properties: Record<string, unknown> } } };
  const contributed = new Set([...pkg.contributes.commands.map((c) => c.command), ...Object.keys(pkg.contributes.configuration.properties)]);
  const problems: string[] = [];
  const checked = { paths: 0, files: 0, functions: 0, names: 0, methods: 0, contributions: 0 };
  for (const span of new Set(codeSpans(doc))) {
    if (/\s|[<*]/.test(span)) continue;
    const first = span.split('/')[0]!;
    const call = /^(?:([A-Za-z_$][\w$]*)\.)?([A-Za-z_$][\w$]*)\(\)$/.exec(span);
    if (span.startsWith('promptManager/')) {
      checked.methods++;
      if (!methods.has(span)) problems.push(`\`${span}\`: no such method in protocol/`);
    } else if (span.startsWith('promptManager.')) {
      checked.contributions++;
      if (!contributed.has(span)) problems.push(`\`${span}\`: package.json contributes no such command or setting`);
    } else if (span.includes('/') && top.has(first)) {
      if (first === 'dist') continue;
      checked.paths++;
      if (!fs.existsSync(path.join(REPO, span))) problems.push(`\`${span}\`: no such file or folder`);
    } else if (/^[\w.-]+\.(ts|mjs|js|json|md)$/.test(span) && !span.includes('/')) {
      checked.files++;
      if (!files.has(span) && !top.has(span)) problems.push(`\`${span}\`: no file of that name`);
    } else if (call) {
      checked.functions++;
      const [, owner, fn] = call;
      if (owner ? !members.get(owner!)?.has(fn!) : !names.has(fn!)) problems.push(`\`${span}\`: no ${owner ? `method ${fn} in a class ${owner}` : `function ${fn}`} in ${LAYERS.join('/, ')}/`);
    } else if (/^[A-Z][A-Za-z0-9]*$|^[A-Z][A-Z0-9_]+$/.test(span)) {
      checked.names++;
      if (!names.has(span) && !LIBRARY_NAMES.has(span)) problems.push(`\`${span}\`: declared nowhere in ${LAYERS.join('/, ')}/`);
    }
  }
  return { problems, checked };
}

test('ARCHITECTURE.md: every path, function, type, method and setting it names exists', () => {
  const { problems, checked } = missing(fs.readFileSync(path.join(REPO, DOC), 'utf8'));
  // The check reads what it should: the document names many of each.
  assert.ok(checked.paths >= 30 && checked.functions >= 15 && checked.names >= 10 && checked.methods >= 5 && checked.contributions >= 3, JSON.stringify(checked));
  assert.deepEqual(problems, [], `${DOC} names what no longer exists: update it to the code`);
});

test('ARCHITECTURE.md check: it finds a missing path, function, method and setting', () => {
  const doc = [
    '`server/gone.ts` and `core/text/` and `README.md`',
    '`noSuchFunction()` and `WorkspaceManager.noSuchMethod()` and `WorkspaceManager.validate()`',
    '`NoSuchType` and `WorkflowRunner`',
    '`promptManager/noSuchRequest` and `promptManager/render`',
    '`promptManager.noSuchSetting` and `promptManager.environment`',
    '```',
    '`server/inside-a-fence.ts`',
    '```',
  ].join('\n');
  assert.deepEqual(missing(doc).problems.map((p) => p.split(':')[0]), [
    '`server/gone.ts`',
    '`noSuchFunction()`',
    '`WorkspaceManager.noSuchMethod()`',
    '`NoSuchType`',
    '`promptManager/noSuchRequest`',
    '`promptManager.noSuchSetting`',
  ]);
});
