/**
 * `promptmanager worker`: a worker of the BullMQ back end. It loads the prompt workspace (hot
 * reload on) and executes the steps of distributed runs until SIGTERM or SIGINT; then it takes
 * no new job, lets the running ones finish (up to --grace-ms), and leaves whatever is still
 * running to another worker (BullMQ's stalled-job recovery) rather than losing it.
 */
import { backendFromEnv, redactRedisUrl, REDIS_URL_ENV } from '../core/distributed/connection.js';
import { createWorkflowWorker, type WorkflowWorker, type WorkflowWorkerOptions } from '../core/manager/workflowWorker.js';
import { PromptError } from '../core/errors.js';
import { parseArgs, UsageError } from './args.js';
import type { CommandIO } from './validateCommand.js';
import { pickWorkspace } from './workspaceArg.js';

export interface WorkerIO extends CommandIO {
  /** Resolves when the process is asked to stop (SIGTERM, SIGINT); tests pass their own. */
  stopSignal?: Promise<string>;
  env?: (name: string) => string | undefined;
}

function whole(flag: string, v: string | boolean | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${flag} must be an integer of at least ${min}, got '${String(v)}'`);
  return n;
}

type OnJob = NonNullable<WorkflowWorkerOptions['onJob']>;

const OUTCOMES: Record<Parameters<OnJob>[1], string> = {
  done: 'done',
  duplicate: 'was done already (a repeated job)',
  ended: 'stopped: its run has ended (cancelled or timed out)',
  busy: 'waits: its provider is at its limit',
  requeued: "went back to its provider's queue after a 429",
  retry: 'failed this attempt: retried later',
};

/**
 * `--log-jobs`: one stderr line per job this worker finished, naming the run, its composition
 * and the step (from the run's spec in Redis, read once per run), so that an operator sees what
 * ran where. Lines go out in the order the jobs finished.
 */
function jobLogger(worker: () => WorkflowWorker | undefined, write: (line: string) => void): { onJob: OnJob; flushed(): Promise<void> } {
  const runs = new Map<string, Promise<{ composition: string; steps: string[] } | undefined>>();
  let last: Promise<void> = Promise.resolve();
  const onJob: OnJob = (kind, outcome, job) => {
    let names = runs.get(job.runId);
    if (!names) {
      const w = worker();
      names = w ? w.runSteps(job.runId).catch(() => undefined) : Promise.resolve(undefined);
      // (A job done while the worker was starting names its step by number, and the next one retries.)
      if (w) runs.set(job.runId, names);
      // The runs of a long-lived worker: keep the latest few hundred.
      if (runs.size > 256) runs.delete(runs.keys().next().value!);
    }
    const pending = names;
    last = last.then(async () => {
      const n = await pending;
      const run = `run ${job.runId}${n ? ` (${n.composition})` : ''}`;
      if (kind === 'start') write(`${run}: started`);
      else if (kind === 'timeout') write(`${run}: its deadline passed`);
      else write(`${run}: step ${(job.step !== undefined && n?.steps[job.step]) || `#${job.step ?? '?'}`} ${OUTCOMES[outcome]}`);
    });
  };
  return { onJob, flushed: () => last };
}

function signals(): { stop: Promise<string>; dispose(): void } {
  let dispose = () => undefined as void;
  const stop = new Promise<string>((resolve) => {
    const on = (s: NodeJS.Signals) => () => resolve(s);
    const term = on('SIGTERM');
    const int = on('SIGINT');
    process.once('SIGTERM', term);
    process.once('SIGINT', int);
    dispose = () => {
      process.removeListener('SIGTERM', term);
      process.removeListener('SIGINT', int);
    };
  });
  return { stop, dispose: () => dispose() };
}

export async function workerCommand(argv: string[], io: WorkerIO): Promise<number> {
  const args = parseArgs(argv, new Set(['log-jobs']), new Set(['dir', 'redis', 'concurrency', 'prefix', 'grace-ms', 'eager-steps']));
  if (args.positionals.length) throw new UsageError(`unexpected argument '${args.positionals[0]}'`);
  const env = io.env ?? ((n: string) => process.env[n]);
  const url = (args.flags.get('redis') as string | undefined) ?? backendFromEnv(env)?.connection.url;
  if (!url) throw new UsageError(`say where Redis is: --redis redis://HOST:PORT, or set ${REDIS_URL_ENV}`);
  const concurrency = whole('concurrency', args.flags.get('concurrency'), 1) ?? 4;
  const graceMs = whole('grace-ms', args.flags.get('grace-ms'), 0) ?? 30_000;
  const eagerSteps = whole('eager-steps', args.flags.get('eager-steps'), 0);
  const prefix = args.flags.get('prefix') as string | undefined;
  const root = pickWorkspace(args.flags.get('dir') as string | undefined, io.cwd);
  const sig = io.stopSignal ? undefined : signals();
  let started: WorkflowWorker | undefined;
  const log = args.flags.has('log-jobs') ? jobLogger(() => started, (line) => io.stderr(`promptmanager worker: ${line}\n`)) : undefined;
  let worker: WorkflowWorker;
  try {
    worker = started = await createWorkflowWorker({ root, connection: { url }, concurrency, ...(prefix ? { prefix } : {}), ...(eagerSteps !== undefined ? { eagerSteps } : {}), ...(log ? { onJob: log.onJob } : {}) });
  } catch (e) {
    sig?.dispose();
    io.stderr(`promptmanager worker: ${e instanceof PromptError ? `[${e.code}] ` : ''}${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  worker.manager.events.on('configReloaded', () => io.stderr(`promptmanager worker: configuration reloaded, now serving ${worker.pin}\n`));
  io.stderr(`promptmanager worker: serving ${root} (configuration ${worker.pin}) from ${redactRedisUrl(url)}, ${concurrency} job${concurrency === 1 ? '' : 's'} at a time per queue; stop with SIGTERM or Ctrl-C\n`);
  const counter = setInterval(() => undefined, 1 << 30); // keeps the process alive while it waits for jobs
  const signal = await (io.stopSignal ?? sig!.stop);
  clearInterval(counter);
  sig?.dispose();
  io.stderr(`promptmanager worker: ${signal}: finishing ${worker.active} running job${worker.active === 1 ? '' : 's'} (up to ${graceMs} ms, then they go to other workers)\n`);
  await worker.close(graceMs);
  await log?.flushed();
  io.stderr('promptmanager worker: stopped\n');
  return 0;
}
