/**
 * What the client knows about workflow runs: the step statuses of the last run of each
 * composition (live while it runs, for the graph's colours) and who listens to a run's events.
 * Fed by promptManager/stepProgress notifications and by the runWorkflow results. Pure.
 */
import type { StepProgressParams, WorkflowEvent, WorkflowStatus } from '../protocol/protocol.js';
import type { StepStatusName } from './graphLayout.js';

export interface LastRun {
  runId: string;
  composition: string;
  workspace: string;
  running: boolean;
  steps: Record<string, StepStatusName>;
  status?: WorkflowStatus;
}

type Listener<T> = (v: T) => void;

export const runKey = (workspace: string, composition: string) => `${workspace.replace(/\/+$/, '')}#${composition}`;

export class RunStore {
  private readonly last = new Map<string, LastRun>();
  private readonly byRun = new Map<string, string>();
  private readonly eventListeners = new Map<string, Set<Listener<WorkflowEvent>>>();
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
      const ev = p.event;
      if (ev.type === 'workflow.started') for (const s of ev.steps) run.steps[s] ??= 'pending';
      else if (ev.type === 'step.started') run.steps[ev.stepId] = 'running';
      else if (ev.type === 'step.finished') run.steps[ev.stepId] = ev.status;
      else if (ev.type === 'workflow.finished') run.running = false;
      this.emitChange(key);
    }
    for (const l of this.eventListeners.get(p.runId) ?? []) l(p.event);
  }

  /** Called with the run's final status (from the runWorkflow result). */
  end(runId: string, status: WorkflowStatus | undefined): void {
    const key = this.byRun.get(runId);
    this.active = Math.max(0, this.active - 1);
    if (!key) return;
    const run = this.last.get(key);
    if (run && run.runId === runId) {
      run.running = false;
      if (status) {
        run.status = status;
        for (const s of status.steps) run.steps[s.id] = s.status;
      } else {
        for (const [id, s] of Object.entries(run.steps)) if (s === 'running' || s === 'pending') run.steps[id] = 'cancelled';
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

  onEvent(runId: string, l: Listener<WorkflowEvent>): { dispose(): void } {
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
