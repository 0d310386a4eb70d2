/**
 * Handlebars tags read as text, without parsing: where `{{` opens a tag and `}}` closes it,
 * and what the characters after the braces say (a block, its end, an `{{else}}`, a partial, a
 * comment...). The one scanner for the code that must look at a template before or without
 * Handlebars' parser: the limits checked before a parse (the nesting guard of analyze.ts, the
 * expression count of expressionLimit.ts), the closers a parse-error message suggests, and the
 * editor's view of text being typed (server/features/hbsCursor.ts, completion and the
 * `steps.<id>` reads in YAML values).
 *
 * Rules, as Handlebars' lexer has them (handlebars.l): a tag opens with two braces or more
 * (`{{{` unescaped, `{{{{` a raw block), then an optional `~` (whitespace control), then its
 * sigil. This scanner is lenient where a person typing is: whitespace before the sigil is
 * skipped, and a tag runs to the first `}}` (a `}}` inside a string literal ends it early).
 */

export const TAG_OPEN = '{{';
export const TAG_CLOSE = '}}';

/** Whether a text holds a tag at all: the cheap test before any analysis. */
export function hasTag(text: string): boolean {
  return text.includes(TAG_OPEN);
}

/**
 * Each tag of a text in order: `open` is the offset of its `{{`, `close` that of the first
 * `}}` after it (-1 when none follows: the tag runs to the end, and is the last). The next
 * tag is looked for after that `}}`, so a `{{` inside a tag starts none. A callback, not a
 * list: the nesting guard runs it on every template analysed.
 */
export function forEachTag(text: string, visit: (open: number, close: number) => void): void {
  let open = text.indexOf(TAG_OPEN);
  while (open !== -1) {
    const close = text.indexOf(TAG_CLOSE, open + 2);
    visit(open, close);
    if (close === -1) return;
    open = text.indexOf(TAG_OPEN, close + 2);
  }
}

/**
 * The start of every tag opening in a text, whether or not the tag before it was closed: the
 * first brace of each run of two or more. For text being typed, where an unclosed `{{` must
 * not hide the tags after it.
 */
export function forEachTagOpen(text: string, visit: (open: number) => void): void {
  let open = text.indexOf(TAG_OPEN);
  while (open !== -1) {
    visit(open);
    let next = open + 2;
    while (text.charCodeAt(next) === 123 /* { */) next++;
    open = text.indexOf(TAG_OPEN, next);
  }
}

/** `[start, end)` of the inside of every tag (from just after its `{{`), in order. */
export function tagInsides(text: string): [number, number][] {
  const out: [number, number][] = [];
  forEachTag(text, (open, close) => out.push([open + 2, close === -1 ? text.length : close]));
  return out;
}

/**
 * The offset of the n-th (1-based) `{{` of a text, counted without overlap (`{{{{` is two), or
 * -1: a bound on the number of expressions that costs one search per tag.
 */
export function nthTagOpen(text: string, n: number): number {
  let at = -1;
  for (let k = 0, from = 0; k < n; k++) {
    at = text.indexOf(TAG_OPEN, from);
    if (at < 0) return -1;
    from = at + TAG_OPEN.length;
  }
  return at;
}

/**
 * The first brace of the last tag opening that starts before `offset` (of `{{{` it is the
 * first of the three), or -1. Whether a `}}` closed it before `offset` is the caller's question.
 */
export function lastTagOpenBefore(text: string, offset: number): number {
  let open = text.lastIndexOf(TAG_OPEN, Math.max(0, offset - 1));
  if (open === -1) return -1;
  while (open > 0 && text.charCodeAt(open - 1) === 123 /* { */) open--;
  return open;
}

/**
 * What a tag's first characters say: `#` a block (`#>` a partial block, `#*` a decorator
 * block), `^` an inverse block (or, alone, `{{^}}`), `/` a block's end, `>` a partial, `!` a
 * comment, `&` an unescaped value, `{` one too (the third brace after a `~`: `{{~{x}}}`),
 * `else` the keyword (followed by whitespace), '' none.
 */
export type TagSigil = '#' | '#>' | '#*' | '^' | '/' | '>' | '!' | '&' | '{' | 'else' | '';

export interface TagHead {
  /** How many `{` open the tag: 2, 3 (`{{{`: unescaped) or 4 (`{{{{`: a raw block). */
  braces: number;
  /** Whether `~` follows the braces (whitespace control). */
  strip: boolean;
  sigil: TagSigil;
  /** Offset of the sigil: after the braces, the `~` and any whitespace (for no sigil, of the first character there). */
  sigilAt: number;
  /** Offset after the sigil and the whitespace after it: where the tag's name or expression begins. */
  inner: number;
}

const SPACE = /\s/;

/** Reads the head of the tag whose braces start at `open`. */
export function readTagHead(text: string, open: number): TagHead {
  let i = open + 2;
  while (text.charCodeAt(i) === 123 /* { */) i++;
  const braces = i - open;
  const strip = text.charCodeAt(i) === 126; /* ~ */
  if (strip) i++;
  while (i < text.length && SPACE.test(text[i]!)) i++;
  const sigilAt = i;
  const c = text[i];
  let sigil: TagSigil = '';
  if (c === '#') sigil = text[i + 1] === '>' ? '#>' : text[i + 1] === '*' ? '#*' : '#';
  else if (c === '^' || c === '/' || c === '>' || c === '!' || c === '&' || c === '{') sigil = c;
  else if (text.startsWith('else', i) && SPACE.test(text[i + 4] ?? '')) sigil = 'else';
  let inner = i + sigil.length;
  while (inner < text.length && SPACE.test(text[inner]!)) inner++;
  return { braces, strip, sigil, sigilAt, inner };
}

/** Whether a head opens a block (`{{#x}}`, `{{#> x}}`, `{{#*inline}}`, `{{^x}}`, not `{{^}}`). */
function opensBlock(text: string, h: TagHead): boolean {
  return h.sigil === '#' || h.sigil === '#>' || h.sigil === '#*' || (h.sigil === '^' && text[h.sigilAt + 1] !== '}');
}

/**
 * A cheap over-estimate-prone count of the nesting depth: block openers, `{{else ...}}` chains
 * and parentheses inside tags. Only when it exceeds the limit does the exact token scan run
 * (blockScan.ts).
 */
export function roughNestingDepth(source: string): number {
  let depth = 0;
  let max = 0;
  const chains: number[] = [];
  forEachTag(source, (open, close) => {
    const h = readTagHead(source, open);
    if (opensBlock(source, h)) {
      depth++;
      chains.push(0);
    } else if (h.sigil === '/') {
      depth -= 1 + (chains.pop() ?? 0);
      if (depth < 0) depth = 0;
    } else if (h.sigil === 'else') {
      // `{{else if x}}` opens a chained block; a plain `{{else}}` does not.
      if (source[h.inner] !== '}' && source[h.inner] !== '~' && chains.length) {
        chains[chains.length - 1]!++;
        depth++;
      }
    }
    if (depth > max) max = depth;
    const stop = close === -1 ? source.length : close;
    let parens = 0;
    for (let k = h.sigilAt; k < stop; k++) {
      const ch = source.charCodeAt(k);
      if (ch === 40 /* ( */) {
        parens++;
        if (depth + parens > max) max = depth + parens;
      } else if (ch === 41 /* ) */ && parens > 0) parens--;
    }
  });
  return max;
}

/**
 * The tag around `offset` in a text that failed to parse: how many braces opened it and how
 * many of its parentheses are open at `offset` (what closes the tag there: `}}`, `}}}`,
 * `}}}}` or `)`). Undefined when no `{{` comes before `offset`.
 */
export function tagAround(source: string, offset: number): { braces: number; openParens: number } | undefined {
  const open = lastTagOpenBefore(source, offset);
  if (open === -1) return undefined;
  const { braces } = readTagHead(source, open);
  let openParens = 0;
  for (let k = open; k < offset; k++) {
    if (source[k] === '(') openParens++;
    else if (source[k] === ')' && openParens > 0) openParens--;
  }
  return { braces, openParens };
}

/**
 * The name of the innermost block (`{{#name}}`, `{{#> name}}`) a text leaves open, if any: what
 * a `{{/` being typed should close. Every opening counts, even after a tag left unclosed.
 */
export function innermostOpenBlock(text: string): string | undefined {
  const stack: string[] = [];
  forEachTagOpen(text, (open) => {
    const h = readTagHead(text, open);
    if (h.sigil !== '#' && h.sigil !== '#>' && h.sigil !== '/') return;
    const name = BLOCK_NAME.exec(text.slice(h.inner, h.inner + 256))?.[0];
    if (!name) return;
    if (h.sigil !== '/') stack.push(name);
    else {
      const i = stack.lastIndexOf(name);
      if (i !== -1) stack.splice(i);
    }
  });
  return stack[stack.length - 1];
}

const BLOCK_NAME = /^[A-Za-z0-9_.-]+/;
