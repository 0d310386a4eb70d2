/**
 * The plain inputs of every editor feature: one prompt workspace's validation result, the
 * texts that validation saw, and the document and position of the request. Features are plain
 * functions of these (no connection, no file system), so tests call them directly.
 */
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Position, Range } from 'vscode-languageserver-types';
import type { TemplateEntry, WorkspaceValidation } from '../core/validate/api.js';
import type { CompositionDef, CompositionRulesModel, ServiceMappingsModel, StepDef } from '../core/model/types.js';
import { LineIndex } from '../core/text/lineIndex.js';
import { COMPOSITION_RULES_FILE, PROMPT_TESTS_FILE, SERVICE_MAPPINGS_FILE } from '../core/workspace/discover.js';
import { isTemplateFile } from '../core/workspace/templateIndex.js';
import { isPromptTestFile } from '../core/workspace/testFiles.js';
import { reachableFrom } from '../core/workflow/dag.js';
import { compositionNamed as compositionNamedIn, templateNameOfFile as templateNameIn } from '../core/workspace/queries.js';

export type DocKind = 'composition_rules' | 'service_mappings' | 'prompt_tests' | 'template' | 'other';

/** What a file is; `root`, its prompt workspace, tells a test file below `prompt_tests/` from other YAML. */
export function docKindOf(file: string, root?: string): DocKind {
  const b = path.basename(file);
  if (b === COMPOSITION_RULES_FILE) return 'composition_rules';
  if (b === SERVICE_MAPPINGS_FILE) return 'service_mappings';
  if (b === PROMPT_TESTS_FILE || (root !== undefined && isPromptTestFile(file, root))) return 'prompt_tests';
  if (isTemplateFile(file)) return 'template';
  return 'other';
}

export interface WorkspaceSnapshot {
  validation: WorkspaceValidation;
  /**
   * The models of the last validation in which each file parsed: completions keep offering
   * names while a file is half typed and does not parse.
   */
  lastGood: { serviceMappings?: ServiceMappingsModel; compositionRules?: CompositionRulesModel };
  /** The text a file had when `validation` was made (open buffers win over disk). */
  textOf(file: string): string | undefined;
  /** The URI to use for a file (the client's own spelling for files it opened). */
  uriOf(file: string): string;
  /** Whether the client can rename and create files in a WorkspaceEdit. */
  resourceOperations?: boolean;
  /**
   * The JSON files a test may name as `context_file`, relative to the workspace folder
   * (`contexts/ada.json`), for completion; absent: none offered.
   */
  contextFileNames?: () => string[];
  /** Whether a file exists (a snapshot's golden file, for go to definition); absent: assumed not. */
  exists?: (file: string) => boolean;
}

export interface DocumentSnapshot {
  file: string;
  uri: string;
  text: string;
  kind: DocKind;
  lines: LineIndex;
}

/** The last line index built for each file: a big file is indexed once per text, not once per request. */
const lineIndexCache = new Map<string, LineIndex>();

export function lineIndexFor(file: string, text: string): LineIndex {
  const hit = lineIndexCache.get(file);
  if (hit && hit.text === text) return hit;
  const li = new LineIndex(text);
  if (lineIndexCache.size > 256) lineIndexCache.clear();
  lineIndexCache.set(file, li);
  return li;
}

export function documentSnapshot(file: string, text: string, uri?: string, root?: string): DocumentSnapshot {
  return { file, uri: uri ?? pathToFileURL(file).href, text, kind: docKindOf(file, root), lines: lineIndexFor(file, text) };
}

/** A snapshot over in-memory texts (tests, and the server's own construction). */
export function workspaceSnapshot(validation: WorkspaceValidation, texts: ReadonlyMap<string, string> | ((file: string) => string | undefined), extra: Partial<WorkspaceSnapshot> = {}): WorkspaceSnapshot {
  const textOf = typeof texts === 'function' ? texts : (f: string) => texts.get(f);
  const lastGood: WorkspaceSnapshot['lastGood'] = {};
  if (validation.serviceMappings) lastGood.serviceMappings = validation.serviceMappings;
  if (validation.compositionRules) lastGood.compositionRules = validation.compositionRules;
  return { validation, lastGood, textOf, uriOf: (f) => pathToFileURL(f).href, ...extra };
}

const lineIndexes = new WeakMap<WorkspaceSnapshot, Map<string, LineIndex>>();

/** A line index of a file's text as the snapshot saw it (cached per snapshot). */
export function linesOf(ws: WorkspaceSnapshot, file: string): LineIndex | undefined {
  let m = lineIndexes.get(ws);
  if (!m) lineIndexes.set(ws, (m = new Map()));
  let li = m.get(file);
  if (!li) {
    const t = ws.textOf(file) ?? ws.validation.templates.get(templateNameOfFile(ws.validation, file) ?? '')?.text;
    if (t === undefined) return undefined;
    m.set(file, (li = lineIndexFor(file, t)));
  }
  return li;
}

export function rangeIn(ws: WorkspaceSnapshot, file: string, start: number, end: number): Range {
  const li = linesOf(ws, file);
  if (!li) return { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
  return li.range(start, end);
}

export function templateNameOfFile(v: WorkspaceValidation, file: string): string | undefined {
  return templateNameIn(v.templatesRoot, file);
}

export function templateByFile(v: WorkspaceValidation, file: string): TemplateEntry | undefined {
  const name = templateNameOfFile(v, file);
  const t = name !== undefined ? v.templates.get(name) : undefined;
  return t && t.file === file ? t : undefined;
}

/** The composition rules model, or the last good one while the file does not parse. */
export function rulesOf(ws: WorkspaceSnapshot): CompositionRulesModel | undefined {
  return ws.validation.compositionRules ?? ws.lastGood.compositionRules;
}
export function mappingsOf(ws: WorkspaceSnapshot): ServiceMappingsModel | undefined {
  return ws.validation.serviceMappings ?? ws.lastGood.serviceMappings;
}

/** The composition of that name in the rules model or, while the file does not parse, the last good one. */
export function compositionNamed(ws: WorkspaceSnapshot, name: string | undefined): CompositionDef | undefined {
  return compositionNamedIn(rulesOf(ws), name);
}

/** Step of a composition by id, or by index when the id is not known. */
export function stepOf(c: CompositionDef | undefined, id: string | undefined, index?: number): StepDef | undefined {
  if (!c) return undefined;
  if (id) {
    const s = c.steps.find((x) => x.id === id);
    if (s) return s;
  }
  return index !== undefined ? c.steps[index] : undefined;
}

export function offsetOf(doc: DocumentSnapshot, p: Position): number {
  return doc.lines.offsetAt(p);
}

export function contains(r: Range, p: Position): boolean {
  const afterStart = p.line > r.start.line || (p.line === r.start.line && p.character >= r.start.character);
  const beforeEnd = p.line < r.end.line || (p.line === r.end.line && p.character <= r.end.character);
  return afterStart && beforeEnd;
}

/** Direct dependencies by step id (known steps only). */
export function dependencyMap(c: CompositionDef): Map<string, string[]> {
  const ids = new Set(c.steps.map((s) => s.id));
  const m = new Map<string, string[]>();
  for (const s of c.steps) if (s.id && !m.has(s.id)) m.set(s.id, s.dependsOn.map((d) => d.name).filter((d) => ids.has(d)));
  return m;
}

/** Every step `id` depends on, directly or transitively. */
export function ancestorsOf(c: CompositionDef, id: string): Set<string> {
  const deps = dependencyMap(c);
  return reachableFrom(id, (s) => deps.get(s));
}

/** Every step that depends on `id`, directly or transitively. */
export function descendantsOf(c: CompositionDef, id: string): Set<string> {
  const dependents = new Map<string, string[]>();
  for (const [s, ds] of dependencyMap(c)) {
    for (const d of ds) {
      const list = dependents.get(d);
      if (list) list.push(s);
      else dependents.set(d, [s]);
    }
  }
  return reachableFrom(id, (s) => dependents.get(s));
}

/** A relative path for people (from the prompt workspace folder). */
export function displayPath(v: WorkspaceValidation, file: string): string {
  return path.relative(v.root, file).split(path.sep).join('/') || path.basename(file);
}
