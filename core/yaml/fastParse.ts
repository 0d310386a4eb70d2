/**
 * A fast parser for the block-style YAML subset that PromptManager's config files use. It
 * returns exactly the source tree that `parseWithYamlPackage` (parse.ts) builds, including
 * every offset, or `undefined` to decline: the `yaml` package stays the authority on anything
 * outside the subset and on every error, so whenever a construct is unusual or might be
 * invalid, this parser declines instead of guessing.
 *
 * Most of the work is reproducing where the `yaml` package puts the *end* of collections. Its
 * Converter uses `range[1]` of a collection, which is `range[2]` of the collection's last value:
 * for a value on one line that is the end of its line break, extended over later comment lines
 * that are more indented than the collection (the package's parser glues them to the value),
 * and for a nested collection the offset of the next content token when trailing comment lines
 * at or beyond its own indentation stay with it. `pendingComment` and `v2` below carry exactly
 * that information between levels.
 */
import type { SMap, SNode, SPair, SScalar, SSeq } from './sourceTree.js';

/** Thrown (never as an Error, so no stack is captured) to abandon the fast path. */
const DECLINE = { decline: true };

// Characters that the package handles in ways not worth mirroring (tabs, BOM, non-printables,
// Unicode line breaks) and lone carriage returns. The first test, without a lookahead, is twice
// as fast and settles texts without any `\r`.
const SUSPECT = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]/;
const FORBIDDEN = /[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]|\r(?!\n)/;

const SP = 32;
const NL = 10;
const CR = 13;
const HASH = 35;
const COLON = 58;
const DASH = 45;
const SQUOTE = 39;
const DQUOTE = 34;
const LBRACKET = 91;
const RBRACKET = 93;
const LBRACE = 123;
const RBRACE = 125;
const COMMA = 44;
const PIPE = 124;
const GT = 62;
const QMARK = 63;

const BLANK = 0;
const COMMENT = 1;
const CONTENT = 2;

/** The package reports nesting deeper than 200 as an error; stay well clear of it. */
const MAX_DEPTH = 100;
/** The package rejects implicit keys longer than 1024 characters in strict mode. */
const MAX_KEY_SPAN = 1000;

// The YAML 1.2 core schema exactly as node_modules/yaml/dist/schema/core/ defines it, tried in
// the package's order; the first match wins and anything else is a string.
const NULL_RE = /^(?:~|[Nn]ull|NULL)?$/;
const BOOL_RE = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const INT_OCT_RE = /^0o[0-7]+$/;
const INT_RE = /^[-+]?[0-9]+$/;
const INT_HEX_RE = /^0x[0-9a-fA-F]+$/;
const FLOAT_NAN_RE = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP_RE = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT_RE = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;

function resolvePlain(s: string): string | number | boolean | null {
  if (s.length === 0) return null;
  const c = s.charCodeAt(0);
  // Only these first characters can start a non-string; everything else skips the regexes.
  if (c === 126 /* ~ */ || c === 110 /* n */ || c === 78 /* N */) return NULL_RE.test(s) ? null : s;
  if (c === 116 /* t */ || c === 84 /* T */ || c === 102 /* f */ || c === 70 /* F */) {
    return BOOL_RE.test(s) ? c === 116 || c === 84 : s;
  }
  if ((c >= 48 && c <= 57) || c === 43 /* + */ || c === DASH || c === 46 /* . */) {
    if (INT_OCT_RE.test(s)) return parseInt(s.substring(2), 8);
    if (INT_RE.test(s)) return parseInt(s, 10);
    if (INT_HEX_RE.test(s)) return parseInt(s.substring(2), 16);
    if (FLOAT_NAN_RE.test(s)) return s.slice(-3).toLowerCase() === 'nan' ? NaN : s[0] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
    if (FLOAT_EXP_RE.test(s)) return parseFloat(s);
    if (FLOAT_RE.test(s)) return parseFloat(s);
  }
  return s;
}

const ESCAPES: Record<string, string> = {
  '0': '\0',
  a: '\x07',
  b: '\b',
  e: '\x1b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  N: '\u0085',
  _: '\u00a0',
  L: '\u2028',
  P: '\u2029',
  ' ': ' ',
  '"': '"',
  '/': '/',
  '\\': '\\',
};

/** Unescapes the inside of a one-line double-quoted scalar; declines where the package errs. */
function unescapeDouble(src: string): string {
  let res = '';
  for (let i = 0; i < src.length; ++i) {
    const ch = src[i]!;
    if (ch !== '\\') {
      res += ch;
      continue;
    }
    const next = src[++i];
    if (next === undefined) throw DECLINE;
    const cc = Object.prototype.hasOwnProperty.call(ESCAPES, next) ? ESCAPES[next] : undefined;
    if (cc !== undefined) {
      res += cc;
    } else if (next === 'x' || next === 'u' || next === 'U') {
      const length = next === 'x' ? 2 : next === 'u' ? 4 : 8;
      const hex = src.substr(i + 1, length);
      if (hex.length !== length || !/^[0-9a-fA-F]+$/.test(hex)) throw DECLINE;
      const code = parseInt(hex, 16);
      if (code > 0x10ffff) throw DECLINE;
      res += String.fromCodePoint(code);
      i += length;
    } else {
      throw DECLINE;
    }
  }
  return res;
}

function isFlowIndicator(c: number): boolean {
  return c === COMMA || c === LBRACKET || c === RBRACKET || c === LBRACE || c === RBRACE;
}

/**
 * Characters that cannot start a plain scalar in the subset: flow and block indicators,
 * properties (tags, anchors, aliases), quotes, and the starts the package rejects outright.
 */
function badPlainStart(c: number): boolean {
  switch (c) {
    case COMMA:
    case LBRACKET:
    case RBRACKET:
    case LBRACE:
    case RBRACE:
    case HASH:
    case 38 /* & */:
    case 42 /* * */:
    case 33 /* ! */:
    case PIPE:
    case GT:
    case SQUOTE:
    case DQUOTE:
    case 37 /* % */:
    case 64 /* @ */:
    case 96 /* ` */:
    case SP:
      return true;
    default:
      return false;
  }
}

// Config files repeat the same short keys and values thousands of times. A direct-mapped cache
// of their strings and resolved values, looked up by a hash taken while scanning, spares both
// the slice and the schema regexes on a hit, and the tree then shares one string per spelling:
// less to allocate and less for the garbage collector to copy. Kept across calls since
// resolution never depends on context. Only strings short enough that V8 copies them when
// sliced (under 13 characters) are kept, so a cached string never pins the text it came from.
const CACHE_MAX_LENGTH = 12;
const CACHE_MASK = 4095;
const cacheText: (string | undefined)[] = new Array<string | undefined>(CACHE_MASK + 1).fill(undefined);
const cacheValue: SScalar['value'][] = new Array<SScalar['value']>(CACHE_MASK + 1).fill(null);

function scalar(value: SScalar['value'], style: SScalar['style'], start: number, end: number): SScalar {
  return { kind: 'scalar', value, style, start, end };
}

class FastParser {
  private readonly t: string;
  private readonly len: number;
  private readonly nLines: number;
  /** Offset of each line's first character. */
  private readonly ls: Int32Array;
  /** End of each line's content: its `\n`, or the `\r` of `\r\n`, or the end of the text. */
  private readonly ce: Int32Array;
  /** Offset just after each line's line break (the end of the text for the last line). */
  private readonly nx: Int32Array;
  private readonly ind: Int32Array;
  private readonly kind: Uint8Array;

  /** Index of the next content line once a value has been read (nLines at the end). */
  private li = 0;
  /** The `range[2]` of the node just read: where its collection ends if it is the last value. */
  private v2 = 0;
  /**
   * The highest indentation of a comment line in the trailing lines that the package keeps as a
   * pending collection item after the node just read, or -1 when they hold no comment.
   */
  private pendingComment = -1;
  /** Set by scanPlain: the end of a plain scalar's text, its hash, and where a `: ` stopped it (-1 if not). */
  private plainEnd = 0;
  private plainHash = 0;
  private plainColon = -1;
  /** Scratch stacks for the items of the collections being read, copied out at their exact size. */
  private readonly pairStack: SPair[] = [];
  private pairTop = 0;
  private readonly nodeStack: (SNode | null)[] = [];
  private nodeTop = 0;
  /** Set by scanQuoted, flow and flowNode: the offset after the node they read. */
  private after = 0;

  constructor(text: string) {
    this.t = text;
    const len = (this.len = text.length);
    let count = 0;
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) count++;
    if (len > 0 && text.charCodeAt(len - 1) !== NL) count++;
    this.nLines = count;
    const ls = (this.ls = new Int32Array(count));
    const ce = (this.ce = new Int32Array(count));
    const nx = (this.nx = new Int32Array(count));
    const ind = (this.ind = new Int32Array(count));
    const kind = (this.kind = new Uint8Array(count));
    let s = 0;
    for (let l = 0; l < count; l++) {
      let e = text.indexOf('\n', s);
      let next: number;
      if (e === -1) {
        e = len;
        next = len;
      } else {
        next = e + 1;
        if (e > s && text.charCodeAt(e - 1) === CR) e--;
      }
      let i = s;
      while (i < e && text.charCodeAt(i) === SP) i++;
      ls[l] = s;
      ce[l] = e;
      nx[l] = next;
      ind[l] = i - s;
      if (i >= e) kind[l] = BLANK;
      else if (text.charCodeAt(i) === HASH) kind[l] = COMMENT;
      else {
        kind[l] = CONTENT;
        // Document markers end or start documents; the package handles those.
        if (i === s && e - s >= 3) {
          const c = text.charCodeAt(s);
          if ((c === DASH || c === 46) && text.charCodeAt(s + 1) === c && text.charCodeAt(s + 2) === c) throw DECLINE;
        }
      }
      s = next;
    }
  }

  parseDocument(): SNode | null {
    const first = this.nextContent(0);
    if (first >= this.nLines) return null;
    const root = this.block(first, 0);
    if (this.li < this.nLines) throw DECLINE;
    return root;
  }

  private nextContent(from: number): number {
    const kind = this.kind;
    const n = this.nLines;
    while (from < n && kind[from] !== CONTENT) from++;
    return from;
  }

  /** Where the package's trailing tokens before content line `n` end: at its first non-space. */
  private contentOffset(n: number): number {
    return n < this.nLines ? this.ls[n]! + this.ind[n]! : this.len;
  }

  private hasCommentLine(from: number, to: number): boolean {
    const kind = this.kind;
    for (let j = from; j < to; j++) if (kind[j] === COMMENT) return true;
    return false;
  }

  private isSeqItemAt(p: number, ce: number): boolean {
    return this.t.charCodeAt(p) === DASH && (p + 1 >= ce || this.t.charCodeAt(p + 1) === SP);
  }

  /** A block collection starting at the first non-space of content line `line`. */
  private block(line: number, depth: number): SMap | SSeq {
    if (depth > MAX_DEPTH) throw DECLINE;
    const p = this.ls[line]! + this.ind[line]!;
    const ce = this.ce[line]!;
    if (this.isSeqItemAt(p, ce)) return this.seq(line, p, depth);
    const key = this.key(p, ce);
    if (!key) throw DECLINE;
    return this.map(line, p, depth, key);
  }

  /**
   * A scalar key at `p` followed by `:` and a space or the line end, or null when the text
   * there is not one. Leaves the colon's offset in plainColon.
   */
  private key(p: number, ce: number): SScalar | null {
    const t = this.t;
    const c = t.charCodeAt(p);
    let key: SScalar;
    let i: number;
    if (c === DQUOTE || c === SQUOTE) {
      key = this.scanQuoted(p, ce);
      i = this.after;
      while (i < ce && t.charCodeAt(i) === SP) i++;
      if (i >= ce || t.charCodeAt(i) !== COLON || (i + 1 < ce && t.charCodeAt(i + 1) !== SP)) return null;
      this.plainColon = i;
    } else {
      if (!this.plainStartOk(p, ce, false)) return null;
      this.scanPlain(p, ce);
      if (this.plainColon < 0) return null;
      key = this.plain(p, this.plainEnd, this.plainHash);
      i = this.plainColon;
    }
    if (i - p > MAX_KEY_SPAN) throw DECLINE;
    return key;
  }

  private plainStartOk(p: number, ce: number, inFlow: boolean): boolean {
    const t = this.t;
    const c = t.charCodeAt(p);
    if (badPlainStart(c)) return false;
    if (c === DASH || c === QMARK || c === COLON) {
      // Followed by a space (or, in flow, a flow indicator) these are indicators, not text.
      if (p + 1 >= ce) return false;
      const n = t.charCodeAt(p + 1);
      if (n === SP || (inFlow && isFlowIndicator(n))) return false;
    }
    return true;
  }

  /**
   * Scans a one-line plain scalar in block context from `p`, stopping at `: `, ` #` or the end
   * of the line, as the package's lexer does.
   */
  private scanPlain(p: number, ce: number): void {
    const t = this.t;
    let last = p;
    let colon = -1;
    let h = 0;
    let hLast = 0;
    for (let i = p; i < ce; i++) {
      const c = t.charCodeAt(i);
      h = (Math.imul(h, 31) + c) | 0;
      if (c === COLON) {
        if (i + 1 >= ce || t.charCodeAt(i + 1) === SP) {
          colon = i;
          break;
        }
        last = i;
        hLast = h;
      } else if (c === SP) {
        if (t.charCodeAt(i + 1) === HASH) break;
      } else {
        last = i;
        hLast = h;
      }
    }
    this.plainEnd = last + 1;
    this.plainHash = hLast;
    this.plainColon = colon;
  }

  /** The plain scalar [p, end) whose text hashes to `hash` (see scanPlain). */
  private plain(p: number, end: number, hash: number): SScalar {
    const len = end - p;
    if (len > CACHE_MAX_LENGTH) return scalar(resolvePlain(this.t.slice(p, end)), 'plain', p, end);
    const slot = (hash ^ (hash >>> 12) ^ len) & CACHE_MASK;
    const cached = cacheText[slot];
    if (cached !== undefined && cached.length === len && this.t.startsWith(cached, p)) return scalar(cacheValue[slot]!, 'plain', p, end);
    const text = this.t.slice(p, end);
    const value = resolvePlain(text);
    cacheText[slot] = text;
    cacheValue[slot] = value;
    return scalar(value, 'plain', p, end);
  }

  /** A one-line quoted scalar at `p`; sets `after` to the offset after its closing quote. */
  private scanQuoted(p: number, ce: number): SScalar {
    const t = this.t;
    let i = p + 1;
    if (t.charCodeAt(p) === SQUOTE) {
      let doubled = false;
      for (;;) {
        if (i >= ce) throw DECLINE;
        if (t.charCodeAt(i) === SQUOTE) {
          if (i + 1 < ce && t.charCodeAt(i + 1) === SQUOTE) {
            doubled = true;
            i += 2;
            continue;
          }
          break;
        }
        i++;
      }
      const raw = t.slice(p + 1, i);
      this.after = i + 1;
      return scalar(doubled ? raw.replace(/''/g, "'") : raw, 'single', p, i + 1);
    }
    let escaped = false;
    for (;;) {
      if (i >= ce) throw DECLINE;
      const c = t.charCodeAt(i);
      if (c === 92 /* \ */) {
        escaped = true;
        i += 2;
        continue;
      }
      if (c === DQUOTE) break;
      i++;
    }
    const raw = t.slice(p + 1, i);
    this.after = i + 1;
    return scalar(escaped ? unescapeDouble(raw) : raw, 'double', p, i + 1);
  }

  /** After a value on a line: only spaces, then the line end or a comment after a space. */
  private restOfLine(e: number, ce: number): void {
    const t = this.t;
    let i = e;
    while (i < ce && t.charCodeAt(i) === SP) i++;
    if (i < ce && (t.charCodeAt(i) !== HASH || i === e)) throw DECLINE;
  }

  private map(line: number, p: number, depth: number, firstKey: SScalar): SMap {
    const t = this.t;
    const col = p - this.ls[line]!;
    const base = this.pairTop;
    let key = firstKey;
    let lastEnd = 0;
    for (;;) {
      const ce = this.ce[line]!;
      let r = this.plainColon + 1;
      while (r < ce && t.charCodeAt(r) === SP) r++;
      let value: SNode;
      this.pendingComment = -1;
      if (r >= ce || t.charCodeAt(r) === HASH) {
        const n = this.nextContent(line + 1);
        if (n < this.nLines && this.ind[n]! > col) {
          value = this.block(n, depth + 1);
        } else if (n < this.nLines && this.ind[n] === col && this.isSeqItemAt(this.ls[n]! + col, this.ce[n]!)) {
          // A sequence may sit at its key's own indentation.
          if (depth + 1 > MAX_DEPTH) throw DECLINE;
          value = this.seq(n, this.ls[n]! + col, depth + 1);
        } else {
          value = scalar(null, 'plain', r, r);
          // The package keeps every token up to the next content in the pair's separator, and
          // a comment among them stretches the empty value's end over all of them.
          this.v2 = r < ce || this.hasCommentLine(line + 1, n) ? this.contentOffset(n) : r;
          this.li = n;
        }
      } else {
        value = this.inlineValue(r, line, col, depth + 1);
      }
      this.pairStack[this.pairTop++] = { key, value, start: key.start, end: value.end };
      lastEnd = this.v2;
      const n = this.li;
      if (n >= this.nLines || this.ind[n]! < col) break;
      if (this.ind[n]! > col) throw DECLINE;
      line = n;
      const q = this.ls[n]! + col;
      const nce = this.ce[n]!;
      if (this.isSeqItemAt(q, nce)) throw DECLINE;
      const k = this.key(q, nce);
      if (!k) throw DECLINE;
      key = k;
    }
    const items = this.pairStack.slice(base, this.pairTop);
    this.pairTop = base;
    return this.finish({ kind: 'map', items, flow: false, start: p, end: lastEnd }, col);
  }

  private seq(line: number, p: number, depth: number): SSeq {
    const t = this.t;
    const col = p - this.ls[line]!;
    const base = this.nodeTop;
    let lastEnd = 0;
    let pos = p;
    // Comments the package keeps before an item's `-` belong to that item's own tokens.
    let startHasComment = false;
    for (;;) {
      const ce = this.ce[line]!;
      let r = pos + 1;
      while (r < ce && t.charCodeAt(r) === SP) r++;
      let value: SNode;
      this.pendingComment = -1;
      if (r >= ce || t.charCodeAt(r) === HASH) {
        const n = this.nextContent(line + 1);
        if (n < this.nLines && this.ind[n]! > col) {
          value = this.block(n, depth + 1);
        } else {
          value = scalar(null, 'plain', r, r);
          this.v2 = startHasComment || r < ce || this.hasCommentLine(line + 1, n) ? this.contentOffset(n) : r;
          this.li = n;
        }
      } else {
        const c = t.charCodeAt(r);
        if (c === DASH && (r + 1 >= ce || t.charCodeAt(r + 1) === SP)) throw DECLINE;
        let key: SScalar | null = null;
        if (c === DQUOTE || c === SQUOTE || this.plainStartOk(r, ce, false)) key = this.key(r, ce);
        if (key) {
          if (depth + 1 > MAX_DEPTH) throw DECLINE;
          value = this.map(line, r, depth + 1, key);
        } else {
          value = this.inlineValue(r, line, col, depth + 1);
        }
      }
      this.nodeStack[this.nodeTop++] = value;
      lastEnd = this.v2;
      const n = this.li;
      if (n >= this.nLines || this.ind[n]! < col) break;
      if (this.ind[n]! > col) throw DECLINE;
      const q = this.ls[n]! + col;
      // Anything else at this indentation ends the sequence; the parent decides if it fits.
      if (!this.isSeqItemAt(q, this.ce[n]!)) break;
      startHasComment = this.pendingComment >= 0;
      line = n;
      pos = q;
    }
    const items = this.nodeStack.slice(base, this.nodeTop);
    this.nodeTop = base;
    return this.finish({ kind: 'seq', items, flow: false, start: p, end: lastEnd }, col);
  }

  /**
   * Decides, as the package's parser does when it pops a block collection, whether the trailing
   * comment lines stay with this collection (stretching its `range[2]` to the next content) or
   * move up to the parent.
   */
  private finish<T extends SMap | SSeq>(node: T, col: number): T {
    if (col !== 0 && this.pendingComment >= col) {
      this.v2 = this.contentOffset(this.li);
      this.pendingComment = -1;
    } else {
      this.v2 = node.end;
    }
    return node;
  }

  /**
   * A value that starts on the current line at `r` (after `key: ` or `- `) inside a block
   * collection at indentation `col`.
   */
  private inlineValue(r: number, line: number, col: number, depth: number): SNode {
    const t = this.t;
    const ce = this.ce[line]!;
    const c = t.charCodeAt(r);
    if (c === PIPE || c === GT) return this.blockScalar(r, line, col);
    let node: SNode;
    let e: number;
    if (c === LBRACKET || c === LBRACE) {
      node = this.flow(r, ce, depth);
      e = this.after;
    } else if (c === DQUOTE || c === SQUOTE) {
      node = this.scanQuoted(r, ce);
      e = this.after;
    } else {
      if (!this.plainStartOk(r, ce, false)) throw DECLINE;
      this.scanPlain(r, ce);
      // `key: a: b` would be a nested compact mapping: an error.
      if (this.plainColon >= 0) throw DECLINE;
      e = this.plainEnd;
      node = this.plain(r, e, this.plainHash);
    }
    this.restOfLine(e, ce);
    const n = this.nextContent(line + 1);
    // A more indented line would continue a plain scalar over lines, or be an error.
    if (n < this.nLines && this.ind[n]! > col) throw DECLINE;
    // Comment lines more indented than the collection are glued to the value's end by the
    // package until a comment line at or left of the collection's indentation shows up.
    let v2 = this.nx[line]!;
    let pending = -1;
    const kind = this.kind;
    const ind = this.ind;
    for (let j = line + 1; j < n; j++) {
      if (kind[j] !== COMMENT) continue;
      if (pending < 0 && ind[j]! > col) v2 = this.nx[j]!;
      else if (ind[j]! > pending) pending = ind[j]!;
    }
    this.v2 = v2;
    this.pendingComment = pending;
    this.li = n;
    return node;
  }

  /** A one-line flow collection at `p`; sets `after` past its closing bracket. */
  private flow(p: number, ce: number, depth: number): SMap | SSeq {
    if (depth > MAX_DEPTH) throw DECLINE;
    const t = this.t;
    const isMap = t.charCodeAt(p) === LBRACE;
    const close = isMap ? RBRACE : RBRACKET;
    let i = this.skipSpaces(p + 1, ce);
    if (i >= ce) throw DECLINE;
    if (t.charCodeAt(i) === close) {
      this.after = i + 1;
      return isMap ? { kind: 'map', items: [], flow: true, start: p, end: i + 1 } : { kind: 'seq', items: [], flow: true, start: p, end: i + 1 };
    }
    const pairBase = this.pairTop;
    const nodeBase = this.nodeTop;
    for (;;) {
      if (isMap) {
        const kc = t.charCodeAt(i);
        if (kc === LBRACKET || kc === LBRACE) throw DECLINE;
        const key = this.flowNode(i, ce, depth + 1);
        const j = this.skipSpaces(this.after, ce);
        if (j + 1 >= ce || t.charCodeAt(j) !== COLON || t.charCodeAt(j + 1) !== SP) throw DECLINE;
        if (j - i > MAX_KEY_SPAN) throw DECLINE;
        const k = this.skipSpaces(j + 1, ce);
        if (k >= ce) throw DECLINE;
        const vc = t.charCodeAt(k);
        // Empty values and comments inside flow collections are left to the package.
        if (vc === COMMA || vc === RBRACE || vc === HASH) throw DECLINE;
        const value = this.flowNode(k, ce, depth + 1);
        this.pairStack[this.pairTop++] = { key, value, start: key.start, end: value.end };
      } else {
        const value = this.flowNode(i, ce, depth + 1);
        this.nodeStack[this.nodeTop++] = value;
      }
      i = this.skipSpaces(this.after, ce);
      if (i >= ce) throw DECLINE;
      const c = t.charCodeAt(i);
      if (c === COMMA) {
        i = this.skipSpaces(i + 1, ce);
        if (i >= ce) throw DECLINE;
        if (t.charCodeAt(i) === close) break;
        continue;
      }
      if (c === close) break;
      throw DECLINE;
    }
    this.after = i + 1;
    if (isMap) {
      const items = this.pairStack.slice(pairBase, this.pairTop);
      this.pairTop = pairBase;
      return { kind: 'map', items, flow: true, start: p, end: i + 1 };
    }
    const items = this.nodeStack.slice(nodeBase, this.nodeTop);
    this.nodeTop = nodeBase;
    return { kind: 'seq', items, flow: true, start: p, end: i + 1 };
  }

  private flowNode(i: number, ce: number, depth: number): SNode {
    const t = this.t;
    const c = t.charCodeAt(i);
    if (c === LBRACKET || c === LBRACE) return this.flow(i, ce, depth);
    if (c === DQUOTE || c === SQUOTE) return this.scanQuoted(i, ce);
    if (!this.plainStartOk(i, ce, true)) throw DECLINE;
    // Plain scalars in flow context also stop at flow indicators.
    let last = i;
    let h = t.charCodeAt(i);
    let hLast = h;
    for (let j = i + 1; j < ce; j++) {
      const d = t.charCodeAt(j);
      h = (Math.imul(h, 31) + d) | 0;
      if (d === COLON) {
        if (j + 1 >= ce) break;
        const n = t.charCodeAt(j + 1);
        if (n === SP || isFlowIndicator(n)) break;
        last = j;
        hLast = h;
      } else if (d === SP) {
        if (t.charCodeAt(j + 1) === HASH) break;
      } else if (isFlowIndicator(d)) {
        break;
      } else {
        last = j;
        hLast = h;
      }
    }
    this.after = last + 1;
    return this.plain(i, last + 1, hLast);
  }

  private skipSpaces(i: number, ce: number): number {
    const t = this.t;
    while (i < ce && t.charCodeAt(i) === SP) i++;
    return i;
  }

  /**
   * A literal or folded block scalar whose header is at `h`: the extent follows the package's
   * lexer and the value its resolveBlockScalar, declining wherever those report an error.
   */
  private blockScalar(h: number, line: number, col: number): SScalar {
    const t = this.t;
    const ce = this.ce[line]!;
    const mode = t.charCodeAt(h);
    let i = h + 1;
    let chomp = 0;
    if (i < ce && (t.charCodeAt(i) === DASH || t.charCodeAt(i) === 43 /* + */)) chomp = t.charCodeAt(i++);
    // Explicit indentation indicators and anything glued to the header are left to the package.
    if (i < ce && t.charCodeAt(i) !== SP) throw DECLINE;
    this.restOfLine(i, ce);
    const pos = this.nx[line]!;
    const len = this.len;

    // Extent (lexer.parseBlockScalar, with no explicit indentation and the whole input present).
    let indentNext = col + 1;
    let nl = pos - 1;
    let indent = 0;
    for (let k = pos; k < len; ++k) {
      const ch = t.charCodeAt(k);
      if (ch === SP) indent += 1;
      else if (ch === NL) {
        nl = k;
        indent = 0;
      } else if (ch === CR && t.charCodeAt(k + 1) === NL) {
        // part of a line break
      } else break;
    }
    if (indent >= indentNext) {
      indentNext = indent;
      do {
        const cs = this.continueBlock(nl + 1, indentNext);
        if (cs === -1) break;
        nl = t.indexOf('\n', cs);
      } while (nl !== -1);
      if (nl === -1) nl = len;
    }
    if (chomp !== 43) {
      for (;;) {
        let k = nl - 1;
        let ch = t.charCodeAt(k);
        if (ch === CR) ch = t.charCodeAt(--k);
        const lastChar = k;
        while (ch === SP) ch = t.charCodeAt(--k);
        if (ch === NL && k >= pos && k + 1 + indent > lastChar) nl = k;
        else break;
      }
    }
    const end = Math.min(nl + 1, len);
    const source = end > pos ? t.slice(pos, end) : '';
    const value = blockScalarValue(source, mode === GT, chomp, col);

    // The next line after the scalar's text.
    let j = line + 1;
    while (j < this.nLines && this.ls[j]! < end) j++;
    const n = this.nextContent(j);
    if (n < this.nLines && this.ind[n]! > col) throw DECLINE;
    let pending = -1;
    for (let k = j; k < n; k++) if (this.kind[k] === COMMENT && this.ind[k]! > pending) pending = this.ind[k]!;
    this.v2 = end;
    this.pendingComment = pending;
    this.li = n;
    return scalar(value, 'block', h, end);
  }

  /** lexer.continueScalar for a block scalar whose content indentation is `indentNext` (> 0). */
  private continueBlock(offset: number, indentNext: number): number {
    const t = this.t;
    let indent = 0;
    let ch = t.charCodeAt(offset);
    while (ch === SP) ch = t.charCodeAt(++indent + offset);
    if (ch === CR && t.charCodeAt(indent + offset + 1) === NL) return offset + indent + 1;
    return ch === NL || indent >= indentNext ? offset + indent : -1;
  }
}

/** resolveBlockScalar of the `yaml` package, for a header without an indentation indicator. */
function blockScalarValue(source: string, folded: boolean, chomp: number, parentIndent: number): string {
  const lines: [string, string][] = [];
  if (source) {
    const split = source.split(/\n( *)/);
    const first = split[0]!;
    const m = /^( *)/.exec(first);
    lines.push(m?.[1] ? [m[1], first.slice(m[1].length)] : ['', first]);
    for (let i = 1; i < split.length; i += 2) lines.push([split[i]!, split[i + 1]!]);
  }
  let chompStart = lines.length;
  for (let i = lines.length - 1; i >= 0; --i) {
    const content = lines[i]![1];
    if (content === '' || content === '\r') chompStart = i;
    else break;
  }
  if (chompStart === 0) return chomp === 43 && lines.length > 0 ? '\n'.repeat(Math.max(1, lines.length - 1)) : '';
  let trimIndent = parentIndent;
  let contentStart = 0;
  for (let i = 0; i < chompStart; ++i) {
    const [indent, content] = lines[i]!;
    if (content === '' || content === '\r') {
      if (indent.length > trimIndent) trimIndent = indent.length;
    } else {
      // The package reports both of these as errors.
      if (indent.length < trimIndent) throw DECLINE;
      trimIndent = indent.length;
      contentStart = i;
      if (trimIndent === 0) throw DECLINE;
      break;
    }
  }
  for (let i = lines.length - 1; i >= chompStart; --i) {
    if (lines[i]![0].length > trimIndent) chompStart = i + 1;
  }
  let value = '';
  let sep = '';
  let prevMoreIndented = false;
  for (let i = 0; i < contentStart; ++i) value += lines[i]![0].slice(trimIndent) + '\n';
  for (let i = contentStart; i < chompStart; ++i) {
    const indent = lines[i]![0];
    let content = lines[i]![1];
    if (content.endsWith('\r')) content = content.slice(0, -1);
    if (content && indent.length < trimIndent) throw DECLINE;
    if (!folded) {
      value += sep + indent.slice(trimIndent) + content;
      sep = '\n';
    } else if (indent.length > trimIndent || content[0] === '\t') {
      if (sep === ' ') sep = '\n';
      else if (!prevMoreIndented && sep === '\n') sep = '\n\n';
      value += sep + indent.slice(trimIndent) + content;
      sep = '\n';
      prevMoreIndented = true;
    } else if (content === '') {
      if (sep === '\n') value += '\n';
      else sep = '\n';
    } else {
      value += sep + content;
      sep = ' ';
      prevMoreIndented = false;
    }
  }
  if (chomp === 43) {
    for (let i = chompStart; i < lines.length; ++i) value += '\n' + lines[i]![0].slice(trimIndent);
    if (value[value.length - 1] !== '\n') value += '\n';
  } else if (chomp !== DASH) {
    value += '\n';
  }
  return value;
}

/**
 * Parses `text` when it stays within the block-style subset, returning the same tree as
 * `parseWithYamlPackage(text).root`; `null` for a document without content; `undefined` to
 * leave the text to the `yaml` package.
 */
export function fastParseYaml(text: string): SNode | null | undefined {
  if (SUSPECT.test(text) && FORBIDDEN.test(text)) return undefined;
  try {
    return new FastParser(text).parseDocument();
  } catch (e) {
    if (e === DECLINE) return undefined;
    throw e;
  }
}
