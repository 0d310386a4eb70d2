/**
 * The Prometheus text exposition format (version 0.0.4) of a metrics snapshot. Latencies are
 * exported as summaries (p50/p95/p99 plus _sum and _count) in seconds, the Prometheus base
 * unit; exporting our 242 internal buckets as a Prometheus histogram would flood the scraper.
 * With the built-in workflow engine, its providers (calls, failures, the admission
 * scheduler's queue, waits, 429s and tokens) and its run queue are exported too; on the BullMQ
 * back end, the same provider families with every worker's figures (read from Redis).
 */
import { UNKNOWN_SERIES, type MetricsSnapshot, type RenderStatsJSON, type WorkflowStatsJSON } from './metrics.js';
import type { HistogramSummary } from '../stats/histogram.js';
import type { RunQueueStats } from '../workflow/engine.js';
import type { ProviderMetricsJSON } from '../workflow/metrics.js';

/** What the workflow engine adds to the text: the built-in one's providers and run queue; the BullMQ back end's fleet-wide providers and, with `maxConcurrentRuns`, its run queue. */
export interface WorkflowEngineMetrics {
  providers?: Record<string, ProviderMetricsJSON>;
  runs?: RunQueueStats;
  /** How old the provider figures are, when they were read from elsewhere (the BullMQ back end's Redis). */
  providersAgeMs?: number;
}

const PREFIX = 'promptmanager_';

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labels(l: Record<string, string>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

class Writer {
  private readonly lines: string[] = [];
  private readonly declared = new Set<string>();

  /** A family with one sample per entry. */
  each<T>(name: string, type: 'counter' | 'gauge', help: string, entries: [string, T][], label: string, value: (x: T) => number): void {
    this.family(name, type, help);
    for (const [n, x] of entries) this.sample(name, { [label]: n }, value(x));
  }
  family(name: string, type: 'counter' | 'gauge' | 'summary', help: string): void {
    if (this.declared.has(name)) return;
    this.declared.add(name);
    this.lines.push(`# HELP ${PREFIX}${name} ${help}`, `# TYPE ${PREFIX}${name} ${type}`);
  }
  sample(name: string, l: Record<string, string>, v: number): void {
    this.lines.push(`${PREFIX}${name}${labels(l)} ${num(v)}`);
  }
  summary(name: string, help: string, l: Record<string, string>, h: HistogramSummary): void {
    this.family(name, 'summary', help);
    for (const [q, v] of [['0.5', h.p50], ['0.95', h.p95], ['0.99', h.p99]] as const) {
      this.sample(name, { ...l, quantile: q }, v / 1000);
    }
    this.sample(`${name}_sum`, l, h.sum / 1000);
    this.sample(`${name}_count`, l, h.count);
  }
  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

// Families are written grouped (all samples of a family together), as the format requires.
function renderSeries(w: Writer, kind: 'template' | 'service', series: Record<string, RenderStatsJSON>): void {
  const entries = Object.entries(series);
  w.family(`${kind}_renders_total`, 'counter', `Renders by ${kind}; ${kind}="${UNKNOWN_SERIES}" counts requests for names the configuration does not define.`);
  for (const [n, s] of entries) w.sample(`${kind}_renders_total`, { [kind]: n }, s.renders);
  w.family(`${kind}_render_errors_total`, 'counter', `Failed renders by ${kind} and error code.`);
  for (const [n, s] of entries) for (const [code, c] of Object.entries(s.errors)) w.sample(`${kind}_render_errors_total`, { [kind]: n, code }, c);
  w.family(`${kind}_fallbacks_total`, 'counter', `Renders answered by a fallback template, by ${kind}.`);
  for (const [n, s] of entries) w.sample(`${kind}_fallbacks_total`, { [kind]: n }, s.fallbacks);
  w.family(`${kind}_cache_hits_total`, 'counter', `Render cache hits by ${kind}.`);
  for (const [n, s] of entries) w.sample(`${kind}_cache_hits_total`, { [kind]: n }, s.cache.hits);
  w.family(`${kind}_cache_misses_total`, 'counter', `Render cache misses by ${kind}.`);
  for (const [n, s] of entries) w.sample(`${kind}_cache_misses_total`, { [kind]: n }, s.cache.misses);
  for (const [n, s] of entries) {
    w.summary(`${kind}_render_duration_seconds`, `Render latency by ${kind}.`, { [kind]: n }, s.latencyMs);
  }
}

function renderWorkflows(w: Writer, kind: 'composition' | 'service', series: Record<string, WorkflowStatsJSON>): void {
  const entries = Object.entries(series).filter(([, s]) => s.runs > 0);
  w.family(`${kind}_workflow_runs_total`, 'counter', `Workflow runs by ${kind} and final status.`);
  for (const [n, s] of entries) for (const [status, c] of Object.entries(s.statuses)) w.sample(`${kind}_workflow_runs_total`, { [kind]: n, status }, c);
  for (const [n, s] of entries) {
    w.summary(`${kind}_workflow_duration_seconds`, `Workflow run latency by ${kind}.`, { [kind]: n }, s.latencyMs);
  }
}

function renderProviders(w: Writer, providers: Record<string, ProviderMetricsJSON>): void {
  const entries = Object.entries(providers);
  w.each('provider_calls_total', 'counter', 'Calls sent to a provider (attempts, and 429s sent again).', entries, 'provider', (p) => p.calls);
  w.family('provider_call_failures_total', 'counter', 'Failed provider calls by kind (connection_refused, timeout, server_error, rate_limited...).');
  for (const [n, p] of entries) for (const [kind, c] of Object.entries(p.failuresByKind)) w.sample('provider_call_failures_total', { provider: n, kind }, c ?? 0);
  w.each('provider_rate_limited_total', 'counter', 'Provider answers of 429 Too Many Requests.', entries, 'provider', (p) => p.failuresByStatus['429'] ?? 0);
  w.each('provider_queued_calls', 'gauge', 'Calls waiting for admission by the provider limits.', entries, 'provider', (p) => p.admission.queued);
  w.each('provider_in_flight_calls', 'gauge', 'Calls admitted and not yet answered.', entries, 'provider', (p) => p.admission.inFlight);
  w.each('provider_admitted_calls_total', 'counter', 'Calls admitted by the provider limits (its rate is the admitted rate).', entries, 'provider', (p) => p.admission.admitted);
  w.each('provider_requeued_calls_total', 'counter', 'Calls answered 429 and sent again without using one of the step\'s attempts.', entries, 'provider', (p) => p.admission.requeued);
  w.each('provider_pauses_total', 'counter', 'Pauses of a provider after a 429 (no call admitted until its Retry-After).', entries, 'provider', (p) => p.admission.pauses);
  w.each('provider_paused_seconds', 'gauge', 'Seconds left of the provider\'s pause after a 429 (0: not paused).', entries, 'provider', (p) => p.admission.pausedMs / 1000);
  w.family('provider_tokens_total', 'counter', 'Tokens of finished calls: as their answers reported (source="reported"), or estimated (source="estimated").');
  for (const [n, p] of entries) for (const source of ['reported', 'estimated'] as const) w.sample('provider_tokens_total', { provider: n, source }, p.admission.tokens[source]);
  for (const [n, p] of entries) w.summary('provider_admission_wait_seconds', 'Time calls waited for admission by the provider limits.', { provider: n }, p.admission.waitMs);
}

function renderRunQueue(w: Writer, runs: RunQueueStats): void {
  w.family('workflow_runs_running', 'gauge', 'Workflow runs running now.');
  w.sample('workflow_runs_running', {}, runs.running);
  w.family('workflow_runs_queued', 'gauge', 'Workflow runs waiting for a run slot (maxConcurrentRuns).');
  w.sample('workflow_runs_queued', {}, runs.queued);
  w.family('workflow_runs_refused_total', 'counter', 'Workflow runs refused because the run queue was full (maxQueuedRuns).');
  w.sample('workflow_runs_refused_total', {}, runs.refused);
}

export function toPrometheusText(m: MetricsSnapshot, engine?: WorkflowEngineMetrics): string {
  const w = new Writer();
  renderSeries(w, 'template', m.templates);
  renderSeries(w, 'service', m.services);
  renderWorkflows(w, 'composition', m.compositions);
  renderWorkflows(w, 'service', Object.fromEntries(Object.entries(m.services).map(([k, v]) => [k, v.workflows])));
  const c = m.cache;
  if ('entries' in c) {
    w.family('cache_entries', 'gauge', 'Rendered prompts held by the render cache.');
    w.sample('cache_entries', {}, c.entries);
    w.family('cache_bytes', 'gauge', 'Estimated bytes held by the render cache.');
    w.sample('cache_bytes', {}, c.bytes);
    w.family('cache_max_bytes', 'gauge', 'Byte bound of the render cache.');
    w.sample('cache_max_bytes', {}, c.maxBytes);
    w.family('cache_hits_total', 'counter', 'Render cache hits.');
    w.sample('cache_hits_total', {}, c.hits);
    w.family('cache_misses_total', 'counter', 'Render cache misses.');
    w.sample('cache_misses_total', {}, c.misses);
    w.family('cache_evictions_total', 'counter', 'Render cache evictions (entry or byte bound).');
    w.sample('cache_evictions_total', {}, c.evictions);
  }
  w.family('config_loads_total', 'counter', 'Configuration loads and reloads by outcome.');
  for (const [outcome, n] of Object.entries(m.config.outcomes)) w.sample('config_loads_total', { outcome }, n);
  w.summary('config_load_duration_seconds', 'Configuration load (validation) latency.', {}, m.config.durationMs);
  w.family('config_generation', 'gauge', 'Number of the configuration in use (1 = first load).');
  w.sample('config_generation', {}, m.config.generation);
  w.family('template_compilations_total', 'counter', 'Template compilations (one per template version).');
  w.sample('template_compilations_total', {}, m.templatesCompiled);
  if (engine) {
    if (engine.providers) renderProviders(w, engine.providers);
    if (engine.providersAgeMs !== undefined) {
      w.family('provider_metrics_age_seconds', 'gauge', 'Seconds since the provider figures in this text were read from Redis (the BullMQ back end: every worker\'s calls, and the provider queues).');
      w.sample('provider_metrics_age_seconds', {}, engine.providersAgeMs / 1000);
    }
    if (engine.runs) renderRunQueue(w, engine.runs);
  }
  return w.text();
}
