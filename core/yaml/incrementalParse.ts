/**
 * The incremental parser for editors: a large file is cut into its top-level entries (and the
 * entries of its big `compositions:`/`services:` mapping), each parsed on its own and reused
 * while its text is unchanged. Anything the cutting cannot be sure of (anchors, tags,
 * directives, several documents, odd indentation, a parse error in any piece) falls back to
 * one parse of the whole text (parse.ts), which is always the authority on errors.
 */
import type { SNode, SPair } from './sourceTree.js';
import { shift } from './sourceTree.js';
import { parseWithYamlPackage, parseYaml, withLineFeeds, type ParsedYaml } from './parse.js';

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

interface PlacedPiece {
  start: number;
  end: number;
  text: string;
  root: SNode | null;
}

interface PlacedEntry {
  head: PlacedPiece;
  children?: PlacedPiece[];
  /** Indentation of the children's first lines (the entries of `compositions:`). */
  childIndent?: number;
}

/**
 * Parses successive versions of one file, reusing the trees of unchanged pieces. The trees of
 * the previous version are shifted in place and reused, so a caller keeps only the latest
 * result of each parser.
 *
 * A typing edit inside one entry takes a shorter path still: the common prefix and suffix of
 * the two versions show which piece changed, only that piece is parsed again and the pieces
 * after it move by the length difference, without cutting the whole text again.
 */
export class IncrementalYamlParser {
  private lastText: string | undefined;
  private lastResult: ParsedYaml | undefined;
  private placed: PlacedEntry[] | undefined;

  parse(text: string): ParsedYaml {
    text = withLineFeeds(text);
    if (text === this.lastText && this.lastResult) return this.lastResult;
    let result: ParsedYaml | undefined;
    try {
      result = this.parseLocalEdit(text);
    } catch {
      result = undefined;
    }
    if (!result) result = this.parseUncached(text);
    this.lastText = text;
    this.lastResult = result;
    return result;
  }

  private parseLocalEdit(text: string): ParsedYaml | undefined {
    const old = this.lastText;
    const placed = this.placed;
    if (!placed || old === undefined || text.length < INCREMENTAL_THRESHOLD) return undefined;
    const delta = text.length - old.length;
    const prefix = commonPrefix(old, text);
    const suffix = commonSuffix(old, text, Math.min(old.length, text.length) - prefix);
    const editEnd = old.length - suffix;
    let target: { entry: PlacedEntry; index: number } | undefined;
    for (const entry of placed) {
      const kids = entry.children;
      if (!kids) continue;
      const k = kids.findIndex((c) => c.start < prefix && editEnd < c.end);
      if (k >= 0) target = { entry, index: k };
    }
    if (!target || target.entry.childIndent === undefined) return undefined;
    const piece = target.entry.children![target.index]!;
    // A copy, not a slice: V8 keeps a slice's whole parent string alive, and every edited
    // piece would pin one more version of the file (2 MB each on a big file).
    const pieceText = copyString(text.slice(piece.start, piece.end + delta));
    if (!childPieceShapeHolds(pieceText, target.entry.childIndent) || !pieceIsSafe(pieceText)) return undefined;
    const r = parseYaml(pieceText);
    if (r.errors.length || r.root === undefined || (r.root && r.root.kind !== 'map')) return undefined;
    shift(r.root, piece.start);
    // From here on the state changes: on any surprise, forget it and parse from scratch.
    this.placed = undefined;
    for (const entry of placed) {
      for (const pc of [entry.head, ...(entry.children ?? [])]) {
        if (pc.start >= piece.end) {
          shift(pc.root, delta);
          pc.start += delta;
          pc.end += delta;
        }
      }
    }
    target.entry.children![target.index] = { start: piece.start, end: piece.end + delta, text: pieceText, root: r.root };
    const assembled = assemble(placed);
    if (!assembled) return undefined;
    this.placed = placed;
    return assembled;
  }

  private parseUncached(text: string): ParsedYaml {
    const previous = this.placed;
    this.placed = undefined;
    if (text.length < INCREMENTAL_THRESHOLD) return parseYaml(text);
    const layout = cutIntoPieces(text);
    if (!layout) return parseYaml(text);
    // Trees of the previous version by piece text, to reuse wherever that text still stands.
    const byText = new Map<string, PlacedPiece[]>();
    for (const e of previous ?? []) {
      for (const pc of [e.head, ...(e.children ?? [])]) {
        const list = byText.get(pc.text);
        if (list) list.push(pc);
        else byText.set(pc.text, [pc]);
      }
    }
    const place = (p: Piece): PlacedPiece | undefined => {
      const cached = byText.get(p.text)?.pop();
      if (cached) {
        shift(cached.root, p.start - cached.start);
        return { start: p.start, end: p.end, text: cached.text, root: cached.root };
      }
      // Checked per new piece rather than over the whole file on every keystroke.
      if (!pieceIsSafe(p.text)) return undefined;
      const r = parseYaml(p.text);
      if (r.errors.length || r.root === undefined) return undefined;
      shift(r.root, p.start);
      return { start: p.start, end: p.end, text: p.text, root: r.root };
    };
    const entries: PlacedEntry[] = [];
    for (const entry of layout.entries) {
      const head = place(entry.head);
      if (!head) return parseWithYamlPackage(text);
      if (!entry.children) {
        entries.push({ head });
        continue;
      }
      const children: PlacedPiece[] = [];
      for (const c of entry.children) {
        const pc = place(c);
        if (!pc) return parseWithYamlPackage(text);
        children.push(pc);
      }
      entries.push({ head, children, childIndent: leadingSpaces(text, entry.children[0]!.start) });
    }
    const assembled = assemble(entries);
    if (!assembled) return parseWithYamlPackage(text);
    this.placed = entries;
    return assembled;
  }
}

/** Builds the file's tree from its pieces' trees; undefined when they do not fit together. */
function assemble(entries: PlacedEntry[]): ParsedYaml | undefined {
  const rootItems: SPair[] = [];
  for (const entry of entries) {
    const r = entry.head.root;
    if (!entry.children) {
      if (r === null) continue;
      if (r.kind !== 'map') return undefined;
      rootItems.push(...r.items);
      continue;
    }
    // `compositions:` alone on its line, its entries cut one by one.
    if (!r || r.kind !== 'map' || r.items.length !== 1) return undefined;
    const pair = r.items[0]!;
    const childItems: SPair[] = [];
    let childStart = -1;
    let childEnd = -1;
    for (const c of entry.children) {
      const cr = c.root;
      if (cr === null) continue;
      if (cr.kind !== 'map') return undefined;
      if (childStart < 0) childStart = cr.start;
      childEnd = cr.end;
      childItems.push(...cr.items);
    }
    const value: SNode | null = childItems.length ? { kind: 'map', items: childItems, flow: false, start: childStart, end: childEnd } : null;
    rootItems.push({ key: pair.key, value, start: pair.start, end: value ? value.end : pair.end });
  }
  if (!rootItems.length) return { root: null, errors: [] };
  return { root: { kind: 'map', items: rootItems, flow: false, start: rootItems[0]!.start, end: rootItems[rootItems.length - 1]!.end }, errors: [] };
}

function leadingSpaces(text: string, at: number): number {
  let i = at;
  while (text.charCodeAt(i) === 32) i++;
  return i - at;
}

/** A child piece still is one entry: its first line at the children's indent, the rest deeper. */
function childPieceShapeHolds(piece: string, indent: number): boolean {
  if (leadingSpaces(piece, 0) !== indent) return false;
  const c = piece.charCodeAt(indent);
  if (Number.isNaN(c) || c === 35 /* # */ || c === 45 /* - */ || c === 10 || c === 13) return false;
  for (let nl = piece.indexOf('\n'); nl !== -1 && nl + 1 < piece.length; nl = piece.indexOf('\n', nl + 1)) {
    const n = leadingSpaces(piece, nl + 1);
    const ch = piece.charCodeAt(nl + 1 + n);
    const blank = Number.isNaN(ch) || ch === 10 || ch === 13 || ch === 35;
    if (!blank && n <= indent) return false;
  }
  return true;
}

/** Length of the common prefix, compared a block at a time (string equality is a memcmp). */
function commonPrefix(a: string, b: string): number {
  const max = Math.min(a.length, b.length);
  let i = 0;
  for (const step of [65536, 4096, 256, 16]) {
    while (i + step <= max && a.slice(i, i + step) === b.slice(i, i + step)) i += step;
  }
  while (i < max && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/** Length of the common suffix, at most `max` characters. */
function commonSuffix(a: string, b: string, max: number): number {
  let i = 0;
  for (const step of [65536, 4096, 256, 16]) {
    while (i + step <= max && a.slice(a.length - i - step, a.length - i) === b.slice(b.length - i - step, b.length - i)) i += step;
  }
  while (i < max && a.charCodeAt(a.length - 1 - i) === b.charCodeAt(b.length - 1 - i)) i++;
  return i;
}

/** A flat copy of `s` that does not share (and so does not retain) the string it was sliced from. */
export function copyString(s: string): string {
  return s.length < 16 ? s : (' ' + s).slice(1);
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
      entries.push({ head: { start, end: headEnd, text: copyString(text.slice(start, headEnd)) }, children });
    } else {
      entries.push({ head: { start, end, text: copyString(text.slice(start, end)) } });
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
      // Copies: the strings parsed from a piece share its text, and a slice would pin the file.
      pieces.push({ start, end, text: copyString(text.slice(start, end)) });
      cur = k;
    }
  }
  return pieces;
}
