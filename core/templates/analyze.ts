/**
 * Static analysis of one Handlebars template: the variables it reads from the root context, the
 * `steps.X` it reads, the partials and helpers it uses, or the parse error a person can act on.
 *
 * Nothing is compiled or executed: the template is parsed with Handlebars' own parser (so errors
 * agree with what a render would report) and walked with a `Handlebars.Visitor` subclass that
 * follows Handlebars' context rules:
 *
 * - `#each X` / `#with X` and Mustache sections (`{{#foo}}` where `foo` is no helper) run their
 *   body in a new context, so paths there are relative to it; `../y` climbs one such context;
 *   `@root.y` is always the root. `#if`, `#unless` and helper calls keep the context.
 * - An `{{else}}` runs in the context outside the block.
 * - Block params (`as |item i|`), `@data` variables and `this` are never root variables.
 *
 * `analyzeTemplate` never throws, and guards against the two costs that grow faster than the
 * input in Handlebars' parser: very deep nesting (its parse time is quadratic in the depth) and
 * recursion (a stack overflow is reported as "template nesting is too deep").
 */
import Handlebars from 'handlebars';
import type { Position, Range } from '../text/range.js';
import type {
  TemplateAnalysis,
  TemplateParseError,
  TemplatePartialUse,
  TemplateStepRead,
  TemplateVariableRead,
} from './analysis.js';
import { KNOWN_HELPER_NAMES } from './helpers.js';
import { LIMITS } from '../limits.js';

export interface AnalyzeOptions {
  /** Further helper names registered by the application (besides builtins and prompt helpers). */
  helpers?: ReadonlySet<string>;
}

const TOO_DEEP = 'template nesting is too deep';
const ZERO_RANGE: Range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };

export function analyzeTemplate(source: string, options?: AnalyzeOptions): TemplateAnalysis {
  try {
    const text = typeof source === 'string' ? source : source === null || source === undefined ? '' : String(source);
    return analyze(text, options?.helpers);
  } catch (e) {
    const message = isStackOverflow(e) ? TOO_DEEP : `the template could not be analysed: ${errorMessage(e)}`;
    return failed({ message, range: ZERO_RANGE });
  }
}

function failed(error: TemplateParseError): TemplateAnalysis {
  return { error, partials: [], variables: [], stepReads: [], helpers: [] };
}

function analyze(source: string, extraHelpers: ReadonlySet<string> | undefined): TemplateAnalysis {
  // 1. Refuse absurd nesting before Handlebars' parser spends seconds on it.
  const maxNesting = LIMITS.maxTemplateNesting;
  if (roughNesting(source) > maxNesting) {
    const scan = scanTemplate(source, true, maxNesting);
    if (scan.maxDepth > maxNesting) {
      return failed({
        message: `${TOO_DEEP}: more than ${maxNesting} nested blocks, '{{else if}}' branches or sub-expressions (maxTemplateNesting)`,
        range: scan.deepAt ?? ZERO_RANGE,
      });
    }
  }

  // 2. Parse. parseWithoutProcessing skips the whitespace-control pass, which only edits text
  //    content, never locations, and recurses once more over the whole tree.
  let ast: hbs.AST.Program;
  try {
    ast = Handlebars.parseWithoutProcessing(source);
  } catch (e) {
    const snapshot = lexerSnapshot(source);
    return failed(describeParseError(e, snapshot, source));
  }

  // 3. Walk.
  const known = extraHelpers && extraHelpers.size > 0 ? new Set([...KNOWN_HELPER_NAMES, ...extraHelpers]) : KNOWN_HELPER_NAMES;
  const state = new WalkState(source, known);
  try {
    new AnalysisVisitor(state).accept(ast);
  } catch (e) {
    if (isStackOverflow(e)) return failed({ message: TOO_DEEP, range: ZERO_RANGE });
    throw e;
  }
  return state.result();
}

// =============================================================================================
// Positions

/** Line starts with Handlebars' line model (`\r\n`, `\r` and `\n` end a line), as in LSP. */
class Lines {
  private starts: number[] | undefined;
  constructor(private readonly text: string) {}

  private get lineStarts(): number[] {
    if (!this.starts) {
      const starts = [0];
      const t = this.text;
      for (let i = 0; i < t.length; i++) {
        const c = t.charCodeAt(i);
        if (c === 10) starts.push(i + 1);
        else if (c === 13) {
          if (t.charCodeAt(i + 1) === 10) i++;
          starts.push(i + 1);
        }
      }
      this.starts = starts;
    }
    return this.starts;
  }

  offsetAt(pos: Position): number {
    const starts = this.lineStarts;
    if (pos.line < 0) return 0;
    if (pos.line >= starts.length) return this.text.length;
    return Math.min(starts[pos.line]! + Math.max(0, pos.character), this.text.length);
  }

  positionAt(offset: number): Position {
    const starts = this.lineStarts;
    const o = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= o) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, character: o - starts[lo]! };
  }

  slice(range: Range): string {
    return this.text.slice(this.offsetAt(range.start), this.offsetAt(range.end));
  }
}

function pos(line: number, character: number): Position {
  return { line: Math.max(0, line), character: Math.max(0, character) };
}

/** Handlebars' SourceLocation (1-based lines, 0-based columns) as a zero-based Range. */
function locRange(loc: hbs.AST.SourceLocation | undefined): Range {
  if (!loc || !loc.start || !loc.end) return ZERO_RANGE;
  return { start: pos(loc.start.line - 1, loc.start.column), end: pos(loc.end.line - 1, loc.end.column) };
}

function comparePos(a: Position, b: Position): number {
  return a.line - b.line || a.character - b.character;
}

// =============================================================================================
// The walk

interface Frame {
  /** Block params declared by the block whose body this frame covers. */
  params: readonly string[];
}

class WalkState {
  /** Number of context changes between the current position and the root (0 = root). */
  level = 0;
  /** Block params in scope, innermost last. */
  readonly blockParams: Frame[] = [];
  readonly variables: TemplateVariableRead[] = [];
  readonly stepReads: TemplateStepRead[] = [];
  readonly helpers = new Set<string>();
  readonly partials: TemplatePartialUse[] = [];
  readonly inlinePartials = new Set<string>();
  readonly lines: Lines;

  constructor(
    readonly source: string,
    readonly known: ReadonlySet<string>,
  ) {
    this.lines = new Lines(source);
  }

  isBlockParam(name: string): boolean {
    for (let i = this.blockParams.length - 1; i >= 0; i--) if (this.blockParams[i]!.params.includes(name)) return true;
    return false;
  }

  /** A value read: records it when it resolves to the root context. */
  read(path: hbs.AST.PathExpression): void {
    const parts = path.parts ?? [];
    if (path.data) {
      // `@root.x` is the root's `x`; every other @variable (`@index`, `@key`, ...) is data.
      if (parts[0] === 'root' && parts.length > 1) this.recordRoot(path, parts, 1);
      return;
    }
    if (parts.length === 0) return; // `this`, `.`, `..`: a whole context, not a variable
    if (!path.depth && !isScoped(path) && this.isBlockParam(parts[0]!)) return;
    const depth = path.depth ?? 0;
    // `../x` climbing past the root reads nothing (Handlebars yields undefined there).
    if (depth === this.level) this.recordRoot(path, parts, 0);
  }

  private recordRoot(path: hbs.AST.PathExpression, parts: readonly string[], first: number): void {
    const name = parts[first];
    if (name === undefined) return;
    const range = locRange(path.loc);
    let written = range.start.line === range.end.line ? this.lines.slice(range) : '';
    if (!written) written = path.original;
    this.variables.push({ name, path: written, range });
    if (name === 'steps' && parts.length > first + 1) this.stepReads.push({ stepId: parts[first + 1]!, range });
  }

  /** A literal in a callee position (`{{"name"}}`) is looked up like a one-part path. */
  static literalName(node: hbs.AST.Node): string | undefined {
    const lit = node as unknown as { type: string; value?: unknown; original?: unknown };
    if (lit.type === 'StringLiteral' || lit.type === 'NumberLiteral' || lit.type === 'BooleanLiteral') return String(lit.value);
    return undefined;
  }

  result(): TemplateAnalysis {
    const partials = this.inlinePartials.size ? this.partials.filter((p) => !this.inlinePartials.has(p.name)) : this.partials;
    return {
      partials,
      variables: this.variables,
      stepReads: this.stepReads,
      helpers: [...this.helpers],
    };
  }
}

/** Handlebars' own test for `this.x`, `./x`, `../x`: such paths are never helpers or block params. */
function isScoped(path: hbs.AST.PathExpression): boolean {
  return /^\.|this\b/.test(path.original ?? '');
}

/** A one-segment, unscoped path: the only kind Handlebars may treat as a helper name. */
function simpleName(node: hbs.AST.Node): string | undefined {
  if (node.type !== 'PathExpression') return WalkState.literalName(node);
  const p = node as hbs.AST.PathExpression;
  if (p.data || p.depth || (p.parts?.length ?? 0) !== 1 || isScoped(p)) return undefined;
  return p.parts[0];
}

type Callee = { kind: 'helper'; name: string } | { kind: 'local' } | { kind: 'read' } | { kind: 'literal'; name: string };

/**
 * What the path of a mustache, sub-expression or block is. `call`: it has params or a hash (or
 * is a sub-expression), so a simple name is a helper whatever it is called.
 */
function classifyCallee(state: WalkState, path: hbs.AST.Node, call: boolean): Callee {
  const name = simpleName(path);
  if (name !== undefined) {
    if (path.type === 'PathExpression' && state.isBlockParam(name)) return { kind: 'local' };
    if (call || state.known.has(name)) return { kind: 'helper', name };
    return path.type === 'PathExpression' ? { kind: 'read' } : { kind: 'literal', name };
  }
  return { kind: 'read' };
}

function hasHash(node: { hash?: hbs.AST.Hash }): boolean {
  return !!node.hash && Array.isArray(node.hash.pairs) && node.hash.pairs.length > 0;
}

/**
 * Handlers only (plus one data field): `Handlebars.Visitor` dispatches on node types, so a
 * subclass visiting parsed input must not define other methods.
 */
class AnalysisVisitor extends Handlebars.Visitor {
  constructor(readonly st: WalkState) {
    super();
  }

  override PathExpression(path: hbs.AST.PathExpression): void {
    this.st.read(path);
  }

  override MustacheStatement(node: hbs.AST.MustacheStatement): void {
    const call = node.params.length > 0 || hasHash(node);
    const callee = classifyCallee(this.st, node.path, call);
    if (callee.kind === 'helper') this.st.helpers.add(callee.name);
    else if (callee.kind === 'read' && node.path.type === 'PathExpression') this.st.read(node.path as hbs.AST.PathExpression);
    else if (callee.kind === 'literal') this.st.read(literalAsPath(node.path, callee.name));
    this.acceptArray(node.params);
    this.acceptKey(node, 'hash');
  }

  override SubExpression(node: hbs.AST.SubExpression): void {
    const callee = classifyCallee(this.st, node.path, true);
    if (callee.kind === 'helper') this.st.helpers.add(callee.name);
    else if (callee.kind === 'read' && node.path.type === 'PathExpression') this.st.read(node.path);
    this.acceptArray(node.params);
    this.acceptKey(node, 'hash');
  }

  override BlockStatement(node: hbs.AST.BlockStatement): void {
    const st = this.st;
    const call = node.params.length > 0 || hasHash(node);
    const callee = classifyCallee(st, node.path, call);
    let changesContext = false;
    if (callee.kind === 'helper') {
      st.helpers.add(callee.name);
      changesContext = (callee.name === 'each' || callee.name === 'with') && node.params.length > 0;
    } else if (!call) {
      // A Mustache section: `{{#document}}...{{/document}}` reads `document` and runs the body in it.
      changesContext = true;
      if (callee.kind === 'read' && node.path.type === 'PathExpression') st.read(node.path);
      else if (callee.kind === 'literal') st.read(literalAsPath(node.path, callee.name));
    } else if (callee.kind === 'read' && node.path.type === 'PathExpression') {
      st.read(node.path); // `{{#obj.fn x}}`: a function of the context, called with x
    }
    this.acceptArray(node.params);
    this.acceptKey(node, 'hash');
    visitBody(this, node.program, changesContext, node.program?.blockParams ?? []);
    // `{{else}}` (and the body of `{{^x}}`) runs in the context outside the block.
    if (node.inverse) this.acceptKey(node, 'inverse');
  }

  override PartialStatement(node: hbs.AST.PartialStatement): void {
    visitPartialName(this, node.name);
    this.acceptArray(node.params);
    this.acceptKey(node, 'hash');
  }

  override PartialBlockStatement(node: hbs.AST.PartialBlockStatement): void {
    visitPartialName(this, node.name);
    this.acceptArray(node.params);
    this.acceptKey(node, 'hash');
    // The body becomes `@partial-block`, rendered in the partial's context: the context param
    // when there is one; otherwise the current context extended with the hash.
    const hashKeys = node.hash?.pairs?.map((p) => p.key) ?? [];
    visitBody(this, node.program, node.params.length > 0, hashKeys);
  }

  override DecoratorBlock(node: hbs.AST.DecoratorBlock): void {
    // `{{#*inline "name"}}...{{/inline}}` defines a partial local to this template.
    const first = node.params[0];
    if (simpleName(node.path) === 'inline' && first && first.type === 'StringLiteral') {
      this.st.inlinePartials.add((first as hbs.AST.StringLiteral).value);
    } else {
      this.acceptArray(node.params);
    }
    this.acceptKey(node, 'hash');
    visitBody(this, node.program, false, node.program?.blockParams ?? []);
    if (node.inverse) this.acceptKey(node, 'inverse');
  }

  override Decorator(node: hbs.AST.Decorator): void {
    this.acceptArray(node.params);
    this.acceptKey(node, 'hash');
  }
}

/** Visits a block body with its context change and block params, restoring both after. */
function visitBody(v: AnalysisVisitor, program: hbs.AST.Program | undefined, changesContext: boolean, params: readonly string[]): void {
  if (!program) return;
  const st = v.st;
  if (changesContext) st.level++;
  if (params.length) st.blockParams.push({ params });
  try {
    v.accept(program);
  } finally {
    if (params.length) st.blockParams.pop();
    if (changesContext) st.level--;
  }
}

function visitPartialName(v: AnalysisVisitor, name: hbs.AST.Node): void {
  const st = v.st;
  const n = name as unknown as { type: string; original?: unknown; value?: unknown; data?: boolean; loc: hbs.AST.SourceLocation };
  if (n.type === 'PathExpression') {
    if (!n.data) st.partials.push({ name: String(n.original), range: locRange(n.loc) }); // `@partial-block` is data
  } else if (n.type === 'StringLiteral' || n.type === 'NumberLiteral') {
    st.partials.push({ name: String(n.value), range: locRange(n.loc) });
  } else {
    v.accept(name); // `{{> (expr)}}`: a dynamic partial; its expression reads and calls
  }
}

function literalAsPath(node: hbs.AST.Node, name: string): hbs.AST.PathExpression {
  return { type: 'PathExpression', data: false, depth: 0, parts: [name], original: name, loc: node.loc } as hbs.AST.PathExpression;
}

// =============================================================================================
// Nesting guard

/**
 * A cheap over-estimate-prone count of the nesting depth: block openers, `{{else ...}}` chains
 * and parentheses inside tags. Only when it exceeds the limit does the exact token scan run.
 */
function roughNesting(source: string): number {
  let depth = 0;
  let max = 0;
  const chains: number[] = [];
  let i = source.indexOf('{{');
  while (i !== -1) {
    let j = i + 2;
    while (source.charCodeAt(j) === 123 /* { */) j++;
    if (source.charCodeAt(j) === 126 /* ~ */) j++;
    while (j < source.length && /\s/.test(source[j]!)) j++;
    const c = source[j];
    if (c === '#' || (c === '^' && source[j + 1] !== '}')) {
      depth++;
      chains.push(0);
    } else if (c === '/') {
      depth -= 1 + (chains.pop() ?? 0);
      if (depth < 0) depth = 0;
    } else if (source.startsWith('else', j) && /\s/.test(source[j + 4] ?? '')) {
      let k = j + 4;
      while (k < source.length && /\s/.test(source[k]!)) k++;
      if (source[k] !== '}' && source[k] !== '~' && chains.length) {
        chains[chains.length - 1]!++;
        depth++;
      }
    }
    if (depth > max) max = depth;
    const end = source.indexOf('}}', j);
    const stop = end === -1 ? source.length : end;
    let parens = 0;
    for (let k = j; k < stop; k++) {
      const ch = source.charCodeAt(k);
      if (ch === 40 /* ( */) {
        parens++;
        if (depth + parens > max) max = depth + parens;
      } else if (ch === 41 /* ) */ && parens > 0) parens--;
    }
    if (end === -1) break;
    i = source.indexOf('{{', end + 2);
  }
  return max;
}

// =============================================================================================
// Token scan (for error diagnosis and the nesting guard)

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

type OpenKind = 'block' | 'inverse' | 'decorator' | 'partial' | 'raw';

interface BlockFrame {
  kind: OpenKind;
  name: string;
  /** The opening tag, `{{#each items}}`. */
  range: Range;
  chains: number;
  hasElse: boolean;
}

interface Tag {
  token: string;
  range: Range;
  name: string;
  nameOpen: boolean;
  frame?: BlockFrame;
}

type Problem =
  | { kind: 'stray-close'; at: Range; name: string }
  | { kind: 'stray-else'; at: Range; text: string }
  | { kind: 'bad-else'; at: Range; text: string; frame: BlockFrame; reason: 'twice' | 'partial' }
  | { kind: 'mismatch'; at: Range; open: BlockFrame; close: string; raw: boolean; enclosing: boolean };

interface Scan {
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
function scanTemplate(source: string, stopWhenTooDeep = false, maxNesting = LIMITS.maxTemplateNesting): Scan {
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

// =============================================================================================
// Parse errors

interface LexerSnapshot {
  /** The token the parser failed on. */
  range?: Range;
  text: string;
  /** Offset where the lexer stopped (start of unrecognised text for a lexical error). */
  offset?: number;
  state: string;
}

/** The shared parser's lexer right after a failed parse: where it stopped. */
function lexerSnapshot(source: string): LexerSnapshot {
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

function describeParseError(e: unknown, snap: LexerSnapshot, source: string): TemplateParseError {
  if (isStackOverflow(e)) return { message: TOO_DEEP, range: ZERO_RANGE };
  const message = errorMessage(e);
  const lines = new Lines(source);
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

function describeLexicalError(snap: LexerSnapshot, source: string, lines: Lines): TemplateParseError {
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
  let i = source.lastIndexOf('{{', Math.max(0, offset - 1));
  if (i === -1) return new Set(['CLOSE']);
  while (i > 0 && source[i - 1] === '{') i--;
  let braces = 0;
  while (source[i + braces] === '{') braces++;
  let parens = 0;
  for (let k = i; k < offset; k++) {
    if (source[k] === '(') parens++;
    else if (source[k] === ')' && parens > 0) parens--;
  }
  if (parens > 0) return new Set(['CLOSE_SEXPR']);
  return new Set([braces >= 4 ? 'CLOSE_RAW_BLOCK' : braces === 3 ? 'CLOSE_UNESCAPED' : 'CLOSE']);
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

function describeScanProblem(p: Problem, lines: Lines): TemplateParseError {
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

function describeGrammarError(message: string, snap: LexerSnapshot, source: string, lines: Lines): TemplateParseError {
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

// =============================================================================================

function isStackOverflow(e: unknown): boolean {
  return e instanceof RangeError && /call stack/i.test(e.message);
}

function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  try {
    return String(e);
  } catch {
    return 'unknown error';
  }
}
