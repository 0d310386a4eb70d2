/**
 * A YAML source tree: the parsed value of a YAML file with the absolute offset of every key
 * and value. Everything downstream (schema mapping, the typed model, editor features) reads
 * this tree, so it does not matter whether the `yaml` package or a faster parser produced it.
 *
 * Offsets are UTF-16 code-unit offsets into the file text, `start` inclusive, `end` exclusive.
 * They are mutable only so that an incremental re-parse can shift reused subtrees in place.
 */
import { LIMITS } from '../limits.js';

export type SNode = SMap | SSeq | SScalar | SAlias;

export interface SBase {
  start: number;
  end: number;
}

export interface SScalar extends SBase {
  kind: 'scalar';
  /** The resolved value (YAML 1.2 core schema: strings, numbers, booleans, null). */
  value: string | number | boolean | null;
  /** The scalar's source style; plain scalars are the ones that can hold unquoted names. */
  style: 'plain' | 'single' | 'double' | 'block';
}

export interface SPair {
  /** A mapping key. Non-scalar keys are kept as nodes so that they can be reported. */
  key: SNode;
  /** `null` when the key has no value (`key:` alone). */
  value: SNode | null;
  start: number;
  end: number;
}

export interface SMap extends SBase {
  kind: 'map';
  items: SPair[];
  flow: boolean;
}

export interface SSeq extends SBase {
  kind: 'seq';
  items: (SNode | null)[];
  flow: boolean;
}

/** An alias (`*name`). `target` is the anchored node, or null when the anchor is unknown. */
export interface SAlias extends SBase {
  kind: 'alias';
  target: SNode | null;
}

export function isMap(n: SNode | null | undefined): n is SMap {
  return !!n && n.kind === 'map';
}
export function isSeq(n: SNode | null | undefined): n is SSeq {
  return !!n && n.kind === 'seq';
}
export function isScalar(n: SNode | null | undefined): n is SScalar {
  return !!n && n.kind === 'scalar';
}

/** Follows aliases (bounded, so a self-referencing alias cannot loop). */
export function deref(n: SNode | null | undefined): SNode | null {
  let cur = n ?? null;
  for (let i = 0; cur && cur.kind === 'alias' && i < 64; i++) cur = cur.target;
  return cur && cur.kind === 'alias' ? null : cur;
}

/** The key of a pair as a string, when it is a scalar. */
export function keyName(p: SPair): string | undefined {
  return p.key.kind === 'scalar' && p.key.value !== null ? String(p.key.value) : undefined;
}

export function getPair(map: SMap, key: string): SPair | undefined {
  for (const p of map.items) if (keyName(p) === key) return p;
  return undefined;
}

export function getValue(map: SNode | null | undefined, key: string): SNode | null {
  const m = deref(map);
  if (!isMap(m)) return null;
  const p = getPair(m, key);
  return p ? deref(p.value) : null;
}

/** Thrown by `toJS` when aliases would expand past the budget (a "billion laughs" file). */
export class AliasBudgetError extends Error {
  constructor(readonly limit: number) {
    super(`aliases expand to more than ${limit} nodes`);
  }
}

/**
 * Thrown by `toJS` for a mapping or list with more entries than `LIMITS.maxCollectionItems`:
 * checking such a collection against the schema costs time quadratic in its faults.
 */
export class CollectionLimitError extends Error {
  constructor(
    readonly node: SNode,
    readonly count: number,
    readonly limit: number,
  ) {
    super(`a ${node.kind === 'map' ? 'mapping' : 'list'} with ${count} entries, more than the limit of ${limit}`);
  }
}

/**
 * Converts a source tree to plain JavaScript. Keys become own data properties of objects
 * created with a null prototype and then copied into plain objects via defineProperty, so a
 * `__proto__` key is data, never a prototype change. Alias expansion is counted against a
 * budget so that a small file cannot expand into gigabytes.
 */
export function toJS(node: SNode | null, budget = { left: LIMITS.maxYamlValues }, depth = 0): unknown {
  if (!node) return null;
  if (--budget.left < 0) throw new AliasBudgetError(LIMITS.maxYamlValues);
  if (depth > 1000) throw new AliasBudgetError(LIMITS.maxYamlValues);
  switch (node.kind) {
    case 'scalar':
      return node.value;
    case 'alias':
      return node.target ? toJS(node.target, budget, depth + 1) : null;
    case 'seq':
      if (node.items.length > LIMITS.maxCollectionItems) throw new CollectionLimitError(node, node.items.length, LIMITS.maxCollectionItems);
      return node.items.map((i) => toJS(i, budget, depth + 1));
    case 'map': {
      if (node.items.length > LIMITS.maxCollectionItems) throw new CollectionLimitError(node, node.items.length, LIMITS.maxCollectionItems);
      const out: Record<string, unknown> = {};
      for (const p of node.items) {
        const k = p.key.kind === 'scalar' ? String(p.key.value) : JSON.stringify(toJS(p.key, budget, depth + 1));
        const v = toJS(p.value, budget, depth + 1);
        // Only `__proto__` needs defineProperty to stay an own key; it is slow for the rest.
        if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
        else out[k] = v;
      }
      return out;
    }
  }
}

/** Walks every node (aliases are not followed). */
export function walk(node: SNode | null, fn: (n: SNode) => void): void {
  if (!node) return;
  fn(node);
  if (node.kind === 'map') {
    for (const p of node.items) {
      walk(p.key, fn);
      walk(p.value, fn);
    }
  } else if (node.kind === 'seq') {
    for (const i of node.items) walk(i, fn);
  }
}

/** Adds `delta` to every offset of a subtree (used when an unchanged entry moved). */
export function shift(node: SNode | null | undefined, delta: number): void {
  if (!node || delta === 0) return;
  node.start += delta;
  node.end += delta;
  if (node.kind === 'map' || node.kind === 'seq') shiftItems(node, delta);
}

/**
 * The items of a collection, scalars handled inline: a keystroke early in a big file moves
 * every node after it, and a call per scalar made this the largest cost of an edit.
 */
function shiftItems(node: SMap | SSeq, delta: number): void {
  if (node.kind === 'map') {
    for (const p of node.items) {
      p.start += delta;
      p.end += delta;
      const k = p.key;
      k.start += delta;
      k.end += delta;
      if (k.kind === 'map' || k.kind === 'seq') shiftItems(k, delta);
      const v = p.value;
      if (v) {
        v.start += delta;
        v.end += delta;
        if (v.kind === 'map' || v.kind === 'seq') shiftItems(v, delta);
      }
    }
  } else {
    for (const i of node.items) {
      if (!i) continue;
      i.start += delta;
      i.end += delta;
      if (i.kind === 'map' || i.kind === 'seq') shiftItems(i, delta);
    }
  }
}

/**
 * The path of JSON-pointer segments to the node: used to map schema errors
 * (`instancePath`) to the exact YAML key or value.
 */
export function nodeAtPath(root: SNode | null, segments: readonly string[]): { node: SNode | null; pair?: SPair; parent: SNode | null } {
  let cur: SNode | null = deref(root);
  let pair: SPair | undefined;
  let parent: SNode | null = null;
  for (const seg of segments) {
    if (!cur) break;
    parent = cur;
    if (cur.kind === 'map') {
      pair = getPair(cur, seg);
      cur = pair ? deref(pair.value) : null;
      if (!pair) return { node: null, parent };
    } else if (cur.kind === 'seq') {
      pair = undefined;
      const i = Number(seg);
      cur = Number.isInteger(i) ? deref(cur.items[i] ?? null) : null;
    } else {
      return { node: null, parent };
    }
  }
  return { node: cur, pair, parent };
}
