/**
 * Test scaffolding for the workflow engine: compositions parsed from YAML text with the real
 * parser and model builder, a Handlebars host in strict mode, and an instrumented executor
 * whose steps take fake-clock time, so runs are deterministic and nothing sleeps.
 */
import assert from 'node:assert/strict';
import Handlebars from 'handlebars';
import { FakeClock, type Clock } from '../../../core/clock.js';
import { PromptError } from '../../../core/errors.js';
import { buildCompositionRules } from '../../../core/model/build.js';
import type { CompositionDef, CompositionRulesModel } from '../../../core/model/types.js';
import { parseYaml } from '../../../core/yaml/parse.js';
import { WorkflowEngine, type WorkflowEngineOptions } from '../../../core/workflow/engine.js';
import { ExecutorRegistry, type StepExecutionRequest, type StepExecutor } from '../../../core/workflow/executors.js';
import type { WorkflowEvent, WorkflowHost, WorkflowRun } from '../../../core/workflow/types.js';

export function loadRules(yaml: string): CompositionRulesModel {
  const parsed = parseYaml(yaml);
  if (parsed.errors.length || parsed.root === undefined) throw new Error(`bad test YAML: ${parsed.errors.map((e) => e.message).join('; ')}`);
  return buildCompositionRules('/ws/composition_rules.yaml', parsed.root);
}

export function composition(rules: CompositionRulesModel, name: string): CompositionDef {
  const c = rules.compositions.find((x) => x.name === name);
  if (!c) throw new Error(`no composition ${name}`);
  return c;
}

function toPromptError(e: unknown, template?: string): PromptError {
  const msg = (e as Error).message ?? String(e);
  const m = /"([^"]+)" not defined/.exec(msg);
  if (m) return new PromptError('missing_context', `missing variable "${m[1]}"`, { variable: m[1], template });
  return new PromptError('template_error', msg, { template });
}

/** Templates by name, rendered with Handlebars in strict mode as the real manager does. */
export class TestHost implements WorkflowHost {
  readonly rendered: { name: string; context: Record<string, unknown> }[] = [];
  private readonly compiled = new Map<string, HandlebarsTemplateDelegate>();
  constructor(private readonly templates: Record<string, string> = {}) {}

  private compile(src: string): HandlebarsTemplateDelegate {
    let t = this.compiled.get(src);
    if (!t) this.compiled.set(src, (t = Handlebars.compile(src, { strict: true, noEscape: true })));
    return t;
  }

  async renderTemplate(name: string, context: Record<string, unknown>, _opts: { signal: AbortSignal; serviceName?: string }): Promise<string> {
    this.rendered.push({ name, context });
    const src = this.templates[name];
    // Unknown templates render as their name: most tests only care about order and status.
    if (src === undefined) {
      if (name.startsWith('missing/')) throw new PromptError('unknown_template', `no template ${name}`, { template: name });
      return name;
    }
    try {
      return this.compile(src)(context);
    } catch (e) {
      throw toPromptError(e, name);
    }
  }

  renderString(source: string, context: Record<string, unknown>): string {
    try {
      return this.compile(source)(context);
    } catch (e) {
      throw toPromptError(e);
    }
  }
}

/** What one attempt of a step does. */
export interface Behaviour {
  /** Fake-clock milliseconds before it answers. Default 10. */
  delayMs?: number;
  output?: unknown;
  error?: PromptError;
  /** Keeps going after the abort (and answers late), like a client that ignores its signal. */
  ignoreAbort?: boolean;
}

export interface CallRecord {
  stepId: string;
  attempt: number;
  start: number;
  end?: number;
  outcome?: 'ok' | 'error' | 'aborted';
  prompt: string;
  context: Record<string, unknown>;
}

/**
 * An executor whose attempts take fake-clock time. Counts how many run at once (an attempt
 * that was aborted stops counting at the abort, when the engine stops waiting for it).
 */
export class ScriptedExecutor implements StepExecutor {
  readonly calls: CallRecord[] = [];
  active = 0;
  maxActive = 0;
  lateResults = 0;
  constructor(
    readonly clock: Clock,
    private readonly script: (stepId: string, attempt: number, req: StepExecutionRequest) => Behaviour = () => ({}),
    readonly name = 'render',
  ) {}

  execute(req: StepExecutionRequest): Promise<unknown> {
    const b = this.script(req.stepId, req.attempt, req);
    const rec: CallRecord = { stepId: req.stepId, attempt: req.attempt, start: this.clock.now(), prompt: req.prompt, context: req.context };
    this.calls.push(rec);
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    return new Promise((resolve, reject) => {
      let settled = false;
      const done = (outcome: CallRecord['outcome']) => {
        if (settled) return false;
        settled = true;
        this.active--;
        rec.end = this.clock.now();
        rec.outcome = outcome;
        return true;
      };
      const h = this.clock.setTimeout(() => {
        if (settled) {
          this.lateResults++;
          // A client that ignored the abort answers anyway; the engine must discard this.
          if (b.ignoreAbort) resolve(b.output !== undefined ? b.output : `late:${req.stepId}`);
          return;
        }
        if (b.error) {
          done('error');
          reject(b.error);
        } else {
          done('ok');
          resolve(b.output !== undefined ? b.output : `out:${req.stepId}`);
        }
      }, b.delayMs ?? 10);
      req.signal.addEventListener('abort', () => {
        if (b.ignoreAbort) {
          // Stops counting as running (the engine no longer waits for it) but still answers later.
          done('aborted');
          return;
        }
        this.clock.clearTimeout(h);
        if (done('aborted')) reject(req.signal.reason);
      });
    });
  }
}

export function makeEngine(opts: Partial<WorkflowEngineOptions> & { executor?: ScriptedExecutor; clock?: FakeClock; templates?: Record<string, string> } = {}) {
  const clock = opts.clock ?? new FakeClock();
  const executor = opts.executor ?? new ScriptedExecutor(clock);
  const host = opts.host ?? new TestHost(opts.templates);
  let n = 0;
  const executors = opts.executors ?? new ExecutorRegistry([executor]);
  const engine = new WorkflowEngine({ idGenerator: () => `run-${++n}`, ...opts, host, clock, executors });
  const events: WorkflowEvent[] = [];
  engine.on('progress', (e) => events.push(e));
  return { engine, clock, executor, host: host as TestHost, events };
}

/**
 * Lets real I/O (a local HTTP provider) happen while the fake clock stands still, until the run
 * ends; bounded, so a run that never ends fails the test instead of hanging it.
 */
export async function settle(clock: FakeClock, run: WorkflowRun, rounds = 2000) {
  let ended = false;
  void run.done.then(() => (ended = true));
  for (let i = 0; i < rounds && !ended; i++) {
    await clock.advance(0);
    await new Promise((r) => setTimeout(r, 1));
  }
  assert.ok(ended, 'the run did not end');
  return run.done;
}

/** The same until `cond` holds. */
export async function until(cond: () => boolean, clock: FakeClock, rounds = 2000) {
  for (let i = 0; i < rounds && !cond(); i++) {
    await clock.advance(0);
    await new Promise((r) => setTimeout(r, 1));
  }
  assert.ok(cond(), 'condition never held');
}

/** Fires fake timers until the run ends. */
export async function finish(clock: FakeClock, run: WorkflowRun) {
  let ended = false;
  void run.done.then(() => (ended = true));
  for (let i = 0; i < 10_000 && !ended; i++) {
    if (clock.pending === 0) await clock.advance(0);
    else await clock.runAll(1);
  }
  return run.done;
}

export function stepOf(status: { steps: { id: string }[] }, id: string) {
  const s = status.steps.find((x) => x.id === id);
  if (!s) throw new Error(`no step ${id}`);
  return s as import('../../../core/workflow/types.js').StepRunStatus;
}

/** Events as compact strings (`step.started a`, `step.finished a succeeded`). */
export function trace(events: WorkflowEvent[]): string[] {
  return events.map((e) => {
    switch (e.type) {
      case 'workflow.queued':
        return `workflow.queued ${e.position}`;
      case 'workflow.started':
        return 'workflow.started';
      case 'step.started':
        return `step.started ${e.stepId}`;
      case 'step.retrying':
        return `step.retrying ${e.stepId} ${e.attempt} ${e.waitMs}`;
      case 'step.finished':
        return `step.finished ${e.stepId} ${e.status}`;
      case 'workflow.finished':
        return `workflow.finished ${e.status}`;
    }
  });
}
