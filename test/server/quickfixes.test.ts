/**
 * Golden files for the quick fixes, run over the real server (dist/server.js).
 *
 * Each case in test/server/quickfixes/ is a `<name>.case` file: a prompt workspace written as
 * `-- path --` sections, with a `<|>` cursor inside the diagnostic to fix, and `# ` comment
 * lines on top (`# code: X` picks the diagnostic when several cover the cursor). The test asks
 * the server for that diagnostic's code actions and renders each one (title, the lines it
 * changes, the files it creates) and what the validator then says of the fixed workspace, and
 * compares the text with `<name>.golden`. `PM_UPDATE_GOLDENS=1` writes the goldens instead
 * (review the diff before you commit it).
 *
 * Besides the golden text, each fix must fix: the workspace has fewer diagnostics of the
 * fixed code after it, and no new error.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { CodeAction, Diagnostic, Position, TextEdit } from 'vscode-languageserver-protocol';
import { validateWorkspace } from '../../core/validate/validateWorkspace.js';
import type { PromptDiagnostic } from '../../core/model/diagnostics.js';
import { REPO } from '../helpers/paths.js';
import { applyEdits } from './fixture.js';
import { caseNames, goldenNames, parseCase, writeWorkspace, type GoldenCase } from './goldenCase.js';
import { LspClient, uri } from './lsp.js';

const CASES = path.join(REPO, 'test', 'server', 'quickfixes');
const UPDATE = process.env.PM_UPDATE_GOLDENS === '1';

/** `# code: X` picks the diagnostic when several cover the cursor. */
const codeOf = (c: GoldenCase) => c.directives.get('code');
const contains = (d: Diagnostic, p: Position) =>
  (d.range.start.line < p.line || (d.range.start.line === p.line && d.range.start.character <= p.character)) &&
  (p.line < d.range.end.line || (p.line === d.range.end.line && p.character <= d.range.end.character));

/** The changed lines of `before` -> `after`, as `-`/`+` lines under the first line's number. */
function lineDiff(before: string, after: string): string[] {
  const a = before.split('\n');
  const b = after.split('\n');
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  return [`@@ line ${start + 1}`, ...a.slice(start, endA).map((l) => `-${l}`), ...b.slice(start, endB).map((l) => `+${l}`)];
}

/** What each file's text becomes under a code action's edit; created files start empty. */
function applyAction(action: CodeAction, dir: string, texts: Map<string, string>): { created: Set<string>; after: Map<string, string> } {
  const after = new Map(texts);
  const created = new Set<string>();
  const rel = (u: string) => path.relative(dir, fileURLToPath(u)).split(path.sep).join('/');
  const edit = (u: string, edits: TextEdit[]) => after.set(rel(u), applyEdits(after.get(rel(u)) ?? '', edits));
  for (const [u, edits] of Object.entries(action.edit?.changes ?? {})) edit(u, edits);
  for (const dc of action.edit?.documentChanges ?? []) {
    if ('kind' in dc) {
      assert.equal(dc.kind, 'create', `only create operations are rendered (got ${dc.kind})`);
      if (!after.has(rel(dc.uri))) {
        created.add(rel(dc.uri));
        after.set(rel(dc.uri), '');
      }
    } else edit(dc.textDocument.uri, dc.edits as TextEdit[]);
  }
  return { created, after };
}

/** A message with the workspace's path (absolute, or from the current folder) as `<ws>`. */
function relative(dir: string, message: string): string {
  return message.split(path.relative(process.cwd(), dir)).join('<ws>').split(dir).join('<ws>');
}

/** Errors and warnings, as `code: message` lines with the workspace path made relative. */
function problems(dir: string, ds: PromptDiagnostic[]): string[] {
  return ds.filter((d) => d.severity !== 'information').map((d) => `${d.code}: ${relative(dir, d.message)}`);
}

function minus(a: string[], b: string[]): string[] {
  const left = [...b];
  return a.filter((x) => {
    const i = left.indexOf(x);
    if (i === -1) return true;
    left.splice(i, 1);
    return false;
  });
}

function render(c: GoldenCase, dir: string, d: Diagnostic, actions: CodeAction[]): { text: string; broken: string[] } {
  const out: string[] = [];
  const broken: string[] = [];
  for (const a of c.about) out.push(`# ${a}`);
  out.push(`diagnostic ${d.code} at ${c.cursorFile}:${d.range.start.line + 1}:${d.range.start.character + 1}`);
  out.push(`  ${relative(dir, String(d.message))}`);
  if (!actions.length) out.push('', 'no quick fix');
  const before = validateWorkspace(dir);
  const beforeProblems = problems(dir, before.diagnostics);
  const count = (ds: PromptDiagnostic[]) => ds.filter((x) => x.code === d.code).length;
  for (const [i, a] of actions.entries()) {
    out.push('', `action ${i + 1}: ${a.title}${a.isPreferred ? ' (preferred)' : ''} [${a.kind}]`);
    const { created, after } = applyAction(a, dir, c.files);
    for (const [file, text] of after) {
      if (created.has(file)) {
        out.push(`  create ${file}`, ...text.replace(/\n$/, '').split('\n').map((l) => `    +${l}`));
      } else if (text !== c.files.get(file)) {
        out.push(`  ${file}`, ...lineDiff(c.files.get(file)!, text).map((l) => `    ${l}`));
      }
    }
    const fixedDir = writeWorkspace(after, 'pm-qf-');
    const v = validateWorkspace(fixedDir);
    const added = minus(problems(fixedDir, v.diagnostics), beforeProblems);
    out.push(`  then: ${d.code} ${count(before.diagnostics)} -> ${count(v.diagnostics)}; new problems: ${added.length ? '' : 'none'}`);
    for (const p of added) out.push(`    ${p}`);
    if (count(v.diagnostics) >= count(before.diagnostics)) broken.push(`${c.name}: '${a.title}' leaves every ${d.code}`);
    const newErrors = minus(
      v.diagnostics.filter((x) => x.severity === 'error').map((x) => `${x.code}: ${relative(fixedDir, x.message)}`),
      before.diagnostics.filter((x) => x.severity === 'error').map((x) => `${x.code}: ${relative(dir, x.message)}`),
    );
    if (newErrors.length) broken.push(`${c.name}: '${a.title}' makes new errors: ${newErrors.join('; ')}`);
    fs.rmSync(fixedDir, { recursive: true, force: true });
  }
  return { text: out.join('\n') + '\n', broken };
}

const names = caseNames(CASES);

test('quick fixes: every case folder has its golden file, and every golden its case', () => {
  assert.ok(names.length >= 20, `${names.length} cases`);
  const goldens = goldenNames(CASES);
  if (!UPDATE) assert.deepEqual(goldens, names, 'run with PM_UPDATE_GOLDENS=1 to write the missing goldens');
});

test('quick fixes: each case gives its golden edits over the real server', async () => {
  const cases = names.map((n) => parseCase(n, fs.readFileSync(path.join(CASES, `${n}.case`), 'utf8'), ['code']));
  const dirs = cases.map((c) => writeWorkspace(c.files, 'pm-qf-'));
  const client = await LspClient.start({ folders: dirs });
  const failures: string[] = [];
  try {
    for (const [i, c] of cases.entries()) {
      const dir = dirs[i]!;
      const file = path.join(dir, c.cursorFile);
      await client.open(file, c.files.get(c.cursorFile));
      const at = (ds: Diagnostic[]) => ds.filter((d) => contains(d, c.cursor) && (!codeOf(c) || d.code === codeOf(c)));
      const ds = at(await client.diagnosticsOf(file, (x) => at(x).length > 0, 15000).catch(() => client.diagnostics.get(uri(file)) ?? []));
      assert.equal(ds.length, 1, `${c.name}: one diagnostic at the cursor, got ${JSON.stringify((client.diagnostics.get(uri(file)) ?? []).map((x) => [x.code, x.range]))}`);
      const d = ds[0]!;
      const actions = await client.request<CodeAction[]>('textDocument/codeAction', { textDocument: { uri: uri(file) }, range: d.range, context: { diagnostics: [d] } });
      const { text: got, broken } = render(c, dir, d, actions);
      failures.push(...broken);
      const goldenFile = path.join(CASES, `${c.name}.golden`);
      if (UPDATE) fs.writeFileSync(goldenFile, got);
      else if (!fs.existsSync(goldenFile)) failures.push(`${c.name}: no golden file`);
      else if (fs.readFileSync(goldenFile, 'utf8') !== got) failures.push(`${c.name}: differs from its golden\n--- expected\n${fs.readFileSync(goldenFile, 'utf8')}--- got\n${got}`);
    }
  } finally {
    await client.stop();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
  assert.deepEqual(failures, [], 'PM_UPDATE_GOLDENS=1 rewrites the goldens');
});
