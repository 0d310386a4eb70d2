/**
 * What a worker knows of the graphs of the distributed runs it serves, computed once per run
 * and kept for the next job of the same run: which steps are leaves (a run's output), what each
 * step reads of the steps before it, which render-only steps each step's end may let it run
 * eagerly (see eager.ts), and, only when a step needs them, every step's transitive
 * dependencies (costly on a 1,000-step graph).
 */
import { dependencyClosure } from '../workflow/dag.js';
import { analyseGraph } from '../workflow/precheck.js';
import type { EagerOffer, RunSpec } from './runStore.js';
import { stepReads } from './stepReads.js';
import type { PinnedConfig } from './workerTypes.js';

export interface RunPlan {
  spec: RunSpec;
  leaves: number[];
  /** Per step, its render-only dependents: the steps its end may let this worker run eagerly. */
  eagerNext: number[][];
  deps: readonly (readonly number[])[];
  closure?: Set<number>[];
  /** Per step, the steps it reads, once known. */
  reads: (number[] | undefined)[];
}

/** Kept per run, for at most this many runs at once. */
const KEPT = 256;

export class RunPlans {
  private readonly plans = new Map<string, RunPlan>();

  of(spec: RunSpec): RunPlan {
    let p = this.plans.get(spec.id);
    if (p && p.spec === spec) return p;
    const { graph } = analyseGraph(spec.composition);
    const leaves: number[] = [];
    graph.dependents.forEach((d, i) => {
      if (d.length === 0) leaves.push(i);
    });
    const eagerNext = graph.dependents.map((d) => d.filter((k) => spec.composition.steps[k]!.model === undefined));
    p = { spec, deps: graph.deps, leaves, eagerNext, reads: [] };
    if (this.plans.size > KEPT) this.plans.delete(this.plans.keys().next().value!);
    this.plans.set(spec.id, p);
    return p;
  }

  forget(runId: string): void {
    this.plans.delete(runId);
  }

  /** The steps step `i` depends on, transitively. */
  ancestors(spec: RunSpec, i: number): number[] {
    const p = this.of(spec);
    p.closure ??= dependencyClosure(p.deps);
    return [...p.closure[i]!];
  }

  /** The steps step `i` reads (`steps.<id>` in its templates and context), as `cfg` says. */
  reads(spec: RunSpec, i: number, cfg: PinnedConfig): number[] {
    const p = this.of(spec);
    return (p.reads[i] ??= stepReads(spec, i, cfg, () => this.ancestors(spec, i)));
  }

  /** What a worker offers to run eagerly when step `i` ends: its render-only dependents, with what they read. */
  offers(spec: RunSpec, i: number, cfg: PinnedConfig): EagerOffer[] {
    return this.of(spec).eagerNext[i]!.map((k) => [k, this.reads(spec, k, cfg)] as const);
  }
}
