/**
 * Handlebars' own lexer run over a template, outside its parser: blocks paired the way the
 * grammar pairs them (what is left open, what closes the wrong block, a stray `{{else}}`),
 * the nesting depth the guard of analyze.ts measures exactly, and where the shared parser's
 * lexer stopped after a failed parse. The parse-error messages (parseErrorMessages.ts) are
 * made of these facts.
 */
import Handlebars from 'handlebars';
import { LIMITS } from '../limits.js';
import type { Position, Range } from '../text/range.js';
import { comparePos, pos } from './hbsLocation.js';

interface JisonLoc {
  first_line: number;
  first_column: number;
  last_line: number;
  last_column: number;
}
interface JisonLexer {
  setInput(input: string): void;
  lex(): number | string | undefined;
  yytext: string;
  yylloc: JisonLoc;
  _input: string;
  conditionStack: string[];
  yy: unknown;
}
interface JisonParser {
  lexer: JisonLexer;
  terminals_: Record<number, string>;
}

function jisonParser(): JisonParser | undefined {
  const p = (Handlebars as unknown as { Parser?: JisonParser }).Parser;
  return p && p.lexer && typeof p.lexer.setInput === 'function' ? p : undefined;
}

function jisonRange(loc: JisonLoc): Range {
  return { start: pos(loc.first_line - 1, loc.first_column), end: pos(loc.last_line - 1, loc.last_column) };
}

export type OpenKind = 'block' | 'inverse' | 'decorator' | 'partial' | 'raw';

export interface BlockFrame {
  kind: OpenKind;
  name: string;
  /** The opening tag, `{{#each items}}`. */
  range: Range;
  chains: number;
  hasElse: boolean;
}

export interface Tag {
  token: string;
  range: Range;
  name: string;
  nameOpen: boolean;
  frame?: BlockFrame;
}

export type Problem =
  | { kind: 'stray-close'; at: Range; name: string }
  | { kind: 'stray-else'; at: Range; text: string }
  | { kind: 'bad-else'; at: Range; text: string; frame: BlockFrame; reason: 'twice' | 'partial' }
  | { kind: 'mismatch'; at: Range; open: BlockFrame; close: string; raw: boolean; enclosing: boolean };

export interface Scan {
  problems: Problem[];
  /** Blocks still open at the end. */
  open: BlockFrame[];
  /** A tag (`{{ ...`) still open at the end. */
  openTag?: Tag;
  lexError?: { offset: number; state: string };
  maxDepth: number;
  deepAt?: Range;
}

const BLOCK_OPENERS: Record<string, OpenKind> = {
  OPEN_BLOCK: 'block',
  OPEN_INVERSE: 'inverse',
  OPEN_PARTIAL_BLOCK: 'partial',
  OPEN_RAW_BLOCK: 'raw',
};
const TAG_OPENERS = new Set([
  'OPEN',
  'OPEN_UNESCAPED',
  'OPEN_BLOCK',
  'OPEN_INVERSE',
  'OPEN_INVERSE_CHAIN',
  'OPEN_PARTIAL',
  'OPEN_PARTIAL_BLOCK',
  'OPEN_RAW_BLOCK',
  'OPEN_ENDBLOCK',
]);
const TAG_CLOSERS = new Set(['CLOSE', 'CLOSE_UNESCAPED', 'CLOSE_RAW_BLOCK']);
const NAME_TOKENS = new Set(['ID', 'SEP', 'DATA']);

/**
 * Runs Handlebars' own lexer (a private copy of its state, so the shared parser is untouched) over
 * the source and tracks blocks the way the grammar pairs them. `stopWhenTooDeep`: return as soon
 * as the nesting exceeds `maxNesting` (the guard needs no more).
 */
export function scanTemplate(source: string, stopWhenTooDeep = false, maxNesting = LIMITS.maxTemplateNesting): Scan {
  const scan: Scan = { problems: [], open: [], maxDepth: 0 };
  const parser = jisonParser();
  if (!parser) return scan;
  const lx = Object.create(parser.lexer) as JisonLexer;
  lx.yy = {};
  lx.setInput(source);

  const stack = scan.open;
  let chains = 0;
  let sexpr = 0;
  let tag: Tag | undefined;
  let lastEnd: Position | undefined;
  const problem = (p: Problem) => {
    if (scan.problems.length < 20) scan.problems.push(p);
  };
  const depthCheck = (at: Range) => {
    const depth = stack.length + chains + sexpr;
    if (depth > scan.maxDepth) {
      scan.maxDepth = depth;
      if (depth > maxNesting && !scan.deepAt) scan.deepAt = at;
    }
  };
  const elseAt = (at: Range, text: string, chain: boolean) => {
    const top = stack[stack.length - 1];
    if (!top) return problem({ kind: 'stray-else', at, text });
    if (top.kind === 'partial' || top.kind === 'raw') return problem({ kind: 'bad-else', at, text, frame: top, reason: 'partial' });
    if (top.hasElse) return problem({ kind: 'bad-else', at, text, frame: top, reason: 'twice' });
    if (chain) {
      top.chains++;
      chains++;
      depthCheck(at);
    } else top.hasElse = true;
  };
  const close = (name: string, at: Range, raw: boolean) => {
    const top = stack.pop();
    if (!top) return problem({ kind: 'stray-close', at, name });
    chains -= top.chains;
    if (top.name !== name) {
      const enclosing = stack.some((f) => f.name === name);
      problem({ kind: 'mismatch', at, open: top, close: name, raw, enclosing });
    }
  };

  const limit = source.length * 2 + 16;
  for (let n = 0; n < limit; n++) {
    let t: number | string | undefined;
    try {
      t = lx.lex();
    } catch {
      const state = lx.conditionStack?.[lx.conditionStack.length - 1] ?? 'INITIAL';
      scan.lexError = { offset: source.length - (typeof lx._input === 'string' ? lx._input.length : 0), state };
      break;
    }
    const name = typeof t === 'number' ? (parser.terminals_[t] ?? String(t)) : String(t);
    if (name === 'EOF' || t === undefined) break;
    const range = jisonRange(lx.yylloc);

    if (TAG_OPENERS.has(name)) {
      tag = { token: name, range: { start: range.start, end: range.end }, name: '', nameOpen: true };
      sexpr = 0;
      const kind = BLOCK_OPENERS[name];
      if (kind) {
        const frame: BlockFrame = {
          kind: kind === 'block' && lx.yytext.includes('*') ? 'decorator' : kind,
          name: '',
          range: tag.range,
          chains: 0,
          hasElse: false,
        };
        tag.frame = frame;
        stack.push(frame);
        depthCheck(range);
      } else if (name === 'OPEN_INVERSE_CHAIN') {
        elseAt(tag.range, '{{else ...}}', true);
      }
    } else if (name === 'INVERSE') {
      elseAt(range, lx.yytext.includes('^') ? '{{^}}' : '{{else}}', false);
      tag = undefined;
    } else if (name === 'END_RAW_BLOCK') {
      close(lx.yytext, range, true);
      tag = undefined;
    } else if (tag) {
      if (NAME_TOKENS.has(name) && tag.nameOpen && (tag.name === '' || (lastEnd && comparePos(lastEnd, range.start) === 0))) {
        tag.name += lx.yytext;
        if (tag.frame) tag.frame.name = tag.name;
      } else {
        tag.nameOpen = false;
      }
      tag.range.end = range.end;
      if (name === 'OPEN_SEXPR') {
        sexpr++;
        depthCheck(range);
      } else if (name === 'CLOSE_SEXPR') {
        if (sexpr > 0) sexpr--;
      } else if (TAG_CLOSERS.has(name)) {
        if (tag.token === 'OPEN_ENDBLOCK') close(tag.name, tag.range, false);
        tag = undefined;
        sexpr = 0;
      }
    }
    lastEnd = range.end;
    if (stopWhenTooDeep && scan.deepAt) break;
  }
  if (tag) scan.openTag = tag;
  return scan;
}

export interface LexerSnapshot {
  /** The token the parser failed on. */
  range?: Range;
  text: string;
  /** Offset where the lexer stopped (start of unrecognised text for a lexical error). */
  offset?: number;
  state: string;
}

/** The shared parser's lexer right after a failed parse: where it stopped. */
export function lexerSnapshot(source: string): LexerSnapshot {
  try {
    const lx = jisonParser()?.lexer;
    if (!lx) return { text: '', state: 'INITIAL' };
    return {
      range: lx.yylloc ? jisonRange(lx.yylloc) : undefined,
      text: typeof lx.yytext === 'string' ? lx.yytext : '',
      offset: typeof lx._input === 'string' ? source.length - lx._input.length : undefined,
      state: lx.conditionStack?.[lx.conditionStack.length - 1] ?? 'INITIAL',
    };
  } catch {
    return { text: '', state: 'INITIAL' };
  }
}
