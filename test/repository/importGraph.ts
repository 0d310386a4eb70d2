/**
 * Every import of a tree's TypeScript sources, read with TypeScript's own parser so that no form
 * escapes: `import` and `import type`, `export ... from`, `import x = require()`, dynamic
 * `import()`, `require()` and `import('...')` types. Relative specifiers are resolved to a
 * path relative to the tree's root; for test/repository/boundaries.test.ts.
 */
import * as fs from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import * as path from 'node:path';
import type * as TS from 'typescript';
import { REPO } from '../helpers/paths.js';

// Loaded at run time rather than bundled into the test (the devDependency is 9 MB).
const ts = createRequire(path.join(REPO, 'package.json'))('typescript') as typeof TS;

export interface ImportEdge {
  /** The importing file, relative to the root, with `/` separators. */
  file: string;
  /** One-based. */
  line: number;
  /** As written. */
  specifier: string;
  /** For a relative specifier: the module it names, relative to the root (`core/errors.js`), which may lie outside the root (`../x.js`). */
  target?: string;
  /** For a bare specifier: the package (`vscode-languageserver`, `@scope/name`), or `node:` plus the name for a Node builtin. */
  packageName?: string;
  /** Set when the specifier is not a string literal (`require(name)`): the check cannot follow it. */
  dynamic?: boolean;
}

const BUILTINS = new Set(builtinModules);

function packageOf(specifier: string): string {
  if (specifier.startsWith('node:')) return specifier;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  return BUILTINS.has(name) ? `node:${name}` : name;
}

/** The `.ts` files under `dirs` of `root` (declaration files included), relative to `root`. */
export function sourceFiles(root: string, dirs: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const abs = path.join(root, rel);
    if (!fs.existsSync(abs)) return;
    for (const e of fs.readdirSync(abs, { withFileTypes: true })) {
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(child);
      else if (/\.(c|m)?ts$/.test(e.name)) out.push(child);
    }
  };
  for (const d of dirs) walk(d);
  return out.sort();
}

/** The imports of one file (`file` relative to `root`). */
export function importsOf(root: string, file: string): ImportEdge[] {
  const text = fs.readFileSync(path.join(root, file), 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const edges: ImportEdge[] = [];
  const add = (node: TS.Node, spec: TS.Node | undefined) => {
    const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
    if (!spec || !ts.isStringLiteralLike(spec)) {
      edges.push({ file, line, specifier: spec ? spec.getText(sf) : '', dynamic: true });
      return;
    }
    const specifier = spec.text;
    if (specifier.startsWith('.') || specifier.startsWith('/')) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
      edges.push({ file, line, specifier, target });
    } else edges.push({ file, line, specifier, packageName: packageOf(specifier) });
  };
  const visit = (node: TS.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) {
      if (node.moduleSpecifier) add(node, node.moduleSpecifier);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, node.moduleReference.expression);
    } else if (ts.isCallExpression(node) && (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require'))) {
      add(node, node.arguments[0]);
    } else if (ts.isImportTypeNode(node)) {
      const arg = node.argument;
      add(node, ts.isLiteralTypeNode(arg) ? arg.literal : arg);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return edges;
}
