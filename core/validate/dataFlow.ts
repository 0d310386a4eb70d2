/**
 * What a step reads against what it is given: the variables its template reads (and, through
 * partials, their partials) against the composition's inputs and the step's context
 * (`undeclared-variable`), and the `steps.<id>` it reads, in its template or its context
 * values, against the steps it runs after (`undeclared-step-read`).
 */
import type { SNode } from '../yaml/sourceTree.js';
import type { CompositionDef, NameRef, StepDef } from '../model/types.js';
import type { TemplateAnalysis } from '../templates/analysis.js';
import { hasTag } from '../templates/tagScan.js';
import { reachableFrom } from '../workflow/dag.js';
import type { TemplateEntry } from './api.js';
import type { FileCtx, NodeSink, TemplateSite } from './diagnosticCollector.js';
import type { Range } from '../text/range.js';

/** One read in a template file: a variable, or a `steps.<id>`. */
export interface ReadSite {
  /** The template whose file holds the read: the step's template, or one of its partials. */
  template: string;
  file: string;
  range: Range;
}

/** What a template reads, by variable and by step id, each with every place it is read (its partials' included). */
export interface TemplateReads {
  variables: Map<string, ReadSite[]>;
  steps: Map<string, ReadSite[]>;
}

/** Variables and step reads of a template and, transitively, of its partials, with where each is read. */
export function templateReads(t: TemplateEntry, templates: ReadonlyMap<string, TemplateEntry>): TemplateReads {
  const variables = new Map<string, ReadSite[]>();
  const steps = new Map<string, ReadSite[]>();
  const seen = new Set<string>();
  const add = (m: Map<string, ReadSite[]>, key: string, site: ReadSite) => {
    const l = m.get(key);
    if (l) l.push(site);
    else m.set(key, [site]);
  };
  const visit = (e: TemplateEntry, depth: number) => {
    if (seen.has(e.name) || depth > 16) return;
    seen.add(e.name);
    for (const v of e.analysis.variables) add(variables, v.name, { template: e.name, file: e.file, range: v.range });
    for (const s of e.analysis.stepReads) add(steps, s.stepId, { template: e.name, file: e.file, range: s.range });
    for (const p of e.analysis.partials) {
      const pe = templates.get(p.name);
      if (pe && !pe.analysis.error) visit(pe, depth + 1);
    }
  };
  visit(t, 0);
  return { variables, steps };
}

/**
 * What a context must hold for template `t` to render in strict mode (`required`: the
 * variables it and the partials it always includes read unconditionally) and what it reads
 * only when present or when a block runs (`optional`). `steps` is a run's, never a context's.
 */
export function templateNeeds(t: TemplateEntry, templates: ReadonlyMap<string, TemplateEntry>): { required: string[]; optional: string[] } {
  const required = new Set<string>();
  const optional = new Set<string>();
  const seen = new Map<string, boolean>();
  const visit = (e: TemplateEntry, always: boolean, depth: number) => {
    // A partial met again only matters when it is now included unconditionally and was not before.
    const before = seen.get(e.name);
    if (depth > 16 || before === true || (before === false && !always)) return;
    seen.set(e.name, always);
    for (const v of e.analysis.variables) {
      if (v.name === 'steps') continue;
      (always && !v.optional ? required : optional).add(v.name);
    }
    for (const p of e.analysis.partials) {
      const pe = templates.get(p.name);
      if (pe && !pe.analysis.error) visit(pe, always && !p.optional, depth + 1);
    }
  };
  visit(t, true, 0);
  for (const r of required) optional.delete(r);
  return { required: [...required], optional: [...optional] };
}

/**
 * The reads of template `t`, rendered by step `s` (through `ref`): each variable must be an
 * input or a context key, each step read a step that `s` runs after (`mine`). Each finding is
 * reported on `ref` (the contract's place) and handed to `site` for every place the template
 * reads it, so that the template shows it too (ReferenceChecker.templateSites).
 */
export function checkTemplateReads(
  sink: NodeSink,
  ctx: FileCtx,
  c: CompositionDef,
  s: StepDef,
  ref: NameRef,
  t: TemplateEntry,
  reads: TemplateReads,
  inputs: Set<string>,
  contextKeys: Set<string>,
  mine: Set<string>,
  site: (finding: TemplateSite) => void,
): void {
  const by = `step '${s.id}' of composition '${c.name}'`;
  const through = (at: ReadSite) => (at.template === t.name ? '' : ` (through the partial '${at.template}' of '${t.name}')`);
  for (const [v, sites] of reads.variables) {
    if (v === 'steps' || inputs.has(v) || contextKeys.has(v)) continue;
    sink.node(ctx, ref.node, 'undeclared-variable', `template '${t.name}' reads '${v}', which neither composition '${c.name}''s inputs nor step '${s.id}''s context provides; add it to inputs (required or optional) or to the step's context`);
    for (const at of sites) {
      site({ ...at, ref: ref.node, code: 'undeclared-variable', subject: v, by, message: `'${v}' is read here, but ${by} renders this template${through(at)} without it: neither the composition's inputs nor the step's context provides it; add it to inputs (required or optional) or to the step's context` });
    }
  }
  for (const [id, sites] of reads.steps) {
    if (mine.has(id)) continue;
    sink.node(ctx, ref.node, 'undeclared-step-read', undeclaredStepMessage(`template '${t.name}'`, id, s, c));
    for (const at of sites) {
      site({ ...at, ref: ref.node, code: 'undeclared-step-read', subject: id, by, message: `steps.${id} is read here, where ${by} renders this template${through(at)}${stepReadProblem(id, s, c)}` });
    }
  }
}

/** The `steps.<id>` reads in the Handlebars of a context value of step `s`. */
export function checkContextReads(sink: NodeSink, ctx: FileCtx, c: CompositionDef, s: StepDef, value: unknown, node: SNode | null, mine: Set<string>, analyze: (source: string) => TemplateAnalysis): void {
  if (!node) return;
  const strings: string[] = [];
  collectStrings(value, strings, 0);
  for (const str of strings) {
    if (!hasTag(str)) continue;
    const a = analyze(str);
    for (const r of a.stepReads) {
      if (mine.has(r.stepId)) continue;
      sink.node(ctx, node, 'undeclared-step-read', undeclaredStepMessage('this context value', r.stepId, s, c));
    }
  }
}

function undeclaredStepMessage(reader: string, id: string, s: StepDef, c: CompositionDef): string {
  return `${reader} reads steps.${id}${stepReadProblem(id, s, c)}`;
}

/** Why step `s` cannot read `steps.<id>`, as the rest of a sentence that names the read. */
function stepReadProblem(id: string, s: StepDef, c: CompositionDef): string {
  const exists = c.steps.some((x) => x.id === id);
  if (!exists) return `, but composition '${c.name}' has no step '${id}'`;
  // depends_on cannot help here: it would make a cycle.
  if (id === s.id) return `, the output of step '${id}' itself: a step cannot read its own output, which exists only once it has run; read it in a step that depends on '${id}'`;
  if (runsAfter(c, id, s.id)) return `, but step '${id}' depends on '${s.id}' (directly or through its dependencies), so it runs after it: step '${s.id}' cannot read its output; read it in a step that depends on '${id}'`;
  return `, but step '${s.id}' does not depend on '${id}' (directly or through its dependencies), so it may not have run yet; add '${id}' to depends_on`;
}

/** Whether step `later` depends on step `earlier`, directly or through its dependencies (every step of an id counts). */
function runsAfter(c: CompositionDef, later: string, earlier: string): boolean {
  return reachableFrom(later, (id) => c.steps.filter((step) => step.id === id).flatMap((step) => step.dependsOn.map((d) => d.name))).has(earlier);
}

function collectStrings(v: unknown, out: string[], depth: number): void {
  if (depth > 32) return;
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) collectStrings(x, out, depth + 1);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) collectStrings(x, out, depth + 1);
}
