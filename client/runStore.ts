/**
 * What the client knows about workflow runs: the step statuses of the last run of each
 * composition (live while it runs, for the graph's colours) and who listens to a run's events.
 * Fed by promptManager/stepProgress notifications and by the runWorkflow results. Pure.
 */
import type { PromptErrorInfo, RunBackendInfo, StepProgressParams, WorkflowEvent, WorkflowStatus } from '../protocol/protocol.js';
import type { StepStatusName } from './graphLayout.js';
import { outcomeOfRefusal, outcomeOfStatus, type RunOutcome } from './runOutcome.js';

export interface LastRun {
  runId: string;
  composition: string;
  workspace: string;
  running: boolean;
  steps: Record<string, StepStatusName>;
  status?: WorkflowStatus;
  /** How it ended, once it has: from its final status, its refusal, or its last event. */
  outcome?: RunOutcome;
  /** Where it executes, as the server said with its first event. */
  backend?: RunBackendInfo;
  durationMs?: number;
}

/**
 * How a run started from this client ended: its final status (how many errors elsewhere in the
 * workspace it ran despite, and where it ran), the server's refusal, or neither (the server went away).
 */
export type RunEnd = { final: WorkflowStatus; errorsElsewhere?: number; backend?: RunBackendInfo } | { refusal: PromptErrorInfo } | undefined;

type Listener<T> = (v: T) => void;
/** A run's event, with the notification that carried it (its `backend` on the first). */
type EventListener = (ev: WorkflowEvent, p: StepProgressParams) => void;

export const runKey = (workspace: string, composition: string) => `${workspace.replace(/\/+$/, '')}#${composition}`;

export class RunStore {
  private readonly last = new Map<string, LastRun>();
  private readonly byRun = new Map<string, string>();
  private readonly eventListeners = new Map<string, Set<EventListener>>();
  private readonly changeListeners = new Set<Listener<string>>();
  private active = 0;

  /** Called when a run starts from this client. */
  begin(workspace: string, composition: string, runId: string, steps: string[]): void {
    const key = runKey(workspace, composition);
    this.byRun.set(runId, key);
    this.last.set(key, { runId, composition, workspace, running: true, steps: Object.fromEntries(steps.map((s) => [s, 'pending' as StepStatusName])) });
    this.active++;
    this.emitChange(key);
  }

  /** A stepProgress notification. Runs started elsewhere (another client) are tracked too. */
  onProgress(p: StepProgressParams): void {
    let key = this.byRun.get(p.runId);
    if (!key) {
      key = runKey(p.workspace, p.event.composition);
      this.byRun.set(p.runId, key);
      this.last.set(key, { runId: p.runId, composition: p.event.composition, workspace: p.workspace, running: true, steps: {} });
    }
    const run = this.last.get(key);
    if (run && run.runId === p.runId) {
      if (p.backend) run.backend = p.backend;
      const ev = p.event;
      if (ev.type === 'workflow.started') for (const s of ev.steps) run.steps[s] ??= 'pending';
      else if (ev.type === 'step.started') run.steps[ev.stepId] = 'running';
      else if (ev.type === 'step.finished') run.steps[ev.stepId] = ev.status;
      else if (ev.type === 'workflow.finished') {
        run.running = false;
        // A run started elsewhere ends here; one started from this client gets its full status in end().
        run.outcome ??= { label: ev.status === 'timed_out' ? 'timed out' : ev.status, severity: ev.status === 'succeeded' ? 'info' : 'warning', reasons: [], missingKeys: [], refused: false };
        run.durationMs = ev.durationMs;
      }
      this.emitChange(key);
    }
    for (const l of this.eventListeners.get(p.runId) ?? []) l(p.event, p);
  }

  /** Called when a run started from this client ends: with its final status, the server's refusal, or nothing when the server went away. */
  end(runId: string, how: RunEnd): void {
    const key = this.byRun.get(runId);
    this.active = Math.max(0, this.active - 1);
    if (!key) return;
    const run = this.last.get(key);
    if (run && run.runId === runId) {
      run.running = false;
      if (how && 'final' in how) {
        const status = how.final;
        run.status = status;
        run.outcome = outcomeOfStatus(status);
        if (status.durationMs !== undefined) run.durationMs = status.durationMs;
        // A refused run's steps never ran: not "cancelled".
        for (const s of status.steps) run.steps[s.id] = status.refused ? 'not_run' : s.status;
      } else if (how) {
        run.outcome = outcomeOfRefusal(how.refusal);
        for (const id of Object.keys(run.steps)) run.steps[id] = 'not_run';
      } else {
        run.outcome = { label: 'interrupted', severity: 'error', reasons: ['the language server stopped during the run'], missingKeys: [], refused: false };
        for (const [id, s] of Object.entries(run.steps)) if (s === 'running') run.steps[id] = 'cancelled';
        else if (s === 'pending') run.steps[id] = 'not_run';
      }
    }
    this.emitChange(key);
  }

  /** Runs started from this client that have not ended. */
  get activeRuns(): number {
    return this.active;
  }

  lastRun(workspace: string, composition: string): LastRun | undefined {
    return this.last.get(runKey(workspace, composition));
  }

  onEvent(runId: string, l: EventListener): { dispose(): void } {
    let set = this.eventListeners.get(runId);
    if (!set) this.eventListeners.set(runId, (set = new Set()));
    set.add(l);
    return {
      dispose: () => {
        set!.delete(l);
        if (!set!.size) this.eventListeners.delete(runId);
      },
    };
  }

  /** Listens for changes of any composition's last run; the argument is its runKey. */
  onChange(l: Listener<string>): { dispose(): void } {
    this.changeListeners.add(l);
    return { dispose: () => this.changeListeners.delete(l) };
  }

  private emitChange(key: string): void {
    for (const l of this.changeListeners) l(key);
  }
}
