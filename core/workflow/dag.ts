/**
 * Dependency graphs by index and every algorithm on them, each written once: cycles (one
 * depth-first search: Tarjan's strongly connected components, which also meets the first
 * cycle), shortest paths, topological order and layers (Kahn), transitive dependencies and
 * reachability, and the longest remaining path that the scheduler uses as its priority. The
 * engine (run.ts), the graph view (graph.ts), the validator (core/validate/stepGraph.ts) and
 * the editor's step completions use them.
 *
 * The step graph of a composition: dependencies, dependents, and the checks a run needs before
 * it can start (the validator reports the same faults with ranges; the engine repeats them
 * because it may be handed a composition nobody validated).
 */

export interface StepGraph {
  ids: string[];
  index: Map<string, number>;
  /** deps[i]: indexes of the steps i depends on (deduplicated; unknown names left out). */
  deps: number[][];
  /** dependents[i]: indexes of the steps that depend on i. */
  dependents: number[][];
}

export interface GraphProblem {
  kind: 'missing-id' | 'duplicate-step-id' | 'unknown-step' | 'dependency-cycle';
  message: string;
  step?: string;
}

export function buildStepGraph(steps: readonly { id: string; dependsOn: readonly string[] }[]): { graph: StepGraph; problems: GraphProblem[] } {
  const problems: GraphProblem[] = [];
  const ids = steps.map((s) => s.id);
  const index = new Map<string, number>();
  ids.forEach((id, i) => {
    if (!id) problems.push({ kind: 'missing-id', message: `step ${i + 1} has no id` });
    else if (index.has(id)) problems.push({ kind: 'duplicate-step-id', step: id, message: `two steps have the id "${id}"` });
    else index.set(id, i);
  });
  const deps: number[][] = [];
  const dependents: number[][] = ids.map(() => []);
  steps.forEach((s, i) => {
    // An array, not a Set: a step has a handful of dependencies, and this runs per step per run.
    const mine: number[] = [];
    for (const d of s.dependsOn) {
      const j = index.get(d);
      if (j === undefined) {
        problems.push({ kind: 'unknown-step', step: s.id, message: `step "${s.id}" depends on "${d}", which is not a step of this composition` });
        continue;
      }
      if (mine.includes(j)) continue;
      mine.push(j);
      dependents[j]!.push(i);
    }
    deps.push(mine);
  });
  const graph = { ids, index, deps, dependents };
  const cycle = findCycle(graph);
  if (cycle) problems.push({ kind: 'dependency-cycle', step: cycle[0], message: `steps depend on each other in a cycle: ${cycle.join(' -> ')}` });
  return { graph, problems };
}

/** One cycle as ids, closed (`a -> b -> a` is `['a', 'b', 'a']`), or undefined: the first one the depth-first search meets, in execution order. */
export function findCycle(g: StepGraph): string[] | undefined {
  return depthFirst(g.deps, true).firstCycle?.map((i) => g.ids[i]!);
}

// ---------------------------------------------------------------------------------------------
// The algorithms, on any graph by index: `deps[i]` are the nodes node i depends on (its edges,
// in the order written; repeats allowed). The engine's StepGraph is one; the validator builds
// one per composition with the nodes that name each edge beside it (core/validate/stepGraph.ts).

export type Adjacency = readonly (readonly number[])[];

/**
 * Every strongly connected component that holds a cycle (two nodes or more, or one that
 * depends on itself), each in the order the search entered it, in the order they complete.
 */
export function cyclicComponents(deps: Adjacency): number[][] {
  return depthFirst(deps, false).components;
}

/**
 * Tarjan's algorithm, iterative (a 10,000-step chain must not overflow the stack), starting
 * from each node in index order and following edges in their order. Until its first cycle the
 * search's stack is exactly its path (every node finished so far closed a component of its
 * own), so the first edge back onto the stack closes a cycle along that path: `firstCycle`,
 * from the node it reaches through the path back to it, in execution order (the path runs
 * from a step to what it needs).
 */
function depthFirst(deps: Adjacency, untilFirstCycle: boolean): { components: number[][]; firstCycle?: number[] } {
  const n = deps.length;
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const stack: number[] = [];
  const path: number[] = [];
  /** For each node of `path`, the next of its edges to follow. */
  const nextEdge: number[] = [];
  const components: number[][] = [];
  let firstCycle: number[] | undefined;
  let counter = 0;
  const enter = (v: number) => {
    index[v] = low[v] = counter++;
    stack.push(v);
    onStack[v] = 1;
    path.push(v);
    nextEdge.push(0);
  };
  for (let start = 0; start < n; start++) {
    if (index[start] !== -1) continue;
    enter(start);
    while (path.length) {
      const top = path.length - 1;
      const v = path[top]!;
      const edges = deps[v]!;
      const k = nextEdge[top]!;
      if (k < edges.length) {
        nextEdge[top] = k + 1;
        const w = edges[k]!;
        if (index[w] === -1) enter(w);
        else if (onStack[w]) {
          if (index[w]! < low[v]!) low[v] = index[w]!;
          if (!firstCycle) {
            firstCycle = [w];
            for (let p = top; path[p] !== w; p--) firstCycle.push(path[p]!);
            firstCycle.push(w);
            if (untilFirstCycle) return { components, firstCycle };
          }
        }
        continue;
      }
      path.pop();
      nextEdge.pop();
      if (path.length) {
        const parent = path[path.length - 1]!;
        if (low[v]! < low[parent]!) low[parent] = low[v]!;
      }
      if (low[v] === index[v]) {
        const component: number[] = [];
        let w: number;
        do {
          w = stack.pop()!;
          onStack[w] = 0;
          component.push(w);
        } while (w !== v);
        if (component.length > 1 || deps[v]!.includes(v)) components.push(component.reverse());
      }
    }
  }
  return firstCycle ? { components, firstCycle } : { components };
}

/**
 * A shortest path from `from` to `to` through `allowed` nodes (breadth-first, edges in their
 * order), both ends included (`[from]` when they are the same node); undefined when none.
 */
export function shortestPath(deps: Adjacency, from: number, to: number, allowed: ReadonlySet<number>): number[] | undefined {
  if (from === to) return [from];
  const prev = new Map<number, number>();
  const queue = [from];
  const seen = new Set([from]);
  for (let h = 0; h < queue.length; h++) {
    const v = queue[h]!;
    for (const w of deps[v]!) {
      if (!allowed.has(w) || seen.has(w)) continue;
      seen.add(w);
      prev.set(w, v);
      if (w === to) {
        const out = [to];
        for (let cur = v; cur !== from; cur = prev.get(cur)!) out.unshift(cur);
        out.unshift(from);
        return out;
      }
      queue.push(w);
    }
  }
  return undefined;
}

/**
 * Kahn's algorithm: the nodes in a topological order, first-declared first among equals, and
 * each one's layer (one more than its deepest dependency: the longest path to it). Nodes in a
 * cycle, or that depend on one, are not in `order` (their layer stays 0).
 */
export function topologicalLayers(g: Pick<StepGraph, 'deps' | 'dependents'>): { order: number[]; layer: number[] } {
  const n = g.deps.length;
  const indeg = g.deps.map((d) => d.length);
  const layer = new Array<number>(n).fill(0);
  const order: number[] = [];
  for (let i = 0; i < n; i++) if (indeg[i] === 0) order.push(i);
  for (let h = 0; h < order.length; h++) {
    const v = order[h]!;
    for (const w of g.dependents[v]!) {
      if (layer[v]! + 1 > layer[w]!) layer[w] = layer[v]! + 1;
      if (--indeg[w]! === 0) order.push(w);
    }
  }
  return { order, layer };
}

/** Kahn's order, first-declared first among equals. Undefined when there is a cycle. */
export function topologicalOrder(g: Pick<StepGraph, 'deps' | 'dependents'>): number[] | undefined {
  const { order } = topologicalLayers(g);
  return order.length === g.deps.length ? order : undefined;
}

/**
 * For each node, every node it depends on directly or transitively. In a cycle a node's set
 * is what the search had gathered when it met the cycle again, so it may lack part of the
 * cycle; the validator reports the cycle itself, and its other checks were written against
 * these sets.
 */
export function dependencyClosure(deps: Adjacency): Set<number>[] {
  const memo: (Set<number> | undefined)[] = new Array(deps.length);
  const visiting = new Uint8Array(deps.length);
  const visit = (v: number): Set<number> => {
    const m = memo[v];
    if (m) return m;
    const acc = new Set<number>();
    if (visiting[v]) return acc;
    visiting[v] = 1;
    for (const d of deps[v]!) {
      acc.add(d);
      for (const x of visit(d)) acc.add(x);
    }
    visiting[v] = 0;
    memo[v] = acc;
    return acc;
  };
  for (let v = 0; v < deps.length; v++) visit(v);
  return memo as Set<number>[];
}

/**
 * Every node reachable from `start` through one edge or more (so `start` itself only when it
 * is on a cycle), on any graph given by its edges: by ids, or reversed to find dependents.
 */
export function reachableFrom<T>(start: T, next: (v: T) => Iterable<T> | undefined): Set<T> {
  const out = new Set<T>();
  const todo = [...(next(start) ?? [])];
  while (todo.length) {
    const v = todo.pop()!;
    if (out.has(v)) continue;
    out.add(v);
    for (const w of next(v) ?? []) todo.push(w);
  }
  return out;
}

/**
 * For each step, the weight of the heaviest path from it to the end of the graph (itself
 * included). Starting first the ready step with the largest value is the classic
 * critical-path list-scheduling rule: it keeps the longest chain moving.
 */
export function remainingPathLengths(g: StepGraph, order: readonly number[], weight: (i: number) => number): Float64Array {
  const r = new Float64Array(g.ids.length);
  for (let k = order.length - 1; k >= 0; k--) {
    const v = order[k]!;
    let best = 0;
    for (const w of g.dependents[v]!) if (r[w]! > best) best = r[w]!;
    r[v] = best + weight(v);
  }
  return r;
}
