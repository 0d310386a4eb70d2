/**
 * The workflow back ends as the shared run-semantics suite (runSemantics.test.ts) drives them:
 * the same composition, templates and scripted executor, through the same PromptManager API,
 * on the in-process engine (the fake clock: deterministic, nothing sleeps) and on the BullMQ
 * back end (a redis-server of the suite's own, a worker in this process, the real clock with
 * step delays scaled up so that the orders the tests read do not depend on a loaded machine).
 */
import { systemClock, FakeClock, type Clock } from '../../../core/clock.js';
import { memoryFileSystem } from '../../../core/workspace/fileSystem.js';
import { PromptManager } from '../../../core/manager/promptManager.js';
import { createWorkflowWorker, type WorkflowWorker } from '../../../core/manager/workflowWorker.js';
import type { ExecuteWorkflowOptions } from '../../../core/manager/promptManager.js';
import type { WorkflowEvent, WorkflowResult, WorkflowRun, WorkflowStatus } from '../../../core/workflow/types.js';
import { ScriptedExecutor, type Behaviour } from './helpers.js';
import type { StepExecutionRequest } from '../../../core/workflow/executors.js';
import { redisMissingReason, startRedis, type TestRedis } from '../../helpers/redisServer.js';

export interface Setup {
  yaml: string;
  /** Template texts by name; a template the YAML names and this does not give renders as its name. */
  templates?: Record<string, string>;
  script?: (stepId: string, attempt: number, req: StepExecutionRequest) => Behaviour;
  trusted?: boolean;
  /** The manager's cap on any run's max_parallel. */
  maxParallel?: number;
}

export interface Env {
  readonly backend: 'in-process' | 'bullmq';
  manager: PromptManager;
  executor: ScriptedExecutor;
  /** Every event through the manager's emitter. */
  events: WorkflowEvent[];
  start(composition: string, context?: Record<string, unknown>, options?: ExecuteWorkflowOptions): Promise<WorkflowRun>;
  /** Drives the run to its end (fake timers in-process, real time on BullMQ) and returns its result. */
  finish(run: WorkflowRun): Promise<WorkflowResult>;
  /** Lets time pass until `ready()` holds. */
  until(ready: () => boolean, what: string): Promise<void>;
  /** Lets this many (unscaled) milliseconds pass. */
  wait(ms: number): Promise<void>;
  status(id: string): Promise<WorkflowStatus | undefined>;
  close(): Promise<void>;
}

export interface Harness {
  readonly name: 'in-process' | 'bullmq';
  /** Why it cannot run on this machine (printed, and the suite is skipped with it); undefined when it can. */
  readonly unavailable?: string;
  /** Executor delays are multiplied by it. */
  readonly scale: number;
  before(): Promise<void>;
  after(): Promise<void>;
  open(setup: Setup): Promise<Env>;
}

/** The workspace files of a setup: composition_rules.yaml and a template for each name it uses. */
export function workspaceFiles(setup: Setup): Record<string, string> {
  const files: Record<string, string> = { '/ws/composition_rules.yaml': setup.yaml };
  const names = new Set<string>();
  for (const m of setup.yaml.matchAll(/template: ([A-Za-z0-9_./-]+)/g)) names.add(m[1]!);
  for (const n of names) if (!n.startsWith('missing/')) files[`/ws/templates/${n}.hbs`] = n;
  for (const [n, text] of Object.entries(setup.templates ?? {})) files[`/ws/templates/${n}.hbs`] = text;
  return files;
}

function scaled(script: Setup['script'], scale: number): NonNullable<Setup['script']> {
  return (id, attempt, req) => {
    const b = script ? script(id, attempt, req) : {};
    return { ...b, delayMs: (b.delayMs ?? 10) * scale };
  };
}

const timeoutMs = 30_000;

export function inProcess(): Harness {
  return {
    name: 'in-process',
    scale: 1,
    before: async () => undefined,
    after: async () => undefined,
    async open(setup) {
      const clock = new FakeClock();
      const executor = new ScriptedExecutor(clock, scaled(setup.script, 1));
      const manager = await PromptManager.create({
        root: '/ws',
        fs: memoryFileSystem(workspaceFiles(setup)),
        environment: 'testing',
        watch: false,
        clock,
        workflow: { executors: [executor], ...(setup.trusted !== undefined ? { trusted: setup.trusted } : {}), ...(setup.maxParallel !== undefined ? { maxParallel: setup.maxParallel } : {}) },
      });
      const events: WorkflowEvent[] = [];
      manager.events.on('workflow.progress', (e: WorkflowEvent) => events.push(e));
      const until = async (ready: () => boolean, what: string) => {
        for (let i = 0; i < 100_000; i++) {
          if (ready()) return;
          if (clock.pending === 0) await clock.advance(0);
          else await clock.runAll(1);
        }
        throw new Error(`never: ${what}`);
      };
      return {
        backend: 'in-process',
        manager,
        executor,
        events,
        start: (c, ctx = {}, o = {}) => manager.startWorkflow(c, ctx, o),
        async finish(run) {
          let ended = false;
          void run.done.then(() => (ended = true));
          await until(() => ended, `run ${run.id} ends`);
          return run.done;
        },
        until,
        wait: (ms) => clock.advance(ms),
        status: (id) => manager.getWorkflowStatus(id),
        close: () => manager.close(),
      };
    },
  };
}

export function bullmq(): Harness {
  const unavailable = redisMissingReason();
  let redis: TestRedis | undefined;
  let n = 0;
  const h: Harness = {
    name: 'bullmq',
    scale: 12,
    ...(unavailable ? { unavailable } : {}),
    async before() {
      if (!unavailable) redis = await startRedis();
    },
    async after() {
      await redis?.stop();
    },
    async open(setup) {
      const url = redis!.url;
      const prefix = `t${++n}`;
      const clock: Clock = systemClock;
      const executor = new ScriptedExecutor(clock as FakeClock, scaled(setup.script, h.scale));
      const files = workspaceFiles(setup);
      const common = { root: '/ws', environment: 'testing' as const, watch: false };
      const workerManager = await PromptManager.create({ ...common, fs: memoryFileSystem(files) });
      const worker: WorkflowWorker = await createWorkflowWorker({ manager: workerManager, connection: { url }, prefix, concurrency: 8, executors: [executor], stalledIntervalMs: 1000, lockDurationMs: 2000 });
      const manager = await PromptManager.create({
        ...common,
        fs: memoryFileSystem(files),
        workflow: {
          backend: { type: 'bullmq', connection: { url }, prefix },
          executors: [executor],
          ...(setup.trusted !== undefined ? { trusted: setup.trusted } : {}),
          ...(setup.maxParallel !== undefined ? { maxParallel: setup.maxParallel } : {}),
        },
      });
      const events: WorkflowEvent[] = [];
      manager.events.on('workflow.progress', (e: WorkflowEvent) => events.push(e));
      const until = async (ready: () => boolean, what: string) => {
        const end = Date.now() + timeoutMs;
        while (!ready()) {
          if (Date.now() > end) throw new Error(`not within ${timeoutMs} ms: ${what}`);
          await new Promise((r) => setTimeout(r, 2));
        }
      };
      return {
        backend: 'bullmq',
        manager,
        executor,
        events,
        start: (c, ctx = {}, o = {}) => manager.startWorkflow(c, ctx, o),
        async finish(run) {
          let ended = false;
          void run.done.then(() => (ended = true));
          await until(() => ended, `run ${run.id} ends`);
          // The manager's emitter has every event of the run by the time done resolves.
          return run.done;
        },
        until,
        wait: (ms) => new Promise((r) => setTimeout(r, ms * h.scale)),
        status: (id) => manager.getWorkflowStatus(id),
        async close() {
          await manager.close();
          await worker.close(5000);
        },
      };
    },
  };
  return h;
}

export const HARNESSES: (() => Harness)[] = [inProcess, bullmq];
