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
// The budget the helpers produce against.

/**
 * What a helper's work is counted against (the engine's render limits). Every call is counted,
 * and every character a helper produces or scans, as it goes: before a large string is built,
 * not after, so that nested helpers (`{{json (json (json x))}}` doubles at each level) or one
 * helper over a huge value stop at the limit instead of building gigabytes. Each method may
 * throw the limit's error, which the helpers let through.
 */
export interface HelperBudget {
  /** One helper call. */
  call(): void;
  /** Characters a helper scans without producing them (`length`, `truncate`). */
  read(chars: number): void;
  /** Characters a helper is about to produce (or, for a correction, has produced). */
  produce(chars: number, helper: string): void;
}

/** No limits: helpers registered without an engine (`registerPromptHelpers(hb)`). */
export const UNLIMITED: HelperBudget = Object.freeze({ call() {}, read() {}, produce() {} });

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

const JSON_ESCAPES = /["\\\u0000-\u001f\ud800-\udfff]/;

/** Length of `s` as a JSON string literal, quotes included, without building it. */
function jsonStringLength(s: string): number {
  if (!JSON_ESCAPES.test(s)) return s.length + 2;
  let n = s.length + 2;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === 0x5c || c === 0x08 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d) n += 1;
    else if (c < 0x20) n += 5;
    else if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) i++; // a pair is kept as it is
      else n += 5; // a lone surrogate is written \udxxx
    }
  }
  return n;
}

/**
 * JSON with circular references replaced, BigInts as strings; never throws, except the
 * budget's error. Each value is charged as JSON.stringify reaches it, with its text, key,
 * punctuation and indentation, so a huge value stops at the output limit while it is
 * serialized; the exact length is settled at the end.
 */
function safeJson(value: unknown, indent: number | string | undefined, budget: HelperBudget, helper: string): string | undefined {
  const ancestors: unknown[] = [];
  const step = typeof indent === 'number' ? indent : typeof indent === 'string' ? indent.length : 0;
  let charged = 0;
  let stopped: { error: unknown } | undefined;
  const charge = (n: number) => {
    charged += n;
    try {
      budget.produce(n, helper);
    } catch (error) {
      stopped = { error };
      throw error;
    }
  };
  let out: string | undefined;
  try {
    out = JSON.stringify(
      value,
      function (this: unknown, key: string, v: unknown) {
        // `this` is the object holding `v`: drop ancestors that are no longer on the path.
        while (ancestors.length > 0 && ancestors[ancestors.length - 1] !== this) ancestors.pop();
        let n = 1 + (Array.isArray(this) ? 0 : key.length + 3) + (step ? 1 + step * ancestors.length : 0);
        if (typeof v === 'bigint') v = v.toString();
        if (typeof v === 'string') n += jsonStringLength(v);
        else if (typeof v === 'number') n += 4;
        else if (typeof v === 'boolean') n += 4;
        else if (typeof v === 'object' && v !== null) {
          if (ancestors.includes(v)) v = '[Circular]';
          else ancestors.push(v);
          n += 2;
        }
        charge(n);
        return v;
      },
      indent,
    );
  } catch (e) {
    if (stopped) throw stopped.error;
    const reason = e instanceof RangeError ? 'too deeply nested' : e instanceof Error ? e.message : String(e);
    out = `[unserializable: ${reason}]`;
  }
  if (out !== undefined && out.length > charged) charge(out.length - charged);
  return out;
}

/**
 * How a value reads as prompt text: nothing for null/undefined, JSON for objects. What it
 * builds (JSON, the joined items of a list) is charged to `budget`; a string is returned as it is.
 */
export function toText(value: unknown, budget: HelperBudget = UNLIMITED, helper = 'toText'): string {
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
  if (Array.isArray(value)) return joined(value, ', ', budget, helper);
  return safeJson(value, undefined, budget, helper) ?? '';
}

/** The items' texts joined by `sep`, each charged before the joined text is built. */
function joined(items: readonly unknown[], sep: string, budget: HelperBudget, helper: string): string {
  budget.read(items.length);
  const parts: string[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const t = toText(items[i], budget, helper);
    budget.produce(t.length + (i > 0 ? sep.length : 0), helper);
    parts[i] = t;
  }
  return parts.join(sep);
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}
function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Offset in `s` after `count` code points (or s.length), without splitting the text into an array. */
function offsetAfter(s: string, count: number, from = 0): number {
  let i = from;
  for (let k = 0; k < count && i < s.length; k++) i += isHighSurrogate(s.charCodeAt(i)) && isLowSurrogate(s.charCodeAt(i + 1)) ? 2 : 1;
  return i;
}

/** Number of code points of `s`. */
function codePointCount(s: string): number {
  let n = s.length;
  for (let i = 0; i + 1 < s.length; i++) if (isHighSurrogate(s.charCodeAt(i)) && isLowSurrogate(s.charCodeAt(i + 1))) n--, i++;
  return n;
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

/** Newlines in `text` (an upper bound of the lines `hang` pads). */
function newlines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** Prefixes every line after the first with `pad` (continuation lines of a list item). */
function hang(text: string, pad: string): string {
  return text.replace(/\r?\n(?=[^\r\n])/g, (nl) => nl + pad);
}

function formatList(value: unknown, marker: (i: number) => string, budget: HelperBudget, helper: string): string {
  const list = listOf(value);
  const items = list ?? (value === null || value === undefined || value === '' ? [] : [value]);
  budget.read(items.length);
  const out: string[] = [];
  let n = 0;
  for (const item of items) {
    if (item === null || item === undefined) continue;
    const m = marker(++n);
    const text = toText(item, budget, helper);
    budget.produce(m.length + text.length + m.length * newlines(text) + 1, helper);
    out.push(m + hang(text, ' '.repeat(m.length)));
  }
  return out.join('\n');
}

/** Upper or lower case: charged for the input's length first, then for any growth ('ß' -> 'SS'). */
function changeCase(text: unknown, budget: HelperBudget, helper: string, upper: boolean): string {
  const s = toText(text, budget, helper);
  budget.produce(s.length, helper);
  const out = upper ? s.toUpperCase() : s.toLowerCase();
  if (out.length > s.length) budget.produce(out.length - s.length, helper);
  return out;
}

// ---------------------------------------------------------------------------------------------

/** A helper's work: its arguments and the budget to charge what it produces to. */
type Impl = (params: unknown[], budget: HelperBudget, name: string) => unknown;

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
    impl: ([value, indent], budget, name) => {
      const ind = typeof indent === 'string' ? indent.slice(0, 10) : clampInt(indent, 0, 0, 10);
      return safeJson(value, ind === 0 ? undefined : ind, budget, name) ?? '';
    },
  },
  join: {
    required: 1,
    usage: '{{join list [separator]}}',
    impl: ([value, separator], budget, name) => {
      const sep = typeof separator === 'string' ? separator : ', ';
      const list = listOf(value);
      if (list) return joined(list, sep, budget, name);
      const text = toText(value, budget, name);
      budget.produce(text.length, name);
      return text;
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
    impl: ([value, fallback], budget, name) => {
      const out = value === null || value === undefined || value === '' ? fallback : value;
      if (typeof out === 'string') budget.produce(out.length, name);
      return out;
    },
  },
  indent: {
    required: 1,
    usage: '{{indent text [spaces]}}',
    impl: ([text, spaces], budget, name) => {
      const pad = ' '.repeat(clampInt(spaces, 2, 0, 100));
      const s = toText(text, budget, name);
      budget.read(s.length);
      const lines = s.split('\n');
      let padded = 0;
      for (const line of lines) if (/\S/.test(line)) padded++;
      budget.produce(s.length + pad.length * padded, name);
      return lines.map((line) => (/\S/.test(line) ? pad + line : line)).join('\n');
    },
  },
  truncate: {
    required: 2,
    usage: '{{truncate text max}}',
    impl: ([text, max], budget, name) => {
      const s = toText(text, budget, name);
      const limit = clampInt(max, -1, 0, Number.MAX_SAFE_INTEGER);
      // Not a number: nothing sensible to cut to. UTF-16 length >= code points: certainly fits.
      if (limit < 0 || s.length <= limit) {
        budget.produce(s.length, name);
        return s;
      }
      if (limit === 0) return '';
      // Walks at most `limit` code points: a huge text is never split into an array.
      const keep = offsetAfter(s, limit - 1);
      const end = offsetAfter(s, 1, keep);
      budget.read(end);
      if (end >= s.length) {
        budget.produce(s.length, name);
        return s; // at most `limit` code points
      }
      const out = s.slice(0, keep).trimEnd() + '…';
      budget.produce(out.length, name);
      return out;
    },
  },
  upper: { required: 1, usage: '{{upper text}}', impl: ([text], budget, name) => changeCase(text, budget, name, true) },
  lower: { required: 1, usage: '{{lower text}}', impl: ([text], budget, name) => changeCase(text, budget, name, false) },
  trim: {
    required: 1,
    usage: '{{trim text}}',
    impl: ([text], budget, name) => {
      const out = toText(text, budget, name).trim();
      budget.produce(out.length, name);
      return out;
    },
  },
  length: {
    required: 1,
    usage: '{{length value}}',
    impl: ([value], budget) => {
      if (typeof value === 'string') {
        budget.read(value.length);
        return codePointCount(value);
      }
      if (Array.isArray(value)) return value.length;
      if (value instanceof Map || value instanceof Set) return value.size;
      if (typeof value !== 'object' || value === null) return 0;
      const safe = safeStringText(value);
      if (safe !== undefined) {
        budget.read(safe.length);
        return codePointCount(safe);
      }
      const n = Object.keys(value).length;
      budget.read(n);
      return n;
    },
  },
  bullet_list: { required: 1, usage: '{{bullet_list list}}', impl: ([value], budget, name) => formatList(value, () => '- ', budget, name) },
  numbered_list: { required: 1, usage: '{{numbered_list list}}', impl: ([value], budget, name) => formatList(value, (n) => `${n}. `, budget, name) },
};

/** Options of `registerPromptHelpers`. */
export interface PromptHelperHooks {
  /**
   * Called each time a prompt helper is used as a block (`{{#eq a b}}...{{/eq}}`), before its
   * body renders.
   */
  onBlock?: () => void;
  /**
   * What every helper call, and what it produces and scans, is counted against as it goes (the
   * engine's render limits); default: no limits.
   */
  budget?: HelperBudget;
}

function makeHelper(hb: HB, name: string, spec: HelperSpec, hooks: PromptHelperHooks): Handlebars.HelperDelegate {
  const budget = hooks.budget ?? UNLIMITED;
  const onBlock = hooks.onBlock;
  return function (this: unknown, ...args: unknown[]): unknown {
    const { params, options } = split(args);
    if (params.length < spec.required) {
      const got = params.length === 0 ? 'none' : String(params.length);
      throw new hb.Exception(
        `helper '${name}' needs ${spec.required === 1 ? 'an argument' : `${spec.required} arguments`} (${spec.usage}), got ${got}`,
      );
    }
    budget.call();
    const result = spec.impl(params, budget, name);
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
    if (spec) hb.registerHelper(name, makeHelper(hb, name, spec, hooks));
  }
}
