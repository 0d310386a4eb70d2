/**
 * The step executors of a test run. One engine serves every test of a run, so each executor
 * finds the test a call belongs to by its run id: the test's mocks (the core's mock executor,
 * one per run so that scripts start over), or, for a live test, the real executor of the
 * provider's type behind the response cache. Every call and every render records the step's
 * prompt, which `of: prompt` assertions read.
 */
import { PromptError, type ErrorCode } from '../errors.js';
import type { MockAnswerDef, PromptTestDef } from '../model/testTypes.js';
import { ExecutorRegistry, RENDER_EXECUTOR, type StepExecutionRequest, type StepExecutor } from '../workflow/executors.js';
import { createMockExecutor, mock, type MockAnswer, type MockExecutor, type MockScript } from '../workflow/mockExecutor.js';
import { OPENAI_COMPATIBLE, createOpenAICompatibleExecutor } from '../workflow/openaiCompatible.js';
import { markNonRetryable } from '../workflow/retry.js';
import type { ResponseCache } from '../workflow/responseCache.js';

/** One run of one test, as the executors see it. */
export interface TestRunState {
  test: PromptTestDef;
  /** 1 for the first repetition: the response cache keeps one answer per repetition. */
  repetition: number;
  mocks?: MockExecutor;
  live: boolean;
  /** The last rendered prompt of each step. */
  prompts: Map<string, string>;
}

function toAnswer(a: MockAnswerDef): MockAnswer {
  const timing = 'delayMs' in a && a.delayMs !== undefined ? { delayMs: a.delayMs } : {};
  switch (a.kind) {
    case 'reply':
      return mock.reply(a.output, timing);
    case 'status':
      return mock.fail(a.status, { ...timing, ...(a.message !== undefined ? { message: a.message } : {}), ...(a.retryAfterSeconds !== undefined ? { retryAfterMs: a.retryAfterSeconds * 1000 } : {}) });
    case 'error':
      return mock.error(a.code as ErrorCode, a.message ?? `the mock failed with ${a.code}`, { ...timing, ...(a.retryable !== undefined ? { retryable: a.retryable } : {}) });
    case 'down':
      return mock.down(timing);
    case 'hang':
      return mock.hang();
    case 'malformed':
      return mock.malformed(a.body, timing);
  }
}

/** A test's mocks as the core's mock executor: one script per mocked step. */
export function mocksOf(test: PromptTestDef): MockExecutor | undefined {
  const steps: Record<string, MockScript> = {};
  for (const m of test.mocks) if (m.answers.length) steps[m.step.name] = m.answers.map(toAnswer);
  return Object.keys(steps).length ? createMockExecutor({ steps }) : undefined;
}

export interface TestExecutorOptions {
  runs: ReadonlyMap<string, TestRunState>;
  /** Provider types the workspace uses (besides `openai-compatible`). */
  types: Iterable<string>;
  /** For live runs: the application's own executors, by type. */
  live?: { executors: ReadonlyMap<string, StepExecutor>; cache?: ResponseCache };
}

/** The executors of one test engine: `render` and one per provider type, each dispatching by run id. */
export function testExecutors(options: TestExecutorOptions): ExecutorRegistry {
  const { runs } = options;
  const reg = new ExecutorRegistry();
  reg.register({
    name: RENDER_EXECUTOR,
    execute: (req) => {
      runs.get(req.runId)?.prompts.set(req.stepId, req.prompt);
      return Promise.resolve(req.prompt);
    },
  });
  const liveByType = new Map<string, StepExecutor>();
  const liveFor = (type: string): StepExecutor | undefined => {
    let e = liveByType.get(type);
    if (e || !options.live) return e;
    const base = options.live.executors.get(type) ?? (type === OPENAI_COMPATIBLE ? createOpenAICompatibleExecutor() : undefined);
    if (!base) return undefined;
    e = options.live.cache ? options.live.cache.wrap(base, { sampleOf: (req) => (runs.get(req.runId)?.repetition ?? 1) - 1 }) : base;
    liveByType.set(type, e);
    return e;
  };
  for (const type of new Set([OPENAI_COMPATIBLE, ...options.types])) {
    reg.register({
      name: type,
      execute(req: StepExecutionRequest) {
        const st = runs.get(req.runId);
        st?.prompts.set(req.stepId, req.prompt);
        if (st?.mocks && st.test.mocks.some((m) => m.step.name === req.stepId)) return st.mocks.execute(req);
        const provider = req.provider ? `provider '${req.provider.name}'` : 'a provider';
        if (!st?.live) {
          return Promise.reject(
            markNonRetryable(
              new PromptError('provider_error', `step '${req.stepId}' would call ${provider}, and test '${st?.test.name ?? '?'}' gives no mock for it: add one under \`mocks:\`, or mark the test \`live: true\``, { step: req.stepId, composition: req.composition }),
            ),
          );
        }
        const live = liveFor(type);
        if (!live) {
          return Promise.reject(
            markNonRetryable(new PromptError('provider_error', `step '${req.stepId}' calls ${provider} of type '${type}', and this test run has no executor for it: pass your client in \`executors\` (runPromptTests), or mock the step`, { step: req.stepId, composition: req.composition })),
          );
        }
        return live.execute(req);
      },
    });
  }
  return reg;
}
