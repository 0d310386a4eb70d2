/**
 * Health of a manager: five components, each healthy, degraded or unhealthy with the reason,
 * and the worst of them as the overall status. Degraded means "serving, but look": a rejected
 * reload (the last good configuration is in use), a broken template, a service missing its
 * performance targets. Unhealthy means requests are failing because of the manager itself.
 *
 * Health judges only what the configuration asks for and what can be true: a service's
 * `min_cache_hit_rate` is not judged while the result cache is off, nor for a service whose
 * templates the automatic cache has decided not to cache (hashing their contexts costs more
 * than a hit saves), nor on fewer than `minSamples` cached lookups; the reason says so as
 * information. A provider's API key is checked where the engine really looks it up, and only
 * for providers some step uses.
 */
import type { CompositionRulesModel, ProviderDef } from '../model/types.js';
import { plural } from '../plural.js';
import { providersInUse } from '../workspace/queries.js';
import type { CacheDecision } from './cachePolicy.js';
import type { MetricsRegistry } from './metrics.js';
import type { EngineSnapshot } from './snapshot.js';
import type { PromptDiagnostic } from '../model/diagnostics.js';
import { formatDiagnostic } from './configError.js';

export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy';

export interface ComponentHealth {
  status: HealthStatus;
  reason: string;
}

export interface HealthReport {
  status: HealthStatus;
  components: {
    config: ComponentHealth;
    templates: ComponentHealth;
    cache: ComponentHealth;
    workflows: ComponentHealth;
    providers: ComponentHealth;
  };
}

const RANK: Record<HealthStatus, number> = { healthy: 0, degraded: 1, unhealthy: 2 };

export function worstStatus(statuses: HealthStatus[]): HealthStatus {
  let w: HealthStatus = 'healthy';
  for (const s of statuses) if (RANK[s] > RANK[w]) w = s;
  return w;
}

export interface HealthInputs {
  snapshot: EngineSnapshot;
  closed: boolean;
  /** The last reload's rejection, when the last reload was rejected. */
  rejection?: { diagnostics: readonly PromptDiagnostic[]; message: string };
  broken: ReadonlyMap<string, string>;
  metrics: MetricsRegistry;
  cacheMode: 'auto' | 'on' | 'off';
  /** Templates the automatic cache decided not to cache (its last decision), with the measurement behind it. */
  cacheDeclined?: ReadonlyMap<string, CacheDecision>;
  /** Fewer samples than this say nothing about a percentile or a hit rate. */
  minSamples: number;
  workflows?: () => ComponentHealth | undefined;
  workflowEngineAttached: boolean;
  providers?: () => ComponentHealth | undefined;
  env: Record<string, string | undefined>;
}

const ms = (v: number) => (v < 0.01 ? `${(v * 1000).toFixed(1)} µs` : `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`);

function component(problems: string[], okReason: string, status: HealthStatus = 'degraded'): ComponentHealth {
  return problems.length ? { status, reason: problems.join('; ') } : { status: 'healthy', reason: okReason };
}

export function computeHealth(h: HealthInputs): HealthReport {
  const snap = h.snapshot;

  let config: ComponentHealth;
  if (h.rejection) {
    const first = h.rejection.diagnostics[0];
    config = {
      status: 'degraded',
      reason:
        `the last reload was rejected (${h.rejection.diagnostics.length} error${h.rejection.diagnostics.length === 1 ? '' : 's'}` +
        `${first ? `, first: ${formatDiagnostic(first)}` : ''}); serving configuration generation ${snap.generation}`,
    };
  } else if (snap.validation.errorCount > 0) {
    // Loaded with its errors (configErrors: 'isolate'): what uses them is refused, the rest works.
    const errors = snap.validation.diagnostics.filter((d) => d.severity === 'error');
    config = {
      status: 'degraded',
      reason: `generation ${snap.generation} loaded with ${errors.length} error${errors.length === 1 ? '' : 's'}: renders, runs and previews that use ${errors.length === 1 ? 'it' : 'them'} are refused, the others work${errors[0] ? ` (first: ${formatDiagnostic(errors[0])})` : ''}`,
    };
  } else if (h.closed) {
    config = { status: 'healthy', reason: `generation ${snap.generation} loaded; the manager is closed, so changes are no longer watched` };
  } else {
    const w = snap.validation.warningCount;
    config = { status: 'healthy', reason: `generation ${snap.generation} loaded from ${snap.validation.root}${w ? ` with ${w} warning${w === 1 ? '' : 's'}` : ''}` };
  }

  const templateProblems: string[] = [];
  for (const [name, message] of h.broken) templateProblems.push(`template ${name} is broken: ${message}`);
  for (const [name, svc] of snap.services) {
    const target = svc.targets.renderP95Ms;
    const stats = h.metrics.services.get(name);
    if (target === undefined || !stats || stats.latency.count < h.minSamples) continue;
    const p95 = stats.latency.quantile(0.95);
    if (p95 > target) templateProblems.push(`service ${name} render p95 ${ms(p95)} exceeds its target ${ms(target)}`);
  }
  const allBroken = snap.templates.size > 0 && h.broken.size >= snap.templates.size;
  const templates = component(
    templateProblems,
    `${snap.templates.size} template${snap.templates.size === 1 ? '' : 's'}, none broken, render targets met`,
    allBroken ? 'unhealthy' : 'degraded',
  );

  const cache = cacheHealth(h);

  const workflowProblems: string[] = [];
  for (const [name, svc] of snap.services) {
    const target = svc.targets.workflowP95Ms;
    const stats = h.metrics.serviceWorkflows.get(name);
    if (target === undefined || !stats || stats.latency.count < h.minSamples) continue;
    const p95 = stats.latency.quantile(0.95);
    if (p95 > target) workflowProblems.push(`service ${name} workflow p95 ${ms(p95)} exceeds its target ${ms(target)}`);
  }
  const engine = h.workflows?.();
  if (engine && engine.status !== 'healthy') workflowProblems.unshift(engine.reason);
  let workflows = component(
    workflowProblems,
    engine?.reason ??
      (h.workflowEngineAttached
        ? `workflow engine attached; ${snap.compositions.size} composition${snap.compositions.size === 1 ? '' : 's'}`
        : `no workflow engine attached (${snap.compositions.size} composition${snap.compositions.size === 1 ? '' : 's'} defined)`),
  );
  if (engine?.status === 'unhealthy') workflows = { status: 'unhealthy', reason: workflows.reason };

  // Without a workflow engine's own check (another engine behind the port): the keys in process.env.
  const providers =
    h.providers?.() ??
    providerKeyHealth(snap.validation.compositionRules, snap.validation.compositionRules?.providers ?? [], (name) => h.env[name], 'process.env');

  const components = { config, templates, cache, workflows, providers };
  return { status: worstStatus(Object.values(components).map((c) => c.status)), components };
}

const rate = (v: number) => v.toFixed(2);

/**
 * Hit-rate targets, judged only where they can be met: on a cache that is on for the service's
 * templates and over enough lookups. What is not judged is said, not hidden.
 */
function cacheHealth(h: HealthInputs): ComponentHealth {
  const problems: string[] = [];
  const notJudged: string[] = [];
  const targets = [...h.snapshot.services].filter(([, svc]) => svc.targets.minCacheHitRate !== undefined);
  if (h.cacheMode === 'off') {
    const list = targets.map(([name, svc]) => `${name} ${svc.targets.minCacheHitRate}`).join(', ');
    return { status: 'healthy', reason: `result cache off${list ? `: hit-rate targets not judged (${list})` : ''}` };
  }
  for (const [name, svc] of targets) {
    const target = svc.targets.minCacheHitRate!;
    const declined = [...svc.allowedTemplates].filter((t) => h.cacheDeclined?.has(t)).sort();
    if (declined.length) {
      const why = declined.map((t) => {
        const d = h.cacheDeclined!.get(t)!;
        return `${t} (a lookup costs ${ms(d.hashMs)}, a render ${ms(d.renderMs)}, hit rate ${rate(d.hitRate)})`;
      });
      notJudged.push(`${name}'s target ${target} not judged: the auto cache does not cache ${why.join(', ')}`);
      continue;
    }
    const stats = h.metrics.services.get(name);
    const lookups = stats ? stats.cacheHits + stats.cacheMisses : 0;
    if (!stats || lookups < h.minSamples) continue;
    const hitRate = stats.cacheHits / lookups;
    if (hitRate < target) problems.push(`service ${name} cache hit rate ${rate(hitRate)} is below its target ${target} (${plural(lookups, 'cached lookup')})`);
  }
  // Said once: why a declined template is not a service's fault, and how to hold it to its target anyway.
  if (notJudged.length) notJudged.push("a hit there would save less than the lookup costs; cache mode 'on' holds services to their targets");
  if (problems.length) return { status: 'degraded', reason: [...problems, ...notJudged].join('; ') };
  return { status: 'healthy', reason: [`result cache ${h.cacheMode}; hit-rate targets met where judged`, ...notJudged].join('; ') };
}

export interface ProviderKeyCheck {
  provider: string;
  /** False when the provider reads a key (`api_key_env`) that is not set where the engine looks. */
  ok: boolean;
  /** "API key X from process.env", "API key X is not set in workflow.env: ...", "no API key". */
  text: string;
}

/**
 * Whether each used provider's API key (`api_key_env`) is set where the engine looks it up:
 * `source` names that place (`process.env`, or `workflow.env` when the application gives the
 * manager its own lookup), so that the reason is true whichever it is. Never the key itself.
 */
export function checkProviderKeys(
  rules: CompositionRulesModel | undefined,
  providers: readonly ProviderDef[],
  lookup: (name: string) => string | undefined,
  source: string,
): { checks: ProviderKeyCheck[]; unused: string[] } {
  const used = providersInUse(rules);
  const checks: ProviderKeyCheck[] = [];
  const unused: string[] = [];
  for (const p of providers) {
    if (!used.has(p.name)) {
      unused.push(p.name);
      continue;
    }
    if (!p.apiKeyEnv) checks.push({ provider: p.name, ok: true, text: 'no API key' });
    else if (lookup(p.apiKeyEnv)) checks.push({ provider: p.name, ok: true, text: `API key ${p.apiKeyEnv} from ${source}` });
    else checks.push({ provider: p.name, ok: false, text: `API key ${p.apiKeyEnv} is not set in ${source}, so its model steps will fail` });
  }
  return { checks, unused };
}

/** The providers component from the keys alone (no calls made yet, or another engine behind the port). */
export function providerKeyHealth(
  rules: CompositionRulesModel | undefined,
  providers: readonly ProviderDef[],
  lookup: (name: string) => string | undefined,
  source: string,
): ComponentHealth {
  if (!providers.length) return { status: 'healthy', reason: 'no providers configured' };
  const { checks, unused } = checkProviderKeys(rules, providers, lookup, source);
  const bad = checks.filter((c) => !c.ok);
  if (bad.length) return { status: 'degraded', reason: bad.map((c) => `provider ${c.provider}: ${c.text}`).join('; ') };
  const parts = checks.map((c) => `provider ${c.provider}: ${c.text}`);
  if (unused.length) parts.push(`used by no step: ${unused.join(', ')}`);
  return { status: 'healthy', reason: parts.join('; ') };
}
