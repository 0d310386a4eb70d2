/**
 * Health of a manager: five components, each healthy, degraded or unhealthy with the reason,
 * and the worst of them as the overall status. Degraded means "serving, but look": a rejected
 * reload (the last good configuration is in use), a broken template, a service missing its
 * performance targets. Unhealthy means requests are failing because of the manager itself.
 */
import type { ProviderDef } from '../model/types.js';
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
  /** Fewer samples than this say nothing about a percentile or a hit rate. */
  minSamples: number;
  workflows?: () => ComponentHealth | undefined;
  workflowEngineAttached: boolean;
  providers?: () => ComponentHealth | undefined;
  env: Record<string, string | undefined>;
}

const ms = (v: number) => `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`;

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

  const cacheProblems: string[] = [];
  for (const [name, svc] of snap.services) {
    const target = svc.targets.minCacheHitRate;
    const stats = h.metrics.services.get(name);
    if (target === undefined || !stats || stats.renders < h.minSamples) continue;
    const lookups = stats.cacheHits + stats.cacheMisses;
    const rate = lookups ? stats.cacheHits / lookups : 0;
    if (rate < target) {
      cacheProblems.push(
        `service ${name} cache hit rate ${rate.toFixed(2)} is below its target ${target}` +
          (h.cacheMode === 'off' ? ' (the result cache is off)' : lookups === 0 ? ' (its renders were not cached)' : ''),
      );
    }
  }
  const cache = component(cacheProblems, h.cacheMode === 'off' ? 'result cache off; no service hit-rate target missed' : `result cache ${h.cacheMode}; hit-rate targets met`);

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

  const providers = h.providers?.() ?? providerHealth(snap.validation.compositionRules?.providers ?? [], h.env);

  const components = { config, templates, cache, workflows, providers };
  return { status: worstStatus(Object.values(components).map((c) => c.status)), components };
}

/** Without a workflow engine's own check: whether each provider's API key variable is set. */
function providerHealth(providers: readonly ProviderDef[], env: Record<string, string | undefined>): ComponentHealth {
  if (!providers.length) return { status: 'healthy', reason: 'no providers configured' };
  const missing = providers.filter((p) => p.apiKeyEnv && !env[p.apiKeyEnv]);
  if (missing.length) {
    return {
      status: 'degraded',
      reason: missing.map((p) => `provider ${p.name}: environment variable ${p.apiKeyEnv} is not set`).join('; '),
    };
  }
  return { status: 'healthy', reason: `${providers.length} provider${providers.length === 1 ? '' : 's'} configured` };
}
