/**
 * Which executor runs a step of a distributed run on this worker: `render` for a render-only
 * step, else the one registered under its provider's type (wrapped by the response cache in
 * Redis when the run's starter asked for it); a worker that lacks it says so, and no retry can
 * help.
 */
import { PromptError } from '../errors.js';
import type { ProviderDef } from '../model/types.js';
import { RENDER_EXECUTOR, type ExecutorRegistry, type StepExecutor } from '../workflow/executors.js';
import type { ResponseCache } from '../workflow/responseCache.js';
import { markNonRetryable } from '../workflow/retry.js';
import type { ResolvedStep } from '../workflow/types.js';
import type { RunSpec } from './runStore.js';
import type { PinnedConfig } from './workerTypes.js';

export function stepExecutor(
  spec: RunSpec,
  def: ResolvedStep,
  cfg: PinnedConfig,
  executors: ExecutorRegistry,
  worker: string,
  responseCache?: (ttlMs: number) => ResponseCache,
): { executor: StepExecutor; provider?: ProviderDef } | PromptError {
  const details = { step: def.id, composition: undefined as string | undefined };
  if (def.model === undefined) {
    const e = executors.get(RENDER_EXECUTOR);
    return e ? { executor: e } : markNonRetryable(new PromptError('invalid_configuration', `no "${RENDER_EXECUTOR}" executor is registered on worker ${worker}`, details));
  }
  const provider = cfg.providers.get(def.model);
  if (!provider) return markNonRetryable(new PromptError('invalid_configuration', `step "${def.id}" names the model "${def.model}", which is not among the providers of worker ${worker}`, details));
  const e = executors.get(provider.type);
  if (!e) {
    return markNonRetryable(
      new PromptError('invalid_configuration', `provider "${provider.name}" has the type "${provider.type}", and worker ${worker} has no executor of that name (registered: ${executors.names().join(', ')})`, details),
    );
  }
  // A run whose starter asked for the response cache answers from Redis (the same digest on every worker).
  const cache = spec.responseCache ? responseCache?.(spec.responseCache.ttlMs) : undefined;
  return { executor: cache ? cache.wrap(e) : e, provider };
}
