/**
 * The `typescript` package, for tests that read the repository's own sources (doc comments,
 * exports, the protocol module's declarations). Loaded at run time rather than bundled into
 * the tests: the devDependency is 9 MB.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type * as TS from 'typescript';
import { REPO } from './paths.js';

export const ts = createRequire(path.join(REPO, 'package.json'))('typescript') as typeof TS;
export type { TS };

/** A source file of the repository (`rel` relative to its root), parsed with parent pointers. */
export function parseSource(rel: string, text = fs.readFileSync(path.join(REPO, rel), 'utf8')): TS.SourceFile {
  return ts.createSourceFile(rel, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
}

/** The `.ts` files under `dirs` of the repository (declaration files included), relative to it, sorted. */
export function tsFilesUnder(...dirs: string[]): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(REPO, rel), { withFileTypes: true })) {
      const child = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(child);
      else if (e.name.endsWith('.ts')) out.push(child);
    }
  };
  for (const d of dirs) if (fs.existsSync(path.join(REPO, d))) walk(d);
  return out.sort();
}
