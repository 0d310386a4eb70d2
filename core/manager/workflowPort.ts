/**
 * The seam between the prompt manager and the workflow engine (its own module, core/workflow/).
 * The manager checks service access and required context, pins the configuration snapshot a
 * run starts with, and hands the run to whatever engine was attached with
 * `manager.attachWorkflowEngine(port)`.
 */
import type { Clock } from '../clock.js';
import type { EngineSnapshot } from './snapshot.js';
import type { RenderResult } from './renderTypes.js';
import type { ComponentHealth } from './health.js';

export interface WorkflowRenderOptions {
  serviceName?: string;
  signal?: AbortSignal;
}

export interface WorkflowExecuteOptions {
  /** The service the run is made for; access was already checked. */
  serviceName?: string;
  /** The run id: the caller's, or one from the manager's id generator. */
  workflowId: string;
  signal?: AbortSignal;
  /**
   * The configuration the run started with. A hot reload swaps the manager's snapshot, never
   * this one, so a run in progress sees one consistent configuration to its end.
   */
  snapshot: EngineSnapshot;
  /** Renders a template of `snapshot` (compiled once, strict per preset, metrics recorded). */
  render(templateName: string, context: Record<string, unknown>, options?: WorkflowRenderOptions): RenderResult;
  /** The same renders in the shape core/workflow's WorkflowHost has, pinned to `snapshot`. */
  host: TemplateHost;
  clock: Clock;
  idGenerator: () => string;
}

export interface WorkflowPort {
  execute(compositionName: string, context: Record<string, unknown>, options: WorkflowExecuteOptions): Promise<unknown>;
  /** Reported as the `workflows` component of `healthCheck()`. */
  health?(): ComponentHealth;
  /**
   * Reported as the `providers` component of `healthCheck()`, which passes the configuration in
   * use; undefined falls back to checking the used providers' keys in process.env.
   */
  providerHealth?(snapshot: EngineSnapshot): ComponentHealth | undefined;
  /** Called by `manager.close()`. */
  close?(): void | Promise<void>;
}

/**
 * What the workflow engine (core/workflow) asks of the template side: the manager gives one
 * with `manager.createWorkflowHost()`, pinned to a snapshot when one is passed.
 */
export interface TemplateHost {
  renderTemplate(name: string, context: Record<string, unknown>, opts: { signal: AbortSignal; serviceName?: string }): Promise<string>;
  renderString(source: string, context: Record<string, unknown>): string;
}
