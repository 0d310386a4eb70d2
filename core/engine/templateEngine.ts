/**
 * One isolated Handlebars environment per manager: its helpers and partials never leak into
 * the global Handlebars or into another manager. Prompts are not HTML, so nothing is escaped;
 * prototype access stays disabled (Handlebars' default), so a context object cannot expose
 * `constructor` or `__proto__` to a template.
 *
 * Compiled templates are kept per template text: a template compiles once per content version
 * (lazily, at its first render), and a reload that leaves a template's text alone reuses it.
 */
import Handlebars from 'handlebars';
import { PromptError, type ErrorLocation } from '../errors.js';
import type { TemplateEntry } from '../validate/api.js';
import { registerPromptHelpers } from '../templates/helpers.js';
import { renderLimits, type RenderLimits } from '../limits.js';

type HB = typeof Handlebars;
export type TemplateFunction = HandlebarsTemplateDelegate;

export interface CompiledTemplate {
  readonly name: string;
  readonly file: string;
  readonly entry: TemplateEntry;
  /** Unique per compiled text within the engine: the template half of a render-cache key. */
  readonly revision: number;
}

/** Compiled template with the lazily built function; internal to the engine. */
class CompiledTemplateImpl implements CompiledTemplate {
  fn: TemplateFunction | undefined;
  constructor(
    readonly name: string,
    readonly file: string,
    readonly entry: TemplateEntry,
    readonly revision: number,
  ) {}
}

export interface TemplateEngineOptions {
  /** A variable the context lacks fails the render (`missing_context`). */
  strict: boolean;
  /** Extra helpers of the application, registered after the prompt helpers. */
  helpers?: Record<string, Handlebars.HelperDelegate>;
  /** Partial depth and output size of one render; default `LIMITS` (core/limits.ts). */
  limits?: Partial<RenderLimits>;
}

/** Name under which inline strings appear in errors. */
export const INLINE = '(inline)';
const MAX_INLINE = 1000;

// The Handlebars runtime throws `"name" not defined in [object Object] - line:col` in strict mode.
const STRICT_MISS = /^"([^"]*)" not defined in /;

export class TemplateEngine {
  readonly hb: HB;
  readonly strict: boolean;
  /** Number of template compilations since the engine was created. */
  compilations = 0;
  /** Templates whose text Handlebars could not compile (name -> message). */
  readonly broken = new Map<string, string>();
  private revisions = 0;
  private readonly latest = new Map<string, CompiledTemplateImpl>();
  private readonly partialNames = new Set<string>();
  /**
   * The template table of the render in progress: partials resolve through it, so a render
   * that started before a reload finishes with the partials it started with. Rendering is
   * synchronous, so one slot (saved and restored around nested renders) suffices.
   */
  private active: ReadonlyMap<string, CompiledTemplate> | undefined;
  private readonly inline = new Map<string, CompiledTemplateImpl>();
  /** The innermost template an error was raised in (set by partial wrappers). */
  private readonly errorTemplate = new WeakMap<object, string>();
  readonly limits: RenderLimits;
  /** Partials being rendered inside one another right now. */
  private partialDepth = 0;
  /** Renders in progress (a helper may render inline strings inside a render). */
  private renderDepth = 0;
  /**
   * Characters the outermost render in progress has produced so far, as far as `each`
   * iterations and partials tell: checked as they finish, so that an `each` over a huge
   * context stops at the limit instead of building gigabytes.
   */
  private produced = 0;

  constructor(options: TemplateEngineOptions) {
    this.strict = options.strict;
    this.limits = renderLimits(options.limits);
    this.hb = Handlebars.create();
    registerPromptHelpers(this.hb);
    this.countEachOutput();
    for (const [name, fn] of Object.entries(options.helpers ?? {})) this.hb.registerHelper(name, fn);
  }

  /** Wraps the built-in `each` so that every iteration's output counts against the render's output limit. */
  private countEachOutput(): void {
    const builtin = this.hb.helpers.each as Handlebars.HelperDelegate | undefined;
    if (typeof builtin !== 'function') return;
    const engine = this;
    this.hb.registerHelper('each', function (this: unknown, context: unknown, options: Handlebars.HelperOptions) {
      if (!options || typeof options.fn !== 'function') return builtin.call(this, context, options);
      const fn = options.fn;
      const counted = (ctx: unknown, o?: Handlebars.RuntimeOptions) => {
        const before = engine.produced;
        const out = fn(ctx, o);
        engine.account(before, out);
        return out;
      };
      return builtin.call(this, context, { ...options, fn: counted });
    });
  }

  /** Counts output that a nested render (an iteration, a partial) produced and enforces the limit. */
  private account(before: number, out: unknown, template?: string): void {
    const n = typeof out === 'string' ? out.length : 0;
    if (before + n > this.produced) this.produced = before + n;
    if (this.produced > this.limits.maxRenderOutputChars) throw this.outputTooLarge(this.produced, template);
  }

  private outputTooLarge(chars: number, template?: string): PromptError {
    const max = this.limits.maxRenderOutputChars;
    return new PromptError(
      'limit_exceeded',
      `the render output passed ${max.toLocaleString('en-US')} characters (maxRenderOutputChars)${chars > max ? ` at ${chars.toLocaleString('en-US')}` : ''}: an each over a huge context? Render less, or raise the limit`,
      template !== undefined ? { template } : {},
    );
  }

  /**
   * The compiled-template table for a set of template entries. Entries whose text did not
   * change keep their compiled template (and revision); `changed` lists the names whose text
   * changed, appeared or disappeared compared with the engine's previous table.
   */
  prepare(templates: ReadonlyMap<string, TemplateEntry>): { table: Map<string, CompiledTemplate>; changed: Set<string> } {
    const table = new Map<string, CompiledTemplate>();
    const changed = new Set<string>();
    for (const [name, entry] of templates) {
      const prev = this.latest.get(name);
      if (prev && prev.entry.text === entry.text && prev.file === entry.file) {
        table.set(name, prev);
        continue;
      }
      const ct = new CompiledTemplateImpl(name, entry.file, entry, ++this.revisions);
      this.latest.set(name, ct);
      this.broken.delete(name);
      table.set(name, ct);
      changed.add(name);
      if (!this.partialNames.has(name)) this.registerPartial(name);
    }
    for (const name of [...this.latest.keys()]) {
      if (!templates.has(name)) {
        this.latest.delete(name);
        this.broken.delete(name);
        changed.add(name);
      }
    }
    return { table, changed };
  }

  /** Whether the template has been compiled (for `getTemplateInfo`). */
  isCompiled(ct: CompiledTemplate): boolean {
    return (ct as CompiledTemplateImpl).fn !== undefined;
  }

  /**
   * Every template is a partial by its name. The registered function looks the name up in the
   * table of the render in progress, so a partial follows the snapshot, not the latest reload.
   */
  private registerPartial(name: string): void {
    this.partialNames.add(name);
    const partial = (context: unknown, options: Handlebars.RuntimeOptions): string => {
      const ct = this.active?.get(name) as CompiledTemplateImpl | undefined;
      if (!ct) throw new PromptError('unknown_template', `The partial "${name}" is not a template of this workspace`, { template: name });
      const max = this.limits.maxPartialDepth;
      if (this.partialDepth >= max) {
        // A partial that includes itself (directly or through others) stops here, long before the stack would overflow.
        throw new PromptError('limit_exceeded', `partials nest deeper than ${max} levels (maxPartialDepth) at the partial "${name}": does it include itself, directly or through another partial?`, { template: name });
      }
      this.partialDepth++;
      const before = this.produced;
      try {
        const out = this.functionOf(ct)(context, options);
        this.account(before, out, name);
        return out;
      } catch (e) {
        if (e !== null && typeof e === 'object' && !this.errorTemplate.has(e)) this.errorTemplate.set(e, name);
        throw e;
      } finally {
        this.partialDepth--;
      }
    };
    this.hb.registerPartial(name, partial as unknown as Handlebars.Template);
  }

  private functionOf(ct: CompiledTemplateImpl): TemplateFunction {
    if (ct.fn) return ct.fn;
    let fn: TemplateFunction;
    try {
      if (ct.name !== INLINE) this.compilations++;
      // Parse first: a syntax error then reads as one, with its line, rather than mid-render.
      Handlebars.parse(ct.entry.text);
      fn = this.hb.compile(ct.entry.text, { noEscape: true, strict: this.strict });
      // Handlebars compiles on first call; its `_setup` hook forces the compilation now, so
      // that compiler errors (e.g. `{{> p a b}}`: too many partial arguments) mark the
      // template broken instead of surfacing as one failed render.
      const setup = (fn as unknown as { _setup?: (o: object) => void })._setup;
      if (typeof setup === 'function') setup({});
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (ct.name !== INLINE) this.broken.set(ct.name, message);
      throw new PromptError('template_error', `Template ${ct.name} does not compile: ${message}`, {
        template: ct.name,
        location: locationOf(e, ct.file),
        cause: e,
      });
    }
    ct.fn = fn;
    return fn;
  }

  /**
   * Renders an inline Handlebars string (a workflow step's `context:` values, a composition's
   * `output`) with the same helpers, partials and strictness. Compiled sources are kept in a
   * bounded map: the set of such strings is as finite as the configuration.
   */
  renderInline(table: ReadonlyMap<string, CompiledTemplate>, source: string, context: unknown): string {
    let ct = this.inline.get(source);
    if (ct === undefined) {
      const entry = { name: INLINE, file: INLINE, text: source, version: 0 } as unknown as TemplateEntry;
      ct = new CompiledTemplateImpl(INLINE, INLINE, entry, ++this.revisions);
      if (this.inline.size >= MAX_INLINE) this.inline.delete(this.inline.keys().next().value as string);
      this.inline.set(source, ct);
    }
    return this.render(table, ct, context);
  }

  /** The compiled function, for benchmarks and callers that render themselves. */
  compiledFunction(ct: CompiledTemplate): TemplateFunction {
    return this.functionOf(ct as CompiledTemplateImpl);
  }

  /**
   * Renders one template of a table. Errors come out as PromptError: `missing_context` (strict
   * mode: the variable, the template it is read in and the line) or `template_error`.
   */
  render(table: ReadonlyMap<string, CompiledTemplate>, ct: CompiledTemplate, context: unknown): string {
    const fn = this.functionOf(ct as CompiledTemplateImpl);
    const outer = this.active;
    this.active = table;
    const outermost = this.renderDepth === 0;
    if (outermost) {
      this.produced = 0;
      this.partialDepth = 0;
    }
    this.renderDepth++;
    try {
      const out = fn(context);
      // Whatever the helpers did, the finished text is held to the limit too.
      if (typeof out === 'string' && out.length > this.limits.maxRenderOutputChars) throw this.outputTooLarge(out.length);
      return out;
    } catch (e) {
      throw this.translate(e, table, ct);
    } finally {
      this.active = outer;
      this.renderDepth--;
      if (outermost) this.produced = 0;
    }
  }

  private translate(e: unknown, table: ReadonlyMap<string, CompiledTemplate>, top: CompiledTemplate): PromptError {
    const inner = (e !== null && typeof e === 'object' && this.errorTemplate.get(e)) || top.name;
    if (e instanceof PromptError) {
      if (e.template !== undefined) return e;
      return new PromptError(e.code, e.message, { ...e, template: inner, cause: e });
    }
    const ct = table.get(inner) ?? top;
    const message = e instanceof Error ? e.message : String(e);
    const location = locationOf(e, ct.file);
    const m = STRICT_MISS.exec(message);
    if (m) {
      const variable = fullPathOf(m[1]!, ct.entry, location);
      const where = location.line !== undefined ? ` at line ${location.line}` : '';
      const via = inner !== top.name ? ` (a partial of ${top.name})` : '';
      return new PromptError(
        'missing_context',
        `Missing context variable "${variable}" in template ${inner}${via}${where}`,
        { template: inner, variable, location, cause: e },
      );
    }
    const clean = message.replace(/ - \d+:\d+$/, '');
    return new PromptError('template_error', `Template ${inner} failed to render: ${clean}`, { template: inner, location, cause: e });
  }
}

function locationOf(e: unknown, file: string): ErrorLocation {
  const loc: ErrorLocation = { file };
  const x = e as { lineNumber?: unknown; column?: unknown; hash?: { loc?: { first_line?: number; first_column?: number } } };
  if (typeof x?.lineNumber === 'number') {
    loc.line = x.lineNumber;
    // Handlebars columns are zero-based; people and terminals count from one.
    if (typeof x.column === 'number') loc.column = x.column + 1;
  } else if (x?.hash?.loc?.first_line !== undefined) {
    loc.line = x.hash.loc.first_line;
    loc.column = (x.hash.loc.first_column ?? 0) + 1;
  }
  return loc;
}

/**
 * Strict mode names only the last segment that was missing (`title` of `document.title`); the
 * template's analysis knows the whole path read on that line, which is what a person needs.
 */
function fullPathOf(segment: string, entry: TemplateEntry, location: ErrorLocation): string {
  if (location.line === undefined) return segment;
  const line = location.line - 1;
  const col = (location.column ?? 1) - 1;
  let best: { path: string; dist: number } | undefined;
  for (const v of entry.analysis?.variables ?? []) {
    if (v.range.start.line !== line) continue;
    const parts = v.path.split('.');
    if (!parts.includes(segment)) continue;
    const path = parts.slice(0, parts.indexOf(segment) + 1).join('.');
    const dist = Math.abs(v.range.start.character - col);
    if (!best || dist < best.dist) best = { path, dist };
  }
  return best?.path ?? segment;
}
