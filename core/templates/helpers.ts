/**
 * The prompt helpers: small, dependency-free Handlebars helpers for building prompts.
 *
 * They are registered per isolated Handlebars environment (`Handlebars.create()`), never on the
 * global instance. Every helper is robust to `null`, `undefined` and values of the wrong type: it
 * renders something sensible instead of throwing. Only a missing *required* argument raises a
 * Handlebars error, naming the helper and how to call it. Values are read through their own
 * enumerable properties only (`JSON.stringify`, `Object.keys`, array indices): nothing walks a
 * prototype chain or calls a context's methods other than `toJSON`/`toString` on dates and
 * Handlebars' SafeString.
 *
 * The outputs are plain strings: the engine compiles with `noEscape`, because prompts are not HTML.
 */
import Handlebars from 'handlebars';

type HB = typeof Handlebars;

export interface PromptHelperDoc {
  /** Helper name as used in templates. */
  readonly name: string;
  /** Call shape: `truncate text max`; optional arguments in brackets. */
  readonly signature: string;
  /** One or two sentences for completion items and the README. */
  readonly description: string;
  /** A template snippet using the helper, with its output where useful. */
  readonly example: string;
}

/** Handlebars' own helpers (always registered in every environment). */
export const BUILTIN_HELPER_NAMES: readonly string[] = Object.freeze([
  'if',
  'unless',
  'each',
  'with',
  'lookup',
  'log',
  'blockHelperMissing',
  'helperMissing',
]);

export const PROMPT_HELPERS: readonly PromptHelperDoc[] = Object.freeze([
  {
    name: 'json',
    signature: 'json value [indent]',
    description: 'The value as JSON. `indent` (0-10 spaces, or a string) pretty-prints it. Circular references become "[Circular]"; `undefined` renders nothing.',
    example: '{{json user 2}}',
  },
  {
    name: 'join',
    signature: 'join list [separator]',
    description: 'The items of a list joined by `separator` (default ", "). Missing items render as empty text, objects as JSON; a value that is not a list renders as itself.',
    example: '{{join tags ", "}}  ->  a, b, c',
  },
  {
    name: 'eq',
    signature: 'eq a b',
    description: 'true when `a` and `b` are strictly equal (===). As a block, renders its body or its {{else}}.',
    example: '{{#if (eq level "beginner")}}Explain simply.{{/if}}',
  },
  {
    name: 'ne',
    signature: 'ne a b',
    description: 'true when `a` and `b` are not strictly equal (!==). As a block, renders its body or its {{else}}.',
    example: '{{#if (ne format "json")}}Answer in prose.{{/if}}',
  },
  {
    name: 'and',
    signature: 'and a b [...more]',
    description: 'true when every argument is truthy (Handlebars truthiness: false, null, undefined, "", 0, NaN and [] are falsy).',
    example: '{{#if (and document user_id)}}...{{/if}}',
  },
  {
    name: 'or',
    signature: 'or a b [...more]',
    description: 'true when at least one argument is truthy (Handlebars truthiness).',
    example: '{{#if (or draft review)}}...{{/if}}',
  },
  {
    name: 'not',
    signature: 'not value',
    description: 'true when the value is falsy (Handlebars truthiness), false otherwise.',
    example: '{{#if (not examples)}}No examples given.{{/if}}',
  },
  {
    name: 'default',
    signature: 'default value fallback',
    description: 'The value, or `fallback` when the value is null, undefined or the empty string.',
    example: '{{default locale "en"}}',
  },
  {
    name: 'indent',
    signature: 'indent text [spaces]',
    description: 'The text with every non-empty line indented by `spaces` spaces (default 2, at most 100).',
    example: '{{indent document.body 4}}',
  },
  {
    name: 'truncate',
    signature: 'truncate text max',
    description: 'The text cut to at most `max` characters, ending with an ellipsis ("…") when it was cut. Counts Unicode characters, never splitting one.',
    example: '{{truncate document.body 2000}}',
  },
  {
    name: 'upper',
    signature: 'upper text',
    description: 'The text in upper case.',
    example: '{{upper status}}  ->  DRAFT',
  },
  {
    name: 'lower',
    signature: 'lower text',
    description: 'The text in lower case.',
    example: '{{lower title}}',
  },
  {
    name: 'trim',
    signature: 'trim text',
    description: 'The text without leading and trailing whitespace.',
    example: '{{trim answer}}',
  },
  {
    name: 'length',
    signature: 'length value',
    description: 'The number of items of a list, characters of a text, keys of an object or entries of a Map/Set; 0 for anything else.',
    example: '{{length documents}} documents',
  },
  {
    name: 'bullet_list',
    signature: 'bullet_list list',
    description: 'The items as a Markdown bullet list ("- a\\n- b"); items spanning several lines are indented under their bullet; null items are skipped.',
    example: '{{bullet_list constraints}}',
  },
  {
    name: 'numbered_list',
    signature: 'numbered_list list',
    description: 'The items as a numbered list ("1. a\\n2. b"); items spanning several lines are indented under their number; null items are skipped.',
    example: '{{numbered_list steps_to_follow}}',
  },
]);

export const PROMPT_HELPER_NAMES: readonly string[] = Object.freeze(PROMPT_HELPERS.map((h) => h.name));

/** Every helper name a template may call without registering anything: builtins + prompt helpers. */
export const KNOWN_HELPER_NAMES: ReadonlySet<string> = new Set([...BUILTIN_HELPER_NAMES, ...PROMPT_HELPER_NAMES]);

// ---------------------------------------------------------------------------------------------
// Value handling shared by the helpers.

/** Handlebars' notion of falsy, as in `{{#if}}`: false, null, undefined, "", 0, NaN and []. */
export function isTruthy(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === '' || value === 0) return false;
  if (typeof value === 'number' && Number.isNaN(value)) return false;
  if (Array.isArray(value) && value.length === 0) return false;
  return true;
}

/** The text of a Handlebars SafeString (the same class in every `Handlebars.create()` environment). */
function safeStringText(value: object): string | undefined {
  if (!(value instanceof Handlebars.SafeString)) return undefined;
  const s = Object.prototype.hasOwnProperty.call(value, 'string') ? (value as unknown as { string: unknown }).string : undefined;
  return typeof s === 'string' ? s : '';
}

/** JSON with circular references replaced, BigInts as strings; never throws. */
function safeJson(value: unknown, indent?: number | string): string | undefined {
  const ancestors: unknown[] = [];
  try {
    return JSON.stringify(
      value,
      function (this: unknown, _key: string, v: unknown) {
        if (typeof v === 'bigint') return v.toString();
        if (typeof v !== 'object' || v === null) return v;
        // `this` is the object holding `v`: drop ancestors that are no longer on the path.
        while (ancestors.length > 0 && ancestors[ancestors.length - 1] !== this) ancestors.pop();
        if (ancestors.includes(v)) return '[Circular]';
        ancestors.push(v);
        return v;
      },
      indent,
    );
  } catch (e) {
    const reason = e instanceof RangeError ? 'too deeply nested' : e instanceof Error ? e.message : String(e);
    return `[unserializable: ${reason}]`;
  }
}

/** How a value reads as prompt text: nothing for null/undefined, JSON for objects. */
export function toText(value: unknown): string {
  if (value === null || value === undefined) return '';
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'symbol':
    case 'function':
      return '';
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? '' : value.toISOString();
  const safe = safeStringText(value);
  if (safe !== undefined) return safe;
  if (Array.isArray(value)) return value.map(toText).join(', ');
  return safeJson(value) ?? '';
}

function codePoints(text: string): string[] {
  return Array.from(text);
}

function isOptions(value: unknown): value is Handlebars.HelperOptions {
  return typeof value === 'object' && value !== null && 'hash' in value && 'data' in value;
}

/** Splits Handlebars' helper arguments into the positional ones and the trailing options. */
function split(args: unknown[]): { params: unknown[]; options: Handlebars.HelperOptions | undefined } {
  const last = args[args.length - 1];
  if (isOptions(last)) return { params: args.slice(0, -1), options: last };
  return { params: args, options: undefined };
}

function listOf(value: unknown): unknown[] | undefined {
  if (value === null || value === undefined) return undefined;
  if (Array.isArray(value)) return value;
  if (value instanceof Set) return [...value];
  return undefined;
}

function clampInt(value: unknown, fallback: number, min: number, max: number): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(n)) return fallback;
  return Math.min(max, Math.max(min, Math.trunc(n)));
}

/** Prefixes every line after the first with `pad` (continuation lines of a list item). */
function hang(text: string, pad: string): string {
  return text.replace(/\r?\n(?=[^\r\n])/g, (nl) => nl + pad);
}

function formatList(value: unknown, marker: (i: number) => string): string {
  const list = listOf(value);
  const items = list ?? (value === null || value === undefined || value === '' ? [] : [value]);
  const out: string[] = [];
  let n = 0;
  for (const item of items) {
    if (item === null || item === undefined) continue;
    const m = marker(++n);
    out.push(m + hang(toText(item), ' '.repeat(m.length)));
  }
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------

type Impl = (params: unknown[]) => unknown;

interface HelperSpec {
  /** Number of arguments that must be given. */
  required: number;
  /** Call shape for the error message. */
  usage: string;
  impl: Impl;
  /** Boolean helpers also work as blocks: `{{#eq a b}}yes{{else}}no{{/eq}}`. */
  block?: boolean;
}

const SPECS: Record<string, HelperSpec> = {
  json: {
    required: 1,
    usage: '{{json value [indent]}}',
    impl: ([value, indent]) => {
      const ind = typeof indent === 'string' ? indent.slice(0, 10) : clampInt(indent, 0, 0, 10);
      return safeJson(value, ind === 0 ? undefined : ind) ?? '';
    },
  },
  join: {
    required: 1,
    usage: '{{join list [separator]}}',
    impl: ([value, separator]) => {
      const sep = typeof separator === 'string' ? separator : ', ';
      const list = listOf(value);
      return list ? list.map(toText).join(sep) : toText(value);
    },
  },
  eq: { required: 2, usage: '{{eq a b}}', block: true, impl: ([a, b]) => a === b },
  ne: { required: 2, usage: '{{ne a b}}', block: true, impl: ([a, b]) => a !== b },
  and: { required: 1, usage: '{{and a b}}', block: true, impl: (params) => params.every(isTruthy) },
  or: { required: 1, usage: '{{or a b}}', block: true, impl: (params) => params.some(isTruthy) },
  not: { required: 1, usage: '{{not value}}', block: true, impl: ([value]) => !isTruthy(value) },
  default: {
    required: 2,
    usage: '{{default value fallback}}',
    impl: ([value, fallback]) => (value === null || value === undefined || value === '' ? fallback : value),
  },
  indent: {
    required: 1,
    usage: '{{indent text [spaces]}}',
    impl: ([text, spaces]) => {
      const pad = ' '.repeat(clampInt(spaces, 2, 0, 100));
      return toText(text)
        .split('\n')
        .map((line) => (line.trim() === '' ? line : pad + line))
        .join('\n');
    },
  },
  truncate: {
    required: 2,
    usage: '{{truncate text max}}',
    impl: ([text, max]) => {
      const s = toText(text);
      const limit = clampInt(max, -1, 0, Number.MAX_SAFE_INTEGER);
      if (limit < 0) return s; // not a number: nothing sensible to cut to
      if (s.length <= limit) return s; // UTF-16 length >= code points: certainly fits
      const chars = codePoints(s);
      if (chars.length <= limit) return s;
      if (limit === 0) return '';
      return chars.slice(0, limit - 1).join('').trimEnd() + '…';
    },
  },
  upper: { required: 1, usage: '{{upper text}}', impl: ([text]) => toText(text).toUpperCase() },
  lower: { required: 1, usage: '{{lower text}}', impl: ([text]) => toText(text).toLowerCase() },
  trim: { required: 1, usage: '{{trim text}}', impl: ([text]) => toText(text).trim() },
  length: {
    required: 1,
    usage: '{{length value}}',
    impl: ([value]) => {
      if (typeof value === 'string') return codePoints(value).length;
      if (Array.isArray(value)) return value.length;
      if (value instanceof Map || value instanceof Set) return value.size;
      if (typeof value !== 'object' || value === null) return 0;
      const safe = safeStringText(value);
      return safe !== undefined ? codePoints(safe).length : Object.keys(value).length;
    },
  },
  bullet_list: { required: 1, usage: '{{bullet_list list}}', impl: ([value]) => formatList(value, () => '- ') },
  numbered_list: { required: 1, usage: '{{numbered_list list}}', impl: ([value]) => formatList(value, (n) => `${n}. `) },
};

/** Options of `registerPromptHelpers`. */
export interface PromptHelperHooks {
  /**
   * Called each time a prompt helper is used as a block (`{{#eq a b}}...{{/eq}}`), before its
   * body renders: the engine counts it against the render's work budget (and may throw there).
   */
  onBlock?: () => void;
}

function makeHelper(hb: HB, name: string, spec: HelperSpec, onBlock: (() => void) | undefined): Handlebars.HelperDelegate {
  return function (this: unknown, ...args: unknown[]): unknown {
    const { params, options } = split(args);
    if (params.length < spec.required) {
      const got = params.length === 0 ? 'none' : String(params.length);
      throw new hb.Exception(
        `helper '${name}' needs ${spec.required === 1 ? 'an argument' : `${spec.required} arguments`} (${spec.usage}), got ${got}`,
      );
    }
    const result = spec.impl(params);
    if (spec.block && options && typeof options.fn === 'function') {
      onBlock?.();
      return result ? options.fn(this) : typeof options.inverse === 'function' ? options.inverse(this) : '';
    }
    return result;
  } as Handlebars.HelperDelegate;
}

/** Registers every prompt helper on an isolated Handlebars environment (`Handlebars.create()`). */
export function registerPromptHelpers(hb: HB, hooks: PromptHelperHooks = {}): void {
  for (const name of PROMPT_HELPER_NAMES) {
    const spec = SPECS[name];
    if (spec) hb.registerHelper(name, makeHelper(hb, name, spec, hooks.onBlock));
  }
}
