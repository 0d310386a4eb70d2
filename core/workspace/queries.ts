/**
 * Questions asked of a prompt workspace, answered once for every face: which templates a
 * service may render, which compositions use a template, which steps call a provider, which
 * workspace a path belongs to. The engine's access check, the editor's hover, completion and
 * navigation, and the server's custom requests all ask here, so that they cannot disagree.
 *
 * Plain functions over the model (core/model/types.ts) and over paths: no file is read, and a
 * model that does not validate (a name defined twice, a reference to nothing) gets an answer
 * all the same, because the editor asks while the user types.
 */
import * as path from 'node:path';
import type { CompositionDef, CompositionRulesModel, NameRef, ProviderDef, ServiceDef, ServiceMappingsModel, StepDef } from '../model/types.js';
import { isConfigFile, workspaceOfFile } from './discover.js';
import { nodeFileSystem, type FileSystemHost } from './fileSystem.js';
import { TEMPLATE_EXTENSIONS } from './templateIndex.js';

// ------------------------------------------------------------------ by name

/** The composition of that name (the first, when it is defined twice). */
export function compositionNamed(rules: CompositionRulesModel | undefined, name: string | undefined): CompositionDef | undefined {
  if (name === undefined) return undefined;
  return rules?.compositions.find((c) => c.name === name);
}

/** The service of that name (the first, when it is defined twice). */
export function serviceNamed(mappings: ServiceMappingsModel | undefined, name: string | undefined): ServiceDef | undefined {
  if (name === undefined) return undefined;
  return mappings?.services.find((s) => s.name === name);
}

/** The provider of that name (the first, when it is defined twice). */
export function providerNamed(rules: CompositionRulesModel | undefined, name: string | undefined): ProviderDef | undefined {
  if (name === undefined) return undefined;
  return rules?.providers.find((p) => p.name === name);
}

// ------------------------------------------------------------------ services and templates

/** The templates a service lists itself: `primary_templates`, then `templates` (not its fallback). */
export function serviceTemplateRefs(service: ServiceDef): NameRef[] {
  return [...service.primaryTemplates, ...service.templates];
}

/** Every template a composition can render: its steps' templates and fallbacks, then its overrides' templates. */
export function compositionTemplates(composition: CompositionDef): string[] {
  const out = new Set<string>();
  for (const s of composition.steps) {
    if (s.template) out.add(s.template.name);
    if (s.fallback?.template) out.add(s.fallback.template.name);
  }
  for (const o of [...composition.overrides.states, ...composition.overrides.experienceLevels]) {
    for (const so of o.steps) if (so.template) out.add(so.template.name);
  }
  return [...out];
}

/**
 * Every template a service may render, the rule of the engine's access check: its
 * `primary_templates` and `templates`, its fallback template, and every template of the
 * compositions it lists (`compositionOf` finds them; a composition it does not find adds none).
 * In that order, without repeats.
 */
export function templatesServiceMayRender(service: ServiceDef, compositionOf: (name: string) => CompositionDef | undefined): Set<string> {
  const allowed = new Set<string>();
  for (const r of serviceTemplateRefs(service)) allowed.add(r.name);
  if (service.fallback?.template) allowed.add(service.fallback.template.name);
  for (const c of service.compositions) {
    const def = compositionOf(c.name);
    if (def) for (const t of compositionTemplates(def)) allowed.add(t);
  }
  return allowed;
}

/** The services that name a template themselves (in their lists or as their fallback), not through a composition. */
export function servicesNamingTemplate(services: readonly ServiceDef[], template: string): ServiceDef[] {
  return services.filter((s) => serviceTemplateRefs(s).some((r) => r.name === template) || s.fallback?.template?.name === template);
}

/** The services that list a composition. */
export function servicesRunningComposition(services: readonly ServiceDef[], composition: string): ServiceDef[] {
  return services.filter((s) => s.compositions.some((r) => r.name === composition));
}

// ------------------------------------------------------------------ compositions and templates

/** The compositions with a step, a step fallback or an override that renders the template, in file order. */
export function compositionsUsingTemplate(compositions: Iterable<CompositionDef>, template: string): CompositionDef[] {
  return [...compositions].filter((c) => compositionTemplates(c).includes(template));
}

/**
 * The steps of a composition that may render a template: by their own `template`, their
 * fallback's, or an override that gives them that template. In step order, each once.
 */
export function stepsRenderingTemplate(composition: CompositionDef, template: string): StepDef[] {
  const out: StepDef[] = [];
  for (const s of composition.steps) if (s.template?.name === template || s.fallback?.template?.name === template) out.push(s);
  for (const o of [...composition.overrides.states, ...composition.overrides.experienceLevels]) {
    for (const so of o.steps) {
      const s = composition.steps.find((x) => x.id === so.stepName.name);
      if (s && so.template?.name === template && !out.includes(s)) out.push(s);
    }
  }
  return out;
}

/**
 * The templates one step of a composition can render: its own, its fallback's, and those the
 * overrides give it. Undefined when the composition has no such step.
 */
export function stepTemplates(composition: CompositionDef, stepId: string): string[] | undefined {
  const step = composition.steps.find((s) => s.id === stepId);
  if (!step) return undefined;
  const out = new Set<string>();
  if (step.template) out.add(step.template.name);
  if (step.fallback?.template) out.add(step.fallback.template.name);
  for (const o of [...composition.overrides.states, ...composition.overrides.experienceLevels]) {
    for (const so of o.steps) if (so.stepName.name === stepId && so.template) out.add(so.template.name);
  }
  return [...out];
}

/**
 * `names` and, transitively, every partial they include (`partialsOf` lists a template's;
 * an unknown name lists none). The templates a render of them reads.
 */
export function withPartials(names: Iterable<string>, partialsOf: (name: string) => Iterable<string>): Set<string> {
  const out = new Set<string>();
  const stack = [...names];
  while (stack.length) {
    const n = stack.pop()!;
    if (out.has(n)) continue;
    out.add(n);
    for (const p of partialsOf(n)) if (!out.has(p)) stack.push(p);
  }
  return out;
}

// ------------------------------------------------------------------ providers

/** The providers a composition's steps and overrides name in `model:`: the ones its runs can call. */
export function compositionProviders(composition: CompositionDef): Set<string> {
  const out = new Set<string>();
  for (const s of composition.steps) if (s.model) out.add(s.model.name);
  for (const o of [...composition.overrides.states, ...composition.overrides.experienceLevels]) {
    for (const so of o.steps) if (so.model) out.add(so.model.name);
  }
  return out;
}

/** One `model:` that sends a step's prompt to a provider: the step's own, or an override's. */
export interface ProviderCall {
  composition: CompositionDef;
  /** The step's id (an override's key under `steps:`). */
  stepId: string;
  /** The step; undefined for an override of a step the composition does not have. */
  step?: StepDef;
  provider: NameRef;
  /** `states.<key>` or `experience_levels.<key>` when an override names the provider, not the step itself. */
  override?: string;
}

/** Every `model:` of every composition: per composition, its steps' own, then its overrides', in file order. */
export function providerCalls(rules: CompositionRulesModel | undefined): ProviderCall[] {
  const out: ProviderCall[] = [];
  for (const c of rules?.compositions ?? []) {
    for (const s of c.steps) if (s.model) out.push({ composition: c, stepId: s.id, step: s, provider: s.model });
    const overrides = [...c.overrides.states.map((o) => [`states.${o.key}`, o] as const), ...c.overrides.experienceLevels.map((o) => [`experience_levels.${o.key}`, o] as const)];
    for (const [override, o] of overrides) {
      for (const so of o.steps) {
        if (!so.model) continue;
        const call: ProviderCall = { composition: c, stepId: so.stepName.name, provider: so.model, override };
        const s = c.steps.find((x) => x.id === so.stepName.name);
        if (s) call.step = s;
        out.push(call);
      }
    }
  }
  return out;
}

/** The steps (and overrides) that send their prompt to this provider. */
export function stepsCallingProvider(rules: CompositionRulesModel | undefined, provider: string): ProviderCall[] {
  return providerCalls(rules).filter((c) => c.provider.name === provider);
}

/** The providers some step or override names in `model:`: the only ones a run can call, whose API keys matter. */
export function providersInUse(rules: CompositionRulesModel | undefined): Set<string> {
  return new Set(providerCalls(rules).map((c) => c.provider.name));
}

// ------------------------------------------------------------------ paths

/** Whether `file` is `dir` or inside it (by path, as given: no link is followed). */
export function isPathUnder(file: string, dir: string): boolean {
  // Without building `dir + sep`: features ask this in loops over thousands of compositions.
  if (file === dir) return true;
  if (!file.startsWith(dir)) return false;
  return dir.endsWith(path.sep) || file[dir.length] === path.sep;
}

/**
 * The prompt workspace folder a file belongs to, from the files alone: a configuration file's
 * own folder (whether or not it exists yet), else the nearest folder above the file that holds
 * a configuration file.
 */
export function workspaceRootOf(file: string, fs: FileSystemHost = nodeFileSystem): string | undefined {
  return isConfigFile(file) ? path.dirname(file) : workspaceOfFile(file, fs);
}

/** The innermost of `dirs` that is `file` or holds it: the workspace (or folder) a path belongs to. */
export function innermostHolding(file: string, dirs: Iterable<string>): string | undefined {
  let best: string | undefined;
  for (const d of dirs) if (isPathUnder(file, d) && (best === undefined || d.length > best.length)) best = d;
  return best;
}

/** The name of the template a file is under a templates root (`a/b` for `a/b.hbs`); undefined for a file outside it or not named like a template. */
export function templateNameOfFile(templatesRoot: string, file: string): string | undefined {
  const rel = path.relative(templatesRoot, file);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  const ext = TEMPLATE_EXTENSIONS.find((x) => rel.endsWith(x));
  if (!ext) return undefined;
  return rel.slice(0, -ext.length).split(path.sep).join('/');
}

/** Where a workspace's files are: its two configuration files and its templates root. */
export interface WorkspaceFiles {
  serviceMappingsFile: string;
  compositionRulesFile: string;
  templatesRoot: string;
}

/** Whether a file is one of the workspace's: a configuration file, or a file below its templates root. */
export function isWorkspaceFile(ws: WorkspaceFiles, file: string): boolean {
  if (file === ws.serviceMappingsFile || file === ws.compositionRulesFile) return true;
  return file.startsWith(ws.templatesRoot) && file[ws.templatesRoot.length] === path.sep;
}
