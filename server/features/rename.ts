/**
 * Rename: a step id (its definition, `depends_on`, override keys and every `steps.<id>` read
 * in `context:`, `output:` and the templates the composition renders), a composition (both
 * files), a provider, and a template (its file is renamed and every reference edited, in one
 * WorkspaceEdit). `prepareRename` refuses what cannot be renamed, with the reason.
 */
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Range, TextDocumentEdit, TextEdit, WorkspaceEdit, RenameFile } from 'vscode-languageserver-types';
import { resolveTemplateName } from '../../core/workspace/templateIndex.js';
import { COMPOSITION_RULES_FILE } from '../../core/workspace/discover.js';
import type { FeatureRequest } from './navigation.js';
import { occurrencesAt, occurrencesOf, walkOccurrences, type Occurrence } from './occurrences.js';
import { compositionNamed, rulesOf } from '../workspaceSnapshot.js';

export type PrepareRenameResult = { range: Range; placeholder: string } | { error: string };

const PATTERNS: Record<string, { re: RegExp; words: string }> = {
  step: { re: /^[A-Za-z_][A-Za-z0-9_-]*$/, words: "letters, digits, '_' and '-', starting with a letter or '_'" },
  composition: { re: /^[A-Za-z][A-Za-z0-9_.-]*$/, words: "letters, digits, '_', '.' and '-', starting with a letter" },
  provider: { re: /^[A-Za-z][A-Za-z0-9_.-]*$/, words: "letters, digits, '_', '.' and '-', starting with a letter" },
  template: { re: /^[A-Za-z0-9_./-]+$/, words: "letters, digits, '_', '.', '/' and '-'" },
};

function target(req: FeatureRequest): Occurrence | { error: string } {
  const hits = occurrencesAt(req.ws, req.doc.file, req.position);
  if (!hits.length) return { error: 'Only step ids, composition names, provider names and template names can be renamed.' };
  const first = hits[0]!;
  const same = hits.filter((h) => h.range.start.line === first.range.start.line && h.range.start.character === first.range.start.character);
  if (same.length > 1) return { error: `This template is rendered by several compositions (${same.map((h) => h.scope).join(', ')}): rename the step from ${COMPOSITION_RULES_FILE}.` };
  const o = first;
  if (o.kind === 'service') return { error: 'Services are named by the applications that render with them: rename a service by hand, in the application too.' };
  const defs = occurrencesOf(req.ws, o).filter((x) => x.role === 'definition');
  if (!defs.length) {
    const what = o.kind === 'step' ? `composition '${o.scope}' has no step '${o.name}'` : `${o.kind} '${o.name}' is not defined`;
    return { error: `Cannot rename: ${what}.` };
  }
  if (defs.length > 1) return { error: `Cannot rename: ${o.kind} '${o.name}' is defined more than once; fix the duplicate first.` };
  if (o.kind === 'template' && req.ws.resourceOperations === false) return { error: 'Renaming a template renames its file, which this editor does not support in a rename.' };
  return o;
}

export function prepareRename(req: FeatureRequest): PrepareRenameResult {
  const t = target(req);
  if ('error' in t) return t;
  return { range: t.range, placeholder: t.name };
}

export function rename(req: FeatureRequest, newName: string): { edit: WorkspaceEdit } | { error: string } {
  const t = target(req);
  if ('error' in t) return t;
  const { ws } = req;
  const v = ws.validation;
  newName = newName.trim();
  if (newName === t.name) return { edit: { changes: {} } };
  const p = PATTERNS[t.kind]!;
  if (!p.re.test(newName)) return { error: `'${newName}' is not a valid ${t.kind} name: use ${p.words}.` };
  // Conflicts.
  if (t.kind === 'step' && compositionNamed(ws, t.scope)?.steps.some((s) => s.id === newName)) return { error: `Composition '${t.scope}' already has a step '${newName}'.` };
  if (t.kind === 'composition' && compositionNamed(ws, newName)) return { error: `A composition '${newName}' already exists.` };
  if (t.kind === 'provider' && rulesOf(ws)?.providers.some((x) => x.name === newName)) return { error: `A provider '${newName}' already exists.` };
  let renameFile: RenameFile | undefined;
  if (t.kind === 'template') {
    if (v.templates.has(newName)) return { error: `A template '${newName}' already exists.` };
    const res = resolveTemplateName(v.templatesRoot, newName);
    if (res.kind === 'outside' || newName.split('/').includes('..') || newName.split('/').includes('.')) return { error: `'${newName}' would be outside the templates root.` };
    const entry = v.templates.get(t.name)!;
    const ext = path.extname(entry.file);
    renameFile = { kind: 'rename', oldUri: ws.uriOf(entry.file), newUri: pathToFileURL(path.join(v.templatesRoot, ...newName.split('/')) + ext).href };
  }
  const occs = occurrencesOf(ws, t);
  if (t.kind === 'step' && occs.some((o) => o.site === 'step-read' && o.file !== v.compositionRulesFile)) {
    const elsewhere = walkOccurrences(ws, { accept: (k, n, s) => k === 'step' && n === t.name && s !== t.scope });
    for (const o of occs) {
      if (o.site !== 'step-read' || o.file === v.compositionRulesFile) continue;
      const other = elsewhere.find((x) => x.file === o.file);
      if (other) return { error: `Template ${path.basename(o.file)} reads steps.${t.name} for composition '${other.scope}' too: rename it there by hand, or give the steps the same new id.` };
    }
  }
  const byFile = new Map<string, TextEdit[]>();
  for (const o of occs) {
    if (o.site === 'file') continue;
    let a = byFile.get(o.file);
    if (!a) byFile.set(o.file, (a = []));
    if (!a.some((e) => e.range.start.line === o.range.start.line && e.range.start.character === o.range.start.character)) a.push({ range: o.range, newText: newName });
  }
  if (!renameFile && ws.resourceOperations === false) {
    const changes: Record<string, TextEdit[]> = {};
    for (const [f, edits] of byFile) changes[ws.uriOf(f)] = edits;
    return { edit: { changes } };
  }
  const documentChanges: (TextDocumentEdit | RenameFile)[] = [];
  for (const [f, edits] of [...byFile].sort((a, b) => (a[0] < b[0] ? -1 : 1))) documentChanges.push({ textDocument: { uri: ws.uriOf(f), version: null }, edits });
  if (renameFile) documentChanges.push(renameFile);
  return { edit: { documentChanges } };
}
