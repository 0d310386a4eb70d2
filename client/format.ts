/**
 * Plain-text formatting of what the client prints to the "PromptManager" output channel: one
 * line per workflow event, the run's summary table, render lines, health and validation
 * reports. Pure functions (no `vscode` import) so that they are unit-tested as they are.
 */
import type { HealthReport, PromptErrorInfo, PromptWorkspaceInfo, RunBackendInfo, WorkflowEvent, WorkflowStatus } from '../protocol/protocol.js';
import { describeFallback, outcomeOfStatus } from './runOutcome.js';

/** `12 ms`, `3.4 ms`, `1.25 s`, `2 min 5 s`. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms < 10) return `${(Math.round(ms * 10) / 10).toString()} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms - m * 60_000) / 1000)} s`;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** `HH:MM:SS.mmm` in local time. */
export function formatClock(date: Date): string {
  return `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, '0')}`;
}

/** The wall-clock time of an event: its own when it is an epoch time, else when it arrived. */
export function eventDate(ev: { time: number }, received: Date): Date {
  return ev.time > 1e12 ? new Date(ev.time) : received;
}

/** The first line of a text, at most `max` characters (`…` when cut). */
export function oneLine(text: unknown, max = 60): string {
  if (text === null || text === undefined) return '';
  const s = (typeof text === 'string' ? text : JSON.stringify(text)).replace(/\s+/g, ' ').trim();
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

function errorText(e: Record<string, unknown> | undefined): string {
  if (!e) return '';
  const code = typeof e.code === 'string' ? e.code : undefined;
  const msg = typeof e.message === 'string' ? e.message : JSON.stringify(e);
  return code && !msg.startsWith(code) ? `${code}: ${msg}` : msg;
}

/** Where a run executes, for a person: `on BullMQ at redis://127.0.0.1:6379 (prefix promptmanager)`, `in the language server`. */
export function formatBackend(b: RunBackendInfo): string {
  return b.type === 'bullmq' ? `on BullMQ at ${b.redisUrl} (prefix ${b.prefix})` : 'in the language server';
}

/** Said only when a run does not execute in the language server (the default goes unsaid). */
const elsewhere = (b: RunBackendInfo | undefined) => (b && b.type !== 'in-process' ? formatBackend(b) : '');

/**
 * One output-channel line for a workflow event: time, step, status, attempt, duration (and
 * why, for retries and failures). `stepWidth` aligns the step column. With `backend` (the run's
 * first event), the run's start says where it executes, unless in the language server.
 */
export function formatEventLine(ev: WorkflowEvent, received: Date, stepWidth = 12, backend?: RunBackendInfo): string {
  const time = formatClock(eventDate(ev, received));
  const col = (step: string, status: string, rest: string[]) => `${time}  ${step.padEnd(stepWidth)}  ${status.padEnd(10)}  ${rest.filter(Boolean).join('  ')}`.trimEnd();
  switch (ev.type) {
    case 'workflow.queued':
      return col('(workflow)', 'queued', [`position ${ev.position}`, `run ${ev.runId}`, elsewhere(backend)]);
    case 'workflow.started':
      return col('(workflow)', 'started', [`${ev.steps.length} step${ev.steps.length === 1 ? '' : 's'}`, `max parallel ${Number.isFinite(ev.maxParallel) ? ev.maxParallel : 'unbounded'}`, `run ${ev.runId}`, elsewhere(backend)]);
    case 'step.started':
      return col(ev.stepId, 'running', [`attempt ${ev.attempt}`]);
    case 'step.retrying':
      return col(ev.stepId, 'retrying', [`attempt ${ev.attempt} failed`, `next attempt ${ev.nextAttempt} in ${formatDuration(ev.waitMs)}`, errorText(ev.error)]);
    case 'step.finished': {
      const why = ev.skipReason ? `(${ev.skipReason === 'when' ? 'when is false' : ev.skipReason === 'override' ? 'override skip' : 'upstream failed'})` : '';
      return col(ev.stepId, ev.status, [`attempt ${ev.attempts}`, formatDuration(ev.durationMs), why, ev.error ? errorText(ev.error) : '']);
    }
    case 'workflow.finished':
      return col('(workflow)', ev.status, [formatDuration(ev.durationMs), ev.error ? errorText(ev.error) : '']);
  }
}

/** Lays out rows as a plain-text table with a header rule. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

/**
 * The summary printed when a run ends: a header line ("succeeded with fallbacks", "refused",
 * and where it ran unless in the language server), why steps fell back, a table of steps, then
 * the output.
 */
export function formatRunSummary(status: WorkflowStatus, backend?: RunBackendInfo): string[] {
  const outcome = outcomeOfStatus(status);
  const who = `Run ${status.id} of ${status.composition}${status.serviceName ? ` (service ${status.serviceName})` : ''}`;
  const where = elsewhere(backend);
  const head = outcome.refused
    ? `${who}: refused: ${outcome.reasons.join('; ')}`
    : `${who}: ${outcome.label} in ${formatDuration(status.durationMs ?? (status.finishedAt !== undefined ? status.finishedAt - status.startedAt : undefined))}${where ? ` ${where}` : ''}`;
  const applied = [status.appliedOverrides.state && `state ${status.appliedOverrides.state}`, status.appliedOverrides.experienceLevel && `experience level ${status.appliedOverrides.experienceLevel}`].filter(Boolean);
  const rows = status.steps.map((s) => [
    s.id,
    outcome.refused ? 'not run' : s.status + (s.skipReason ? ` (${s.skipReason})` : ''),
    String(s.attempts),
    formatDuration(s.durationMs),
    s.errors.length && (s.status === 'failed' || s.status === 'fallback') ? oneLine(errorText(s.errors[s.errors.length - 1]), 70) : oneLine(s.output, 70),
  ]);
  const out = [head];
  if (applied.length) out.push(`Overrides applied: ${applied.join(', ')}`);
  const fallbacks = (status.fallbacks ?? []).map((f) => `  ${describeFallback(f)}`);
  if (fallbacks.length) out.push('Fallbacks:', ...fallbacks);
  out.push('', ...table(['step', 'status', 'attempts', 'duration', 'output / last error'], rows), '');
  if (status.output !== null && status.output !== undefined) {
    out.push('Output:', ...String(status.output).split(/\r?\n/));
  } else if (!outcome.refused) {
    out.push(`No output (run ${status.status})${status.error ? `: ${errorText(status.error)}` : ''}`);
  }
  return out;
}

/** Where an error is, as `path:line:column` (1-based), relative to `base` when under it. */
export function formatLocation(loc: PromptErrorInfo['location'], base?: string): string | undefined {
  if (!loc) return undefined;
  let file = loc.uri;
  if (base && file.startsWith(base.replace(/\/?$/, '/'))) file = file.slice(base.replace(/\/?$/, '/').length);
  else if (file.startsWith('file://')) file = decodeURIComponent(file.slice('file://'.length));
  return `${file}:${loc.range.start.line + 1}:${loc.range.start.character + 1}`;
}

/** A render error as one sentence naming the template and where it failed. */
export function formatRenderError(template: string, error: PromptErrorInfo, base?: string): string {
  const where = formatLocation(error.location, base);
  const tpl = error.template && error.template !== template ? `${template} (in ${error.template})` : template;
  return `Rendering ${tpl} failed${where ? ` at ${where}` : ''}: ${error.code}: ${error.message}`;
}

export interface RenderLineInfo {
  template: string;
  service?: string;
  contextLabel: string;
  durationMs: number;
  /** The server's own render time, when it answered. */
  serverMs?: number;
  fromCache?: boolean;
  templateUsed?: string;
  chars?: number;
  error?: PromptErrorInfo;
  base?: string;
}

/** The output-channel line of a preview render: timing and cache status, or the error. */
export function formatRenderLine(r: RenderLineInfo, now: Date): string {
  const what = `render ${r.template}${r.service ? ` for ${r.service}` : ''} with ${r.contextLabel}`;
  if (r.error) return `${formatClock(now)}  ${what}: FAILED in ${formatDuration(r.durationMs)}: ${formatRenderError(r.template, r.error, r.base)}`;
  const parts = [`${formatDuration(r.durationMs)} round trip`];
  if (r.serverMs !== undefined) parts.push(`${formatDuration(r.serverMs)} in the engine`);
  parts.push(r.fromCache ? 'cache hit' : 'cache miss');
  if (r.chars !== undefined) parts.push(`${r.chars} chars`);
  if (r.templateUsed && r.templateUsed !== r.template) parts.push(`answered by the fallback ${r.templateUsed}`);
  return `${formatClock(now)}  ${what}: ${parts.join(', ')}`;
}

/** A health report as lines: the overall status, then one line per component. */
export function formatHealth(name: string, health: HealthReport): string[] {
  const icon = (s: string) => (s === 'healthy' ? 'OK  ' : s === 'degraded' ? 'WARN' : 'FAIL');
  const comps = Object.entries(health.components).sort(([a], [b]) => (a < b ? -1 : 1));
  const width = Math.max(9, ...comps.map(([k]) => k.length));
  return [`Health of ${name}: ${health.status}`, ...comps.map(([k, c]) => `  ${icon(c.status)}  ${k.padEnd(width)}  ${c.status.padEnd(9)}  ${c.reason}`)];
}

/** One line per prompt workspace, for Validate Workspace and Reload Configuration. */
export function formatWorkspaceLine(w: PromptWorkspaceInfo): string {
  const plural = (n: number, s: string) => `${n} ${s}${n === 1 ? '' : 's'}`;
  return `  ${w.name.padEnd(12)}  ${plural(w.errorCount, 'error').padEnd(10)}  ${plural(w.warningCount, 'warning').padEnd(12)}  ${plural(w.serviceCount, 'service')}, ${plural(w.compositionCount, 'composition')}, ${plural(w.templateCount, 'template')}`;
}
