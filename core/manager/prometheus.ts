/**
 * The Prometheus text exposition format (version 0.0.4) of a metrics snapshot. Latencies are
 * exported as summaries (p50/p95/p99 plus _sum and _count) in seconds, the Prometheus base
 * unit; exporting our 242 internal buckets as a Prometheus histogram would flood the scraper.
 */
import type { MetricsSnapshot, RenderStatsJSON, WorkflowStatsJSON } from './metrics.js';
import type { HistogramSummary } from '../stats/histogram.js';

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
  w.family(`${kind}_renders_total`, 'counter', `Renders by ${kind}.`);
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

export function toPrometheusText(m: MetricsSnapshot): string {
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
  return w.text();
}
