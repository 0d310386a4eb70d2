/**
 * One run of a prompt test, observed: a template rendered (as its service) or a composition
 * run on a test engine, with its statuses, errors, outputs and each step's rendered prompt;
 * and what an assertion reads of that (its target's text, status, error and attempts).
 */
import { PromptError, isPromptError } from '../errors.js';
import type { Clock } from '../clock.js';
import type { PromptManager } from '../manager/promptManager.js';
import type { AssertionDef, PromptTestDef } from '../model/testTypes.js';
import type { WorkflowResult } from '../workflow/types.js';
import type { TargetView } from './assertions.js';
import type { TestRunState } from './executors.js';
import { VirtualClock } from './virtualClock.js';

/** A run's time limit when the test sets none: 5 minutes. */
export const DEFAULT_TEST_TIMEOUT_MS = 300_000;

/** What one run of a test produced. */
export interface Observed {
  status: string;
  error?: { code: string; message: string };
  /** Render text, or the run's output. */
  output?: unknown;
  noOutput?: string;
  steps: Map<string, { status: string; attempts: number; output: unknown; prompt?: string; error?: { code: string; message: string }; skipReason?: string }>;
  /** Why the run never started, for steps' messages. */
  notStarted?: string;
}

export function errorInfo(e: unknown): { code: string; message: string } {
  if (isPromptError(e)) return { code: e.code, message: e.message };
  if (e && typeof e === 'object' && typeof (e as { code?: unknown }).code === 'string') return { code: String((e as { code: string }).code), message: String((e as { message?: unknown }).message ?? '') };
  return { code: 'template_error', message: (e as Error)?.message ?? String(e) };
}

function asText(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  return typeof v === 'string' ? v : JSON.stringify(v, null, 2);
}

export function renderOnce(manager: PromptManager, t: PromptTestDef, context: Record<string, unknown>, serviceName: string | undefined): Observed {
  const name = t.template!.name;
  try {
    const r = manager.renderSync(name, context, serviceName ? { serviceName } : {});
    const o: Observed = { status: r.template === name ? 'succeeded' : 'fallback', output: r.text, steps: new Map() };
    if (r.fallbackFor) o.error = { code: r.fallbackFor.code, message: `${r.fallbackFor.message} (the service's fallback template '${r.template}' answered)` };
    return o;
  } catch (e) {
    return { status: 'failed', error: errorInfo(e), noOutput: 'the render failed', steps: new Map() };
  }
}

export async function compositionOnce(
  manager: PromptManager,
  t: PromptTestDef,
  context: Record<string, unknown>,
  serviceName: string | undefined,
  runId: string,
  state: TestRunState,
  signal: AbortSignal | undefined,
): Promise<Observed> {
  const clock: Clock = manager.clock;
  const ac = new AbortController();
  const onAbort = () => ac.abort(new PromptError('cancelled', 'the test run was cancelled'));
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  const timeoutMs = t.timeoutMs ?? DEFAULT_TEST_TIMEOUT_MS;
  let timedOut = false;
  const timer = clock.setTimeout(() => {
    timedOut = true;
    ac.abort(new PromptError('timeout', `the test's timeout_ms passed`));
  }, timeoutMs);
  let result: WorkflowResult;
  try {
    const run = await manager.startWorkflow(t.composition!.name, context, { workflowId: runId, signal: ac.signal, ...(serviceName ? { serviceName } : {}) });
    result = await run.done;
  } catch (e) {
    const error = errorInfo(e);
    return { status: 'failed', error, noOutput: 'the run did not start', notStarted: `the run did not start: [${error.code}] ${error.message}`, steps: new Map() };
  } finally {
    clock.clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
  const steps: Observed['steps'] = new Map();
  for (const s of result.steps) {
    const last = s.errors[s.errors.length - 1] as { code?: unknown; message?: unknown } | undefined;
    const step: Observed['steps'] extends Map<string, infer V> ? V : never = { status: s.status, attempts: s.attempts, output: s.output };
    const prompt = state.prompts.get(s.id);
    if (prompt !== undefined) step.prompt = prompt;
    if (last && typeof last.code === 'string') step.error = { code: last.code, message: String(last.message ?? '') };
    if (s.skipReason) step.skipReason = s.skipReason;
    steps.set(s.id, step);
  }
  const o: Observed = { status: result.status, output: result.output, steps };
  if (result.output === null) o.noOutput = `the run ended '${result.status}' without an output`;
  if (timedOut) o.error = { code: 'timeout', message: `the test did not finish within its timeout_ms (${timeoutMs} ms${manager.clock instanceof VirtualClock ? ' of virtual time' : ''}): the run was cancelled` };
  else if (result.error && typeof result.error.code === 'string') o.error = { code: result.error.code, message: String(result.error.message ?? '') };
  else if (result.status !== 'succeeded') {
    const failed = [...steps.entries()].find(([, s]) => s.status === 'failed' && s.error);
    if (failed) o.error = { ...failed[1].error!, message: `step '${failed[0]}': ${failed[1].error!.message}` };
  }
  return o;
}

/** What an assertion reads of what a run produced. */
export function viewOf(t: PromptTestDef, a: AssertionDef, o: Observed): TargetView {
  if (!a.step) {
    const isRender = !!t.template && !t.composition;
    const v: TargetView = { what: isRender ? 'the rendered text' : "the run's output", status: o.status };
    if (o.error) v.error = o.error;
    const text = asText(o.output);
    if (text !== undefined) {
      v.text = text;
      v.value = o.output;
    } else v.noText = o.noOutput ?? 'there is none';
    return v;
  }
  const id = a.step.name;
  const s = o.steps.get(id);
  const what = `step '${id}'${a.kind === 'status' || a.kind === 'error' || a.kind === 'attempts' ? '' : a.of === 'prompt' ? "'s prompt" : "'s output"}`;
  if (!s) return { what, noText: o.notStarted ?? `the run has no step '${id}'` };
  const v: TargetView = { what, status: s.status, attempts: s.attempts };
  if (s.error) v.error = s.error;
  if (a.of === 'prompt') {
    if (s.prompt !== undefined) v.text = s.prompt;
    else v.noText = `it was never rendered (it ended '${s.status}'${s.skipReason ? `, skipped by ${s.skipReason}` : ''})`;
    return v;
  }
  const text = asText(s.output);
  if (text !== undefined) {
    v.text = text;
    v.value = s.output;
  } else v.noText = `it has no output (it ended '${s.status}'${s.skipReason ? `, skipped by ${s.skipReason}` : ''})`;
  return v;
}
