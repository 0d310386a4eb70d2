/**
 * The DAG module's algorithms (cycle finding and topological layering written once,
 * for the engine, the graph view, the validator and the editor). Each is checked on small
 * graphs with known answers, on chains long enough to overflow a recursive search, and, for
 * the cycle the engine reports, against the depth-first colouring it replaced on random graphs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  buildStepGraph,
  cyclicComponents,
  dependencyClosure,
  findCycle,
  reachableFrom,
  shortestPath,
  topologicalLayers,
  topologicalOrder,
  type StepGraph,
} from '../../../core/workflow/dag.js';

/** A step graph from `id: deps` pairs, in order. */
function graphOf(spec: Record<string, string[]>): StepGraph {
  return buildStepGraph(Object.entries(spec).map(([id, dependsOn]) => ({ id, dependsOn }))).graph;
}

const names = (g: StepGraph, xs: readonly number[]) => xs.map((i) => g.ids[i]);

/** Deterministic pseudo-random numbers (xorshift), so a failure is reproducible. */
function random(seed: number): () => number {
  let x = seed || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** The cycle finder the engine used before (depth-first colouring), as the reference. */
function colouringCycle(g: StepGraph): string[] | undefined {
  const n = g.ids.length;
  const color = new Uint8Array(n);
  const parent = new Int32Array(n).fill(-1);
  for (let s = 0; s < n; s++) {
    if (color[s]) continue;
    const stack: [number, number][] = [[s, 0]];
    color[s] = 1;
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const [v, k] = top;
      const next = g.deps[v]!;
      if (k < next.length) {
        top[1]++;
        const w = next[k]!;
        if (color[w] === 0) {
          color[w] = 1;
          parent[w] = v;
          stack.push([w, 0]);
        } else if (color[w] === 1) {
          const path = [w];
          for (let x = v; x !== w && x !== -1; x = parent[x]!) path.push(x);
          path.push(w);
          return path.map((i) => g.ids[i]!);
        }
      } else {
        color[v] = 2;
        stack.pop();
      }
    }
  }
  return undefined;
}

test('cyclicComponents: the components that hold a cycle, self-loops included, in the order they complete', () => {
  // a -> b -> c -> a is one; d depends on itself; e depends on a but is in no cycle.
  const g = graphOf({ a: ['b'], b: ['c'], c: ['a'], d: ['d'], e: ['a'], f: [] });
  assert.deepEqual(
    cyclicComponents(g.deps).map((c) => names(g, c)),
    [['a', 'b', 'c'], ['d']],
  );
  assert.deepEqual(cyclicComponents(graphOf({ a: [], b: ['a'], c: ['b', 'a'] }).deps), []);
});

test('findCycle: the first cycle met, closed and in execution order, or undefined', () => {
  assert.deepEqual(findCycle(graphOf({ a: ['b'], b: ['a'] })), ['a', 'b', 'a']);
  assert.deepEqual(findCycle(graphOf({ a: ['a'] })), ['a', 'a']);
  // a needs c, c needs b, b needs a: a runs first, then b, then c.
  assert.deepEqual(findCycle(graphOf({ a: ['c'], b: ['a'], c: ['b'] })), ['a', 'b', 'c', 'a']);
  assert.equal(findCycle(graphOf({ a: [], b: ['a'], c: ['a', 'b'] })), undefined);
  const { problems } = buildStepGraph([
    { id: 'x', dependsOn: ['y'] },
    { id: 'y', dependsOn: ['x'] },
  ]);
  assert.deepEqual(problems, [{ kind: 'dependency-cycle', step: 'x', message: 'steps depend on each other in a cycle: x -> y -> x' }]);
});

test('findCycle reports the cycle the depth-first colouring reported, on 2,000 random graphs', () => {
  const next = random(15);
  let cyclic = 0;
  for (let round = 0; round < 2000; round++) {
    const n = 1 + Math.floor(next() * 12);
    const spec: Record<string, string[]> = {};
    for (let i = 0; i < n; i++) {
      const deps: string[] = [];
      const k = Math.floor(next() * 3);
      for (let j = 0; j < k; j++) deps.push(`s${Math.floor(next() * n)}`);
      spec[`s${i}`] = deps;
    }
    const g = graphOf(spec);
    const expected = colouringCycle(g);
    assert.deepEqual(findCycle(g), expected, JSON.stringify(spec));
    assert.equal(cyclicComponents(g.deps).length > 0, expected !== undefined, JSON.stringify(spec));
    assert.equal(topologicalOrder(g) === undefined, expected !== undefined, JSON.stringify(spec));
    if (expected) cyclic++;
  }
  assert.ok(cyclic > 200 && cyclic < 1800, `the random graphs hold cycles and acyclic ones (${cyclic} of 2000 cyclic)`);
});

test('shortestPath: breadth-first within the allowed nodes, both ends included', () => {
  const g = graphOf({ a: ['b', 'c'], b: ['d'], c: ['d'], d: ['a'] });
  const all = new Set([0, 1, 2, 3]);
  assert.deepEqual(names(g, shortestPath(g.deps, 0, 3, all)!), ['a', 'b', 'd']);
  assert.deepEqual(names(g, shortestPath(g.deps, 0, 3, new Set([0, 2, 3]))!), ['a', 'c', 'd']);
  assert.deepEqual(shortestPath(g.deps, 2, 2, all), [2]);
  assert.equal(shortestPath(g.deps, 0, 3, new Set([0])), undefined);
});

test("topologicalLayers: Kahn's order, first declared first, and each node one layer below its deepest dependency", () => {
  const g = graphOf({ extract: [], summary: ['extract'], critique: ['extract'], end: ['summary', 'critique', 'extract'] });
  const { order, layer } = topologicalLayers(g);
  assert.deepEqual(names(g, order), ['extract', 'summary', 'critique', 'end']);
  assert.deepEqual(layer, [0, 1, 1, 2]);
  assert.deepEqual(topologicalOrder(g), order);
  // Nodes in a cycle, and those after it, are left out of the order.
  const c = graphOf({ a: ['b'], b: ['a'], after: ['a'], free: [] });
  assert.deepEqual(names(c, topologicalLayers(c).order), ['free']);
  assert.equal(topologicalOrder(c), undefined);
});

test('dependencyClosure and reachableFrom: what a node runs after, and what runs after it', () => {
  const g = graphOf({ a: [], b: ['a'], c: ['b'], d: ['a'] });
  assert.deepEqual(
    dependencyClosure(g.deps).map((s) => names(g, [...s].sort())),
    [[], ['a'], ['a', 'b'], ['a']],
  );
  const deps = new Map([
    ['a', []],
    ['b', ['a']],
    ['c', ['b']],
    ['d', ['a']],
  ]);
  assert.deepEqual([...reachableFrom('c', (v) => deps.get(v))].sort(), ['a', 'b']);
  assert.deepEqual([...reachableFrom('a', (v) => deps.get(v))], []);
  // A node is reachable from itself only through a cycle.
  const loop = new Map([
    ['x', ['y']],
    ['y', ['x']],
  ]);
  assert.deepEqual([...reachableFrom('x', (v) => loop.get(v))].sort(), ['x', 'y']);
});

test('a 20,000-step chain, and the same chain closed into a cycle: no stack overflow', () => {
  const n = 20_000;
  const chain = buildStepGraph(Array.from({ length: n }, (_, i) => ({ id: `s${i}`, dependsOn: i ? [`s${i - 1}`] : [] }))).graph;
  assert.equal(findCycle(chain), undefined);
  assert.deepEqual(cyclicComponents(chain.deps), []);
  assert.equal(topologicalLayers(chain).layer[n - 1], n - 1);
  const ring = buildStepGraph(Array.from({ length: n }, (_, i) => ({ id: `s${i}`, dependsOn: [`s${(i + n - 1) % n}`] }))).graph;
  assert.equal(findCycle(ring)!.length, n + 1);
  assert.equal(cyclicComponents(ring.deps)[0]!.length, n);
});
