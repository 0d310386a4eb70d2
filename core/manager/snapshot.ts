/**
 * An immutable view of one valid configuration: the validation result, the compiled-template
 * table and the per-service rules derived from it. A reload builds a new snapshot and swaps
 * the reference; whoever holds the old one (a render or a workflow run under way) keeps a
 * consistent configuration to its end.
 */
import type { CompositionDef, PerformanceTargets, RunDefaults, ServiceDef } from '../model/types.js';
import type { WorkspaceValidation } from '../validate/api.js';
import { templatesServiceMayRender } from '../workspace/queries.js';
import type { CompiledTemplate } from './templateEngine.js';

export interface ServiceRules {
  readonly name: string;
  readonly def: ServiceDef;
  readonly description?: string;
  /** `primary_templates` in priority order: the first is the service's default template. */
  readonly primaryTemplates: readonly string[];
  /** Every template the service may render (primary, templates, fallback, its compositions'). */
  readonly allowedTemplates: ReadonlySet<string>;
  readonly compositions: ReadonlySet<string>;
  readonly requiredContext: readonly string[];
  readonly optionalContext: readonly string[];
  readonly fallback?: { readonly template: string; readonly on: ReadonlySet<string> };
  readonly targets: PerformanceTargets;
}

export interface EngineSnapshot {
  /** 1 for the first load, +1 for each accepted reload. */
  readonly generation: number;
  /** Clock time the snapshot was made. */
  readonly loadedAt: number;
  readonly validation: WorkspaceValidation;
  /** The compiled-template registry of this configuration, by template name. */
  readonly templates: ReadonlyMap<string, CompiledTemplate>;
  readonly services: ReadonlyMap<string, ServiceRules>;
  readonly compositions: ReadonlyMap<string, CompositionDef>;
  /** `defaults:` of composition_rules.yaml (resolveComposition's second argument). */
  readonly runDefaults: RunDefaults;
  /**
   * Per template, the number its render-cache keys start with. It changes when the template or
   * a partial it includes changes, so an old snapshot (a run under way) and the new one never
   * answer each other's renders from the cache, although they share compiled templates.
   */
  readonly renderKeys: ReadonlyMap<string, number>;
}

function serviceRules(def: ServiceDef, compositions: ReadonlyMap<string, CompositionDef>): ServiceRules {
  const allowed = templatesServiceMayRender(def, (c) => compositions.get(c));
  const comps = new Set(def.compositions.map((c) => c.name));
  const fb = def.fallback?.template
    ? {
        template: def.fallback.template.name,
        // The model already applied the default `on` list; an explicit `on: []` means never.
        on: new Set<string>(def.fallback.on),
      }
    : undefined;
  return {
    name: def.name,
    def,
    description: def.description,
    primaryTemplates: def.primaryTemplates.map((r) => r.name),
    allowedTemplates: allowed,
    compositions: comps,
    requiredContext: def.contextRequirements.required,
    optionalContext: def.contextRequirements.optional,
    fallback: fb,
    targets: def.performanceTargets,
  };
}

export function buildSnapshot(
  validation: WorkspaceValidation,
  templates: ReadonlyMap<string, CompiledTemplate>,
  generation: number,
  loadedAt: number,
  renderKeys: ReadonlyMap<string, number>,
): EngineSnapshot {
  const compositions = new Map<string, CompositionDef>();
  for (const c of validation.compositionRules?.compositions ?? []) compositions.set(c.name, c);
  const services = new Map<string, ServiceRules>();
  for (const s of validation.serviceMappings?.services ?? []) services.set(s.name, serviceRules(s, compositions));
  return {
    generation,
    loadedAt,
    validation,
    templates,
    services,
    compositions,
    runDefaults: validation.compositionRules?.defaults ?? {},
    renderKeys,
  };
}

let renderKeySeq = 0;

/**
 * Render keys of a new snapshot: unaffected templates keep the previous snapshot's, affected
 * ones (all of them when `previous` is absent) get fresh numbers.
 */
export function nextRenderKeys(
  templates: ReadonlyMap<string, CompiledTemplate>,
  previous: ReadonlyMap<string, number> | undefined,
  affected: ReadonlySet<string> | 'all',
): Map<string, number> {
  const out = new Map<string, number>();
  for (const name of templates.keys()) {
    const old = previous?.get(name);
    out.set(name, old !== undefined && affected !== 'all' && !affected.has(name) ? old : ++renderKeySeq);
  }
  return out;
}

/**
 * The templates whose rendering changes when `changed` templates change: themselves and,
 * transitively, every template that uses one of them as a partial.
 */
export function withDependents(changed: ReadonlySet<string>, templates: ReadonlyMap<string, CompiledTemplate>): Set<string> {
  const usedBy = new Map<string, string[]>();
  for (const [name, ct] of templates) {
    for (const p of ct.entry.analysis?.partials ?? []) {
      let l = usedBy.get(p.name);
      if (!l) usedBy.set(p.name, (l = []));
      l.push(name);
    }
  }
  const out = new Set(changed);
  const queue = [...changed];
  while (queue.length) {
    for (const user of usedBy.get(queue.pop()!) ?? []) {
      if (!out.has(user)) {
        out.add(user);
        queue.push(user);
      }
    }
  }
  return out;
}
