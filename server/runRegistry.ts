/**
 * The workflow runs started through `promptManager/runWorkflow`, by run id: the running ones
 * (to report their status, cancel them, and abort them at shutdown) and the last finished
 * ones, up to a limit, oldest dropped first.
 */
import type { WorkflowRun, WorkflowStatus } from '../core/workflow/types.js';
import type { ManagedWorkspace } from './workspaceManager.js';

export interface RunEntry {
  workspace: ManagedWorkspace;
  /** Set once the engine has started the run. */
  run?: WorkflowRun;
  controller: AbortController;
  composition: string;
  startedAt: number;
  /** The final status, once the run has ended (or could not start). */
  final?: WorkflowStatus;
}

export interface RunListing {
  id: string;
  entry: RunEntry;
  /** The run's status now (running or final); undefined before the engine has started it. */
  status?: WorkflowStatus;
}

/** Runs kept by default, running ones included: finished ones beyond it are dropped, oldest first. */
export const RUN_HISTORY_LIMIT = 200;

export class RunRegistry {
  private readonly runs = new Map<string, RunEntry>();

  constructor(private readonly limit = RUN_HISTORY_LIMIT) {}

  /** Registers a run about to start; undefined when a run with this id is still running. */
  start(id: string, workspace: ManagedWorkspace, composition: string, now = Date.now()): RunEntry | undefined {
    const existing = this.runs.get(id);
    if (existing && !existing.final) return undefined;
    const entry: RunEntry = { workspace, controller: new AbortController(), composition, startedAt: now };
    this.runs.set(id, entry);
    this.trim();
    return entry;
  }

  /** Ends a run that failed to start (or whose engine threw) with a `failed` status carrying the error. */
  failed(id: string, entry: RunEntry, error: Record<string, unknown>): void {
    entry.final = { id, composition: entry.composition, status: 'failed', startedAt: entry.startedAt, steps: [], outputs: {}, output: null, maxParallel: 0, appliedOverrides: {}, error };
  }

  /** The run's status now; undefined for an unknown id (never started, or dropped). */
  status(id: string): WorkflowStatus | undefined {
    const r = this.runs.get(id);
    if (!r) return undefined;
    return r.run ? r.run.status() : r.final;
  }

  /** Cancels a running run; false when no run of this id is running. */
  cancel(id: string, reason: string): boolean {
    const r = this.runs.get(id);
    if (!r || r.final) return false;
    if (r.run) r.run.cancel(reason);
    r.controller.abort();
    return true;
  }

  /** The runs known, oldest first; only a workspace's when one is given. */
  list(workspace?: ManagedWorkspace): RunListing[] {
    const out: RunListing[] = [];
    for (const [id, entry] of this.runs) {
      if (workspace && entry.workspace !== workspace) continue;
      const status = entry.run?.status() ?? entry.final;
      out.push(status ? { id, entry, status } : { id, entry });
    }
    return out;
  }

  /**
   * The last run of a composition in a workspace that has ended, with its outputs (a step
   * preview reads its steps' outputs); undefined when there is none.
   */
  lastFinished(workspace: ManagedWorkspace, composition: string): WorkflowStatus | undefined {
    let last: WorkflowStatus | undefined;
    for (const entry of this.runs.values()) {
      if (entry.workspace !== workspace || entry.composition !== composition) continue;
      const status = entry.final ?? entry.run?.status();
      if (status && status.status !== 'running' && status.steps.length) last = status;
    }
    return last;
  }

  /** Aborts every running run (at shutdown). */
  abortAll(): void {
    for (const r of this.runs.values()) if (!r.final) r.controller.abort();
  }

  private trim(): void {
    if (this.runs.size <= this.limit) return;
    for (const [id, r] of this.runs) {
      if (this.runs.size <= this.limit) break;
      if (r.final) this.runs.delete(id);
    }
  }
}
