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
import { registerPromptHelpers, toText, type HelperBudget } from '../templates/helpers.js';
import { renderLimits, type RenderLimits } from '../limits.js';
import { markNonRetryable } from '../workflow/retry.js';
import { useGuardedCompiler } from './guardedCompiler.js';
import { LENIENT_HELPER, type MissingVariables } from '../templates/missingVariables.js';

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
  /** `fn` as a render of its own for the limits (`compiledFunction`). */
  scoped: TemplateFunction | undefined;
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
  /** Partial depth, output size, work and time of one render; default `LIMITS` (core/limits.ts). */
  limits?: Partial<RenderLimits>;
  /**
   * Where `{{log}}` writes: Handlebars' logger writes to stdout (console.info), which breaks
   * anything that prints on stdout (`promptmanager run --json`, a language server on stdio).
   * Default: one line on stderr.
   */
  onLog?: (entry: TemplateLogEntry) => void;
}

/** One `{{log ...}}` of a template. */
export interface TemplateLogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  /** The arguments as text, joined by spaces, cut at MAX_LOG_CHARS. */
  message: string;
  /** The template (or partial) that logged. */
  template: string;
}

/** Longest `{{log}}` message passed on: a log line is not a second output channel. */
export const MAX_LOG_CHARS = 2_000;
const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** Handlebars' level of a `{{log level=...}}` (a name or 0-3; info when it is neither). */
function logLevel(level: unknown): number {
  if (typeof level === 'string') {
    const named = (LOG_LEVELS as readonly string[]).indexOf(level.toLowerCase());
    if (named >= 0) return named;
    level = Number.parseInt(level, 10);
  }
  return typeof level === 'number' && Number.isFinite(level) ? Math.min(3, Math.max(0, Math.trunc(level))) : 1;
}

function writeLogToStderr(entry: TemplateLogEntry): void {
  process.stderr.write(`[promptmanager] {{log}} ${entry.level} in template ${entry.template}: ${entry.message}\n`);
}

/** Name under which inline strings appear in errors. */
export const INLINE = '(inline)';
const MAX_INLINE = 1000;

// Strict mode throws `"path" not defined in null - line:col` (guardedCompiler.ts); the path may hold quotes.
const STRICT_MISS = /^"([\s\S]*)" not defined in /;

/**
 * Units of work between two reads of the clock for `maxRenderMs`. A clock read costs about a
 * unit's work (40-100 ns), so a render of fewer units (most prompts) reads none: the deadline
 * counts from the first read, at the 64th unit.
 */
const CLOCK_EVERY = 64;

/**
 * Characters a prompt helper produces or scans per unit of work: about the time of an `each`
 * iteration. A helper call is one unit besides.
 */
export const CHARS_PER_UNIT = 256;

/** A helper as the runtime calls it: any arguments, the options last. */
type AnyHelper = (this: unknown, ...args: unknown[]) => unknown;
/** What Handlebars' runtime calls to run any partial (registered, inline `{{#*inline}}`, dynamic, `@partial-block`). */
type InvokePartial = (this: unknown, partial: unknown, context: unknown, options: { name?: unknown }) => unknown;

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
  /** The partial being rendered right now (for the budget error). */
  private partialName: string | undefined;
  /** Renders in progress (a helper may render inline strings inside a render). */
  private renderDepth = 0;
  /**
   * Characters the outermost render in progress has produced so far, as far as `each`
   * iterations and partials tell: checked as they finish, so that an `each` over a huge
   * context stops at the limit instead of building gigabytes.
   */
  private produced = 0;
  /**
   * The work budget of the outermost render in progress (`maxRenderWork`, `maxRenderMs`):
   * units done so far (each iteration, block helper call, partial), the count at which
   * `checkpoint` runs next (the next clock read, or one past the limit), and the first clock
   * read (-1 before it).
   * Handlebars renders synchronously, so the stop has to come from inside: `tick` throws.
   */
  private work = 0;
  private checkAt = 0;
  private started = 0;
  /** The outermost template being rendered (named by the budget error). */
  private top: CompiledTemplate | undefined;
  /**
   * Characters the prompt helpers have produced in the outermost render in progress, their
   * intermediate results included (`{{json (json x)}}` produces both): held to
   * `maxRenderOutputChars` on its own, as they are produced. `charCarry` holds the characters
   * not yet counted as a whole unit of work.
   */
  private helperChars = 0;
  private charCarry = 0;
  /** What the prompt helpers count against (registerPromptHelpers). */
  private readonly budget: HelperBudget = {
    call: () => this.tick(),
    read: (chars) => this.chargeWork(chars),
    produce: (chars, helper) => {
      if (this.renderDepth === 0) return;
      this.helperChars += chars;
      if (this.helperChars > this.limits.maxRenderOutputChars) throw this.helpersTooLarge(helper);
      this.chargeWork(chars);
    },
  };
  private readonly onLog: (entry: TemplateLogEntry) => void;

  constructor(options: TemplateEngineOptions) {
    this.strict = options.strict;
    this.limits = renderLimits(options.limits);
    this.hb = Handlebars.create();
    useGuardedCompiler(this.hb);
    // Every prompt helper call is a unit of work (a block one too: no separate onBlock count).
    registerPromptHelpers(this.hb, { budget: this.budget });
    this.onLog = options.onLog ?? writeLogToStderr;
    this.routeLog();
    this.countBlocks();
    this.guardPartials();
    for (const [name, fn] of Object.entries(options.helpers ?? {})) this.hb.registerHelper(name, this.countAppHelper(fn));
  }

  /**
   * Wraps the built-in block helpers: every `each` iteration counts one unit of work and its
   * output counts against the output limit; every `if` and `with` counts one (`unless` calls
   * `if`, so it counts once too).
   */
  private countBlocks(): void {
    const engine = this;
    const each = this.hb.helpers.each as Handlebars.HelperDelegate | undefined;
    if (typeof each === 'function') {
      this.hb.registerHelper('each', function (this: unknown, context: unknown, options: Handlebars.HelperOptions) {
        if (!options || typeof options.fn !== 'function') return each.call(this, context, options);
        const fn = options.fn;
        const counted = (ctx: unknown, o?: Handlebars.RuntimeOptions) => {
          engine.tick();
          const before = engine.produced;
          const out = fn(ctx, o);
          engine.account(before, out);
          return out;
        };
        return each.call(this, context, { ...options, fn: counted });
      });
    }
    for (const name of ['if', 'with']) {
      const builtin = this.hb.helpers[name] as AnyHelper | undefined;
      if (typeof builtin !== 'function') continue;
      // `arguments` as it came: the built-ins check their argument count.
      this.hb.registerHelper(name, function (this: unknown) {
        engine.tick();
        return builtin.apply(this, arguments as unknown as unknown[]);
      } as Handlebars.HelperDelegate);
    }
  }

  /**
   * Every partial, whatever its kind (a template, an inline `{{#*inline}}` one, a dynamic one,
   * `@partial-block`), runs through the runtime's `VM.invokePartial`, which Handlebars looks up
   * on the environment at each call (an override point its runtime's comments name). This environment gets its
   * own VM object whose `invokePartial` counts one unit of work and enforces `maxPartialDepth`;
   * the shared runtime is left alone.
   */
  private guardPartials(): void {
    const hb = this.hb as unknown as { VM: Record<string, unknown> & { invokePartial: InvokePartial } };
    const invoke = hb.VM?.invokePartial;
    // Without the hook partials would go uncounted and unbounded: fail loudly (a Handlebars upgrade that moved it).
    if (typeof invoke !== 'function') throw new Error('this Handlebars version has no VM.invokePartial to count partials with');
    const engine = this;
    hb.VM = {
      ...hb.VM,
      invokePartial(this: unknown, partial: unknown, context: unknown, options: { name?: unknown }): unknown {
        engine.tick();
        const name = typeof options?.name === 'string' ? options.name : '(dynamic)';
        const max = engine.limits.maxPartialDepth;
        if (engine.partialDepth >= max) {
          // A partial that includes itself (directly or through others) stops here, long before the stack would overflow.
          throw new PromptError('limit_exceeded', `partials nest deeper than ${max} levels (maxPartialDepth) at the partial "${name}": does it include itself, directly or through another partial?`, { template: name });
        }
        const outer = engine.partialName;
        engine.partialDepth++;
        engine.partialName = name;
        try {
          return invoke.call(this, partial, context, options);
        } finally {
          engine.partialDepth--;
          engine.partialName = outer;
        }
      },
    };
  }

  /**
   * `{{log}}` calls `hb.log` (Handlebars' logger, console.info by default, which is stdout):
   * this environment's goes to `onLog`, at Handlebars' default level (info and above), counted
   * as a unit of work and as helper output, and cut at MAX_LOG_CHARS.
   */
  private routeLog(): void {
    const engine = this;
    (this.hb as unknown as { log: (level: unknown, ...message: unknown[]) => void }).log = function (level: unknown, ...message: unknown[]): void {
      engine.tick();
      const at = logLevel(level);
      if (at < 1) return;
      let text = '';
      for (const part of message) {
        if (text.length >= MAX_LOG_CHARS) break;
        text += (text ? ' ' : '') + toText(part, engine.budget, 'log');
      }
      if (text.length > MAX_LOG_CHARS) text = text.slice(0, MAX_LOG_CHARS) + `… (${(text.length - MAX_LOG_CHARS).toLocaleString('en-US')} more characters)`;
      engine.onLog({ level: LOG_LEVELS[at]!, message: text, template: engine.partialName ?? engine.top?.name ?? INLINE });
    };
  }

  /** An application helper, counted when it is used as a block: the call, and each body it renders. */
  private countAppHelper(given: Handlebars.HelperDelegate): Handlebars.HelperDelegate {
    if (typeof given !== 'function') return given;
    const helper = given as unknown as AnyHelper;
    const engine = this;
    return function (this: unknown) {
      const last = arguments.length - 1;
      const options = arguments[last] as Handlebars.HelperOptions | undefined;
      if (options === null || typeof options !== 'object' || typeof options.fn !== 'function') return helper.apply(this, arguments as unknown as unknown[]);
      engine.tick();
      const fn = options.fn;
      const args = Array.prototype.slice.call(arguments) as unknown[];
      args[last] = {
        ...options,
        fn: (ctx: unknown, o?: Handlebars.RuntimeOptions) => {
          engine.tick();
          return fn(ctx, o);
        },
      };
      return helper.apply(this, args);
    } as Handlebars.HelperDelegate;
  }

  /** One unit of work of the render in progress: the hot path is one increment and one comparison. */
  private tick(): void {
    if (++this.work >= this.checkAt) this.checkpoint();
  }

  /** Characters a prompt helper produced or scanned, as units of work (CHARS_PER_UNIT each). */
  private chargeWork(chars: number): void {
    if (this.renderDepth === 0) return;
    this.charCarry += chars;
    if (this.charCarry < CHARS_PER_UNIT) return;
    const units = Math.floor(this.charCarry / CHARS_PER_UNIT);
    this.charCarry -= units * CHARS_PER_UNIT;
    this.work += units;
    if (this.work >= this.checkAt) this.checkpoint();
  }

  /** Every CLOCK_EVERY units: past the work limit or the deadline the render stops. */
  private checkpoint(): void {
    const { maxRenderWork, maxRenderMs } = this.limits;
    if (this.renderDepth === 0) {
      // Not inside a render of this engine (a helper or partial called on its own): no budget to hold it to.
      this.work = 0;
      this.checkAt = CLOCK_EVERY;
      return;
    }
    if (this.work > maxRenderWork) throw this.overBudget('work');
    const now = performance.now();
    if (this.started < 0) this.started = now;
    else if (now - this.started > maxRenderMs) throw this.overBudget('time');
    this.checkAt = Math.min(this.work + CLOCK_EVERY, maxRenderWork + 1);
  }

  private overBudget(what: 'work' | 'time'): PromptError {
    const top = this.top;
    const name = top?.name ?? INLINE;
    const where = this.partialName !== undefined && this.partialName !== name ? ` (in the partial "${this.partialName}")` : '';
    const units = this.work.toLocaleString('en-US');
    const hit =
      what === 'work'
        ? `did more than ${this.limits.maxRenderWork.toLocaleString('en-US')} units of work (maxRenderWork; each {{#each}} iteration, block helper, prompt helper call, partial and ${CHARS_PER_UNIT} characters a prompt helper produces or reads is one)`
        : `ran longer than ${this.limits.maxRenderMs.toLocaleString('en-US')} ms (maxRenderMs) after ${units} units of work`;
    const error = new PromptError(
      'render_budget_exceeded',
      `Template ${name} was stopped: the render ${hit}${where}. Nested {{#each}} blocks or a huge list in the context? Reduce the data the template iterates over, or raise ${what === 'work' ? 'maxRenderWork' : 'maxRenderMs'} (configureLimits, or the manager's limits option)`,
      { template: name, ...(top && top.file !== INLINE ? { location: { file: top.file } } : {}) },
    );
    // The same template and context do the same work: a workflow retry could only burn it again.
    // (Time depends on the machine, so a step may retry that one.)
    return what === 'work' ? markNonRetryable(error) : error;
  }

  /** Counts output that a nested render (an iteration, a partial) produced and enforces the limit. */
  private account(before: number, out: unknown, template?: string): void {
    const n = typeof out === 'string' ? out.length : 0;
    if (before + n > this.produced) this.produced = before + n;
    if (this.produced > this.limits.maxRenderOutputChars) throw this.outputTooLarge(this.produced, template);
  }

  private outputTooLarge(chars: number, template?: string): PromptError {
    const max = this.limits.maxRenderOutputChars;
    // The same template and context produce the same output: a workflow retry could only repeat it.
    return markNonRetryable(
      new PromptError(
        'limit_exceeded',
        `the render output passed ${max.toLocaleString('en-US')} characters (maxRenderOutputChars)${chars > max ? ` at ${chars.toLocaleString('en-US')}` : ''}: an each over a huge context? Render less, or raise the limit`,
        template !== undefined ? { template } : {},
      ),
    );
  }

  private helpersTooLarge(helper: string): PromptError {
    const max = this.limits.maxRenderOutputChars;
    const template = this.partialName ?? this.top?.name ?? INLINE;
    const top = this.top;
    const file = template === top?.name && top.file !== INLINE ? top.file : undefined;
    return markNonRetryable(
      new PromptError(
        'limit_exceeded',
        `Template ${template} was stopped: its prompt helpers produced more than ${max.toLocaleString('en-US')} characters (maxRenderOutputChars), the last in {{${helper}}}. ` +
          `Nested helpers ({{json (json x)}} doubles at each level) or a helper over a huge value? Render less, or raise maxRenderOutputChars`,
        { template, ...(file !== undefined ? { location: { file } } : {}) },
      ),
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
      // Depth and work are counted by the runtime hook (guardPartials), for every kind of partial.
      const before = this.produced;
      try {
        const out = this.functionOf(ct)(context, options);
        this.account(before, out, name);
        return out;
      } catch (e) {
        if (e !== null && typeof e === 'object' && !this.errorTemplate.has(e)) this.errorTemplate.set(e, name);
        throw e;
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
  renderInline(table: ReadonlyMap<string, CompiledTemplate>, source: string, context: unknown, lenient?: MissingVariables): string {
    let ct = this.inline.get(source);
    if (ct === undefined) {
      const entry = { name: INLINE, file: INLINE, text: source, version: 0 } as unknown as TemplateEntry;
      ct = new CompiledTemplateImpl(INLINE, INLINE, entry, ++this.revisions);
      if (this.inline.size >= MAX_INLINE) this.inline.delete(this.inline.keys().next().value as string);
      this.inline.set(source, ct);
    }
    return this.render(table, ct, context, lenient);
  }

  /**
   * The compiled function, for benchmarks and callers that render themselves. Each call is a
   * render of its own for the limits (output, work, time), as through `render`; errors come out
   * as Handlebars threw them, or as the limits' PromptErrors.
   */
  compiledFunction(ct: CompiledTemplate): TemplateFunction {
    const impl = ct as CompiledTemplateImpl;
    const fn = this.functionOf(impl);
    return (impl.scoped ??= (context: unknown, options?: Handlebars.RuntimeOptions) => {
      const outermost = this.enter(impl);
      try {
        return fn(context, options);
      } finally {
        this.leave(outermost);
      }
    });
  }

  /** Starts a render: the outermost one resets the counters of the limits. */
  private enter(ct: CompiledTemplate): boolean {
    const outermost = this.renderDepth === 0;
    if (outermost) {
      this.produced = 0;
      this.partialDepth = 0;
      this.partialName = undefined;
      this.work = 0;
      this.checkAt = Math.min(CLOCK_EVERY, this.limits.maxRenderWork + 1);
      this.started = -1;
      this.top = ct;
      this.helperChars = 0;
      this.charCarry = 0;
    }
    this.renderDepth++;
    return outermost;
  }

  private leave(outermost: boolean): void {
    this.renderDepth--;
    if (outermost) {
      this.produced = 0;
      this.top = undefined;
    }
  }

  /**
   * Renders one template of a table. Errors come out as PromptError: `missing_context` (strict
   * mode: the variable, the template it is read in and the line) or `template_error`. With
   * `lenient` (a strict engine only), a missing variable is recorded there and written as a
   * marker instead (missingVariables.ts); the limits hold all the same.
   */
  render(table: ReadonlyMap<string, CompiledTemplate>, ct: CompiledTemplate, context: unknown, lenient?: MissingVariables): string {
    const fn = this.functionOf(ct as CompiledTemplateImpl);
    const outer = this.active;
    this.active = table;
    const outermost = this.enter(ct);
    try {
      // Not a function, so Handlebars hands it to the compiled code as it is (it wraps functions).
      const out = lenient ? fn(context, { helpers: { [LENIENT_HELPER]: lenient as unknown as Handlebars.HelperDelegate } }) : fn(context);
      // Whatever the helpers did, the finished text is held to the limit too.
      if (typeof out === 'string' && out.length > this.limits.maxRenderOutputChars) throw this.outputTooLarge(out.length);
      return out;
    } catch (e) {
      throw this.translate(e, table, ct);
    } finally {
      this.active = outer;
      this.leave(outermost);
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
