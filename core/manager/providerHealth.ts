/**
 * The providers component of `healthCheck()` for both workflow back ends: the used providers'
 * API keys, the calls made so far and the active probes (providerProbes.ts), judged by one rule.
 * The in-process port (engineWorkflowPort.ts) and the BullMQ port (distributedWorkflowPort.ts)
 * each give what they have: their providers with overrides, their calls, their probes.
 */
import type { Clock } from '../clock.js';
import type { ProviderDef } from '../model/types.js';
import { plural } from '../plural.js';
import type { AdmissionGauges, AdmissionScheduler } from '../workflow/admission.js';
import type { ExecutorRegistry } from '../workflow/executors.js';
import type { ProviderMetricsJSON } from '../workflow/metrics.js';
import { describeFailures, PROVIDER_FAILURE_LABELS } from '../workflow/providerFailure.js';
import { providersInUse } from '../workspace/queries.js';
import { checkProviderKeys, type ComponentHealth } from './health.js';
import { describeProbe, PROBE_DOWN_STREAK, ProviderProbes, type ProbeSettings, type ProbeState } from './providerProbes.js';
import type { EngineSnapshot } from './snapshot.js';

/** Per-provider settings that win over composition_rules.yaml (the demo's local server, tests, a deployment's own limits). */
export type ProviderOverrides = Record<string, Partial<Pick<ProviderDef, 'baseUrl' | 'model' | 'apiKeyEnv' | 'maxConcurrency' | 'requestsPerMinute' | 'tokensPerMinute'>>>;

/** A provider whose last this many calls all failed is unhealthy; one failed call makes it degraded. */
export const PROVIDER_DOWN_STREAK = 5;

/** The snapshot's providers with the overrides applied. */
export function providersOf(snapshot: EngineSnapshot, overrides: ProviderOverrides): ProviderDef[] {
  return (snapshot.validation.compositionRules?.providers ?? []).map((p) => ({ ...p, ...(overrides[p.name] ?? {}) }));
}

export interface ProviderHealthInputs {
  snapshot?: EngineSnapshot;
  overrides: ProviderOverrides;
  /** Where API keys are looked up, and how health names that place. */
  keyLookup: (name: string) => string | undefined;
  keySource: string;
  /** The calls made so far, by provider. */
  calls: Record<string, ProviderMetricsJSON>;
  probes?: ProviderProbes;
}

/**
 * The providers as they are now: each used provider's API key where the engine looks it up
 * (`snapshot`'s providers, with overrides), and the calls made so far. A provider whose last
 * call failed is degraded, unhealthy after PROVIDER_DOWN_STREAK failures in a row; one whose
 * last call succeeded is healthy again, its earlier failures told as information. Failures
 * are named by kind (connection refused, timed out, server error 503, rate limited 429...).
 * With probes, the newest evidence judges: a probe with no call since (degraded when it
 * failed or warned, unhealthy after PROBE_DOWN_STREAK failures in a row, and a success
 * clears the failed calls before it), else the calls.
 */
export function judgeProviders(h: ProviderHealthInputs): ComponentHealth | undefined {
  const { snapshot, calls } = h;
  const defs = snapshot ? providersOf(snapshot, h.overrides) : [];
  const { checks, unused } = checkProviderKeys(snapshot?.validation.compositionRules, defs, h.keyLookup, h.keySource);
  const key = new Map(checks.map((c) => [c.provider, c]));
  const probes: ReadonlyMap<string, ProbeState> = h.probes?.results() ?? new Map();
  const names = [...new Set([...checks.map((c) => c.provider), ...Object.keys(calls)])];
  if (!names.length) return defs.length ? { status: 'healthy', reason: `used by no step: ${unused.join(', ')}` } : undefined;
  const problems: string[] = [];
  const fine: string[] = [];
  let down = false;
  for (const name of names) {
    const k = key.get(name);
    const p = calls[name];
    const parts: string[] = k ? [k.text] : [];
    let bad = k ? !k.ok : false;
    const probe = probes.get(name);
    // A probe that ended with no call since is the newest evidence about the provider.
    const probeNewer = probe !== undefined && (p?.calls ?? 0) <= probe.callsAtProbe;
    if (probe) {
      // A call made since the probe is newer evidence: the probe is told, not judged.
      parts.push(`${describeProbe(probe)}${probeNewer ? '' : ' (before the last call)'}`);
      if (probeNewer && (!probe.ok || probe.warning)) bad = true;
      if (probeNewer && !probe.ok && probe.consecutiveFailures >= PROBE_DOWN_STREAK) down = true;
    }
    if (p && p.calls > 0) {
      const all = p.failures ? `; ${p.failures} of ${plural(p.calls, 'call')} failed in all (${describeFailures(p.failuresByKind, p.failuresByStatus)})` : '';
      if (p.consecutiveFailures > 0 && probeNewer && probe!.ok) {
        parts.push(`the last ${p.consecutiveFailures === 1 ? 'call' : `${p.consecutiveFailures} calls`} failed (the last: ${PROVIDER_FAILURE_LABELS[p.lastFailureKind ?? 'other']}), and a probe since answered${all}`);
      } else if (p.consecutiveFailures > 0) {
        bad = true;
        if (p.consecutiveFailures >= PROVIDER_DOWN_STREAK) down = true;
        const last = PROVIDER_FAILURE_LABELS[p.lastFailureKind ?? 'other'];
        parts.push(`the last ${p.consecutiveFailures === 1 ? 'call' : `${p.consecutiveFailures} calls`} failed (the last: ${last})${all}`);
      } else {
        parts.push(`${plural(p.calls, 'call')}, the last succeeded${all}`);
      }
    }
    (bad ? problems : fine).push(`provider ${name}: ${parts.join(', ')}`);
  }
  if (unused.length) fine.push(`used by no step: ${unused.join(', ')}`);
  if (problems.length) return { status: down ? 'unhealthy' : 'degraded', reason: [...problems, ...fine].join('; ') };
  return { status: 'healthy', reason: fine.join('; ') };
}

export interface ProbeHost {
  clock: Clock;
  executors: ExecutorRegistry;
  env: (name: string) => string | undefined;
  overrides: ProviderOverrides;
  trusted: () => boolean;
  /** The scheduler a probe is admitted by, as a call would be. */
  admission: AdmissionScheduler;
  gauges: () => ReadonlyMap<string, AdmissionGauges>;
  calls: (provider: string) => number;
  /** A provider whose calls run elsewhere and are busy now (the BullMQ workers'): not probed. */
  busy?: (provider: ProviderDef) => Promise<boolean>;
}

/** Starts the probes over the providers some step of the configuration `current()` uses (with overrides). */
export function startProbes(settings: ProbeSettings, host: ProbeHost, current: () => EngineSnapshot | undefined): ProviderProbes {
  const probes = new ProviderProbes(
    {
      clock: host.clock,
      executors: host.executors,
      env: host.env,
      providers: () => {
        const snap = current();
        if (!snap) return [];
        const used = providersInUse(snap.validation.compositionRules);
        return providersOf(snap, host.overrides).filter((p) => used.has(p.name));
      },
      trusted: host.trusted,
      admission: host.admission,
      gauges: host.gauges,
      calls: host.calls,
      ...(host.busy ? { busy: host.busy } : {}),
    },
    settings,
  );
  probes.start();
  return probes;
}
