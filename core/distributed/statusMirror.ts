/**
 * A run's status as this process has seen it through the run's events: what `run.status()`
 * answers synchronously for a distributed run while it runs (step statuses, attempts, errors,
 * timings; step outputs are in Redis, read by `getWorkflowStatus` and given by `done`).
 */
import type { ErrorJSON, StepRunStatus, WorkflowEvent, WorkflowStatus } from '../workflow/types.js';
import type { RunSpec } from './runStore.js';

export class StatusMirror {
  private status: WorkflowStatus;
  private readonly index = new Map<string, StepRunStatus>();
  /** The run waited for a run slot (runSlots.ts) from `startedAt`; `begunAt` when it left the queue. */
  private waited = false;
  private begunAt?: number;

  constructor(spec: RunSpec, startedAt: number) {
    const steps = spec.composition.steps.map((d) => {
      const s: StepRunStatus = { id: d.id, status: 'pending', attempts: 0, errors: [], output: null };
      if (d.template !== undefined) s.template = d.template;
      if (d.model !== undefined) s.model = d.model;
      this.index.set(d.id, s);
      return s;
    });
    this.status = {
      id: spec.id,
      composition: spec.composition.name,
      status: 'running',
      startedAt,
      steps,
      outputs: {},
      output: null,
      maxParallel: spec.maxParallel ?? Infinity,
      appliedOverrides: { ...spec.composition.appliedOverrides },
    };
    if (spec.serviceName !== undefined) this.status.serviceName = spec.serviceName;
  }

  private pushError(s: StepRunStatus, e: ErrorJSON | undefined): void {
    if (e && s.errors[s.errors.length - 1] !== e) s.errors.push(e);
  }

  /** The run waits for a run slot since `at` (as in-process: `pending`, its steps pending). */
  queued(at: number): void {
    if (this.waited) return;
    this.waited = true;
    this.status.status = 'pending';
    this.status.startedAt = at;
  }

  apply(e: WorkflowEvent): void {
    const st = this.status;
    switch (e.type) {
      case 'workflow.queued':
        this.queued(e.time);
        return;
      case 'workflow.started':
        // A run that waited started when it was queued (its duration counts the wait).
        if (this.waited) {
          this.begunAt = e.time;
          st.status = 'running';
        } else st.startedAt = e.time;
        return;
      case 'step.started': {
        const s = this.index.get(e.stepId);
        if (!s) return;
        s.status = 'running';
        s.startedAt = e.time;
        s.attempts = Math.max(s.attempts, e.attempt);
        return;
      }
      case 'step.retrying': {
        const s = this.index.get(e.stepId);
        if (!s) return;
        s.attempts = Math.max(s.attempts, e.attempt);
        this.pushError(s, e.error);
        return;
      }
      case 'step.finished': {
        const s = this.index.get(e.stepId);
        if (!s) return;
        s.status = e.status;
        s.attempts = e.attempts;
        if (e.skipReason) s.skipReason = e.skipReason;
        if (s.startedAt !== undefined) {
          s.finishedAt = e.time;
          s.durationMs = e.durationMs;
        }
        if (e.error) s.errors.push(e.error);
        return;
      }
      case 'workflow.finished':
        st.status = e.status;
        st.finishedAt = e.time;
        st.durationMs = e.durationMs;
        if (e.error) st.error = e.error;
        return;
    }
  }

  snapshot(): WorkflowStatus {
    const st = this.status;
    if (this.waited) st.queuedMs = (this.begunAt ?? st.finishedAt ?? Date.now()) - st.startedAt;
    return { ...this.status, steps: this.status.steps.map((s) => ({ ...s, errors: s.errors.slice() })), outputs: { ...this.status.outputs }, appliedOverrides: { ...this.status.appliedOverrides } };
  }
}
