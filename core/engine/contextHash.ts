/**
 * A stable hash of a render context, the second half of a render-cache key.
 *
 * "Stable": equal contexts hash equally whatever their key order (keys are visited sorted),
 * and the hash does not depend on object identity. Two independent 32-bit lanes give a 64-bit
 * key so that a collision (which would serve one user's prompt for another's context) is out
 * of reach at any cache size we allow (about 1 in 10^10 at 10,000 entries).
 *
 * Only plain data is hashed: strings, numbers, booleans, null, arrays, plain objects and
 * Dates. Anything else (functions, Maps, class instances, cycles, very deep nesting) makes the
 * context uncacheable, because its rendering could depend on state the hash cannot see.
 */

const MAX_DEPTH = 64;

// Lanes live in a typed array rather than in `let` variables or returned pairs: hashing is on
// the render hot path, and a 32-bit value stored in a closure slot is boxed (one allocation per
// character). Hashing is synchronous, so nothing interleaves.
const lanes = new Int32Array(2);

function feedCode(c: number): void {
  lanes[0] = Math.imul(lanes[0]! ^ c, 0x01000193); // FNV-1a prime
  lanes[1] = Math.imul(lanes[1]! ^ c, 0x5bd1e995); // MurmurHash2 multiplier: an independent lane
}

function feedString(s: string): void {
  const n = s.length;
  let a = Math.imul(lanes[0]! ^ n, 0x01000193);
  let b = Math.imul(lanes[1]! ^ n, 0x5bd1e995);
  // Two UTF-16 units per step: half the multiplications of a per-character loop.
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const c = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  if (i < n) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  lanes[0] = a;
  lanes[1] = b;
}

const objectProto = Object.prototype;

/** Returns false when the value holds something that cannot be hashed safely. */
function feed(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'string':
      feedCode(1);
      feedString(v);
      return true;
    case 'number':
      // Small integers (the usual counts and ids) skip the number-to-string conversion.
      if ((v | 0) === v && !Object.is(v, -0)) {
        feedCode(2);
        feedCode(v);
      } else {
        feedCode(10);
        feedString(String(v));
      }
      return true;
    case 'boolean':
      feedCode(v ? 3 : 4);
      return true;
    case 'undefined':
      feedCode(5);
      return true;
    case 'object': {
      if (v === null) {
        feedCode(6);
        return true;
      }
      if (depth >= MAX_DEPTH) return false;
      if (Array.isArray(v)) {
        feedCode(7);
        feedCode(v.length);
        for (let i = 0; i < v.length; i++) if (!feed(v[i], depth + 1)) return false;
        return true;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto === objectProto || proto === null) {
        const keys = Object.keys(v);
        if (keys.length > 1) keys.sort();
        feedCode(8);
        feedCode(keys.length);
        for (let i = 0; i < keys.length; i++) {
          const k = keys[i]!;
          feedString(k);
          if (!feed((v as Record<string, unknown>)[k], depth + 1)) return false;
        }
        return true;
      }
      if (v instanceof Date) {
        feedCode(9);
        feedString(String(v.getTime()));
        return true;
      }
      return false;
    }
    default:
      // functions (Handlebars calls them as lambdas), symbols, bigints
      return false;
  }
}

/**
 * The context's hash as a short string, or undefined when the context is not plain data and
 * its rendering must not be cached.
 */
export function hashContext(context: unknown): string | undefined {
  lanes[0] = 0x811c9dc5;
  lanes[1] = 0x9747b28c;
  if (!feed(context, 0)) return undefined;
  const a = lanes[0]!;
  const b = lanes[1]!;
  // Final avalanche (MurmurHash3 fmix32) so that nearby inputs spread over the key space.
  let x = a ^ (a >>> 16);
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  let y = b ^ (b >>> 15);
  y = Math.imul(y, 0xc2b2ae35);
  y ^= y >>> 16;
  return (x >>> 0).toString(36) + '.' + (y >>> 0).toString(36);
}
