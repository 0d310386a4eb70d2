/**
 * The client's settings (`promptManager.*`, from workspace/configuration, a pushed
 * didChangeConfiguration or initializationOptions.settings) and initialization options, read
 * defensively: a value that is missing or of the wrong type is the default, never an error,
 * since any client may send anything.
 */
import { DEFAULT_SETTINGS, type PromptManagerSettings } from '../protocol/protocol.js';
import { clampDebounceMs } from './debounce.js';

export function parseSettings(raw: unknown): PromptManagerSettings {
  const r = (raw ?? {}) as Partial<Record<string, unknown>>;
  const diag = (r.diagnostics ?? {}) as { disabledCodes?: unknown };
  const tr = (r.trace ?? {}) as { server?: unknown };
  const env = r.environment;
  const run = (r.run ?? {}) as { backend?: unknown; redisUrl?: unknown };
  return {
    ...(env === 'development' || env === 'production' || env === 'testing' ? { environment: env } : {}),
    ...(run.backend === 'bullmq' ? { run: { backend: 'bullmq' as const, ...(typeof run.redisUrl === 'string' && run.redisUrl ? { redisUrl: run.redisUrl } : {}) } } : {}),
    templatesRoot: typeof r.templatesRoot === 'string' ? r.templatesRoot : DEFAULT_SETTINGS.templatesRoot,
    diagnostics: { disabledCodes: Array.isArray(diag.disabledCodes) ? diag.disabledCodes.map(String) : [] },
    maxProblemsPerFile: typeof r.maxProblemsPerFile === 'number' && r.maxProblemsPerFile >= 0 ? r.maxProblemsPerFile : DEFAULT_SETTINGS.maxProblemsPerFile,
    trace: { server: tr.server === 'messages' || tr.server === 'verbose' ? tr.server : 'off' },
  };
}

export interface InitializationOptions {
  /** False only when the client says the workspace is not trusted (`trusted: false`). */
  trusted: boolean;
  /** A fixed diagnostics debounce, held to 0..100 ms. */
  debounceMs?: number;
  /** Settings sent with `initialize`, for clients without workspace/configuration. */
  settings?: PromptManagerSettings;
}

export function parseInitializationOptions(raw: unknown): InitializationOptions {
  const init = (raw ?? {}) as { debounceMs?: unknown; settings?: unknown; trusted?: unknown };
  const out: InitializationOptions = { trusted: init.trusted !== false };
  if (typeof init.debounceMs === 'number') out.debounceMs = clampDebounceMs(init.debounceMs);
  if (init.settings !== undefined) out.settings = parseSettings(init.settings);
  return out;
}
