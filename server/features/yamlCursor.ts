/**
 * Where the cursor is in a YAML file, read from the text alone: the key path from the root,
 * whether a key, a value or a list item is being typed, and the word under the cursor. It
 * works on half-typed files that do not parse (the usual state while typing), which is why it
 * does not use the source tree. Block style, flow collections on one line (`[a, b]`,
 * `{ a: 1 }`) and quoted scalars are understood; anchors, tags and multi-line flow
 * collections are not needed by these files.
 */
import type { LineIndex } from '../../core/text/lineIndex.js';

export interface YamlCursor {
  /**
   * 'key': a key of the mapping at `path` is being typed; 'value': the value of the key that
   * ends `path`; 'item': an item of the sequence that ends... `path` names the item itself
   * (its last segment is the item's index).
   */
  kind: 'key' | 'value' | 'item';
  path: string[];
  /** The word being typed, from its start to its end around the cursor (offsets). */
  word: string;
  wordStart: number;
  wordEnd: number;
  /** For values and items: the scalar's raw text from its start to the cursor (quotes excluded). */
  scalarPrefix: string;
  scalarStart: number;
  quote?: '"' | "'";
  /** In a flow collection (`[...]`, `{...}`) on this line. */
  flow: boolean;
  /** Keys the mapping already has (kind 'key'). */
  siblings: Set<string>;
  /** Column of the mapping's keys (kind 'key'), or of the item (kind 'item'). */
  column: number;
  /** True when a block list item is being typed on a line without its `- ` yet. */
  needsDash: boolean;
  /** The `id:` of each sequence item on the path, by path index. */
  itemIds: Map<number, string>;
  /** Line of the cursor. */
  line: number;
}

interface LineInfo {
  indent: number;
  dashes: number[];
  key?: string;
  keyCol: number;
  /** Text after the key's colon (trimmed), when there is a key. */
  value?: string;
  firstCol: number;
}

const KEY_RE = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"[\]{},:][^#]*?)[ \t]*:(?=[ \t]|$)/;

function unquote(k: string): string {
  if (k.startsWith('"') && k.endsWith('"') && k.length >= 2) {
    try {
      return JSON.parse(k) as string;
    } catch {
      return k.slice(1, -1);
    }
  }
  if (k.startsWith("'") && k.endsWith("'") && k.length >= 2) return k.slice(1, -1).replace(/''/g, "'");
  return k;
}

export function scanLine(s: string): LineInfo | undefined {
  let i = 0;
  while (i < s.length && s[i] === ' ') i++;
  if (i >= s.length || s[i] === '#' || s[i] === '\r') return undefined;
  const indent = i;
  const dashes: number[] = [];
  while (s[i] === '-' && (i + 1 >= s.length || s[i + 1] === ' ' || s[i + 1] === '\r')) {
    dashes.push(i);
    i++;
    while (s[i] === ' ') i++;
  }
  const info: LineInfo = { indent, dashes, keyCol: i, firstCol: dashes[0] ?? i };
  if (s.startsWith('---', indent) || s.startsWith('...', indent)) return undefined;
  const m = KEY_RE.exec(s.slice(i));
  if (m) {
    info.key = unquote(m[1]!.trim());
    info.value = stripComment(s.slice(i + m[0].length)).trim();
  }
  return info;
}

function stripComment(v: string): string {
  let q: string | undefined;
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (q) {
      if (c === q) q = undefined;
    } else if (c === '"' || c === "'") {
      if (i === 0 || /[\s,[{]/.test(v[i - 1]!)) q = c;
    } else if (c === '#' && (i === 0 || /\s/.test(v[i - 1]!))) return v.slice(0, i);
  }
  return v;
}

/** A scalar written on a line: its value without quotes and comment. */
export function scalarText(v: string): string {
  const t = stripComment(v).trim();
  return unquote(t);
}

/** Whether a key's inline value lets it have nested children (empty, a block scalar, an anchor or a tag). */
function opensBlock(value: string | undefined): boolean {
  if (value === undefined) return false;
  return value === '' || /^[|>]/.test(value) || /^[&!]\S*$/.test(value);
}

interface Frame {
  type: '[' | '{';
  index: number;
  key?: string;
  keys: string[];
}

interface InlineResult {
  segments: string[];
  kind: 'key' | 'value' | 'item';
  word: string;
  wordStart: number;
  scalarPrefix: string;
  scalarStart: number;
  quote?: '"' | "'";
  flow: boolean;
  siblings: string[];
}

/** The cursor fields an inline value gives, its offsets made absolute from `abs` (where it starts). */
function inlineContext(
  inline: InlineResult,
  abs: number,
  pathPrefix: string[],
  column: number,
  offset: number,
  wordEndIn: (from: number) => number,
): Omit<YamlCursor, 'needsDash' | 'itemIds' | 'line'> {
  return {
    kind: inline.kind,
    path: [...pathPrefix, ...inline.segments],
    word: inline.word,
    wordStart: abs + inline.wordStart,
    wordEnd: inline.quote ? offset : wordEndIn(offset),
    scalarPrefix: inline.scalarPrefix,
    scalarStart: abs + inline.scalarStart,
    ...(inline.quote ? { quote: inline.quote } : {}),
    flow: inline.flow,
    siblings: inline.kind === 'key' ? new Set(inline.siblings) : new Set(),
    column,
  };
}

/** Parses a value written after `key:` (or after `- `) up to the cursor. */
function parseInline(v: string): InlineResult {
  const stack: Frame[] = [];
  let tokStart = 0;
  let quote: '"' | "'" | undefined;
  let quoteStart = -1;
  let i = 0;
  const skipSpaces = () => {
    while (i < v.length && (v[i] === ' ' || v[i] === '\t')) i++;
    tokStart = i;
  };
  skipSpaces();
  while (i < v.length) {
    const c = v[i]!;
    if (quote) {
      if (c === '\\' && quote === '"') {
        i += 2;
        continue;
      }
      if (c === quote) {
        if (quote === "'" && v[i + 1] === "'") {
          i += 2;
          continue;
        }
        quote = undefined;
      }
      i++;
      continue;
    }
    const atTokenStart = v.slice(tokStart, i).trim() === '';
    if ((c === '"' || c === "'") && atTokenStart) {
      quote = c;
      quoteStart = i;
      i++;
      continue;
    }
    if ((c === '[' || c === '{') && atTokenStart) {
      stack.push({ type: c, index: 0, keys: [] });
      i++;
      skipSpaces();
      continue;
    }
    const top = stack[stack.length - 1];
    if (top && (c === ']' || c === '}')) {
      stack.pop();
      i++;
      skipSpaces();
      continue;
    }
    if (top && c === ',') {
      if (top.type === '[') top.index++;
      else top.key = undefined;
      i++;
      skipSpaces();
      continue;
    }
    if (top?.type === '{' && c === ':' && (i + 1 >= v.length || v[i + 1] === ' ') && top.key === undefined) {
      top.key = unquote(v.slice(tokStart, i).trim());
      top.keys.push(top.key);
      i++;
      skipSpaces();
      continue;
    }
    if (c === '#' && i > 0 && /\s/.test(v[i - 1]!)) break;
    i++;
  }
  const segments: string[] = [];
  for (const f of stack) {
    if (f.type === '[') segments.push(String(f.index));
    else if (f.key !== undefined) segments.push(f.key);
  }
  const top = stack[stack.length - 1];
  const flow = stack.length > 0;
  if (quote) {
    const r: InlineResult = { segments, kind: top?.type === '[' ? 'item' : 'value', word: v.slice(quoteStart + 1), wordStart: quoteStart + 1, scalarPrefix: v.slice(quoteStart + 1), scalarStart: quoteStart + 1, quote, flow, siblings: [] };
    if (top?.type === '{' && top.key === undefined) r.kind = 'key';
    return r;
  }
  const tok = v.slice(tokStart);
  const kind: InlineResult['kind'] = !top ? 'value' : top.type === '[' ? 'item' : top.key === undefined ? 'key' : 'value';
  return { segments, kind, word: tok, wordStart: tokStart, scalarPrefix: tok, scalarStart: tokStart, flow, siblings: top?.type === '{' ? top.keys : [] };
}

/** The text of a line by index, without the line break. */
function lineAt(lines: LineIndex, l: number): string {
  return lines.lineText(l);
}

/** Index of a block list item among its siblings (the dash at `col` on line `l`). */
function seqIndex(lines: LineIndex, l: number, col: number): number {
  const table = indents(lines);
  let n = 0;
  for (let k = l - 1; k >= 0; k--) {
    const ind = table[k]! === BLANK ? Number.MAX_SAFE_INTEGER : table[k]!;
    if (ind > col) continue;
    const s = lineAt(lines, k);
    const info = scanLine(s);
    if (!info) continue;
    if (info.firstCol < col) break;
    if (info.dashes[0] === col) n++;
    else if (info.firstCol === col) break;
  }
  return n;
}

/** The `id:` value of the block list item whose dash is at `col` on line `l`. */
function itemId(lines: LineIndex, l: number, col: number): string | undefined {
  const table = indents(lines);
  const first = scanLine(lineAt(lines, l));
  if (!first) return undefined;
  const keyCol = first.keyCol;
  if (first.key === 'id' && first.dashes[first.dashes.length - 1] === col) return scalarText(first.value ?? '');
  for (let k = l + 1; k < lines.lineCount; k++) {
    const ind = table[k]! === BLANK ? Number.MAX_SAFE_INTEGER : table[k]!;
    if (ind === Number.MAX_SAFE_INTEGER || ind <= col) {
      if (ind <= col) break;
      continue;
    }
    const s = lineAt(lines, k);
    const info = scanLine(s);
    if (!info) continue;
    if (info.firstCol <= col) break;
    if (info.keyCol === keyCol && info.dashes.length === 0 && info.key === 'id') return scalarText(info.value ?? '');
  }
  return undefined;
}

const indentCache = new WeakMap<LineIndex, Uint8Array>();

/** The last line at or before `from` indented at most `max` (blank lines never are); -1 if none. */
function lastAtMost(table: Uint8Array, from: number, max: number): number {
  let l = from;
  while (l >= 0 && table[l]! > max) l--;
  return l;
}
const BLANK = 255;

/** Every line's indentation (255 for blank and comment lines), computed once per text. */
function indents(lines: LineIndex): Uint8Array {
  let a = indentCache.get(lines);
  if (a) return a;
  const text = lines.text;
  const n = lines.lineCount;
  a = new Uint8Array(n);
  for (let l = 0; l < n; l++) {
    const start = lines.lineStarts[l]!;
    let i = start;
    while (text.charCodeAt(i) === 32) i++;
    const c = text.charCodeAt(i);
    // Blank (end of text, \n, \r) and comment (#) lines never bound anything.
    a[l] = i >= text.length || c === 10 || c === 13 || c === 35 ? BLANK : Math.min(254, i - start);
  }
  indentCache.set(lines, a);
  return a;
}

interface Ancestor {
  segment: string;
  /** For list items: the dash's line and column. */
  dash?: { line: number; col: number };
}

/**
 * The ancestors of a position at column `col` on line `line` (exclusive), innermost last, and
 * the keys of the mapping at that column above and below it.
 */
function ancestorsOf(lines: LineIndex, line: number, col: number): { chain: Ancestor[]; siblings: Set<string>; blockScalar: boolean } {
  const table = indents(lines);
  const chain: Ancestor[] = [];
  const siblings = new Set<string>();
  let target = col;
  let first = true;
  let blockScalar = false;
  for (let l = line - 1; l >= 0 && (target > 0 || first); l--) {
    // Skip the deeper lines in one tight loop (a big file has tens of thousands of them).
    l = lastAtMost(table, l, first ? target : target - 1);
    if (l < 0) break;
    const s = lineAt(lines, l);
    const info = scanLine(s);
    if (!info) continue;
    if (first && info.key !== undefined && info.keyCol === target && (info.dashes.length === 0 || info.dashes[info.dashes.length - 1]! < target)) siblings.add(info.key);
    const tokens: { col: number; key?: string; value?: string; dash?: boolean }[] = info.dashes.map((d) => ({ col: d, dash: true }));
    if (info.key !== undefined) tokens.push({ col: info.keyCol, key: info.key, value: info.value });
    for (let t = tokens.length - 1; t >= 0; t--) {
      const tok = tokens[t]!;
      if (tok.col >= target) continue;
      if (tok.dash) {
        chain.unshift({ segment: String(seqIndex(lines, l, tok.col)), dash: { line: l, col: tok.col } });
        target = tok.col;
        first = false;
      } else if (opensBlock(tok.value)) {
        if (first && /^[|>]/.test(tok.value ?? '')) blockScalar = true;
        chain.unshift({ segment: tok.key! });
        target = tok.col;
        first = false;
      }
    }
  }
  // Keys below, in the same mapping.
  for (let l = line + 1; l < lines.lineCount; l++) {
    const ind = table[l]! === BLANK ? Number.MAX_SAFE_INTEGER : table[l]!;
    if (ind === Number.MAX_SAFE_INTEGER || ind > col) continue;
    const s = lineAt(lines, l);
    const info = scanLine(s);
    if (!info) continue;
    if (info.firstCol < col) break;
    if (info.key !== undefined && info.keyCol === col && info.dashes.length === 0) siblings.add(info.key);
  }
  return { chain, siblings, blockScalar };
}

/** The cursor context at `offset` of a YAML text. */
export function yamlCursorAt(text: string, lines: LineIndex, offset: number): YamlCursor {
  const pos = lines.positionAt(offset);
  const lineStart = lines.lineStarts[pos.line]!;
  const fullLine = lineAt(lines, pos.line);
  const prefix = text.slice(lineStart, offset);
  // The current line's own structure, up to the cursor.
  let i = 0;
  while (i < prefix.length && prefix[i] === ' ') i++;
  const dashes: number[] = [];
  while (prefix[i] === '-' && (i + 1 >= prefix.length || prefix[i + 1] === ' ')) {
    dashes.push(i);
    i++;
    while (prefix[i] === ' ') i++;
  }
  const restStart = i;
  const rest = prefix.slice(restStart);
  const anchorCol = dashes[0] ?? restStart;
  const { chain, siblings, blockScalar } = ancestorsOf(lines, pos.line, anchorCol);
  const path = chain.map((a) => a.segment);
  const itemIds = new Map<number, string>();
  chain.forEach((a, idx) => {
    if (!a.dash) return;
    const id = itemId(lines, a.dash.line, a.dash.col);
    if (id !== undefined) itemIds.set(idx, id);
  });
  for (const d of dashes) {
    path.push(String(seqIndex(lines, pos.line, d)));
    const id = d === dashes[dashes.length - 1] ? itemId(lines, pos.line, d) : undefined;
    if (id !== undefined) itemIds.set(path.length - 1, id);
  }
  const wordEndIn = (from: number) => {
    let e = from;
    while (e < lineStart + fullLine.length && /[A-Za-z0-9_./-]/.test(text[e]!)) e++;
    return e;
  };
  const base = {
    flow: false,
    siblings,
    needsDash: false,
    itemIds,
    line: pos.line,
  };
  if (blockScalar) {
    // Inside a `|` or `>` block scalar: the value of the innermost key.
    const wordStart = offset - (/[A-Za-z0-9_./-]*$/.exec(prefix)?.[0].length ?? 0);
    return { ...base, kind: 'value', path, word: text.slice(wordStart, offset), wordStart, wordEnd: wordEndIn(offset), scalarPrefix: prefix.slice(anchorCol), scalarStart: lineStart + anchorCol, column: anchorCol, siblings: new Set() };
  }
  const km = KEY_RE.exec(rest);
  if (km) {
    const key = unquote(km[1]!.trim());
    const valueOffset = restStart + km[0].length;
    return { ...base, ...inlineContext(parseInline(prefix.slice(valueOffset)), lineStart + valueOffset, [...path, key], restStart, offset, wordEndIn) };
  }
  if (rest.startsWith('[') || rest.startsWith('{') || rest.startsWith('"') || rest.startsWith("'")) {
    const inline = parseInline(rest);
    const ctx = inlineContext(inline, lineStart + restStart, path, restStart, offset, wordEndIn);
    return { ...base, ...ctx, kind: dashes.length && !inline.flow ? 'item' : ctx.kind };
  }
  // A bare word: a key of the mapping at this column, or (decided by the caller from the
  // schema) a scalar list item.
  const wordStart = lineStart + restStart;
  return {
    ...base,
    kind: 'key',
    path,
    word: rest,
    wordStart,
    wordEnd: wordEndIn(offset),
    scalarPrefix: rest,
    scalarStart: wordStart,
    column: restStart,
    // With a dash on this line the keys of the item's mapping are the ones after the dash.
    siblings: dashes.length ? itemSiblings(lines, pos.line, restStart) : siblings,
  };
}

/** Keys of the list item started on line `l`, whose keys sit at column `col`. */
function itemSiblings(lines: LineIndex, l: number, col: number): Set<string> {
  const table = indents(lines);
  const out = new Set<string>();
  for (let k = l + 1; k < lines.lineCount; k++) {
    const ind = table[k]! === BLANK ? Number.MAX_SAFE_INTEGER : table[k]!;
    if (ind === Number.MAX_SAFE_INTEGER) continue;
    const s = lineAt(lines, k);
    const info = scanLine(s);
    if (!info) continue;
    if (info.firstCol < col) break;
    if (info.key !== undefined && info.keyCol === col && info.dashes.length === 0) out.add(info.key);
  }
  return out;
}
