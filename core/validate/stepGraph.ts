/**
 * A composition's steps as a graph for the validator's checks, on the DAG module's algorithms
 * (core/workflow/dag.ts): the known dependencies with the `depends_on` entries that make them,
 * the entries that name no step, what each step runs after, and the dependency-cycle
 * diagnostics.
 */
import type { CompositionDef, NameRef, StepDef } from '../model/types.js';
import { cyclicComponents, dependencyClosure, shortestPath } from '../workflow/dag.js';
import type { FileCtx, NodeSink } from './diagnosticCollector.js';

export interface CompositionStepGraph {
  /** The steps' ids, in order (the first step of each id). */
  ids: string[];
  /** deps[i]: the steps step i depends on, as written (repeats kept). */
  deps: number[][];
  /** refs[i][k]: the `depends_on` entry that makes the edge deps[i][k]. */
  refs: NameRef[][];
  /** `depends_on` entries that name no step, with their step. */
  unknownDeps: { s: StepDef; ref: NameRef }[];
}

/** The graph of the steps in `byId` (the first step of each id). */
export function compositionStepGraph(byId: ReadonlyMap<string, StepDef>): CompositionStepGraph {
  const ids = [...byId.keys()];
  const index = new Map(ids.map((id, i) => [id, i]));
  const deps: number[][] = [];
  const refs: NameRef[][] = [];
  const unknownDeps: { s: StepDef; ref: NameRef }[] = [];
  for (const s of byId.values()) {
    const to: number[] = [];
    const by: NameRef[] = [];
    for (const d of s.dependsOn) {
      const j = index.get(d.name);
      if (j === undefined) unknownDeps.push({ s, ref: d });
      else {
        to.push(j);
        by.push(d);
      }
    }
    deps.push(to);
    refs.push(by);
  }
  return { ids, deps, refs, unknownDeps };
}

/** For each step id, every step it runs after (depends on, directly or transitively; cycles tolerated). */
export function ancestorsById(g: CompositionStepGraph): Map<string, Set<string>> {
  const closure = dependencyClosure(g.deps);
  return new Map(g.ids.map((id, i) => [id, new Set([...closure[i]!].map((j) => g.ids[j]!))]));
}

/** Every strongly connected component, reported on every edge with the whole path. */
export function reportCycles(sink: NodeSink, ctx: FileCtx, c: CompositionDef, g: CompositionStepGraph): void {
  for (const scc of cyclicComponents(g.deps)) {
    const inScc = new Set(scc);
    for (const from of scc) {
      const edges = g.deps[from]!;
      for (let k = 0; k < edges.length; k++) {
        const to = edges[k]!;
        if (!inScc.has(to)) continue;
        const back = shortestPath(g.deps, to, from, inScc);
        const name = g.ids[from]!;
        const cycle = [name, ...(back ? back.map((i) => g.ids[i]!) : [g.ids[to]!])];
        if (cycle[cycle.length - 1] !== name || cycle.length === 1) cycle.push(name);
        const text = cycle.join(' -> ');
        sink.node(ctx, g.refs[from]![k]!.node, 'dependency-cycle', `dependency cycle in composition '${c.name}': ${text}; remove one of these depends_on entries`);
      }
    }
  }
}
