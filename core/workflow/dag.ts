/**
 * The step graph of a composition by index: dependencies, dependents, the checks a run
 * needs before it can start (the validator reports the same faults with ranges; the engine
 * repeats them because it may be handed a composition nobody validated), a topological order
 * and the longest remaining path that the scheduler uses as its priority.
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

/** One cycle as ids, closed (`a -> b -> a` is `['a', 'b', 'a']`), or undefined. Iterative: a 10,000-step chain must not overflow the stack. */
export function findCycle(g: StepGraph): string[] | undefined {
  const n = g.ids.length;
  const color = new Uint8Array(n); // 0 new, 1 on the stack, 2 done
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
          // v depends on w, which is on the stack: walk back from v to w.
          const path = [w];
          for (let x = v; x !== w && x !== -1; x = parent[x]!) path.push(x);
          path.push(w);
          // `deps` edges point from a step to what it needs; print in execution order.
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

/** Kahn's order, first-declared first among equals. Undefined when there is a cycle. */
export function topologicalOrder(g: StepGraph): number[] | undefined {
  const n = g.ids.length;
  const indeg = g.deps.map((d) => d.length);
  const out: number[] = [];
  const queue: number[] = [];
  for (let i = 0; i < n; i++) if (indeg[i] === 0) queue.push(i);
  for (let h = 0; h < queue.length; h++) {
    const v = queue[h]!;
    out.push(v);
    for (const w of g.dependents[v]!) if (--indeg[w]! === 0) queue.push(w);
  }
  return out.length === n ? out : undefined;
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
