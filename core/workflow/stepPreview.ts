/**
 * One step of a composition rendered as a run would render it, without running anything: the
 * composition resolved for the context (resolve.ts: defaults, the composition, the `state` and
 * `user_experience_level` overrides), the step's context built by the run's own rule
 * (stepContext.ts), and, for `steps.<id>`, what each step it depends on left in the last run of
 * the composition, or a visible placeholder where there is none. Nothing is sent to a provider:
 * the result is the step's prompt.
 *
 * The render is strict first (what the run would do: a missing variable fails the step with
 * `missing_context`); when that fails for a missing variable, it is rendered again leniently
 * (core/templates/missingVariables.ts) so that the whole prompt shows, each missing value
 * marked, with the strict error beside it.
 */
import { PromptError, toPromptError } from '../errors.js';
import type { CompositionDef, RunDefaults } from '../model/types.js';
import { MissingVariables } from '../templates/missingVariables.js';
import { reachableFrom } from './dag.js';
import { resolveComposition } from './resolve.js';
import { missingInputs, stepContext, stepView, type StepView } from './stepContext.js';
import type { ResolvedStep, WorkflowStatus } from './types.js';
import { evaluateWhen } from './when.js';

/** The template side the preview renders with (the manager's engine, on one configuration). */
export interface StepPreviewHost {
  /** Renders a template as a run's step would (throws its PromptError); with `lenient`, markers where values are missing. */
  renderTemplate(name: string, context: Record<string, unknown>, lenient?: MissingVariables): string;
  /** Renders a `context:` value (inline Handlebars); with `lenient`, markers where values are missing. */
  renderString(source: string, context: Record<string, unknown>, lenient?: MissingVariables): string;
}

/** Where a dependency's `steps.<id>` came from. */
export interface DependencyInput {
  step: string;
  /** `run`: the last run's output; `placeholder`: a marker, for `reason`. */
  source: 'run' | 'placeholder';
  /** The run it came from (or whose lack of output made the placeholder). */
  runId?: string;
  /** The step's status in that run. */
  status?: string;
  /** Why there is a placeholder: `not run yet`, `no output in run r-2 (failed)`... */
  reason?: string;
}

export interface StepPreviewInput {
  composition: CompositionDef;
  defaults: RunDefaults;
  step: string;
  /** The run's inputs (the chosen context). */
  context: Record<string, unknown>;
  /** The last run of the composition, when there is one: its steps' outputs stand in for `steps.<id>`. */
  lastRun?: WorkflowStatus;
}

export interface StepPreview {
  composition: string;
  step: string;
  /** The template the run would render for this step (its overrides applied). */
  template: string;
  /** The prompt; where the context lacks a value, its marker (`⟨max_words⟩`). */
  text: string;
  /** The variables shown as markers, in the order met; empty when the strict render succeeded. */
  missing: string[];
  /** What the run would do: undefined when it would render this prompt; else its error (missing_context naming the variable, or a required input). */
  strictError?: PromptError;
  /** The steps it depends on (transitively), in declaration order, and where each `steps.<id>` came from. */
  dependencies: DependencyInput[];
  appliedOverrides: { state?: string; experienceLevel?: string };
  /** The run would skip this step: an override says `skip`, or its `when` is false with this context. */
  skip?: 'override' | 'when';
  /** The provider the run would send this prompt to. */
  model?: string;
}

/** The placeholder of a dependency's output. */
export function placeholderOutput(step: string, reason: string): string {
  return `⟨steps.${step}.output: ${reason}⟩`;
}

/** Renders one step as the run would; throws what stops it: an unknown step or one without a template (`invalid_configuration`), an error of the render other than a missing value. */
export function previewStep(input: StepPreviewInput, host: StepPreviewHost): StepPreview {
  const { composition: def, step: stepId } = input;
  const resolved = resolveComposition(def, input.defaults, input.context);
  const step = resolved.steps.find((s) => s.id === stepId);
  if (!step) {
    throw new PromptError('invalid_configuration', `composition "${def.name}" has no step "${stepId}" (steps: ${resolved.steps.map((s) => s.id).join(', ') || 'none'})`, { composition: def.name, step: stepId });
  }
  if (step.template === undefined) throw new PromptError('invalid_configuration', `step "${stepId}" of composition "${def.name}" has no template`, { composition: def.name, step: stepId });

  const { view, dependencies } = dependencyView(resolved.steps, step, input.lastRun);
  const out: StepPreview = { composition: def.name, step: stepId, template: step.template, text: '', missing: [], dependencies, appliedOverrides: resolved.appliedOverrides };
  if (step.model !== undefined) out.model = step.model;
  if (step.skip) out.skip = 'override';
  else if (step.when && !evaluateWhen(step.when, { ...input.context, steps: view })) out.skip = 'when';

  let strictError = missingInputs(resolved, input.context);
  if (!strictError) {
    try {
      out.text = host.renderTemplate(step.template, stepContext(input.context, view, step.context, (s, base) => host.renderString(s, base)));
      return out;
    } catch (e) {
      strictError = toPromptError(e, 'template_error', { composition: def.name, step: stepId });
    }
  }
  out.strictError = strictError;
  // Only a missing value can be shown past: any other error is the answer.
  if (strictError.code !== 'missing_context') throw strictError;
  const lenient = new MissingVariables();
  const ctx = stepContext(input.context, view, step.context, (s, base) => host.renderString(s, base, lenient));
  out.text = host.renderTemplate(step.template, ctx, lenient);
  out.missing = lenient.paths;
  return out;
}

/** `steps` as the step would see it: its dependencies, transitively, from the last run or as placeholders. */
function dependencyView(steps: readonly ResolvedStep[], step: ResolvedStep, lastRun: WorkflowStatus | undefined): { view: Record<string, StepView>; dependencies: DependencyInput[] } {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const ancestors = reachableFrom(step.id, (id) => byId.get(id)?.dependsOn);
  // Null prototype, as the run's: step ids are plain keys.
  const view = Object.create(null) as Record<string, StepView>;
  const dependencies: DependencyInput[] = [];
  for (const s of steps) {
    if (!ancestors.has(s.id) || s.id === step.id) continue;
    const ran = lastRun?.steps.find((r) => r.id === s.id);
    const hasOutput = ran && (ran.status === 'succeeded' || ran.status === 'fallback') && ran.output !== null && ran.output !== undefined && !lastRun!.outputsDropped;
    if (ran && hasOutput) {
      view[s.id] = stepView(ran.output, ran.status, ran.attempts, ran.durationMs ?? 0);
      dependencies.push({ step: s.id, source: 'run', runId: lastRun!.id, status: ran.status });
      continue;
    }
    let reason = 'not run yet';
    if (lastRun && ran) reason = lastRun.outputsDropped ? `the outputs of run ${lastRun.id} are no longer kept` : `no output in run ${lastRun.id} (${ran.status}${ran.skipReason ? `: ${ran.skipReason}` : ''})`;
    view[s.id] = stepView(placeholderOutput(s.id, reason), ran?.status ?? 'pending', ran?.attempts ?? 0, ran?.durationMs ?? 0);
    const dep: DependencyInput = { step: s.id, source: 'placeholder', reason };
    if (lastRun && ran) {
      dep.runId = lastRun.id;
      dep.status = ran.status;
    }
    dependencies.push(dep);
  }
  return { view, dependencies };
}
