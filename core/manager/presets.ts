/**
 * Environment presets: what a manager does by default in development, production and tests,
 * and why (`recommendConfiguration` returns the reasons with the settings).
 */
import type { ResultCacheMode } from './cachePolicy.js';

export type Environment = 'development' | 'production' | 'testing';
export const ENVIRONMENTS: readonly Environment[] = ['development', 'production', 'testing'];

export interface PresetSettings {
  strict: boolean;
  watch: boolean;
  debounceMs: number;
  cache: { mode: ResultCacheMode; maxEntries: number; maxBytes: number };
  metrics: boolean;
  /** Deterministic run ids (`run-1`, `run-2`...) instead of random UUIDs. */
  deterministicIds: boolean;
  /**
   * Model answers from the response cache (`workflow: { responseCache }`). False in every
   * preset: on only when asked for.
   */
  responseCache: boolean;
}

export interface Recommendation {
  environment: Environment;
  settings: PresetSettings;
  /** One sentence per setting: why the preset chose it. */
  reasons: Record<keyof PresetSettings, string>;
}

const MB = 1024 * 1024;

const PRESETS: Record<Environment, Recommendation> = {
  development: {
    environment: 'development',
    settings: {
      strict: true,
      watch: true,
      debounceMs: 100,
      cache: { mode: 'auto', maxEntries: 500, maxBytes: 4 * MB },
      metrics: true,
      deterministicIds: false,
      responseCache: false,
    },
    reasons: {
      strict: 'a misspelt variable fails at once with its name and line instead of rendering an empty gap into a prompt',
      watch: 'edits to templates and YAML apply without a restart; an invalid edit is rejected and the last good configuration stays',
      debounceMs: 'an editor save fires several file events; 100 ms folds them into one reload without a noticeable delay',
      cache: 'a small cache is enough for one developer, and auto mode only caches templates where a lookup is cheaper than a render',
      metrics: 'latency and error counts show a slow or failing template while you work on it',
      deterministicIds: 'random run ids, as in production, so logs look the same',
      responseCache: "off unless asked (workflow: { responseCache: true }, or `promptmanager run --response-cache`): then a repeated run with the same prompts costs nothing and answers the same, which hides how the model's answers vary",
    },
  },
  production: {
    environment: 'production',
    settings: {
      strict: true,
      watch: false,
      debounceMs: 250,
      cache: { mode: 'auto', maxEntries: 10_000, maxBytes: 64 * MB },
      metrics: true,
      deterministicIds: false,
      responseCache: false,
    },
    reasons: {
      strict: 'a prompt with a silently missing variable is worse than a typed missing_context error the caller can handle or fall back on',
      watch: 'deployed files change by deployment, not in place; watching costs file handles and could apply a half-copied release (pass watch: true to opt in)',
      debounceMs: 'when watching is turned on, a deployment copies many files; 250 ms waits for the copy to settle',
      cache: 'a larger bounded cache (10,000 prompts, 64 MB) for repeated contexts; auto mode skips templates where hashing the context costs more than rendering it',
      metrics: 'p50/p95/p99 per template and service feed health checks against performance_targets and Prometheus',
      deterministicIds: 'run ids must be unique across processes: random UUIDs',
      responseCache: "never on by default: users get the model's answer to their request, not one stored for someone else's identical prompt; a deployment that wants a shared cache sets responseCache: true on the BullMQ back end (kept in its Redis, shared by every worker) or passes its own ResponseCache",
    },
  },
  testing: {
    environment: 'testing',
    settings: {
      strict: true,
      watch: false,
      debounceMs: 0,
      cache: { mode: 'off', maxEntries: 0, maxBytes: 0 },
      metrics: true,
      deterministicIds: true,
      responseCache: false,
    },
    reasons: {
      strict: 'tests must catch a missing variable as production would',
      watch: 'no watchers and no timers, so the test process exits on its own and runs do not depend on file-event timing',
      debounceMs: 'nothing is watched',
      cache: 'off: every render exercises the template, and a test never passes because of an earlier cached result',
      metrics: 'tests can assert on render counts and errors',
      deterministicIds: 'run ids run-1, run-2... make snapshots and assertions stable (the clock is injectable too)',
      responseCache: 'off for the engine: tests mock their model steps; the live runs of `promptmanager test --live` use the workspace cache themselves',
    },
  },
};

export function recommendConfiguration(environment: Environment): Recommendation {
  const p = PRESETS[environment];
  if (!p) throw new TypeError(`Unknown environment "${String(environment)}": use one of ${ENVIRONMENTS.join(', ')}`);
  return structuredClone(p);
}

/** NODE_ENV production -> production, test -> testing, anything else -> development. */
export function environmentFromNodeEnv(nodeEnv: string | undefined): Environment {
  if (nodeEnv === 'production') return 'production';
  if (nodeEnv === 'test' || nodeEnv === 'testing') return 'testing';
  return 'development';
}

/** Run ids run-1, run-2, ... (testing preset). */
export function sequentialIds(prefix = 'run'): () => string {
  let n = 0;
  return () => `${prefix}-${++n}`;
}
