/** Where the cursor is inside Handlebars text: in a `{{ }}` tag, a partial name, a path. */
import { lastTagOpenBefore, readTagHead, TAG_CLOSE } from '../../core/templates/tagScan.js';

export interface MustacheCursor {
  /** `>` for a partial, `#`/`^`/`/` for block tags, '' for plain expressions. */
  sigil: '>' | '#' | '^' | '/' | '';
  /** The path or name under the cursor (`steps.extract.out`, `analysis/su`). */
  word: string;
  /** Offsets of the word in the text given. */
  wordStart: number;
  wordEnd: number;
  /** Offset just after the opening braces (and sigil). */
  innerStart: number;
  /** Whether the word is the first one in the tag (a helper or a path), or an argument. */
  firstWord: boolean;
}

const WORD = /[A-Za-z0-9_.@/-]/;

/**
 * The tag around `offset` when it is inside an unclosed `{{` on the text before it (comments
 * excluded), else undefined. The tag is read by core's scanner (core/templates/tagScan.ts).
 */
export function mustacheAt(text: string, offset: number): MustacheCursor | undefined {
  const open = lastTagOpenBefore(text, offset);
  if (open === -1 || open + 2 > offset) return undefined;
  const close = text.lastIndexOf(TAG_CLOSE, offset - 1);
  if (close > open && close + 2 <= offset) return undefined;
  const head = readTagHead(text, open);
  const afterOpen = open + head.braces + (head.strip ? 1 : 0);
  // After whitespace Handlebars reads no sigil (`{{ #x}}` is an error), and neither does the
  // cursor; nor does it skip a line break there: `{{` typed at the end of a line completes.
  const marker = head.sigilAt === afterOpen ? head.sigil : '';
  if (marker === '!') return undefined;
  let sigil: MustacheCursor['sigil'] = '';
  let i = afterOpen;
  switch (marker) {
    case '#':
    case '^':
    case '/':
    case '>':
      sigil = marker;
      i++;
      break;
    case '#>':
      sigil = '#';
      i += 2;
      break;
    case '#*':
      // A decorator block: `*` starts its name.
      sigil = '#';
      i++;
      break;
    case '&':
    case '{':
      // An unescaped value: a plain expression after its marker.
      i++;
      break;
  }
  while (text[i] === ' ') i++;
  const innerStart = i;
  if (offset < innerStart) return undefined;
  let ws = offset;
  while (ws > innerStart && WORD.test(text[ws - 1]!)) ws--;
  let we = offset;
  while (we < text.length && WORD.test(text[we]!)) we++;
  const before = text.slice(innerStart, ws);
  if (/[\n]/.test(before) && before.includes(TAG_CLOSE)) return undefined;
  return { sigil, word: text.slice(ws, offset), wordStart: ws, wordEnd: we, innerStart, firstWord: before.trim() === '' };
}

/** The whole word (path) at an offset of Handlebars text, and where it is. */
export function wordAt(text: string, offset: number): { word: string; start: number; end: number } {
  let s = offset;
  while (s > 0 && WORD.test(text[s - 1]!)) s--;
  let e = offset;
  while (e < text.length && WORD.test(text[e]!)) e++;
  return { word: text.slice(s, e), start: s, end: e };
}

/** Handlebars' own helpers (documented by Handlebars; not PromptManager's). */
export const BUILTIN_HELPERS: { name: string; description: string; block: boolean }[] = [
  { name: 'if', description: 'Renders the block when the value is truthy (not false, null, undefined, 0, "" or []); `{{else}}` otherwise.', block: true },
  { name: 'unless', description: 'Renders the block when the value is falsy: the inverse of `if`.', block: true },
  { name: 'each', description: 'Renders the block once per item of a list (or value of an object); `this`, `@index`, `@key`, `@first`, `@last` inside.', block: true },
  { name: 'with', description: 'Renders the block with the value as `this`.', block: true },
  { name: 'lookup', description: 'Looks up a key or index dynamically: `{{lookup map key}}`.', block: false },
  { name: 'log', description: 'Logs its arguments when rendering (debugging).', block: false },
];
