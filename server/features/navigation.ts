/** Go to definition, find references, document symbols and workspace symbols. */
import { SymbolKind, type DocumentSymbol, type Location, type Position, type Range, type SymbolInformation } from 'vscode-languageserver-types';
import { occurrencesAt, occurrencesOf, walkOccurrences, type Occurrence } from './occurrences.js';
import { linesOf, type DocumentSnapshot, type WorkspaceSnapshot } from '../workspaceSnapshot.js';
import type { SNode } from '../../core/yaml/sourceTree.js';
import { serviceTemplateRefs } from '../../core/workspace/queries.js';
import { testFileDefinition, testFileSymbols } from './testFileNavigation.js';

export interface FeatureRequest {
  ws: WorkspaceSnapshot;
  doc: DocumentSnapshot;
  position: Position;
}

function loc(ws: WorkspaceSnapshot, o: Occurrence): Location {
  return { uri: ws.uriOf(o.file), range: o.range };
}

/** The name under the cursor (the innermost one). */
export function nameAt(req: FeatureRequest): Occurrence | undefined {
  return occurrencesAt(req.ws, req.doc.file, req.position)[0];
}

export function definition(req: FeatureRequest): Location[] {
  const hits = occurrencesAt(req.ws, req.doc.file, req.position);
  if (!hits.length) return req.doc.kind === 'prompt_tests' ? testFileDefinition(req) : [];
  const first = hits[0]!;
  // In a template shared by several compositions, `steps.x` may be a step of each of them.
  const same = hits.filter((h) => h.range.start.line === first.range.start.line && h.range.start.character === first.range.start.character);
  const out: Location[] = [];
  for (const h of same) {
    for (const d of occurrencesOf(req.ws, h).filter((o) => o.role === 'definition')) out.push(loc(req.ws, d));
  }
  return dedupe(out);
}

export function references(req: FeatureRequest, includeDeclaration: boolean): Location[] {
  const hits = occurrencesAt(req.ws, req.doc.file, req.position);
  if (!hits.length) return [];
  const first = hits[0]!;
  const same = hits.filter((h) => h.range.start.line === first.range.start.line && h.range.start.character === first.range.start.character);
  const out: Location[] = [];
  for (const h of same) {
    for (const o of occurrencesOf(req.ws, h)) {
      if (o.role === 'definition' && !includeDeclaration) continue;
      out.push(loc(req.ws, o));
    }
  }
  return dedupe(out);
}

function dedupe(locs: Location[]): Location[] {
  const seen = new Set<string>();
  return locs.filter((l) => {
    const k = `${l.uri}#${l.range.start.line}:${l.range.start.character}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function rangeOf(ws: WorkspaceSnapshot, file: string, n: SNode): Range {
  return linesOf(ws, file)?.range(n.start, n.end) ?? { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
}

function sym(name: string, kind: SymbolKind, range: Range, selectionRange: Range, detail?: string, children?: DocumentSymbol[]): DocumentSymbol {
  const s: DocumentSymbol = { name, kind, range, selectionRange };
  if (detail) s.detail = detail;
  if (children?.length) s.children = children;
  return s;
}

/** Outline of a configuration file (services; providers; compositions with their steps) or of a test file. */
export function documentSymbols(ws: WorkspaceSnapshot, doc: DocumentSnapshot): DocumentSymbol[] {
  const v = ws.validation;
  const out: DocumentSymbol[] = [];
  if (doc.kind === 'service_mappings' && v.serviceMappings?.file === doc.file) {
    for (const s of v.serviceMappings.services) {
      const children: DocumentSymbol[] = [];
      for (const t of serviceTemplateRefs(s)) children.push(sym(t.name, SymbolKind.File, rangeOf(ws, doc.file, t.node), rangeOf(ws, doc.file, t.node), 'template'));
      for (const c of s.compositions) children.push(sym(c.name, SymbolKind.Module, rangeOf(ws, doc.file, c.node), rangeOf(ws, doc.file, c.node), 'composition'));
      out.push(sym(s.name, SymbolKind.Class, spanRange(ws, doc.file, s.nameNode, s.node), rangeOf(ws, doc.file, s.nameNode), s.description ?? 'service', children));
    }
  } else if (doc.kind === 'prompt_tests') {
    return testFileSymbols(ws, doc);
  } else if (doc.kind === 'composition_rules' && v.compositionRules?.file === doc.file) {
    const r = v.compositionRules;
    for (const p of r.providers) out.push(sym(p.name, SymbolKind.Interface, spanRange(ws, doc.file, p.nameNode, p.node), rangeOf(ws, doc.file, p.nameNode), `provider ${p.type}${p.model ? ` (${p.model})` : ''}`));
    for (const c of r.compositions) {
      const steps = c.steps.map((s) => {
        const sel = s.idNode ?? s.node;
        const detail = [s.template?.name, s.dependsOn.length ? `after ${s.dependsOn.map((d) => d.name).join(', ')}` : ''].filter(Boolean).join(' · ');
        return sym(s.id || '(no id)', SymbolKind.Function, rangeOf(ws, doc.file, s.node), rangeOf(ws, doc.file, sel), detail);
      });
      out.push(sym(c.name, SymbolKind.Module, spanRange(ws, doc.file, c.nameNode, c.node), rangeOf(ws, doc.file, c.nameNode), c.description ?? 'composition', steps));
    }
  }
  return out;
}

function spanRange(ws: WorkspaceSnapshot, file: string, a: SNode, b: SNode): Range {
  const li = linesOf(ws, file);
  if (!li) return { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
  return li.range(Math.min(a.start, b.start), Math.max(a.end, b.end));
}

/** A fuzzy match: the query's characters appear in order (case-insensitive). */
export function fuzzyMatch(query: string, name: string): boolean {
  if (!query) return true;
  const q = query.toLowerCase();
  const n = name.toLowerCase();
  let j = 0;
  for (let i = 0; i < n.length && j < q.length; i++) if (n[i] === q[j]) j++;
  return j === q.length;
}

const KIND: Record<Occurrence['kind'], SymbolKind> = {
  template: SymbolKind.File,
  step: SymbolKind.Function,
  composition: SymbolKind.Module,
  provider: SymbolKind.Interface,
  service: SymbolKind.Class,
};

/** Services, compositions, steps, providers and templates of the given workspaces matching a query. */
export function workspaceSymbols(workspaces: WorkspaceSnapshot[], query: string, limit = 500): SymbolInformation[] {
  const out: SymbolInformation[] = [];
  for (const ws of workspaces) {
    for (const o of walkOccurrences(ws, { definitionsOnly: true, accept: (_k, name) => fuzzyMatch(query, name), limit: limit - out.length })) {
      const s: SymbolInformation = { name: o.name, kind: KIND[o.kind], location: loc(ws, o) };
      s.containerName = o.kind === 'step' ? `${o.scope} (step)` : o.kind;
      out.push(s);
      if (out.length >= limit) return out;
    }
  }
  return out;
}
