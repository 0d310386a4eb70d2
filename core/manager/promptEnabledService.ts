/**
 * PromptEnabledService: what an application service extends (or mixes in, when it already
 * extends something) to render its prompts and run its workflows under its own name, so that
 * service_mappings.yaml's access list, required context, fallback and performance targets apply.
 */
import { PromptError } from '../errors.js';
import type { RenderStatsJSON, WorkflowStatsJSON } from './metrics.js';
import type { ContextCheck, PromptManager } from './promptManager.js';
import type { RenderContext, RenderResult } from './renderTypes.js';

export interface RenderPromptRequest {
  /** Default: the service's first primary template. */
  templateName?: string;
  context?: RenderContext;
}

export interface ExecuteWorkflowRequest {
  compositionName: string;
  context?: RenderContext;
  workflowId?: string;
  signal?: AbortSignal;
}

export interface ServiceRenderStats extends RenderStatsJSON {
  workflows: WorkflowStatsJSON;
}

/** The context key a service's name is injected under. */
export const SERVICE_NAME_KEY = 'service_name';

/** The behaviour shared by the base class and the mixin. */
export interface PromptCapable {
  readonly serviceName: string;
  readonly promptManager: PromptManager;
  renderPrompt(request?: RenderPromptRequest): Promise<RenderResult>;
  executeWorkflow(request: ExecuteWorkflowRequest): Promise<unknown>;
  validateContext(context: RenderContext): ContextCheck;
  getRenderStats(): ServiceRenderStats;
  availableTemplates(): string[];
  availableCompositions(): string[];
}

/** The implementation, bound to a manager and a service name. */
class ServicePrompts {
  constructor(
    readonly manager: PromptManager,
    readonly serviceName: string,
  ) {
    // Fail at construction, not at the first prompt, when the name is not a configured service.
    manager.listTemplates({ serviceName });
  }

  renderPrompt(request: RenderPromptRequest = {}): Promise<RenderResult> {
    const templateName = request.templateName ?? this.manager.defaultTemplate(this.serviceName);
    const context = { ...(request.context ?? {}), [SERVICE_NAME_KEY]: this.serviceName };
    return this.manager.render(templateName, context, { serviceName: this.serviceName });
  }

  executeWorkflow(request: ExecuteWorkflowRequest): Promise<unknown> {
    const context = { ...(request.context ?? {}), [SERVICE_NAME_KEY]: this.serviceName };
    return this.manager.executeWorkflow(request.compositionName, context, {
      serviceName: this.serviceName,
      workflowId: request.workflowId,
      signal: request.signal,
    });
  }

  validateContext(context: RenderContext): ContextCheck {
    return this.manager.validateContext(this.serviceName, context);
  }

  getRenderStats(): ServiceRenderStats {
    const m = this.manager.getMetrics();
    const s = m.services[this.serviceName];
    if (s) return s;
    const empty = { count: 0, sum: 0, mean: 0, min: 0, max: 0, p50: 0, p95: 0, p99: 0 };
    return {
      renders: 0,
      errors: {},
      fallbacks: 0,
      cache: { hits: 0, misses: 0, hitRate: 0 },
      latencyMs: empty,
      workflows: { runs: 0, statuses: {}, errors: {}, latencyMs: empty },
    };
  }

  availableTemplates(): string[] {
    return this.manager.listTemplates({ serviceName: this.serviceName });
  }

  availableCompositions(): string[] {
    return this.manager.listCompositions({ serviceName: this.serviceName });
  }
}

export interface PromptEnabledServiceOptions {
  promptManager: PromptManager;
  /** Default: the subclass's static `serviceName`. */
  serviceName?: string;
}

function nameFrom(ctor: unknown, given: string | undefined): string {
  const name = given ?? (ctor as { serviceName?: unknown }).serviceName;
  if (typeof name !== 'string' || !name) {
    throw new PromptError('access_denied', 'A PromptEnabledService needs a service name: pass { serviceName } or declare `static serviceName = "..."` on the class');
  }
  return name;
}

/**
 * Base class of a prompt-using service:
 *
 * ```ts
 * class AnalysisService extends PromptEnabledService {
 *   static serviceName = 'analysis_service';
 *   summarise(document: string) { return this.renderPrompt({ context: { document, user_id: 'u1' } }); }
 * }
 * const svc = new AnalysisService({ promptManager });
 * ```
 */
export class PromptEnabledService implements PromptCapable {
  private readonly prompts: ServicePrompts;

  constructor(options: PromptEnabledServiceOptions) {
    this.prompts = new ServicePrompts(options.promptManager, nameFrom(new.target, options.serviceName));
  }

  get serviceName(): string {
    return this.prompts.serviceName;
  }
  get promptManager(): PromptManager {
    return this.prompts.manager;
  }
  renderPrompt(request?: RenderPromptRequest): Promise<RenderResult> {
    return this.prompts.renderPrompt(request);
  }
  executeWorkflow(request: ExecuteWorkflowRequest): Promise<unknown> {
    return this.prompts.executeWorkflow(request);
  }
  validateContext(context: RenderContext): ContextCheck {
    return this.prompts.validateContext(context);
  }
  getRenderStats(): ServiceRenderStats {
    return this.prompts.getRenderStats();
  }
  availableTemplates(): string[] {
    return this.prompts.availableTemplates();
  }
  availableCompositions(): string[] {
    return this.prompts.availableCompositions();
  }
}

// `any[]`: TypeScript takes a class as a mixin's base only with this constructor signature (TS2545).
export type Constructor<T = object> = abstract new (...args: any[]) => T;

// State of mixed-in instances, outside the class: declaration files cannot describe private
// members of a class returned from a function.
const mixinState = new WeakMap<object, ServicePrompts>();

function promptsOf(self: object): ServicePrompts {
  const p = mixinState.get(self);
  if (!p) {
    throw new PromptError('access_denied', `${self.constructor.name} has no prompt manager yet: call this.enablePrompts(manager) first`);
  }
  return p;
}

/**
 * The same capabilities for a class that already extends something. The class's constructor
 * arguments are left alone; call `this.enablePrompts(manager, serviceName?)` (typically in its
 * constructor) before the first prompt.
 *
 * ```ts
 * class Reviewer extends PromptEnabled(BaseController) {
 *   static serviceName = 'review_service';
 *   constructor(manager: PromptManager) { super(); this.enablePrompts(manager); }
 * }
 * ```
 */
export function PromptEnabled<TBase extends Constructor>(Base: TBase) {
  abstract class PromptEnabledMixin extends Base implements PromptCapable {
    enablePrompts(promptManager: PromptManager, serviceName?: string): this {
      mixinState.set(this, new ServicePrompts(promptManager, nameFrom(this.constructor, serviceName)));
      return this;
    }

    get serviceName(): string {
      return promptsOf(this).serviceName;
    }
    get promptManager(): PromptManager {
      return promptsOf(this).manager;
    }
    renderPrompt(request?: RenderPromptRequest): Promise<RenderResult> {
      return promptsOf(this).renderPrompt(request);
    }
    executeWorkflow(request: ExecuteWorkflowRequest): Promise<unknown> {
      return promptsOf(this).executeWorkflow(request);
    }
    validateContext(context: RenderContext): ContextCheck {
      return promptsOf(this).validateContext(context);
    }
    getRenderStats(): ServiceRenderStats {
      return promptsOf(this).getRenderStats();
    }
    availableTemplates(): string[] {
      return promptsOf(this).availableTemplates();
    }
    availableCompositions(): string[] {
      return promptsOf(this).availableCompositions();
    }
  }
  return PromptEnabledMixin;
}
