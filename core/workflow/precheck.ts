/**
 * What a run checks before any step starts (the same checks for the in-process runner and the
 * distributed back end): the graph has no cycle and names no unknown step, `max_parallel` and
 * the durations are in bounds, every step has a template and an executor, provider steps are
 * allowed (trust) and point at an http(s) provider, and the required inputs are there.
 */
import { PromptError } from '../errors.js';
import type { ProviderDef } from '../model/types.js';
import { compositionBoundsProblem, providerBoundsProblem } from './bounds.js';
import { buildStepGraph, topologicalOrder, type GraphProblem, type StepGraph } from './dag.js';
import { RENDER_EXECUTOR, type ExecutorRegistry, type StepExecutor } from './executors.js';
import { missingInputs } from './stepContext.js';
import type { ResolvedComposition } from './types.js';

interface GraphAnalysis {
  graph: StepGraph;
  problems: GraphProblem[];
  order?: number[];
}
/** The step graph of a resolved composition, kept while the composition object lives: a caller that runs the same resolved composition again skips the analysis. */
const analyses = new WeakMap<ResolvedComposition, GraphAnalysis>();
export function analyseGraph(c: ResolvedComposition): GraphAnalysis {
  let a = analyses.get(c);
  if (!a) {
    const { graph, problems } = buildStepGraph(c.steps);
    a = { graph, problems };
    if (!problems.length) a.order = topologicalOrder(graph)!;
    analyses.set(c, a);
  }
  return a;
}

/** Undefined when the provider has no base_url or an http(s) one; else what is wrong with it. */
function providerScheme(p: ProviderDef): string | undefined {
  if (p.baseUrl === undefined || p.baseUrl === null) return undefined;
  let url: URL;
  try {
    url = new URL(String(p.baseUrl));
  } catch {
    return 'not a URL';
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? undefined : url.protocol;
}

export interface PrecheckDeps {
  executors: ExecutorRegistry;
  providers: ReadonlyMap<string, ProviderDef>;
  trusted: boolean;
}

export interface RunPlan {
  graph: StepGraph;
  /** A topological order of the steps. */
  order: number[];
  /** Per step (declaration order): its executor and provider; undefined for a step skipped by an override. */
  executors: (StepExecutor | undefined)[];
  providers: (ProviderDef | undefined)[];
}

/** The run's plan, or why it cannot start (the run then ends `failed` with that error and no step runs). */
export function precheckRun(c: ResolvedComposition, maxParallel: number, context: Record<string, unknown>, deps: PrecheckDeps): RunPlan | { refusal: PromptError } {
  const details = { composition: c.name };
  const refuse = (refusal: PromptError) => ({ refusal });
  const { graph, problems, order } = analyseGraph(c);
  if (problems.length) return refuse(new PromptError('invalid_configuration', `composition "${c.name}" cannot run: ${problems.map((p) => p.message).join('; ')}`, details));
  if (!(maxParallel === Infinity || (Number.isInteger(maxParallel) && maxParallel >= 1))) {
    return refuse(new PromptError('invalid_configuration', `composition "${c.name}": max_parallel must be a whole number from 1 up, not ${maxParallel}`, details));
  }
  // The schema bounds these in YAML; a composition built in code must not overflow a timer or retry without end either.
  const bounds = compositionBoundsProblem(c);
  if (bounds) return refuse(new PromptError('invalid_configuration', `composition "${c.name}" cannot run: ${bounds}`, details));
  const executors: (StepExecutor | undefined)[] = [];
  const providers: (ProviderDef | undefined)[] = [];
  for (const d of c.steps) {
    executors.push(undefined);
    providers.push(undefined);
    if (d.skip) continue;
    const at = executors.length - 1;
    if (d.template === undefined) return refuse(new PromptError('invalid_configuration', `step "${d.id}" of composition "${c.name}" has no template`, { ...details, step: d.id }));
    if (d.model === undefined) {
      executors[at] = deps.executors.get(RENDER_EXECUTOR);
      if (!executors[at]) return refuse(new PromptError('invalid_configuration', `no "${RENDER_EXECUTOR}" executor is registered`, details));
      continue;
    }
    if (!deps.trusted) {
      // An untrusted workspace's YAML must not send prompts (and the context in them) to an address it chose.
      return refuse(new PromptError('access_denied', `step "${d.id}" sends its prompt to the provider "${d.model}", which an untrusted workspace may not do`, { ...details, step: d.id }));
    }
    const p = deps.providers.get(d.model);
    if (!p) return refuse(new PromptError('invalid_configuration', `step "${d.id}" names the model "${d.model}", which is not among the providers`, { ...details, step: d.id }));
    // Whatever executor serves the provider, its address must be http or https: the schema
    // says so, and a provider override or a hand-built model must not get around it.
    const scheme = providerScheme(p);
    if (scheme !== undefined) {
      return refuse(new PromptError('invalid_configuration', `provider "${p.name}" has a base_url that is not http or https (${scheme}); the engine sends prompts only over http and https`, { ...details, step: d.id }));
    }
    const pb = providerBoundsProblem(p);
    if (pb) return refuse(new PromptError('invalid_configuration', `composition "${c.name}" cannot run: ${pb}`, { ...details, step: d.id }));
    providers[at] = p;
    executors[at] = deps.executors.get(p.type);
    if (!executors[at]) {
      return refuse(
        new PromptError(
          'invalid_configuration',
          `provider "${p.name}" (step "${d.id}") has the type "${p.type}", and no executor of that name is registered (registered: ${deps.executors.names().join(', ')}); register your client under that name: workflow: { executors: [{ name: '${p.type}', execute }] }`,
          { ...details, step: d.id },
        ),
      );
    }
  }
  const missing = missingInputs(c, context);
  if (missing) return refuse(missing);
  return { graph, order: order!, executors, providers };
}
