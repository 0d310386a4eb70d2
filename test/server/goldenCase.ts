/**
 * The case format of the golden tests over the real server (quickfixes.test.ts,
 * completions.test.ts): a prompt workspace written as `-- path --` sections, one `<|>` cursor in
 * one of its files, and `# ` comment lines on top that say what the case shows. A comment line
 * `# name: value`, for a name the test declares, is a directive instead (`# code: X`).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Position } from 'vscode-languageserver-protocol';

export const CURSOR = '<|>';

export interface GoldenCase {
  name: string;
  /** The comment lines, without `# `. */
  about: string[];
  directives: Map<string, string>;
  /** Relative path -> text, the cursor taken out. */
  files: Map<string, string>;
  cursorFile: string;
  cursor: Position;
}

export function parseCase(name: string, text: string, directiveNames: readonly string[] = []): GoldenCase {
  const about: string[] = [];
  const directives = new Map<string, string>();
  const files = new Map<string, string>();
  let current: string | undefined;
  let cursorFile: string | undefined;
  let cursor: Position | undefined;
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (const line of lines) {
    const header = /^-- (.+) --$/.exec(line);
    if (header) {
      current = header[1]!;
      files.set(current, '');
      continue;
    }
    if (current === undefined) {
      const directive = /^# ([a-z-]+): (\S+)$/.exec(line);
      if (directive && directiveNames.includes(directive[1]!)) directives.set(directive[1]!, directive[2]!);
      else if (line.startsWith('#')) about.push(line.replace(/^# ?/, ''));
      continue;
    }
    let l = line;
    const at = l.indexOf(CURSOR);
    if (at !== -1) {
      assert.equal(cursor, undefined, `${name}: one cursor per case`);
      cursorFile = current;
      cursor = { line: files.get(current)!.split('\n').length - 1, character: at };
      l = l.slice(0, at) + l.slice(at + CURSOR.length);
    }
    files.set(current, files.get(current)! + l + '\n');
  }
  assert.ok(cursorFile && cursor, `${name}: no ${CURSOR} cursor`);
  return { name, about, directives, files, cursorFile, cursor };
}

/** Writes the case's files into a fresh temporary folder and returns it. */
export function writeWorkspace(files: Map<string, string>, prefix = 'pm-golden-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  for (const [rel, text] of files) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

/** The case names of a folder (`<name>.case`), sorted. */
export function caseNames(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.case')).map((f) => f.slice(0, -'.case'.length)).sort();
}

/** The golden names of a folder (`<name>.golden`), sorted. */
export function goldenNames(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.golden')).map((f) => f.slice(0, -'.golden'.length)).sort();
}
