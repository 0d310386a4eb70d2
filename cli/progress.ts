/**
 * Live progress of a workflow run on stderr. On a terminal: one line per step, redrawn in
 * place with status, attempt and elapsed time. Elsewhere (CI logs, pipes): one plain line per
 * event, so logs read top to bottom.
 */
import { plural } from '../core/plural.js';
import type { WorkflowEvent, WorkflowResult } from '../core/workflow/types.js';

interface StepLine {
  id: string;
  status: string;
  attempt: number;
  startedAt?: number;
  durationMs?: number;
  note?: string;
}

const SKIPPED_BECAUSE: Record<string, string> = {
  when: 'its when condition is false',
  override: 'an override skips it',
  upstream: 'a step it depends on did not succeed',
};

const SYMBOL: Record<string, string> = {
  pending: '·',
  running: '▶',
  retrying: '↻',
  succeeded: '✔',
  fallback: '↪',
  failed: '✖',
  skipped: '–',
  cancelled: '■',
};

export class ProgressView {
  private steps = new Map<string, StepLine>();
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The run's start on the engine's clock: every printed time is an event's own time from it. */
  private runStart: number | undefined;

  /** `now` only times the live "running for" column of a terminal; printed times come from the events. */
  constructor(
    private readonly write: (s: string) => void,
    private readonly tty: boolean,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * When the event happened, from the run's start, by the engine's clock. Not when the view
   * read it: events are read from a queue, possibly late and in bursts, and a time of reading
   * would print a step's end before its start plus the duration it reports.
   */
  private at(ev: WorkflowEvent): string {
    this.runStart ??= ev.time;
    return `[${((ev.time - this.runStart) / 1000).toFixed(2)}s]`;
  }

  onEvent(ev: WorkflowEvent): void {
    switch (ev.type) {
      case 'workflow.started': {
        this.runStart = ev.time;
        for (const id of ev.steps) this.steps.set(id, { id, status: 'pending', attempt: 0 });
        const parallel = Number.isFinite(ev.maxParallel) ? `at most ${ev.maxParallel} at once` : 'no limit on how many run at once';
        if (!this.tty) this.write(`${this.at(ev)} run ${ev.runId} of ${ev.composition} started: ${plural(ev.steps.length, 'step')}, ${parallel}\n`);
        else this.timer = setInterval(() => this.draw(), 100).unref();
        break;
      }
      case 'step.started': {
        const s = this.step(ev.stepId);
        Object.assign(s, { status: 'running', attempt: ev.attempt, startedAt: this.now(), note: undefined });
        if (!this.tty) this.write(`${this.at(ev)} ${ev.stepId}: started (attempt ${ev.attempt})\n`);
        break;
      }
      case 'step.retrying': {
        const s = this.step(ev.stepId);
        const err = ev.error as { code?: string; message?: string } | undefined;
        Object.assign(s, { status: 'retrying', note: `${err?.code ?? 'error'}; retry in ${(ev.waitMs / 1000).toFixed(1)}s` });
        if (!this.tty) this.write(`${this.at(ev)} ${ev.stepId}: attempt ${ev.attempt} failed (${err?.code ?? 'error'}: ${err?.message ?? ''}); attempt ${ev.nextAttempt} in ${ev.waitMs} ms\n`);
        break;
      }
      case 'step.finished': {
        const s = this.step(ev.stepId);
        const err = ev.error as { code?: string } | undefined;
        Object.assign(s, { status: ev.status, attempt: ev.attempts, durationMs: ev.durationMs, note: err?.code });
        const ran = ev.attempts > 0 ? ` after ${plural(ev.attempts, 'attempt')}, ${Math.round(ev.durationMs)} ms` : ev.skipReason ? ` (${SKIPPED_BECAUSE[ev.skipReason] ?? ev.skipReason})` : '';
        if (!this.tty) this.write(`${this.at(ev)} ${ev.stepId}: ${ev.status}${ran}${err?.code ? ` (${err.code})` : ''}\n`);
        break;
      }
      case 'workflow.finished':
        if (!this.tty) this.write(`${this.at(ev)} run ${ev.runId} ${ev.status}\n`);
        break;
    }
    if (this.tty) this.draw();
  }

  private step(id: string): StepLine {
    let s = this.steps.get(id);
    if (!s) this.steps.set(id, (s = { id, status: 'pending', attempt: 0 }));
    return s;
  }

  private draw(): void {
    const width = Math.max(4, ...[...this.steps.keys()].map((k) => k.length));
    const lines = [...this.steps.values()].map((s) => {
      const time = s.durationMs !== undefined ? `${(s.durationMs / 1000).toFixed(2)}s` : s.startedAt !== undefined ? `${((this.now() - s.startedAt) / 1000).toFixed(1)}s` : '';
      const attempt = s.attempt ? `attempt ${s.attempt}` : '';
      return `  ${SYMBOL[s.status] ?? '?'} ${s.id.padEnd(width)}  ${s.status.padEnd(9)}  ${attempt.padEnd(10)}  ${time.padStart(7)}${s.note ? `  ${s.note}` : ''}`;
    });
    // Move up over what was drawn before and redraw every line.
    let out = this.drawn ? `\x1b[${this.drawn}F` : '';
    for (const l of lines) out += `\x1b[2K${l}\n`;
    this.drawn = lines.length;
    this.write(out);
  }

  finish(result: WorkflowResult): void {
    if (this.timer) clearInterval(this.timer);
    if (this.tty) this.draw();
    const counts = new Map<string, number>();
    for (const s of result.steps) counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
    const summary = [...counts].map(([k, v]) => `${v} ${k}`).join(', ');
    const took = result.durationMs !== undefined ? ` in ${(result.durationMs / 1000).toFixed(2)}s` : '';
    this.write(`run ${result.id}: ${result.status}${took} (${summary})${result.error ? `: ${result.error.message}` : ''}\n`);
  }
}
