/**
 * Which errors of a validation stand in the way of what: each error is attributed to the part
 * of the workspace it is in (a template, a composition and maybe one of its steps, a provider,
 * a service, the rest of a configuration file, or the workspace as a whole), so that a render,
 * a run or a preview is refused only for errors in what it uses (`blocking`), and can say how
 * many are elsewhere. The engine's `configErrors: 'isolate'` mode and the language server's
 * previews and runs ask here.
 *
 * An error is placed by where its range starts, among the model's nodes: inside a composition's
 * entry it belongs to that composition (to one step when it is inside the step), inside a
 * provider's or a service's entry to it; anywhere else in a configuration file (its version,
 * `templates_dir`, `defaults`, a file that does not parse) to the whole file; in a template's
 * file to the template; anywhere else to the workspace. A validation built by hand without line
 * indexes puts every configuration-file error on the whole file: it blocks more, never less.
 */
import type { PromptDiagnostic } from '../model/diagnostics.js';
import type { CompositionDef } from '../model/types.js';
import type { SNode } from '../yaml/sourceTree.js';
import { compositionProviders, compositionTemplates, serviceNamed, compositionNamed, stepTemplates, withPartials } from '../workspace/queries.js';
import type { WorkspaceValidation } from './api.js';

export type ErrorOwner =
  | { kind: 'template'; name: string }
  /** `step` when the error is inside one step's entry; else the composition's own keys (inputs, overrides, output...). */
  | { kind: 'composition'; name: string; step?: string }
  | { kind: 'provider'; name: string }
  | { kind: 'service'; name: string }
  /** A configuration file outside any composition, provider or service: what every use of the file reads. */
  | { kind: 'file'; file: string }
  | { kind: 'workspace' };

/** What a render, run or preview reads of the workspace. */
export interface ConfigUse {
  templates: ReadonlySet<string>;
  /** By composition: every step (`all`), or these steps and the composition's own keys. */
  compositions: ReadonlyMap<string, 'all' | ReadonlySet<string>>;
  providers: ReadonlySet<string>;
  services: ReadonlySet<string>;
  /** The configuration files it reads (absolute paths). */
  files: ReadonlySet<string>;
}

export interface ErrorsFor {
  /** The errors in what it uses: each refuses it. */
  blocking: PromptDiagnostic[];
  /** How many errors are elsewhere in the workspace. */
  elsewhere: number;
}

interface Span {
  start: number;
  end: number;
}

const span = (from: SNode, to: SNode): Span => ({ start: from.start, end: to.end });
const inside = (s: Span, offset: number) => s.start <= offset && offset <= s.end;

const attributions = new WeakMap<WorkspaceValidation, { d: PromptDiagnostic; owner: ErrorOwner }[]>();

/** Every error of the validation with the part it belongs to (computed once per validation). */
export function attributeErrors(v: WorkspaceValidation): readonly { d: PromptDiagnostic; owner: ErrorOwner }[] {
  let out = attributions.get(v);
  if (out) return out;
  const byFile = new Map<string, string>();
  for (const t of v.templates.values()) byFile.set(t.file, t.name);
  // A mistake in a prompt test file is the tests' problem: it never blocks a render or a run (configErrorCount).
  const tests = new Set(v.promptTestFiles);
  out = v.diagnostics.filter((d) => d.severity === 'error' && !tests.has(d.file)).map((d) => ({ d, owner: ownerOf(v, d, byFile) }));
  attributions.set(v, out);
  return out;
}

function ownerOf(v: WorkspaceValidation, d: PromptDiagnostic, templateByFile: ReadonlyMap<string, string>): ErrorOwner {
  const template = templateByFile.get(d.file);
  if (template !== undefined) return { kind: 'template', name: template };
  const isRules = d.file === v.compositionRulesFile;
  if (!isRules && d.file !== v.serviceMappingsFile) return { kind: 'workspace' };
  const file: ErrorOwner = { kind: 'file', file: d.file };
  const lines = v.configLines?.get(d.file);
  if (!lines) return file;
  const offset = lines.offsetAt(d.range.start);
  if (isRules) {
    for (const c of v.compositionRules?.compositions ?? []) {
      if (!inside(span(c.nameNode, c.node), offset)) continue;
      const step = c.steps.find((s) => inside(s.node, offset));
      return step?.id ? { kind: 'composition', name: c.name, step: step.id } : { kind: 'composition', name: c.name };
    }
    for (const p of v.compositionRules?.providers ?? []) if (inside(span(p.nameNode, p.node), offset)) return { kind: 'provider', name: p.name };
    return file;
  }
  for (const s of v.serviceMappings?.services ?? []) if (inside(span(s.nameNode, s.node), offset)) return { kind: 'service', name: s.name };
  return file;
}

function uses(owner: ErrorOwner, use: ConfigUse): boolean {
  switch (owner.kind) {
    case 'template':
      return use.templates.has(owner.name);
    case 'composition': {
      const steps = use.compositions.get(owner.name);
      return steps !== undefined && (steps === 'all' || owner.step === undefined || steps.has(owner.step));
    }
    case 'provider':
      return use.providers.has(owner.name);
    case 'service':
      return use.services.has(owner.name);
    case 'file':
      return use.files.has(owner.file);
    case 'workspace':
      return true;
  }
}

/** The errors in what `use` reads, and how many others there are. */
export function errorsFor(v: WorkspaceValidation, use: ConfigUse): ErrorsFor {
  if (v.configErrorCount === 0) return { blocking: [], elsewhere: 0 };
  const all = attributeErrors(v);
  const blocking = all.filter((a) => uses(a.owner, use)).map((a) => a.d);
  return { blocking, elsewhere: all.length - blocking.length };
}

/** What a render reads: the template, its partials, and with a service, the service (its fallback template too) and its file. */
export function renderUse(v: WorkspaceValidation, template: string, service?: string): ConfigUse {
  const services = new Set<string>();
  const files = new Set<string>();
  const names = [template];
  if (service !== undefined) {
    services.add(service);
    files.add(v.serviceMappingsFile);
    const fb = serviceNamed(v.serviceMappings, service)?.fallback?.template?.name;
    if (fb) names.push(fb);
  }
  return { templates: withPartials(names, partialsIn(v)), compositions: new Map(), providers: new Set(), services, files };
}

/**
 * What a run reads: the composition (every step), its templates and their partials, the
 * providers its steps and overrides name, its file; with a service, the service and its file.
 * With `step`, what a preview of that one step reads: the composition's own keys and that step,
 * the templates it can render; no provider (a preview sends nothing).
 */
export function runUse(v: WorkspaceValidation, composition: string, options: { service?: string; step?: string } = {}): ConfigUse {
  const def: CompositionDef | undefined = compositionNamed(v.compositionRules, composition);
  const files = new Set<string>([v.compositionRulesFile]);
  const services = new Set<string>();
  if (options.service !== undefined) {
    services.add(options.service);
    files.add(v.serviceMappingsFile);
  }
  const step = options.step;
  const templates = def ? (step !== undefined ? (stepTemplates(def, step) ?? []) : compositionTemplates(def)) : [];
  return {
    templates: withPartials(templates, partialsIn(v)),
    compositions: new Map([[composition, step !== undefined ? new Set([step]) : 'all']]),
    providers: def && step === undefined ? compositionProviders(def) : new Set(),
    services,
    files,
  };
}

function partialsIn(v: WorkspaceValidation): (name: string) => string[] {
  return (name) => v.templates.get(name)?.analysis.partials.map((p) => p.name) ?? [];
}
