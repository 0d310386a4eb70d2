/**
 * The engine's metrics (`promptManager/metrics`, JSON) as a report a person reads: Markdown
 * tables (aligned, so that the source reads as well as the preview) of templates, services,
 * compositions and their steps, providers, the result cache and configuration loads, with
 * durations as people say them (`0.07 ms`, `12 ms`, `1.23 s`) and rates as percentages. The
 * JSON stays one command away ("Show Metrics as JSON"). Pure: the metrics are read
 * defensively, as the protocol types them `Record<string, unknown>`.
 */
import { PROVIDER_FAILURE_LABELS } from '../protocol/protocol.js';
import { formatDuration } from './format.js';

type Obj = Record<string, unknown>;

const obj = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const int = (v: unknown): string => {
  const n = num(v);
  return n === undefined ? '-' : Math.round(n).toLocaleString('en-US');
};

/** A share as a percentage: `67%`, `0.4%`, `-` when nothing was counted. */
export function percent(rate: unknown, denominator?: number): string {
  const r = num(rate);
  if (r === undefined || denominator === 0) return '-';
  const p = r * 100;
  return `${p > 0 && p < 1 ? p.toFixed(1) : Math.round(p)}%`;
}

/** Bytes as `812 B`, `52.4 KB`, `4 MB`. */
export function bytes(v: unknown): string {
  const n = num(v);
  if (n === undefined) return '-';
  if (n < 1024) return `${Math.round(n)} B`;
  const kb = n / 1024;
  if (kb < 1024) return `${kb < 10 ? kb.toFixed(1) : Math.round(kb)} KB`;
  const mb = kb / 1024;
  return `${mb < 10 ? mb.toFixed(1).replace(/\.0$/, '') : Math.round(mb)} MB`;
}

/** A latency summary's figure; `-` when it has no sample. */
function ms(summary: unknown, key: string): string {
  const s = obj(summary);
  if (!num(s.count)) return '-';
  return formatDuration(num(s[key]));
}

/** Counts by name, largest first: `missing_context 2, template_error 1`; `-` when none. */
function counts(v: unknown, label: (k: string) => string = (k) => k): string {
  const entries = Object.entries(obj(v)).filter(([, n]) => (num(n) ?? 0) > 0) as [string, number][];
  if (!entries.length) return '-';
  return entries
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([k, n]) => `${label(k)} ${n}`)
    .join(', ');
}

const escapeCell = (s: string) => s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

/** A Markdown table whose columns line up in the source too; `right` marks numeric columns. */
export function mdTable(header: string[], rows: string[][], right: boolean[] = []): string[] {
  const cells = [header, ...rows].map((r) => header.map((_, i) => escapeCell(r[i] ?? '')));
  const widths = header.map((_, i) => Math.max(3, ...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (right[i] ? '-'.repeat(w - 1) + ':' : '-'.repeat(w))).join(' | ')} |`;
  return [line(cells[0]!), rule, ...cells.slice(1).map(line)];
}

/** The report, as Markdown lines joined. `generatedAt` dates it. */
export function formatMetricsReport(workspaceName: string, metrics: Obj, generatedAt: Date): string {
  const out: string[] = [`# PromptManager metrics: ${workspaceName}`, ''];
  out.push(`Measured since the engine started, as of ${generatedAt.toLocaleString('en-GB')}. Durations are percentiles of the recorded samples. The raw figures: the command "PromptManager: Show Metrics as JSON".`, '');

  const renderRows = (m: Obj) =>
    Object.entries(m)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([name, v]) => {
        const s = obj(v);
        const cache = obj(s.cache);
        const lookups = (num(cache.hits) ?? 0) + (num(cache.misses) ?? 0);
        return [name, int(s.renders), counts(s.errors), int(s.fallbacks), percent(cache.hitRate, lookups), ms(s.latencyMs, 'p50'), ms(s.latencyMs, 'p95'), ms(s.latencyMs, 'max')];
      });
  const renderHeader = ['renders', 'errors', 'fallbacks', 'cache hits', 'p50', 'p95', 'max'];
  const renderRight = [false, true, false, true, true, true, true, true];

  const templates = renderRows(obj(metrics.templates));
  out.push('## Templates', '');
  out.push(...(templates.length ? mdTable(['template', ...renderHeader], templates, renderRight) : ['No render yet.']), '');

  const services = renderRows(obj(metrics.services));
  out.push('## Services', '');
  out.push(...(services.length ? mdTable(['service', ...renderHeader], services, renderRight) : ['No render as a service yet.']), '');

  const engine = obj(metrics.workflowEngine);
  const comps = Object.entries(obj(engine.compositions)).sort(([a], [b]) => (a < b ? -1 : 1));
  out.push('## Workflow runs', '');
  if (!comps.length) out.push('No run yet.', '');
  else {
    out.push(
      ...mdTable(
        ['composition', 'runs', 'succeeded', 'partial', 'failed', 'cancelled', 'timed out', 'p50', 'p95', 'max', 'retries', 'fallbacks', 'timeouts'],
        comps.map(([name, v]) => {
          const c = obj(v);
          const runs = obj(c.runs);
          return [name, int(c.total), int(runs.succeeded), int(runs.partial), int(runs.failed), int(runs.cancelled), int(runs.timed_out), ms(c.durationMs, 'p50'), ms(c.durationMs, 'p95'), ms(c.durationMs, 'max'), int(c.retries), int(c.fallbacks), int(c.timeouts)];
        }),
        [false, ...Array<boolean>(12).fill(true)],
      ),
      '',
    );
    for (const [name, v] of comps) {
      const steps = Object.entries(obj(obj(v).steps));
      if (!steps.length) continue;
      out.push(`### Steps of ${name}`, '');
      out.push(
        ...mdTable(
          ['step', 'statuses', 'p50', 'p95', 'max', 'retries', 'fallbacks', 'timeouts'],
          steps.map(([id, sv]) => {
            const s = obj(sv);
            return [id, counts(s.statuses), ms(s.durationMs, 'p50'), ms(s.durationMs, 'p95'), ms(s.durationMs, 'max'), int(s.retries), int(s.fallbacks), int(s.timeouts)];
          }),
          [false, false, true, true, true, true, true, true],
        ),
        '',
      );
    }
  }

  const providers = Object.entries(obj(engine.providers)).sort(([a], [b]) => (a < b ? -1 : 1));
  out.push('## Model providers', '');
  if (!providers.length) out.push('No call yet.', '');
  else
    out.push(
      ...mdTable(
        ['provider', 'calls', 'failed', 'failures by kind', 'failed in a row', 'p50', 'p95'],
        providers.map(([name, v]) => {
          const p = obj(v);
          return [name, int(p.calls), int(p.failures), counts(p.failuresByKind, (k) => (PROVIDER_FAILURE_LABELS as Record<string, string>)[k] ?? k), int(p.consecutiveFailures), ms(p.durationMs, 'p50'), ms(p.durationMs, 'p95')];
        }),
        [false, true, true, false, true, true, true],
      ),
      '',
    );

  const cache = obj(metrics.cache);
  if (Object.keys(cache).length) {
    const lookups = (num(cache.hits) ?? 0) + (num(cache.misses) ?? 0);
    out.push('## Result cache', '');
    out.push(
      ...mdTable(
        ['mode', 'entries', 'size', 'hits', 'misses', 'hit rate', 'evictions'],
        [[String(cache.mode ?? '-'), `${int(cache.entries)} of ${int(cache.maxEntries)}`, `${bytes(cache.bytes)} of ${bytes(cache.maxBytes)}`, int(cache.hits), int(cache.misses), percent(cache.hitRate, lookups), int(cache.evictions)]],
        [false, true, true, true, true, true, true],
      ),
      '',
    );
  }

  const config = obj(metrics.config);
  if (Object.keys(config).length) {
    out.push('## Configuration', '');
    out.push(
      ...mdTable(
        ['loads', 'outcomes', 'last', 'last took', 'p95', 'generation', 'templates compiled'],
        [[int(config.loads), counts(config.outcomes), String(config.lastOutcome ?? '-'), formatDuration(num(config.lastDurationMs)), ms(config.durationMs, 'p95'), int(config.generation), int(metrics.templatesCompiled)]],
        [true, false, false, true, true, true, true],
      ),
      '',
    );
  }
  return out.join('\n');
}
