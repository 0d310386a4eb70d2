/**
 * What a step of a distributed run reads of the steps before it, and those reads as the
 * `steps` of its context. Only the steps it reads are fetched from Redis (its templates and
 * partials, from the validator's analysis; its `context:` strings; its fallback template), so a
 * step deep in a long run does not read the whole run; where the reads cannot be known (a
 * template that reads `steps` whole), every step it depends on, transitively.
 */
import type { RunSpec, StepView } from './runStore.js';
import type { PinnedConfig } from './workerTypes.js';

const STEP_READ = /\bsteps\.([A-Za-z_][A-Za-z0-9_-]*)/g;
const WHOLE_STEPS = /\bsteps\b(?!\.[A-Za-z_])/;

/** A key `__proto__` must be data, never a prototype change. */
export function defineData(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

/** The indexes of the steps step `i` reads; `ancestors()` when that cannot be known. */
export function stepReads(spec: RunSpec, i: number, cfg: PinnedConfig, ancestors: () => number[]): number[] {
  const def = spec.composition.steps[i]!;
  const ids = new Set<string>();
  for (const t of [def.template, def.fallback?.template]) {
    if (t === undefined) continue;
    const r = cfg.stepReads?.(t);
    if (r === undefined || r === 'all') return ancestors();
    for (const id of r) ids.add(id);
  }
  for (const v of Object.values(def.context)) {
    if (typeof v !== 'string') continue;
    if (WHOLE_STEPS.test(v)) return ancestors();
    for (const m of v.matchAll(STEP_READ)) ids.add(m[1]!);
  }
  const out: number[] = [];
  spec.composition.steps.forEach((s, k) => {
    if (ids.has(s.id) && k !== i) out.push(k);
  });
  return out;
}

/** The views by step id, as `steps` in a context (null prototype: ids are plain keys). */
export function viewsObject(spec: RunSpec, views: ReadonlyMap<number, StepView>): Record<string, StepView> {
  const out = Object.create(null) as Record<string, StepView>;
  for (const [i, v] of views) defineData(out as Record<string, unknown>, spec.composition.steps[i]!.id, Object.freeze(v));
  return out;
}
