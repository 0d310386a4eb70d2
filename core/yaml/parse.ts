/**
 * Parses YAML text into a source tree (sourceTree.ts) with the `yaml` package, plus an
 * incremental parser for editors: a large file is cut into its top-level entries (and the
 * entries of its big `compositions:`/`services:` mapping), each parsed on its own and reused
 * while its text is unchanged. Anything the cutting cannot be sure of (anchors, tags,
 * directives, several documents, odd indentation, a parse error in any piece) falls back to
 * one parse of the whole text, which is always the authority on errors.
 */
import { Alias, isAlias, isMap, isPair, isScalar, isSeq, parseDocument, Scalar, type Document, type Node as YNode } from 'yaml';
import type { SNode, SPair, SScalar } from './sourceTree.js';
import { shift } from './sourceTree.js';
import { fastParseYaml } from './fastParse.js';

export interface YamlParseError {
  message: string;
  start: number;
  end: number;
}

export interface ParsedYaml {
  /** Null when the file is empty (or holds only comments). Undefined when it has errors. */
  root: SNode | null | undefined;
  errors: YamlParseError[];
}

/** A faster parser for the common subset may be plugged in; it returns undefined to decline. */
export type SubsetParser = (text: string) => SNode | null | undefined;
let subsetParser: SubsetParser | undefined = fastParseYaml;
export function setSubsetParser(p: SubsetParser | undefined): void {
  subsetParser = p;
}

/** Limits that keep a hostile file from exhausting the process. */
export const YAML_LIMITS = {
  /** Alias nodes per file: more is refused as a likely alias bomb. */
  maxAliases: 100,
  /** Nesting depth of collections. */
  maxDepth: 200,
};

/** Parses one YAML text whole. */
export function parseYaml(text: string): ParsedYaml {
  if (subsetParser) {
    try {
      const fast = subsetParser(text);
      if (fast !== undefined) return { root: fast, errors: [] };
    } catch {
      // A failure of the fast path is never the user's problem: the full parser decides.
    }
  }
  return parseWithYamlPackage(text);
}

export function parseWithYamlPackage(text: string): ParsedYaml {
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, { uniqueKeys: false, prettyErrors: false, strict: true, keepSourceTokens: false });
  } catch (e) {
    return { root: undefined, errors: [{ message: `cannot parse the file: ${(e as Error).message}`, start: 0, end: Math.min(1, text.length) }] };
  }
  if (doc.errors.length) {
    return {
      root: undefined,
      errors: doc.errors.map((e) => ({ message: rewriteYamlError(e.code, e.message), start: e.pos[0], end: Math.max(e.pos[1], e.pos[0]) })),
    };
  }
  const conv = new Converter();
  try {
    const root = doc.contents ? conv.node(doc.contents as YNode, 0) : null;
    return { root, errors: [] };
  } catch (e) {
    if (e instanceof LimitError) return { root: undefined, errors: [{ message: e.message, start: e.start, end: e.end }] };
    throw e;
  }
}

class LimitError extends Error {
  constructor(message: string, readonly start: number, readonly end: number) {
    super(message);
  }
}

class Converter {
  private aliases = 0;
  private readonly anchors = new Map<string, SNode>();

  node(n: YNode, depth: number): SNode {
    const [start, valueEnd] = n.range ?? [0, 0, 0];
    if (depth > YAML_LIMITS.maxDepth) {
      throw new LimitError(`the file nests deeper than ${YAML_LIMITS.maxDepth} levels; flatten it`, start, valueEnd);
    }
    let out: SNode;
    if (isAlias(n)) {
      if (++this.aliases > YAML_LIMITS.maxAliases) {
        throw new LimitError(`the file uses more than ${YAML_LIMITS.maxAliases} aliases (a possible alias bomb); expand them by hand`, start, valueEnd);
      }
      const alias: SNode & { kind: 'alias' } = { kind: 'alias', target: this.anchors.get((n as Alias).source) ?? null, start, end: valueEnd };
      out = alias;
    } else if (isMap(n)) {
      const items: SPair[] = [];
      for (const p of n.items) {
        if (!isPair(p)) continue;
        const key = p.key ? this.node(p.key as YNode, depth + 1) : this.emptyScalar(start);
        const value = p.value ? this.node(p.value as YNode, depth + 1) : null;
        items.push({ key, value, start: key.start, end: value ? value.end : key.end });
      }
      out = { kind: 'map', items, flow: !!n.flow, start, end: valueEnd };
    } else if (isSeq(n)) {
      const items = n.items.map((i) => (i ? this.node(i as YNode, depth + 1) : null));
      out = { kind: 'seq', items, flow: !!n.flow, start, end: valueEnd };
    } else if (isScalar(n)) {
      out = this.scalar(n as Scalar, start, valueEnd);
    } else {
      out = this.emptyScalar(start);
    }
    if (n.anchor) this.anchors.set(n.anchor, out);
    return out;
  }

  private scalar(n: Scalar, start: number, end: number): SScalar {
    let value: SScalar['value'];
    const v = n.value;
    if (v === null || v === undefined) value = null;
    else if (typeof v === 'string' || typeof v === 'boolean') value = v;
    else if (typeof v === 'number') value = v;
    else if (typeof v === 'bigint') value = Number(v);
    else value = String(v);
    const style = n.type === 'QUOTE_SINGLE' ? 'single' : n.type === 'QUOTE_DOUBLE' ? 'double' : n.type === 'BLOCK_LITERAL' || n.type === 'BLOCK_FOLDED' ? 'block' : 'plain';
    return { kind: 'scalar', value, style, start, end };
  }

  private emptyScalar(at: number): SScalar {
    return { kind: 'scalar', value: null, style: 'plain', start: at, end: at };
  }
}

/** Plain-language versions of the `yaml` package's error codes. */
function rewriteYamlError(code: string, message: string): string {
  const first = message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  switch (code) {
    case 'MULTIPLE_DOCS':
      return "the file holds several YAML documents ('---'); PromptManager reads one: merge them or remove the extra '---'";
    case 'BAD_INDENT':
    case 'MISSING_CHAR':
    case 'UNEXPECTED_TOKEN':
      return `YAML syntax error: ${first} (check the indentation of this line against the lines above)`;
    case 'TAB_AS_INDENT':
      return 'YAML syntax error: tabs are not allowed for indentation; use spaces';
    case 'DUPLICATE_KEY':
      return `YAML syntax error: ${first}`;
    default:
      return `YAML syntax error: ${first}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Incremental parsing of large files.

/** Below this size a file is always parsed whole: cutting it would not pay. */
export const INCREMENTAL_THRESHOLD = 64 * 1024;
/** Top-level keys whose mappings are cut into one piece per entry. */
const SPLIT_KEYS = new Set(['compositions', 'services', 'providers']);

interface Piece {
  /** Offset of the piece in the file. */
  start: number;
  end: number;
  text: string;
}

interface CachedPiece {
  root: SNode | null;
  /** Offset at which the cached tree's offsets currently sit. */
  base: number;
}

/**
 * Parses successive versions of one file, reusing the trees of unchanged pieces. The trees of
 * the previous version are shifted in place and reused, so a caller keeps only the latest
 * result of each parser.
 */
export class IncrementalYamlParser {
  private lastText: string | undefined;
  private lastResult: ParsedYaml | undefined;
  private pieces = new Map<string, CachedPiece[]>();

  parse(text: string): ParsedYaml {
    if (text === this.lastText && this.lastResult) return this.lastResult;
    const result = this.parseUncached(text);
    this.lastText = text;
    this.lastResult = result;
    return result;
  }

  private parseUncached(text: string): ParsedYaml {
    if (text.length < INCREMENTAL_THRESHOLD) {
      this.pieces.clear();
      return parseYaml(text);
    }
    const layout = cutIntoPieces(text);
    if (!layout) {
      this.pieces.clear();
      return parseYaml(text);
    }
    const next = new Map<string, CachedPiece[]>();
    const parsePiece = (p: Piece): SNode | null | undefined => {
      const bucket = this.pieces.get(p.text);
      const cached = bucket?.pop();
      let root: SNode | null | undefined;
      if (cached) {
        shift(cached.root, p.start - cached.base);
        root = cached.root;
      } else {
        // Checked per new piece rather than over the whole file on every keystroke.
        if (!pieceIsSafe(p.text)) return undefined;
        const r = parseYaml(p.text);
        if (r.errors.length || r.root === undefined) return undefined;
        root = r.root;
        shift(root, p.start);
      }
      const list = next.get(p.text) ?? [];
      list.push({ root, base: p.start });
      next.set(p.text, list);
      return root;
    };

    const rootItems: SPair[] = [];
    for (const entry of layout.entries) {
      if (!entry.children) {
        const r = parsePiece(entry.head);
        if (r === undefined) return this.fallback(text);
        if (r === null) continue;
        if (r.kind !== 'map') return this.fallback(text);
        rootItems.push(...r.items);
        continue;
      }
      // `compositions:` alone on its line, its entries cut one by one.
      const head = parsePiece(entry.head);
      if (head === undefined || !head || head.kind !== 'map' || head.items.length !== 1) return this.fallback(text);
      const pair = head.items[0]!;
      const childItems: SPair[] = [];
      let childStart = -1;
      let childEnd = -1;
      for (const c of entry.children) {
        const r = parsePiece(c);
        if (r === undefined) return this.fallback(text);
        if (r === null) continue;
        if (r.kind !== 'map') return this.fallback(text);
        if (childStart < 0) childStart = r.start;
        childEnd = r.end;
        childItems.push(...r.items);
      }
      const value: SNode | null = childItems.length ? { kind: 'map', items: childItems, flow: false, start: childStart, end: childEnd } : null;
      rootItems.push({ key: pair.key, value, start: pair.start, end: value ? value.end : pair.end });
    }
    this.pieces = next;
    if (!rootItems.length) return { root: null, errors: [] };
    return { root: { kind: 'map', items: rootItems, flow: false, start: rootItems[0]!.start, end: rootItems[rootItems.length - 1]!.end }, errors: [] };
  }

  private fallback(text: string): ParsedYaml {
    this.pieces.clear();
    return parseWithYamlPackage(text);
  }
}

/**
 * Anchors, aliases, tags, directives, document markers and tabs can tie pieces together or
 * change how they read: a piece holding any of them sends the whole file to the full parser.
 */
function pieceIsSafe(text: string): boolean {
  return !/(^|[\s[{,])[&*!][^\s]/m.test(text) && !/^(%|---|\.\.\.)/m.test(text) && !text.includes('\t');
}

interface Layout {
  entries: { head: Piece; children?: Piece[] }[];
}

/**
 * Cuts a block-style YAML text into pieces by indentation alone, or returns undefined when the
 * text uses anything that makes that unsafe.
 */
export function cutIntoPieces(text: string): Layout | undefined {
  if (text.charCodeAt(0) === 0xfeff) return undefined;
  const lines = scanLines(text);
  const n = lines.count;
  const { start: ls, indent: ind } = lines;
  const lineEnd = (k: number) => (k + 1 < n ? ls[k + 1]! : text.length);
  // Leading comments and blank lines belong to the first entry.
  let firstContent = 0;
  while (firstContent < n && ind[firstContent]! < 0) firstContent++;
  if (firstContent === n || ind[firstContent] !== 0) return undefined;
  const entries: Layout['entries'] = [];
  let i = 0;
  while (i < n) {
    const headIdx = i === 0 ? firstContent : i;
    let j = headIdx + 1;
    while (j < n && ind[j] !== 0) j++;
    const start = ls[i]!;
    const end = j < n ? ls[j]! : text.length;
    const headEnd = lineEnd(headIdx);
    const key = /^([A-Za-z_][\w.-]*):\s*(#.*)?\r?\n?$/.exec(text.slice(ls[headIdx]!, headEnd))?.[1];
    if (key && SPLIT_KEYS.has(key) && end - start > 4096) {
      const children = cutChildren(text, lines, headIdx, j);
      if (!children) return undefined;
      entries.push({ head: { start, end: headEnd, text: text.slice(start, headEnd) }, children });
    } else {
      entries.push({ head: { start, end, text: text.slice(start, end) } });
    }
    i = j;
  }
  return { entries };
}

interface Lines {
  count: number;
  start: Int32Array;
  /** Leading spaces of each line, or -1 for a blank or comment-only line. */
  indent: Int32Array;
}

/** One pass over the text, into flat arrays: a 2 MB file has ~60,000 lines, scanned per keystroke. */
function scanLines(text: string): Lines {
  let count = 1;
  for (let k = text.indexOf('\n'); k !== -1 && k + 1 < text.length; k = text.indexOf('\n', k + 1)) count++;
  const start = new Int32Array(count);
  const indent = new Int32Array(count);
  let s = 0;
  for (let line = 0; line < count; line++) {
    let e = text.indexOf('\n', s);
    if (e === -1) e = text.length;
    let k = s;
    while (k < e && text.charCodeAt(k) === 32) k++;
    const c = text.charCodeAt(k);
    start[line] = s;
    indent[line] = k >= e || c === 35 /* # */ || c === 13 ? -1 : k - s;
    s = e + 1;
  }
  return { count, start, indent };
}

function cutChildren(text: string, lines: Lines, head: number, stop: number): Piece[] | undefined {
  const { start: ls, indent: ind, count } = lines;
  let first = head + 1;
  while (first < stop && ind[first]! < 0) first++;
  if (first >= stop) return undefined;
  const indent = ind[first]!;
  if (text.charCodeAt(ls[first]! + indent) === 45 /* - */) return undefined;
  const pieces: Piece[] = [];
  let cur = head + 1;
  for (let k = first + 1; k <= stop; k++) {
    if (k === stop || (ind[k]! >= 0 && ind[k]! <= indent)) {
      if (k < stop && ind[k]! < indent) return undefined;
      const start = ls[cur]!;
      const end = k < stop ? ls[k]! : stop < count ? ls[stop]! : text.length;
      pieces.push({ start, end, text: text.slice(start, end) });
      cur = k;
    }
  }
  return pieces;
}
