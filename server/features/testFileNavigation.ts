/**
 * What a prompt test file links to beyond the workspace's names (occurrences.ts has those: a
 * test's template, composition, service and steps): its `context_file` (go to the JSON file), a
 * `snapshot` assertion (go to its golden file), a test's name (a hover saying what it runs and
 * checks), and its outline (the tests and their assertions).
 */
import * as path from 'node:path';
import { MarkupKind, SymbolKind, type DocumentSymbol, type Hover, type Location, type Range } from 'vscode-languageserver-types';
import { snapshotFileName, type PromptTestDef, type PromptTestFileModel } from '../../core/model/testTypes.js';
import { PROMPT_TESTS_DIR, SNAPSHOTS_DIR } from '../../core/workspace/discover.js';
import type { FeatureRequest } from './navigation.js';
import type { DocumentSnapshot, WorkspaceSnapshot } from '../workspaceSnapshot.js';

const ZERO: Range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
const code = (s: string) => '`' + s.replace(/`/g, "'") + '`';

/** The model of a test file as the snapshot's validation built it (absent while it does not parse). */
export function testFileModel(ws: WorkspaceSnapshot, file: string): PromptTestFileModel | undefined {
  return ws.validation.promptTests.find((m) => m.file === file);
}

function testAtOffset(m: PromptTestFileModel, offset: number): PromptTestDef | undefined {
  return m.tests.find((t) => Math.min(t.nameNode.start, t.node.start) <= offset && offset <= t.node.end);
}

/** The golden file of a snapshot assertion (prompt_tests/__snapshots__/<test>/<name>.txt). */
export function snapshotFile(root: string, test: string, fileName: string): string {
  return path.join(root, PROMPT_TESTS_DIR, SNAPSHOTS_DIR, test, fileName);
}

/** Go to definition for a test's `context_file` value and a `snapshot` assertion. */
export function testFileDefinition(req: FeatureRequest): Location[] {
  const { ws, doc } = req;
  const m = testFileModel(ws, doc.file);
  if (!m) return [];
  const offset = doc.lines.offsetAt(req.position);
  const t = testAtOffset(m, offset);
  if (!t) return [];
  const root = ws.validation.root;
  const cf = t.contextFile;
  if (cf && cf.node.start <= offset && offset <= cf.node.end) {
    const file = path.resolve(root, cf.value);
    return ws.validation.contextFiles.has(file) || ws.exists?.(file) ? [{ uri: ws.uriOf(file), range: ZERO }] : [];
  }
  const a = t.expect.find((x) => x.node.start <= offset && offset <= x.node.end);
  if (a?.kind === 'snapshot') {
    const file = snapshotFile(root, t.name, snapshotFileName(a));
    return ws.exists?.(file) ? [{ uri: ws.uriOf(file), range: ZERO }] : [];
  }
  return [];
}

/** A hover on a test's name: what it renders or runs, as which service, with what, and what it checks. */
export function testNameHover(req: FeatureRequest): Hover | null {
  const { ws, doc } = req;
  const m = testFileModel(ws, doc.file);
  if (!m) return null;
  const offset = doc.lines.offsetAt(req.position);
  const t = m.tests.find((x) => x.nameNode.start <= offset && offset <= x.nameNode.end);
  if (!t) return null;
  const lines = [`**test** ${code(t.name)}`];
  if (t.description) lines.push('', t.description);
  const target = t.template ? `renders template ${code(t.template.name)}` : t.composition ? `runs composition ${code(t.composition.name)}` : 'names no template or composition';
  lines.push('', `${target[0]!.toUpperCase()}${target.slice(1)}${t.service ? ` as service ${code(t.service.name)}` : ''}`);
  const context = [t.contextFile ? code(t.contextFile.value) : '', t.context ? `inline keys ${Object.keys(t.context).map(code).join(', ') || '(none)'}` : ''].filter(Boolean);
  if (context.length) lines.push('', `Context: ${context.join(' + ')}`);
  if (t.mocks.length) lines.push('', `Mocked steps: ${t.mocks.map((x) => code(x.step.name)).join(', ')}`);
  if (t.live) lines.push('', `Live: calls the real provider (runs only with a live run)${t.repeat ? `, ${t.repeat} times, ${Math.round((t.passRate ?? 1) * 100)}% must pass` : ''}`);
  else if (t.repeat) lines.push('', `Runs ${t.repeat} times; ${Math.round((t.passRate ?? 1) * 100)}% must pass`);
  lines.push('', `${t.expect.length} assertion${t.expect.length === 1 ? '' : 's'}${t.expect.length ? ': ' + [...new Set(t.expect.map((a) => a.kind).filter(Boolean))].map((k) => code(k!)).join(', ') : ''}`);
  return { contents: { kind: MarkupKind.Markdown, value: lines.join('\n') }, range: m.lines.range(t.nameNode.start, t.nameNode.end) };
}

/** The outline of a test file: each test (with its target), its assertions below it. */
export function testFileSymbols(ws: WorkspaceSnapshot, doc: DocumentSnapshot): DocumentSymbol[] {
  const m = testFileModel(ws, doc.file);
  if (!m) return [];
  return m.tests.map((t) => {
    const children: DocumentSymbol[] = t.expect.map((a) => {
      const r = m.lines.range(a.node.start, a.node.end);
      const sel = a.valueNode ? m.lines.range(a.valueNode.start, a.valueNode.end) : r;
      return { name: `${a.index + 1}. ${a.kind ?? '(no kind)'}${a.step ? ` (step ${a.step.name}${a.of === 'prompt' ? ' prompt' : ''})` : ''}`, kind: SymbolKind.Event, range: r, selectionRange: clampInside(sel, r) };
    });
    const detail = t.template ? `template ${t.template.name}` : t.composition ? `composition ${t.composition.name}` : 'test';
    const s: DocumentSymbol = { name: t.name, detail, kind: SymbolKind.Method, range: m.lines.range(Math.min(t.nameNode.start, t.node.start), t.node.end), selectionRange: m.lines.range(t.nameNode.start, t.nameNode.end) };
    if (children.length) s.children = children;
    return s;
  });
}

/** LSP wants a symbol's selection range inside its range. */
function clampInside(sel: Range, r: Range): Range {
  const before = (a: Range['start'], b: Range['start']) => a.line < b.line || (a.line === b.line && a.character < b.character);
  return before(sel.start, r.start) || before(r.end, sel.end) ? r : sel;
}
