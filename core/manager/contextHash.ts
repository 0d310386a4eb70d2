/**
 * The render-cache key of a context: a SHA-256 digest of its canonical form, so that a cache
 * hit means an equal context and nothing else.
 *
 * Why a cryptographic digest: the key decides whose prompt a render returns. A fast
 * non-cryptographic hash (the FNV/Murmur lanes this replaced) is invertible: a context whose
 * key equals another user's can be computed in milliseconds, and that user's render then
 * returns the attacker's text from the cache. Finding a SHA-256 collision is out of reach.
 *
 * The canonical form must be one-to-one: two contexts a template can tell apart never share
 * it. It is a prefix-free, type-tagged encoding:
 *   string    s<length><code units>       (length-prefixed: separators inside mean nothing)
 *   number    n<String(v)>;  -0 as n-0;   (a number never reads as a string)
 *   bigint    b<digits>;   true t   false f   null z   undefined u   (a key holding undefined
 *             is present: strict mode treats it differently from a missing key)
 *   array     a<length><elements>
 *   object    o<number of keys><key length><key><value>...   O... for a null-prototype
 *             object (a template reads `constructor` on one and not on the other)
 *   Date      d<time>;
 * A <length> below 127 is the one character of that code (V8 keeps these strings ready, so
 * appending one allocates nothing); from 127 on it is U+007F, the decimal digits and ':'. Both
 * are ASCII, so the form of ASCII text stays a one-byte string.
 * Keys stay in their own order, not sorted: `{{#each}}`, `@key` and the `json` helper follow
 * it, so `{a, b}` and `{b, a}` render differently.
 *
 * Only plain data is hashed. Anything a template could read but the form would not show makes
 * the context uncacheable (undefined is returned): functions (Handlebars calls them), Maps,
 * class instances, a Symbol.iterator (`each` would follow it), non-enumerable own properties,
 * sparse arrays and arrays with properties besides their elements, cycles and nesting past
 * MAX_DEPTH, and contexts larger than MAX_HASHED_UNITS (a cycle-free graph that shares one big
 * object many times is as large as its expansion). Accessor properties are read once, like
 * any value: a getter whose answer changes between reads has no place in a cached context.
 */
import * as crypto from 'node:crypto';

export const MAX_DEPTH = 64;

/**
 * Most a hashed context may weigh: one unit per value plus its characters (strings and keys).
 * Past it the context is rendered uncached: hashing a megabyte costs more than most renders,
 * and the bound keeps a huge context (or one big object shared a million times) from stalling
 * the render path in the hash.
 */
export const MAX_HASHED_UNITS = 1 << 20;

// The form is built in a module-level string: hashing is synchronous, so nothing interleaves,
// and appending to one rope is the cheapest way V8 offers to build it.
let out = '';
let left = 0;

const objectProto = Object.prototype;
const dateProto = Date.prototype;

/** A length, prefix-free: see the table above. */
function len(n: number): string {
  return n < 0x7f ? String.fromCharCode(n) : '\u007f' + n + ':';
}

/** Appends the canonical form of `v`; false when it cannot be hashed safely. */
function feed(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'string':
      if ((left -= v.length + 1) < 0) return false;
      out += 's' + len(v.length) + v;
      return true;
    case 'number':
      if (--left < 0) return false;
      out += v === 0 && 1 / v < 0 ? 'n-0;' : 'n' + v + ';';
      return true;
    case 'boolean':
      if (--left < 0) return false;
      out += v ? 't' : 'f';
      return true;
    case 'undefined':
      if (--left < 0) return false;
      out += 'u';
      return true;
    case 'bigint':
      if (--left < 0) return false;
      out += 'b' + v + ';';
      return true;
    case 'object': {
      if (v === null) {
        if (--left < 0) return false;
        out += 'z';
        return true;
      }
      if (depth >= MAX_DEPTH) return false;
      if (Array.isArray(v)) return feedArray(v, depth);
      const proto = Object.getPrototypeOf(v);
      if (proto === objectProto || proto === null) return feedObject(v as Record<string, unknown>, proto === null, depth);
      if (proto === dateProto && Object.getOwnPropertyNames(v).length === 0) {
        if (--left < 0) return false;
        out += 'd' + (v as Date).getTime() + ';';
        return true;
      }
      return false;
    }
    default:
      // functions (Handlebars calls them as lambdas) and symbols
      return false;
  }
}

function feedArray(v: unknown[], depth: number): boolean {
  const n = v.length;
  if ((left -= n + 1) < 0) return false;
  // Own names are the indices and `length`: one more (a property besides the elements, which
  // `{{list.name}}` reads) or one fewer (a hole, which `each` skips) would encode the same.
  if (Object.getOwnPropertyNames(v).length !== n + 1) return false;
  out += 'a' + len(n);
  for (let i = 0; i < n; i++) {
    const x = v[i];
    if (x === undefined && !(i in v)) return false;
    if (!feed(x, depth + 1)) return false;
  }
  return true;
}

function feedObject(v: Record<string, unknown>, nullProto: boolean, depth: number): boolean {
  // `each` iterates whatever Symbol.iterator yields, which the keys do not show.
  if (Symbol.iterator in v) return false;
  const keys = Object.keys(v);
  const n = keys.length;
  // A non-enumerable own property is readable by a template and invisible to Object.keys.
  if (Object.getOwnPropertyNames(v).length !== n) return false;
  if ((left -= n + 1) < 0) return false;
  out += (nullProto ? 'O' : 'o') + len(n);
  for (let i = 0; i < n; i++) {
    const k = keys[i]!;
    if ((left -= k.length) < 0) return false;
    out += len(k.length) + k;
    if (!feed(v[k], depth + 1)) return false;
  }
  return true;
}

type OneShotHash = (algorithm: string, data: string, outputEncoding: 'base64') => string;
// crypto.hash (Node >= 20.12) saves the Hash object of createHash on every call.
const oneShot = (crypto as unknown as { hash?: OneShotHash }).hash;
const isWellFormed = (String.prototype as unknown as { isWellFormed?: () => boolean }).isWellFormed;

/**
 * SHA-256 of the form. UTF-8 is one-to-one on well-formed text only (every lone surrogate
 * becomes U+FFFD), so text holding one is hashed as UTF-16 instead, behind a first byte (0x01)
 * that no UTF-8 form has (they start with an ASCII tag letter), so the two encodings never
 * meet.
 */
function digest(text: string): string {
  const wellFormed = isWellFormed ? isWellFormed.call(text) : !/[\ud800-\udfff]/.test(text);
  if (wellFormed) return oneShot ? oneShot('sha256', text, 'base64') : crypto.createHash('sha256').update(text, 'utf8').digest('base64');
  return crypto.createHash('sha256').update('\u0001' + text, 'utf16le').digest('base64');
}

/**
 * The canonical form of a context (for tests and diagnostics), or undefined when the context
 * is not plain data, too deep or too large to be cached.
 */
export function canonicalContext(context: unknown): string | undefined {
  out = '';
  left = MAX_HASHED_UNITS;
  try {
    return feed(context, 0) ? out : undefined;
  } finally {
    out = '';
  }
}

/**
 * The context's cache key (a base64 SHA-256 digest of its canonical form), or undefined when
 * the context is not plain data and its rendering must not be cached.
 */
export function hashContext(context: unknown): string | undefined {
  const form = canonicalContext(context);
  return form === undefined ? undefined : digest(form);
}
