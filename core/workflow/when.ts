/** A step's `when:` condition, evaluated against the step's run context just before it would start. */
import type { ResolvedWhen } from './types.js';

/** Reads a dotted path, own properties only (a path never reaches into prototypes). */
export function readPath(root: unknown, path: string): unknown {
  let cur: unknown = root;
  for (const seg of path.split('.')) {
    if (cur === null || cur === undefined) return undefined;
    if (Array.isArray(cur)) {
      const i = Number(seg);
      cur = Number.isInteger(i) ? cur[i] : undefined;
    } else if (typeof cur === 'object') {
      cur = Object.prototype.hasOwnProperty.call(cur, seg) ? (cur as Record<string, unknown>)[seg] : undefined;
    } else {
      return undefined;
    }
  }
  return cur;
}

/** Structural equality of JSON-like values (YAML scalars, lists and maps). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => sameValue(x, bb[i]));
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/**
 * True when the step should run. Every operator given must hold (they combine with AND).
 * Comparisons are strict (`"3"` is not `3`), as YAML and JSON already carry types.
 * A missing path is `undefined`: `not_equals` holds for it, `exists: true` does not.
 */
export function evaluateWhen(when: ResolvedWhen, context: Record<string, unknown>): boolean {
  const v = readPath(context, when.path);
  if (when.equals !== undefined && !sameValue(v, when.equals)) return false;
  if (when.notEquals !== undefined && sameValue(v, when.notEquals)) return false;
  if (when.in !== undefined && !when.in.some((x) => sameValue(v, x))) return false;
  if (when.exists !== undefined && (v !== undefined && v !== null) !== when.exists) return false;
  return true;
}

/** A one-line rendering of a condition, for graphs and messages. */
export function describeWhen(when: ResolvedWhen): string {
  const parts: string[] = [];
  if (when.equals !== undefined) parts.push(`${when.path} == ${JSON.stringify(when.equals)}`);
  if (when.notEquals !== undefined) parts.push(`${when.path} != ${JSON.stringify(when.notEquals)}`);
  if (when.in !== undefined) parts.push(`${when.path} in ${JSON.stringify(when.in)}`);
  if (when.exists !== undefined) parts.push(when.exists ? `${when.path} exists` : `${when.path} missing`);
  return parts.length ? parts.join(' and ') : when.path;
}
