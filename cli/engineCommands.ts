/** `render`, `run` and `graph`: the engine from a terminal, on one prompt workspace. */
import { PromptManager } from '../core/manager/promptManager.js';
import { PromptError } from '../core/errors.js';
import { backendFromEnv, redactRedisUrl } from '../core/distributed/connection.js';
import { buildGraph, toDot, toMermaid } from '../core/workflow/graph.js';
import type { WorkflowResult } from '../core/workflow/types.js';
import { parseArgs, UsageError } from './args.js';
import { ProgressView } from './progress.js';
import type { CommandIO } from './validateCommand.js';
import { pickWorkspace, readContext, readStdin } from './workspaceArg.js';

export interface EngineIO extends CommandIO {
  stdin?: () => Promise<string>;
}

/**
 * The workspace's manager. Runs go to the BullMQ back end when a Redis URL is given (`--redis`,
 * else PROMPTMANAGER_REDIS_URL); renders and graphs never need it. `responseCache`: runs use
 * the response cache (on disk, or in that Redis when runs are distributed).
 */
async function openManager(dir: string | undefined, io: CommandIO, options: { runs?: boolean; redis?: string; responseCache?: boolean } = {}): Promise<PromptManager> {
  const root = pickWorkspace(dir, io.cwd);
  const url = options.runs ? (options.redis ?? backendFromEnv()?.connection.url) : undefined;
  const workflow = {
    ...(url ? { backend: { type: 'bullmq' as const, connection: { url } } } : {}),
    ...(options.responseCache ? { responseCache: true } : {}),
  };
  return PromptManager.create({ root, environment: 'production', watch: false, ...(Object.keys(workflow).length ? { workflow } : {}) });
}

function describeError(e: unknown): string {
  if (e instanceof PromptError) {
    const loc = e.location?.file ? ` (${e.location.file}${e.location.line ? `:${e.location.line}${e.location.column ? `:${e.location.column}` : ''}` : ''})` : '';
    return `[${e.code}] ${e.message}${loc}`;
  }
  return (e as Error).message ?? String(e);
}

export async function renderCommand(argv: string[], io: EngineIO): Promise<number> {
  const args = parseArgs(argv, new Set(['json']), new Set(['context', 'service', 'dir']));
  const [template] = args.positionals;
  if (!template || args.positionals.length > 1) throw new UsageError('give exactly one TEMPLATE name (for example analysis/summary)');
  const context = await readContext(args.flags.get('context') as string | undefined, io.cwd, io.stdin ?? readStdin);
  const manager = await openManager(args.flags.get('dir') as string | undefined, io);
  try {
    const service = args.flags.get('service') as string | undefined;
    const r = await manager.render(template, context, service ? { serviceName: service } : {});
    if (args.flags.get('json')) io.stdout(JSON.stringify(r, null, 2) + '\n');
    else {
      io.stdout(r.text.endsWith('\n') ? r.text : r.text + '\n');
      io.stderr(`rendered ${r.template}${r.template !== template ? ` (fallback for ${template})` : ''} in ${r.durationMs.toFixed(2)} ms${r.fromCache ? ' from cache' : ''}\n`);
    }
    return 0;
  } catch (e) {
    io.stderr(`promptmanager render: ${describeError(e)}\n`);
    return 1;
  } finally {
    await manager.close();
  }
}

/** Exit codes of `run`: what CI scripts branch on. */
export function runExitCode(status: WorkflowResult['status']): number {
  return status === 'succeeded' ? 0 : status === 'partial' ? 2 : 1;
}

export async function runCommand(argv: string[], io: EngineIO): Promise<number> {
  const args = parseArgs(argv, new Set(['json', 'response-cache']), new Set(['context', 'service', 'dir', 'max-parallel', 'id', 'redis']));
  const [composition] = args.positionals;
  if (!composition || args.positionals.length > 1) throw new UsageError('give exactly one COMPOSITION name');
  const mp = args.flags.get('max-parallel');
  const maxParallel = mp === undefined ? undefined : Number(mp);
  if (maxParallel !== undefined && (!Number.isInteger(maxParallel) || maxParallel < 1)) throw new UsageError(`--max-parallel must be an integer of at least 1, got '${mp}'`);
  const context = await readContext(args.flags.get('context') as string | undefined, io.cwd, io.stdin ?? readStdin);
  const redis = args.flags.get('redis') as string | undefined;
  const manager = await openManager(args.flags.get('dir') as string | undefined, io, { runs: true, ...(redis ? { redis } : {}), responseCache: args.flags.get('response-cache') === true });
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  try {
    const service = args.flags.get('service') as string | undefined;
    const run = await manager.startWorkflow(composition, context, {
      ...(service ? { serviceName: service } : {}),
      ...(maxParallel ? { maxParallel } : {}),
      ...(args.flags.get('id') ? { workflowId: args.flags.get('id') as string } : {}),
      signal: abort.signal,
    });
    const view = new ProgressView(io.stderr, io.isTTY);
    let hint: NodeJS.Timeout | undefined;
    if (manager.workflowBackend === 'bullmq') {
      // A distributed run's steps wait for a worker: say so when none has taken one after a while.
      const url = redis ?? backendFromEnv()?.connection.url ?? '';
      hint = setTimeout(() => io.stderr(`promptmanager run: no worker has taken a step of run ${run.id} yet; start one: promptmanager worker --dir DIR --redis ${redactRedisUrl(url)}\n`), 5000);
    }
    for await (const ev of run) {
      if (ev.type === 'step.started' && hint) {
        clearTimeout(hint);
        hint = undefined;
      }
      view.onEvent(ev);
    }
    if (hint) clearTimeout(hint);
    const result = await run.done;
    view.finish(result);
    if (args.flags.get('json')) io.stdout(JSON.stringify(result, null, 2) + '\n');
    else if (result.output !== null) io.stdout(result.output.endsWith('\n') ? result.output : result.output + '\n');
    return runExitCode(result.status);
  } catch (e) {
    io.stderr(`promptmanager run: ${describeError(e)}\n`);
    return 1;
  } finally {
    process.removeListener('SIGINT', onSigint);
    await manager.close();
  }
}

export async function graphCommand(argv: string[], io: EngineIO): Promise<number> {
  const args = parseArgs(argv, new Set(), new Set(['format', 'dir']));
  const [composition] = args.positionals;
  if (!composition || args.positionals.length > 1) throw new UsageError('give exactly one COMPOSITION name');
  const format = (args.flags.get('format') as string | undefined) ?? 'mermaid';
  if (format !== 'mermaid' && format !== 'dot') throw new UsageError(`--format must be mermaid or dot, got '${format}'`);
  const manager = await openManager(args.flags.get('dir') as string | undefined, io);
  try {
    const def = manager.snapshot.compositions.get(composition);
    if (!def) {
      io.stderr(`promptmanager graph: [unknown_composition] no composition '${composition}'; defined: ${[...manager.snapshot.compositions.keys()].join(', ') || 'none'}\n`);
      return 1;
    }
    const g = buildGraph(def);
    io.stdout((format === 'dot' ? toDot(g) : toMermaid(g)).trimEnd() + '\n');
    return 0;
  } finally {
    await manager.close();
  }
}
