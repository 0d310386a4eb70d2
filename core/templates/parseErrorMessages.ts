/**
 * Parse errors a person can act on. Handlebars' parser says "Expecting 'CLOSE', 'OPEN_SEXPR',
 * ... got 'INVALID'" and reports a mismatched block on its closing tag; these messages say
 * which tag is unclosed and where it opened, which block a closer does not match, what fits
 * where the parse stopped, and what to do, from the lexer's facts (blockScan.ts) and the text.
 */
import type { TemplateParseError } from './analysis.js';
import type { Range } from '../text/range.js';
import { LineIndex } from '../text/lineIndex.js';
import { scanTemplate, type BlockFrame, type LexerSnapshot, type Problem } from './blockScan.js';
import { comparePos, pos, ZERO_RANGE } from './hbsLocation.js';
import { tagAround } from './tagScan.js';

export const TOO_DEEP = 'template nesting is too deep';

/** The nesting guard's message: more than `max` levels (maxTemplateNesting). */
export function tooDeepMessage(max: number): string {
  return `${TOO_DEEP}: more than ${max} nested blocks, '{{else if}}' branches or sub-expressions (maxTemplateNesting)`;
}

export function describeParseError(e: unknown, snap: LexerSnapshot, source: string): TemplateParseError {
  if (isStackOverflow(e)) return { message: TOO_DEEP, range: ZERO_RANGE };
  const message = errorMessage(e);
  const lines = new LineIndex(source);
  try {
    if (message.startsWith('Parse error')) return describeGrammarError(message, snap, source, lines);
    if (message.startsWith('Lexical error')) return describeLexicalError(snap, source, lines);
    const x = e as { lineNumber?: unknown; column?: unknown; endLineNumber?: unknown; endColumn?: unknown };
    const located = typeof x.lineNumber === 'number' && typeof x.column === 'number';
    const range: Range = located
      ? {
          start: pos((x.lineNumber as number) - 1, x.column as number),
          end: pos(
            (typeof x.endLineNumber === 'number' ? x.endLineNumber : (x.lineNumber as number)) - 1,
            typeof x.endColumn === 'number' ? x.endColumn : (x.column as number),
          ),
        }
      : ZERO_RANGE;
    const plain = message.replace(/ - \d+:\d+$/, '');
    const mismatch = /^([\s\S]*) doesn't match ([\s\S]*)$/.exec(plain);
    if (mismatch) return describeMismatch(mismatch[1]!, mismatch[2]!, range, source);
    const invalid = /^Invalid path: ([\s\S]*)$/.exec(plain);
    if (invalid) {
      return {
        message: `invalid path '${invalid[1]}': '..', '.' and 'this' may only start a path (write '../x' or 'this.x', not 'x/..' or 'x.this')`,
        range,
      };
    }
    return { message: plain, range };
  } catch {
    return { message: message.replace(/\s+/g, ' ').trim(), range: snap.range ?? ZERO_RANGE };
  }
}

function line1(r: Range): number {
  return r.start.line + 1;
}

function openerText(f: BlockFrame): string {
  switch (f.kind) {
    case 'inverse':
      return `{{^${f.name}}}`;
    case 'decorator':
      return `{{#*${f.name}}}`;
    case 'partial':
      return `{{#> ${f.name}}}`;
    case 'raw':
      return `{{{{${f.name}}}}}`;
    default:
      return `{{#${f.name}}}`;
  }
}

function closerText(f: BlockFrame | undefined, name: string, raw: boolean): string {
  return raw || f?.kind === 'raw' ? `{{{{/${name}}}}}` : `{{/${name}}}`;
}

function describeMismatch(openName: string, closeName: string, fallback: Range, source: string): TemplateParseError {
  const scan = scanTemplate(source);
  const p = scan.problems.find((q) => q.kind === 'mismatch' && q.open.name === openName && q.close === closeName);
  if (p && p.kind === 'mismatch') {
    const want = closerText(p.open, p.open.name, p.raw);
    const hint = p.enclosing ? `add '${want}' before it` : `close it with '${want}'`;
    return {
      message: `'${openerText(p.open)}' opened on line ${line1(p.open.range)} is closed by '${closerText(p.open, p.close, p.raw)}' on line ${line1(p.at)}; ${hint}`,
      range: p.open.range,
    };
  }
  return {
    message: `'{{#${openName}}}' opened on line ${line1(fallback)} is closed by '{{/${closeName}}}'; close it with '{{/${openName}}}'`,
    range: fallback,
  };
}

function describeLexicalError(snap: LexerSnapshot, source: string, lines: LineIndex): TemplateParseError {
  const offset = snap.offset ?? 0;
  const at = lines.positionAt(offset);
  const rest = source.slice(offset, offset + 6);
  if (snap.state === 'com' || /^\{\{~?!--/.test(rest)) {
    const len = /^\{\{~?!--/.exec(rest)?.[0].length ?? 2;
    return {
      message: `unclosed comment: '{{!--' on line ${at.line + 1} has no matching '--}}'`,
      range: { start: at, end: lines.positionAt(offset + len) },
    };
  }
  if (snap.state === 'raw') {
    const raw = [...scanTemplate(source).open].reverse().find((f) => f.kind === 'raw');
    if (raw) {
      return {
        message: `unclosed raw block '${openerText(raw)}' opened on line ${line1(raw.range)}: add '{{{{/${raw.name}}}}}'`,
        range: raw.range,
      };
    }
    return { message: `unclosed raw block: add the matching '{{{{/...}}}}'`, range: { start: at, end: at } };
  }
  const end = lines.positionAt(offset + 1);
  if (source.charCodeAt(offset) === 0) {
    return { message: 'the template contains a NUL character (\\0), which Handlebars cannot read; remove it', range: { start: at, end } };
  }
  return { message: `unrecognised text ${quoteSnippet(source.slice(offset, offset + 20))}`, range: { start: at, end } };
}

const TOKEN_WORDS: Record<string, string> = {
  EOF: 'the end of the template',
  CONTENT: 'text',
  COMMENT: 'a comment',
  OPEN: "'{{'",
  OPEN_UNESCAPED: "'{{{'",
  OPEN_BLOCK: "'{{#'",
  OPEN_INVERSE: "'{{^'",
  OPEN_ENDBLOCK: "'{{/'",
  OPEN_PARTIAL: "'{{>'",
  OPEN_PARTIAL_BLOCK: "'{{#>'",
  OPEN_RAW_BLOCK: "'{{{{'",
  END_RAW_BLOCK: "'{{{{/...}}}}'",
  INVERSE: "'{{else}}'",
  OPEN_INVERSE_CHAIN: "'{{else ...'",
  CLOSE: "'}}'",
  CLOSE_UNESCAPED: "'}}}'",
  CLOSE_RAW_BLOCK: "'}}}}'",
  OPEN_SEXPR: "'('",
  CLOSE_SEXPR: "')'",
  ID: 'a name',
  STRING: 'a string',
  NUMBER: 'a number',
  BOOLEAN: 'true or false',
  UNDEFINED: "'undefined'",
  NULL: "'null'",
  DATA: "an '@' variable",
  SEP: "'.' or '/'",
  EQUALS: "'='",
  OPEN_BLOCK_PARAMS: "'as |'",
  CLOSE_BLOCK_PARAMS: "'|'",
  INVALID: 'an unexpected character',
};
const VALUE_TOKENS = ['ID', 'STRING', 'NUMBER', 'BOOLEAN', 'UNDEFINED', 'NULL', 'DATA', 'OPEN_SEXPR'];
const CLOSER_TOKENS = ['CLOSE', 'CLOSE_UNESCAPED', 'CLOSE_RAW_BLOCK', 'CLOSE_SEXPR', 'CLOSE_BLOCK_PARAMS'];
const STATEMENT_TOKENS = ['CONTENT', 'COMMENT', 'OPEN', 'OPEN_UNESCAPED', 'OPEN_BLOCK', 'OPEN_INVERSE', 'OPEN_PARTIAL', 'OPEN_PARTIAL_BLOCK', 'OPEN_RAW_BLOCK'];
const NOISE_TOKENS = new Set(['SEP', 'OPEN_BLOCK_PARAMS', 'error']);

function quoteSnippet(text: string): string {
  const t = text.replace(/\s+/g, ' ');
  return `'${t.length > 30 ? t.slice(0, 30) + '...' : t}'`;
}

function orList(words: string[]): string {
  if (words.length <= 1) return words[0] ?? 'something else';
  return `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}

/** The closers that fit where the error is: the tag's own `}}`/`}}}`/`}}}}`, or `)` inside `(`. */
function contextClosers(source: string, offset: number): Set<string> {
  const tag = tagAround(source, offset);
  if (!tag) return new Set(['CLOSE']);
  if (tag.openParens > 0) return new Set(['CLOSE_SEXPR']);
  return new Set([tag.braces >= 4 ? 'CLOSE_RAW_BLOCK' : tag.braces === 3 ? 'CLOSE_UNESCAPED' : 'CLOSE']);
}

function summarizeExpected(expected: string[], closersHere: Set<string>): string {
  const set = new Set(expected);
  const words: string[] = [];
  const closers = CLOSER_TOKENS.filter((c) => set.has(c));
  const fitting = closers.filter((c) => closersHere.has(c));
  for (const c of fitting.length ? fitting : closers) words.push(TOKEN_WORDS[c]!);
  const values = VALUE_TOKENS.filter((v) => set.has(v));
  if (values.length >= 3) words.push('a name or value');
  else for (const v of values) words.push(TOKEN_WORDS[v]!);
  if (set.has('EQUALS')) words.push(TOKEN_WORDS.EQUALS!);
  if (set.has('OPEN_ENDBLOCK') || set.has('INVERSE') || set.has('OPEN_INVERSE_CHAIN')) {
    words.push(set.has('INVERSE') ? "'{{else}}' or the block's closing '{{/...}}'" : "the block's closing '{{/...}}'");
  }
  if (STATEMENT_TOKENS.some((s) => set.has(s))) words.push("text or a '{{...}}' tag");
  if (set.has('EOF')) words.push(TOKEN_WORDS.EOF!);
  if (words.length === 0) {
    for (const t of expected) if (!NOISE_TOKENS.has(t)) words.push(TOKEN_WORDS[t] ?? `'${t}'`);
  }
  return orList([...new Set(words)]);
}

function gotWords(token: string, text: string): string {
  const t = text.length > 30 ? text.slice(0, 30) + '...' : text;
  switch (token) {
    case 'INVALID':
      return `'${t}'`;
    case 'ID':
      return `the name '${t}'`;
    case 'STRING':
      return `the string "${t}"`;
    case 'NUMBER':
    case 'BOOLEAN':
    case 'NULL':
    case 'UNDEFINED':
      return `'${t}'`;
    case 'OPEN_INVERSE_CHAIN':
      return `'${t.trim()}'`;
    default:
      return TOKEN_WORDS[token] ?? `'${token}'`;
  }
}

function describeScanProblem(p: Problem, lines: LineIndex): TemplateParseError {
  if (p.kind === 'stray-else' || p.kind === 'bad-else') {
    const written = p.at.start.line === p.at.end.line ? lines.slice(p.at) : '';
    if (written.startsWith('{{') && written.endsWith('}}') && written.length <= 60) p = { ...p, text: written };
  }
  switch (p.kind) {
    case 'stray-close':
      return { message: `'{{/${p.name}}}' closes a block that was never opened`, range: p.at };
    case 'stray-else':
      return { message: `'${p.text}' is outside any block: it belongs between a '{{#if}}', '{{#unless}}', '{{#each}}' or '{{#with}}' and its closing tag`, range: p.at };
    case 'bad-else':
      return p.reason === 'partial'
        ? { message: `'${p.text}' cannot be used inside '${openerText(p.frame)}' (opened on line ${line1(p.frame.range)})`, range: p.at }
        : {
            message: `'${p.text}' comes after the '{{else}}' of '${openerText(p.frame)}' opened on line ${line1(p.frame.range)}; a block has at most one final '{{else}}'`,
            range: p.at,
          };
    case 'mismatch': {
      const want = closerText(p.open, p.open.name, p.raw);
      return {
        message: `'${openerText(p.open)}' opened on line ${line1(p.open.range)} is closed by '${closerText(p.open, p.close, p.raw)}' on line ${line1(p.at)}; ${p.enclosing ? `add '${want}' before it` : `close it with '${want}'`}`,
        range: p.open.range,
      };
    }
  }
}

function describeGrammarError(message: string, snap: LexerSnapshot, source: string, lines: LineIndex): TemplateParseError {
  const last = message.slice(message.lastIndexOf('\n') + 1);
  const m = /^Expecting (.*), got '([^']*)'\s*$/.exec(last);
  const expected = m ? [...m[1]!.matchAll(/'([^']+)'/g)].map((x) => x[1]!) : [];
  const got = m ? m[2]! : '';
  const tokenRange = snap.range ?? ZERO_RANGE;
  const scan = scanTemplate(source);
  const end = lines.positionAt(source.length);

  if (got === 'EOF' || got === 'INVALID') {
    // A tag that never closes: `{{name` at the end of the template.
    const open = scan.openTag;
    if (open && (got === 'EOF' || comparePos(open.range.start, tokenRange.start) <= 0)) {
      const closer = TOKEN_WORDS[[...contextClosers(source, source.length)][0] ?? 'CLOSE'] ?? "'}}'";
      const from = lines.offsetAt(open.range.start);
      const what = source.slice(from, from + 24).split(/[\r\n]/)[0]!.trimEnd();
      return {
        message: `the tag '${what}' opened on line ${line1(open.range)} is never closed: expected ${closer}`,
        range: { start: open.range.start, end },
      };
    }
  }
  if (got === 'EOF' && scan.open.length > 0) {
    const f = scan.open[scan.open.length - 1]!;
    const more = scan.open.length > 1 ? ` (${scan.open.length} blocks are unclosed)` : '';
    return {
      message: `unclosed '${openerText(f)}' block opened on line ${line1(f.range)}: add '${closerText(f, f.name, false)}'${more}`,
      range: f.range,
    };
  }
  const p = scan.problems.find((q) => comparePos(q.at.start, tokenRange.start) === 0);
  if (p) return describeScanProblem(p, lines);

  const offset = lines.offsetAt(tokenRange.start);
  const want = summarizeExpected(expected, contextClosers(source, offset));
  let gotText = got === 'EOF' ? TOKEN_WORDS.EOF! : gotWords(got, snap.text);
  let hint = '';
  if (got === 'INVALID' && (snap.text === '"' || snap.text === "'")) hint = ` (a string opened with ${snap.text} is not closed)`;
  else if (got === 'INVALID' && snap.text === '}') hint = " (a tag closes with '}}')";
  else if (expected.length === 1 && expected[0] === 'EQUALS') hint = ' (named arguments, key=value, must come after the positional ones)';
  if (!m) gotText = '';
  const range = got === 'EOF' ? { start: end, end } : tokenRange;
  const detail = m ? `expected ${want}, got ${gotText}${hint}` : message.split('\n')[0]!.replace(/^Parse error on line \d+:?\s*/, '');
  return { message: `Parse error: ${detail}`, range };
}

export function isStackOverflow(e: unknown): boolean {
  return e instanceof RangeError && /call stack/i.test(e.message);
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  try {
    return String(e);
  } catch {
    return 'unknown error';
  }
}
