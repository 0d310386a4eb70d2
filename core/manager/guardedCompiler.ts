/**
 * The JavaScriptCompiler of the engine's Handlebars environment: strict-mode lookups that fail
 * as `missing_context` whatever is missing, and objects without a prototype written as text.
 *
 * Handlebars' strict mode checks only the last segment of a plain `{{a.b.c}}`, and reads every
 * other segment, and every segment of a helper argument or block parameter (`{{#if user.name}}`,
 * `{{#each doc.items}}`, `{{upper user.name}}`, `{{#with a.b}}`), without a check: with no
 * `user`, the compiled code reads `name` of undefined and the render fails with a TypeError
 * ("Cannot read properties of undefined"), a `template_error` that names no variable and that a
 * fallback `on: [missing_context]` does not answer. Its check also builds its message with the
 * object it looked in (`"x" not defined in ` + obj), which throws another TypeError ("Cannot
 * convert object to primitive value") when that object has no prototype, like the workflow
 * engine's `steps`.
 *
 * This environment compiles with a JavaScriptCompiler of its own (the documented override point:
 * `env.JavaScriptCompiler`, whose `resolvePath` emits the code of every path lookup) that guards
 * each segment: reading from null or undefined throws Handlebars' strict-mode error for the
 * path that is missing (`user`, or `doc` of `doc.items`), with the location of the expression;
 * a required last segment (a plain `{{a.b}}`) that the value does not hold throws it for the
 * whole path. The error is thrown through `container.strict(null, path, loc)`, Handlebars' own
 * strict-mode check, so it has the usual message and location and never prints an object.
 * Helper arguments keep Handlebars' meaning otherwise: a missing last segment is undefined (so
 * `{{#if user.name}}` tests for `name`), only a missing parent fails.
 *
 * Writing a value (`{{steps}}`) concatenates it to the output, which throws the same
 * TypeError for an object without a prototype (it has no toString): such an object is written
 * as "[object Object]", like any other object.
 */
import type Handlebars from 'handlebars';
import { LENIENT_HELPER } from '../templates/missingVariables.js';

type HB = typeof Handlebars;

/** The members of Handlebars' JavaScriptCompiler that the override uses. */
interface JavaScriptCompiler {
  options: { strict?: boolean };
  source: { currentLocation?: { start?: { line?: unknown; column?: unknown }; end?: { line?: unknown; column?: unknown } } };
  replaceStack(callback: (current: unknown) => unknown[]): void;
  isInline(): boolean;
  popStack(): unknown;
  pushSource(source: unknown): void;
  appendToBuffer(source: unknown, location?: unknown, explicit?: boolean): unknown;
  environment: { isSimple?: boolean };
  append(): void;
  nameLookup(parent: unknown, name: string, type: string): unknown;
  aliasable(name: string): unknown;
  quotedString(text: string): string;
  resolvePath(type: string, parts: string[], startPartIndex: number, falsy: boolean, strict: boolean): void;
}

type CompilerClass = { prototype: JavaScriptCompiler } & (new () => JavaScriptCompiler);

/** The location of the expression being compiled as a JavaScript literal (numbers only). */
function locationLiteral(c: JavaScriptCompiler): string {
  const loc = c.source.currentLocation;
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  if (!loc?.start) return 'undefined';
  return `{"start":{"line":${n(loc.start.line)},"column":${n(loc.start.column)}},"end":{"line":${n(loc.end?.line)},"column":${n(loc.end?.column)}}}`;
}

/** `value`, or "[object Object]" for an object without a prototype (code over a variable or literal). */
function printable(value: unknown): unknown[] {
  return ['(typeof ', value, ' === "object" && Object.getPrototypeOf(', value, ') === null ? "[object Object]" : ', value, ')'];
}

/** Makes `hb` (an isolated environment) compile with the guards above. */
export function useGuardedCompiler(hb: HB): void {
  const env = hb as unknown as { JavaScriptCompiler: CompilerClass };
  const Base = env.JavaScriptCompiler;
  const baseResolvePath = Base.prototype.resolvePath;
  if (typeof baseResolvePath !== 'function' || typeof Base.prototype.append !== 'function' || typeof Base.prototype.replaceStack !== 'function') {
    throw new Error('this Handlebars version has no JavaScriptCompiler.resolvePath/append to guard lookups with');
  }

  function GuardedCompiler(this: JavaScriptCompiler): void {
    Base.call(this);
  }
  const proto = Object.create(Base.prototype) as JavaScriptCompiler & Record<string, unknown>;
  proto.constructor = GuardedCompiler;
  // Compiles the nested programs (block bodies) with this class too.
  proto.compiler = GuardedCompiler;
  proto.resolvePath = function (this: JavaScriptCompiler, type: string, parts: string[], startPartIndex: number, falsy: boolean, strict: boolean): void {
    if (!this.options.strict) return baseResolvePath.call(this, type, parts, startPartIndex, falsy, strict);
    const fail = this.aliasable('container.strict');
    const loc = locationLiteral(this);
    const at = type === 'data' ? '@' : '';
    const expression = this.quotedString(at + parts.join('.'));
    const lenient = `helpers[${this.quotedString(LENIENT_HELPER)}]`;
    // A lenient render (missingVariables.ts) passes a recorder among the render's helpers: it
    // answers instead of the strict-mode error. Only this path (the miss) reads it.
    const missing = (path: string, written: boolean) => {
      const p = this.quotedString(at + path);
      return ['(', lenient, ' != null ? ', lenient, '.missing(', p, ', ', expression, ', ', String(written), ') : ', fail, '(null, ', p, ', ', loc, '))'];
    };
    for (let i = startPartIndex; i < parts.length; i++) {
      const name = parts[i]!;
      // Reading from nothing: what is missing is the value read from (the context itself, at
      // the first segment of a path: `{{#each list}}{{name}}` over a null item names `name`).
      const parent = i > 0 ? parts.slice(0, i).join('.') : name;
      const required = strict && i === parts.length - 1;
      this.replaceStack((current) => {
        const lookup = this.nameLookup(current, name, type);
        if (!required) return [' != null ? ', lookup, ' : ', missing(parent, false)];
        // `in` on an object: a key holding undefined is present (as in Handlebars' own check).
        const has = [this.quotedString(name), ' in Object(', current, ')'];
        return [' != null ? (', has, ' ? ', lookup, ' : ', missing(parts.slice(0, i + 1).join('.'), true), ') : ', missing(parent, true)];
      });
    }
  };
  // Handlebars' own `append` (4.7), with the value made printable.
  proto.append = function (this: JavaScriptCompiler): void {
    if (this.isInline()) {
      this.replaceStack((current) => [' != null ? ', printable(current), ' : ""']);
      this.pushSource(this.appendToBuffer(this.popStack()));
    } else {
      const local = this.popStack();
      this.pushSource(['if (', local, ' != null) { ', this.appendToBuffer(printable(local), undefined, true), ' }']);
      if (this.environment.isSimple) this.pushSource(['else { ', this.appendToBuffer("''", undefined, true), ' }']);
    }
  };
  GuardedCompiler.prototype = proto;
  env.JavaScriptCompiler = GuardedCompiler as unknown as CompilerClass;
}
