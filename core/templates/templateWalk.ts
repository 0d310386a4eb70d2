/**
 * The walk of a parsed template: a `Handlebars.Visitor` subclass that follows Handlebars'
 * context rules (see analyze.ts) and records the root variables read, the `steps.X` read, the
 * helpers called and the partials used.
 */
import Handlebars from 'handlebars';
import type { TemplateAnalysis, TemplatePartialUse, TemplateStepRead, TemplateVariableRead } from './analysis.js';
import { LineIndex } from '../text/lineIndex.js';
import { locRange } from './hbsLocation.js';

/** Walks a parsed template; throws the RangeError of a stack overflow on absurd nesting (the caller reports it). */
export function walkTemplate(ast: hbs.AST.Program, source: string, known: ReadonlySet<string>): TemplateAnalysis {
  const state = new WalkState(source, known);
  new AnalysisVisitor(state).accept(ast);
  return state.result();
}

interface Frame {
  /** Block params declared by the block whose body this frame covers. */
  params: readonly string[];
}

class WalkState {
  /** Number of context changes between the current position and the root (0 = root). */
  level = 0;
  /** Number of block bodies (or `{{else}}`s) around the current position: what runs only if a block says so. */
  conditional = 0;
  /** Block params in scope, innermost last. */
  readonly blockParams: Frame[] = [];
  readonly variables: TemplateVariableRead[] = [];
  readonly stepReads: TemplateStepRead[] = [];
  readonly helpers = new Set<string>();
  readonly partials: TemplatePartialUse[] = [];
  readonly inlinePartials = new Set<string>();
  readonly lines: LineIndex;

  constructor(
    readonly source: string,
    readonly known: ReadonlySet<string>,
  ) {
    this.lines = new LineIndex(source);
  }

  isBlockParam(name: string): boolean {
    for (let i = this.blockParams.length - 1; i >= 0; i--) if (this.blockParams[i]!.params.includes(name)) return true;
    return false;
  }

  /**
   * A value read: records it when it resolves to the root context. `strict`: the value of a
   * mustache or a section, which a strict render requires; a helper's argument (`{{#if x}}`)
   * is looked up leniently, but for the segments before its last (`{{#if x.y}}` needs `x`).
   */
  read(path: hbs.AST.PathExpression, strict: boolean): void {
    const parts = path.parts ?? [];
    if (path.data) {
      // `@root.x` is the root's `x`; every other @variable (`@index`, `@key`, ...) is data.
      if (parts[0] === 'root' && parts.length > 1) this.recordRoot(path, parts, 1, strict);
      return;
    }
    if (parts.length === 0) return; // `this`, `.`, `..`: a whole context, not a variable
    if (!path.depth && !isScoped(path) && this.isBlockParam(parts[0]!)) return;
    const depth = path.depth ?? 0;
    // `../x` climbing past the root reads nothing (Handlebars yields undefined there).
    if (depth === this.level) this.recordRoot(path, parts, 0, strict);
  }

  private recordRoot(path: hbs.AST.PathExpression, parts: readonly string[], first: number, strict: boolean): void {
    const name = parts[first];
    if (name === undefined) return;
    const range = locRange(path.loc);
    let written = range.start.line === range.end.line ? this.lines.slice(range) : '';
    if (!written) written = path.original;
    const optional = this.conditional > 0 || (!strict && parts.length - first === 1);
    this.variables.push(optional ? { name, path: written, range, optional } : { name, path: written, range });
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

  /** Reached only as an argument (params, hash values, sub-expression arguments). */
  override PathExpression(path: hbs.AST.PathExpression): void {
    this.st.read(path, false);
  }

  override MustacheStatement(node: hbs.AST.MustacheStatement): void {
    const call = node.params.length > 0 || hasHash(node);
    const callee = classifyCallee(this.st, node.path, call);
    if (callee.kind === 'helper') this.st.helpers.add(callee.name);
    else if (callee.kind === 'read' && node.path.type === 'PathExpression') this.st.read(node.path as hbs.AST.PathExpression, true);
    else if (callee.kind === 'literal') this.st.read(literalAsPath(node.path, callee.name), true);
    this.acceptArray(node.params);
    this.acceptKey(node, 'hash');
  }

  override SubExpression(node: hbs.AST.SubExpression): void {
    const callee = classifyCallee(this.st, node.path, true);
    if (callee.kind === 'helper') this.st.helpers.add(callee.name);
    else if (callee.kind === 'read' && node.path.type === 'PathExpression') this.st.read(node.path, true);
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
      if (callee.kind === 'read' && node.path.type === 'PathExpression') st.read(node.path, true);
      else if (callee.kind === 'literal') st.read(literalAsPath(node.path, callee.name), true);
    } else if (callee.kind === 'read' && node.path.type === 'PathExpression') {
      st.read(node.path, true); // `{{#obj.fn x}}`: a function of the context, called with x
    }
    this.acceptArray(node.params);
    this.acceptKey(node, 'hash');
    // What a block's body or `{{else}}` reads is read only when the block runs it.
    st.conditional++;
    try {
      visitBody(this, node.program, changesContext, node.program?.blockParams ?? []);
      // `{{else}}` (and the body of `{{^x}}`) runs in the context outside the block.
      if (node.inverse) this.acceptKey(node, 'inverse');
    } finally {
      st.conditional--;
    }
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
    this.st.conditional++;
    try {
      visitBody(this, node.program, node.params.length > 0, hashKeys);
    } finally {
      this.st.conditional--;
    }
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
    // An inline partial's body renders where (and if) the partial is used.
    this.st.conditional++;
    try {
      visitBody(this, node.program, false, node.program?.blockParams ?? []);
      if (node.inverse) this.acceptKey(node, 'inverse');
    } finally {
      this.st.conditional--;
    }
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
  const use = (name: string): TemplatePartialUse => (st.conditional > 0 ? { name, range: locRange(n.loc), optional: true } : { name, range: locRange(n.loc) });
  if (n.type === 'PathExpression') {
    if (!n.data) st.partials.push(use(String(n.original))); // `@partial-block` is data
  } else if (n.type === 'StringLiteral' || n.type === 'NumberLiteral') {
    st.partials.push(use(String(n.value)));
  } else {
    v.accept(name); // `{{> (expr)}}`: a dynamic partial; its expression reads and calls
  }
}

function literalAsPath(node: hbs.AST.Node, name: string): hbs.AST.PathExpression {
  return { type: 'PathExpression', data: false, depth: 0, parts: [name], original: name, loc: node.loc } as hbs.AST.PathExpression;
}
