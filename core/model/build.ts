/**
 * Builds the typed model from source trees. Lenient by design: a value of the wrong type is
 * left out (the schema check reports it), so the model is usable even while a file is being
 * edited and is half wrong.
 */
import { deref, getValue, isMap, isScalar, isSeq, keyName, type SMap, type SNode, type SScalar } from '../yaml/sourceTree.js';
import type {
  CompositionDef,
  CompositionOverride,
  CompositionRulesModel,
  ContextEntry,
  NameRef,
  PerformanceTargets,
  ProviderDef,
  RetryPolicy,
  RunDefaults,
  ServiceDef,
  ServiceFallback,
  ServiceMappingsModel,
  StepDef,
  StepFallback,
  StepOverride,
  WhenCondition,
} from './types.js';

export function str(n: SNode | null): string | undefined {
  const d = deref(n);
  return isScalar(d) && typeof d.value === 'string' ? d.value : undefined;
}
export function num(n: SNode | null): number | undefined {
  const d = deref(n);
  return isScalar(d) && typeof d.value === 'number' && Number.isFinite(d.value) ? d.value : undefined;
}
export function bool(n: SNode | null): boolean | undefined {
  const d = deref(n);
  return isScalar(d) && typeof d.value === 'boolean' ? d.value : undefined;
}
/** A name written as a scalar. Numbers count (`- 42`) so a reference check can still name them. */
export function nameRef(n: SNode | null): NameRef | undefined {
  const d = deref(n);
  if (!isScalar(d) || d.value === null || typeof d.value === 'boolean') return undefined;
  return { name: String(d.value), node: d };
}
function nameList(n: SNode | null): NameRef[] {
  const d = deref(n);
  if (isSeq(d)) return d.items.map((i) => nameRef(i)).filter((x): x is NameRef => !!x);
  // A single name where a list belongs is reported by the schema; still resolve it.
  const one = nameRef(d);
  return one ? [one] : [];
}
function stringList(n: SNode | null): string[] {
  return nameList(n).map((r) => r.name);
}
export function plain(n: SNode | null, depth = 0): unknown {
  const d = deref(n);
  if (!d || depth > 64) return null;
  if (d.kind === 'scalar') return d.value;
  if (d.kind === 'seq') return d.items.map((i) => plain(i, depth + 1));
  if (d.kind === 'map') {
    const o: Record<string, unknown> = {};
    for (const p of d.items) {
      const k = keyName(p);
      if (k !== undefined) Object.defineProperty(o, k, { value: plain(p.value, depth + 1), enumerable: true, writable: true, configurable: true });
    }
    return o;
  }
  return null;
}

function retry(n: SNode | null): Partial<RetryPolicy> | undefined {
  const d = deref(n);
  if (!isMap(d)) return undefined;
  const r: Partial<RetryPolicy> = {};
  const ma = num(getValue(d, 'max_attempts'));
  if (ma !== undefined) r.maxAttempts = ma;
  const ii = num(getValue(d, 'initial_interval_ms'));
  if (ii !== undefined) r.initialIntervalMs = ii;
  const bc = num(getValue(d, 'backoff_coefficient'));
  if (bc !== undefined) r.backoffCoefficient = bc;
  const mi = num(getValue(d, 'max_interval_ms'));
  if (mi !== undefined) r.maxIntervalMs = mi;
  const nr = getValue(d, 'non_retryable');
  if (nr) r.nonRetryable = stringList(nr);
  return r;
}

function contextEntries(n: SNode | null): ContextEntry[] {
  const d = deref(n);
  if (!isMap(d)) return [];
  const out: ContextEntry[] = [];
  for (const p of d.items) {
    const key = keyName(p);
    if (key === undefined) continue;
    out.push({ key, value: plain(p.value), node: p.value, pair: p });
  }
  return out;
}

function when(n: SNode | null): WhenCondition | undefined {
  const d = deref(n);
  if (!isMap(d)) return undefined;
  const path = str(getValue(d, 'path'));
  if (path === undefined) return undefined;
  const w: WhenCondition = { path, node: d };
  for (const p of d.items) {
    const k = keyName(p);
    if (k === 'equals') w.equals = plain(p.value);
    else if (k === 'not_equals') w.notEquals = plain(p.value);
    else if (k === 'in') {
      const v = plain(p.value);
      if (Array.isArray(v)) w.in = v;
    } else if (k === 'exists') {
      const b = bool(p.value);
      if (b !== undefined) w.exists = b;
    }
  }
  return w;
}

function fallback(n: SNode | null): StepFallback | undefined {
  const d = deref(n);
  if (!isMap(d)) return undefined;
  const f: StepFallback = { node: d };
  const t = nameRef(getValue(d, 'template'));
  if (t) f.template = t;
  const vNode = getValue(d, 'value');
  if (vNode) {
    const v = plain(vNode);
    f.value = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return f;
}

function runSettings(d: SMap, into: RunDefaults): void {
  const mp = num(getValue(d, 'max_parallel'));
  if (mp !== undefined) into.maxParallel = mp;
  const ff = bool(getValue(d, 'fail_fast'));
  if (ff !== undefined) into.failFast = ff;
  const st = num(getValue(d, 'step_timeout_ms'));
  if (st !== undefined) into.stepTimeoutMs = st;
  const t = num(getValue(d, 'timeout_ms'));
  if (t !== undefined) into.timeoutMs = t;
  const r = retry(getValue(d, 'retry'));
  if (r) into.retry = r;
}

export function buildStep(d: SMap): StepDef {
  const idNode = deref(getValue(d, 'id'));
  const step: StepDef = {
    id: isScalar(idNode) && idNode.value !== null ? String(idNode.value) : '',
    node: d,
    dependsOn: nameList(getValue(d, 'depends_on')),
    context: contextEntries(getValue(d, 'context')),
  };
  if (isScalar(idNode)) step.idNode = idNode;
  const t = nameRef(getValue(d, 'template'));
  if (t) step.template = t;
  const m = nameRef(getValue(d, 'model'));
  if (m) step.model = m;
  const w = when(getValue(d, 'when'));
  if (w) step.when = w;
  const r = retry(getValue(d, 'retry'));
  if (r) step.retry = r;
  const to = num(getValue(d, 'timeout_ms'));
  if (to !== undefined) step.timeoutMs = to;
  const ce = bool(getValue(d, 'continue_on_error'));
  if (ce !== undefined) step.continueOnError = ce;
  const fb = fallback(getValue(d, 'fallback'));
  if (fb) step.fallback = fb;
  return step;
}

function overrides(n: SNode | null): CompositionOverride[] {
  const d = deref(n);
  if (!isMap(d)) return [];
  const out: CompositionOverride[] = [];
  for (const p of d.items) {
    const key = keyName(p);
    const v = deref(p.value);
    if (key === undefined || !isMap(v)) continue;
    const o: CompositionOverride = { key, keyNode: p.key, steps: [], node: v };
    const s: RunDefaults = {};
    runSettings(v, s);
    if (s.maxParallel !== undefined) o.maxParallel = s.maxParallel;
    if (s.failFast !== undefined) o.failFast = s.failFast;
    if (s.timeoutMs !== undefined) o.timeoutMs = s.timeoutMs;
    const steps = deref(getValue(v, 'steps'));
    if (isMap(steps)) {
      for (const sp of steps.items) {
        const sv = deref(sp.value);
        if (!isScalar(sp.key) || sp.key.value === null || !isMap(sv)) continue;
        const so: StepOverride = { stepName: { name: String(sp.key.value), node: sp.key }, context: contextEntries(getValue(sv, 'context')), node: sv };
        const t = nameRef(getValue(sv, 'template'));
        if (t) so.template = t;
        const sk = bool(getValue(sv, 'skip'));
        if (sk !== undefined) so.skip = sk;
        const r = retry(getValue(sv, 'retry'));
        if (r) so.retry = r;
        const to = num(getValue(sv, 'timeout_ms'));
        if (to !== undefined) so.timeoutMs = to;
        const m = nameRef(getValue(sv, 'model'));
        if (m) so.model = m;
        const ce = bool(getValue(sv, 'continue_on_error'));
        if (ce !== undefined) so.continueOnError = ce;
        o.steps.push(so);
      }
    }
    out.push(o);
  }
  return out;
}

export function buildComposition(name: string, nameNode: SNode, d: SMap): CompositionDef {
  const inputs = deref(getValue(d, 'inputs'));
  const steps = deref(getValue(d, 'steps'));
  const c: CompositionDef = {
    name,
    nameNode,
    node: d,
    inputs: { required: nameList(getValue(inputs, 'required')), optional: nameList(getValue(inputs, 'optional')) },
    steps: isSeq(steps) ? steps.items.map((s) => deref(s)).filter(isMap).map(buildStep) : [],
    overrides: { states: [], experienceLevels: [] },
  };
  const desc = str(getValue(d, 'description'));
  if (desc !== undefined) c.description = desc;
  const s: RunDefaults = {};
  runSettings(d, s);
  Object.assign(c, s);
  const outNode = getValue(d, 'output');
  const out = str(outNode);
  if (out !== undefined && outNode) c.output = { value: out, node: outNode };
  const ov = deref(getValue(d, 'overrides'));
  if (isMap(ov)) {
    c.overrides.states = overrides(getValue(ov, 'states'));
    c.overrides.experienceLevels = overrides(getValue(ov, 'experience_levels'));
  }
  return c;
}

function templatesDir(root: SMap): { value: string; node: SNode } | undefined {
  const n = getValue(root, 'templates_dir');
  const v = str(n);
  return v !== undefined && n ? { value: v, node: n } : undefined;
}

/** Reuses the models of unchanged entries: keyed by the entry's source node, which an incremental parse keeps. */
export interface ModelMemo {
  compositions: WeakMap<SMap, CompositionDef>;
}

/** Provider keys the engine reads itself; every other key of a provider is a request field passed through. */
const ENGINE_PROVIDER_KEYS = new Set(['type', 'base_url', 'model', 'api_key_env', 'description', 'timeout_ms', 'max_concurrency', 'requests_per_minute', 'tokens_per_minute']);

export function buildCompositionRules(file: string, root: SNode | null, memo?: ModelMemo): CompositionRulesModel {
  const model: CompositionRulesModel = { kind: 'composition_rules', file, defaults: {}, providers: [], compositions: [] };
  const r = deref(root);
  if (!isMap(r)) return model;
  const v = num(getValue(r, 'version'));
  if (v !== undefined) model.version = v;
  const td = templatesDir(r);
  if (td) model.templatesDir = td;
  const defaults = deref(getValue(r, 'defaults'));
  if (isMap(defaults)) runSettings(defaults, model.defaults);
  const providers = deref(getValue(r, 'providers'));
  if (isMap(providers)) {
    for (const p of providers.items) {
      const name = keyName(p);
      const d = deref(p.value);
      if (name === undefined || !isMap(d)) continue;
      const prov: ProviderDef = { name, nameNode: p.key, node: d, type: str(getValue(d, 'type')) ?? '', options: {} };
      const bu = str(getValue(d, 'base_url'));
      if (bu !== undefined) prov.baseUrl = bu;
      const m = str(getValue(d, 'model'));
      if (m !== undefined) prov.model = m;
      const k = str(getValue(d, 'api_key_env'));
      if (k !== undefined) prov.apiKeyEnv = k;
      const to = num(getValue(d, 'timeout_ms'));
      if (to !== undefined) prov.timeoutMs = to;
      const mc = num(getValue(d, 'max_concurrency'));
      if (mc !== undefined) prov.maxConcurrency = mc;
      const rpm = num(getValue(d, 'requests_per_minute'));
      if (rpm !== undefined) prov.requestsPerMinute = rpm;
      const tpm = num(getValue(d, 'tokens_per_minute'));
      if (tpm !== undefined) prov.tokensPerMinute = tpm;
      for (const q of d.items) {
        const qk = keyName(q);
        // timeout_ms and the limits are the engine's, not request fields (OpenAI rejects unknown fields).
        if (qk && !ENGINE_PROVIDER_KEYS.has(qk)) prov.options[qk] = plain(q.value);
      }
      model.providers.push(prov);
    }
  }
  const comps = deref(getValue(r, 'compositions'));
  if (isMap(comps)) {
    for (const p of comps.items) {
      const name = keyName(p);
      const d = deref(p.value);
      if (name === undefined || !isMap(d)) continue;
      let c = memo?.compositions.get(d);
      if (!c || c.name !== name || c.nameNode !== p.key) {
        c = buildComposition(name, p.key, d);
        memo?.compositions.set(d, c);
      }
      model.compositions.push(c);
    }
  }
  return model;
}

function perfTargets(d: SNode | null, into: PerformanceTargets): void {
  const m = deref(d);
  if (!isMap(m)) return;
  const a = num(getValue(m, 'render_p95_ms'));
  if (a !== undefined) into.renderP95Ms = a;
  const b = num(getValue(m, 'workflow_p95_ms'));
  if (b !== undefined) into.workflowP95Ms = b;
  const c = num(getValue(m, 'min_cache_hit_rate'));
  if (c !== undefined) into.minCacheHitRate = c;
}

/** The error codes a service's fallback answers by default. */
export const DEFAULT_FALLBACK_ON = ['template_error', 'missing_context', 'timeout'];

function serviceFallback(n: SNode | null): ServiceFallback | undefined {
  const d = deref(n);
  if (!isMap(d)) return undefined;
  const onNode = getValue(d, 'on');
  const f: ServiceFallback = { on: onNode ? stringList(onNode) : [...DEFAULT_FALLBACK_ON] };
  const t = nameRef(getValue(d, 'template'));
  if (t) f.template = t;
  return f;
}

export function buildServiceMappings(file: string, root: SNode | null): ServiceMappingsModel {
  const model: ServiceMappingsModel = { kind: 'service_mappings', file, services: [] };
  const r = deref(root);
  if (!isMap(r)) return model;
  const v = num(getValue(r, 'version'));
  if (v !== undefined) model.version = v;
  const td = templatesDir(r);
  if (td) model.templatesDir = td;
  const defaults = deref(getValue(r, 'defaults'));
  const services = deref(getValue(r, 'services'));
  if (!isMap(services)) return model;
  for (const p of services.items) {
    const name = keyName(p);
    const d = deref(p.value);
    if (name === undefined || !isMap(d)) continue;
    const ctx = deref(getValue(d, 'context_requirements')) ?? deref(getValue(defaults, 'context_requirements'));
    const svc: ServiceDef = {
      name,
      nameNode: p.key,
      node: d,
      primaryTemplates: nameList(getValue(d, 'primary_templates')),
      templates: nameList(getValue(d, 'templates')),
      compositions: nameList(getValue(d, 'compositions')),
      contextRequirements: { required: stringList(getValue(ctx, 'required')), optional: stringList(getValue(ctx, 'optional')) },
      performanceTargets: {},
    };
    const desc = str(getValue(d, 'description'));
    if (desc !== undefined) svc.description = desc;
    // Defaults first, then the service's own targets: the service wins key by key.
    perfTargets(getValue(defaults, 'performance_targets'), svc.performanceTargets);
    perfTargets(getValue(d, 'performance_targets'), svc.performanceTargets);
    const fb = serviceFallback(getValue(d, 'fallback')) ?? serviceFallback(getValue(defaults, 'fallback'));
    if (fb) svc.fallback = fb;
    model.services.push(svc);
  }
  return model;
}

export type { SScalar };
