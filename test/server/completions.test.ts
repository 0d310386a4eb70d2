/**
 * Golden files for completion, run over the real server (dist/server.js), as the quick fixes'
 * (quickfixes.test.ts): the same case format (goldenCase.ts), the same regeneration.
 *
 * Each case in test/server/completions/ is a `<name>.case` file: a prompt workspace written as
 * `-- path --` sections with one `<|>` cursor, in a YAML file or a template, and `# ` comment
 * lines on top saying what it shows. The test opens the cursor's file, asks the server for
 * completion there, and renders the list as an editor gets it before filtering: in the order
 * of `sortText` (then label), one line per item with its label, kind, detail and the text it
 * inserts (`(snippet)` when it is a snippet), under the text the items replace. It compares
 * that with `<name>.golden`. `PM_UPDATE_GOLDENS=1` writes the goldens instead (review the diff
 * before you commit it).
 *
 * Besides the golden text, each item's edit must replace a range on the cursor's line that
 * holds the cursor, as LSP requires of a completion's text edit.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { CompletionItemKind, InsertTextFormat, type CompletionItem, type CompletionList, type Position, type Range, type TextEdit } from 'vscode-languageserver-protocol';
import { REPO } from '../helpers/paths.js';
import { caseNames, goldenNames, parseCase, writeWorkspace, type GoldenCase } from './goldenCase.js';
import { LspClient, uri } from './lsp.js';

const CASES = path.join(REPO, 'test', 'server', 'completions');
const UPDATE = process.env.PM_UPDATE_GOLDENS === '1';

const KIND_NAMES = new Map<number, string>(Object.entries(CompletionItemKind).map(([name, n]) => [n as number, name]));

const at = (p: Position) => `${p.line + 1}:${p.character + 1}`;
const before = (a: Position, b: Position) => a.line < b.line || (a.line === b.line && a.character <= b.character);

function textOf(text: string, r: Range): string {
  const lines = text.split('\n');
  if (r.start.line !== r.end.line) return '<several lines>';
  return lines[r.start.line]!.slice(r.start.character, r.end.character);
}

function render(c: GoldenCase, list: CompletionList): { text: string; broken: string[] } {
  const out: string[] = [];
  const broken: string[] = [];
  const text = c.files.get(c.cursorFile)!;
  for (const a of c.about) out.push(`# ${a}`);
  out.push(`completion at ${c.cursorFile}:${at(c.cursor)}${list.isIncomplete ? ' (incomplete)' : ''}`);
  const items = [...list.items].sort((a, b) => {
    const sa = a.sortText ?? a.label;
    const sb = b.sortText ?? b.label;
    return sa < sb ? -1 : sa > sb ? 1 : a.label < b.label ? -1 : a.label > b.label ? 1 : 0;
  });
  if (!items.length) out.push('', 'no completion');
  const ranges = new Set<string>();
  for (const it of items) {
    const edit = it.textEdit as TextEdit | undefined;
    if (edit && 'range' in edit) {
      ranges.add(`${at(edit.range.start)}-${at(edit.range.end)} '${textOf(text, edit.range)}'`);
      const r = edit.range;
      if (r.start.line !== c.cursor.line || r.end.line !== c.cursor.line || !before(r.start, c.cursor) || !before(c.cursor, r.end)) {
        broken.push(`${c.name}: '${it.label}' edits ${at(r.start)}-${at(r.end)}, which does not hold the cursor ${at(c.cursor)} on its line`);
      }
    }
  }
  // The items of one list replace the same text (the word at the cursor): say it once.
  if (ranges.size === 1) out.push(`replaces ${[...ranges][0]}`);
  if (items.length) out.push('');
  for (const it of items) out.push(line(it, text, ranges.size > 1));
  return { text: out.join('\n') + '\n', broken };
}

function line(it: CompletionItem, text: string, showRange: boolean): string {
  const edit = it.textEdit as TextEdit | undefined;
  const inserted = edit?.newText ?? it.insertText ?? it.label;
  const parts = [it.label, `(${it.kind !== undefined ? KIND_NAMES.get(it.kind) : 'no kind'})`];
  if (it.detail) parts.push(it.detail);
  let s = parts.join(' ');
  s += ` => ${JSON.stringify(inserted)}${it.insertTextFormat === InsertTextFormat.Snippet ? ' (snippet)' : ''}`;
  if (showRange && edit && 'range' in edit) s += ` at ${at(edit.range.start)}-${at(edit.range.end)} '${textOf(text, edit.range)}'`;
  if (it.filterText && it.filterText !== it.label) s += ` filter ${JSON.stringify(it.filterText)}`;
  return s;
}

const names = caseNames(CASES);

test('completions: every case has its golden file, and every golden its case', () => {
  assert.ok(names.length >= 25, `${names.length} cases`);
  if (!UPDATE) assert.deepEqual(goldenNames(CASES), names, 'run with PM_UPDATE_GOLDENS=1 to write the missing goldens');
});

test('completions: each case gives its golden list over the real server', async () => {
  const cases = names.map((n) => parseCase(n, fs.readFileSync(path.join(CASES, `${n}.case`), 'utf8')));
  const dirs = cases.map((c) => writeWorkspace(c.files, 'pm-cmp-'));
  const client = await LspClient.start({ folders: dirs });
  const failures: string[] = [];
  try {
    for (const [i, c] of cases.entries()) {
      const file = path.join(dirs[i]!, c.cursorFile);
      await client.open(file, c.files.get(c.cursorFile));
      const list = await client.request<CompletionList | CompletionItem[] | null>('textDocument/completion', { textDocument: { uri: uri(file) }, position: c.cursor });
      const normal: CompletionList = Array.isArray(list) ? { isIncomplete: false, items: list } : (list ?? { isIncomplete: false, items: [] });
      const { text: got, broken } = render(c, normal);
      failures.push(...broken);
      const goldenFile = path.join(CASES, `${c.name}.golden`);
      if (UPDATE) fs.writeFileSync(goldenFile, got);
      else if (!fs.existsSync(goldenFile)) failures.push(`${c.name}: no golden file`);
      else if (fs.readFileSync(goldenFile, 'utf8') !== got) failures.push(`${c.name}: differs from its golden\n--- expected\n${fs.readFileSync(goldenFile, 'utf8')}--- got\n${got}`);
      await client.close(file);
    }
  } finally {
    await client.stop();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
  assert.deepEqual(failures, [], 'PM_UPDATE_GOLDENS=1 rewrites the goldens');
});
