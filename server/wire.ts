/**
 * Core values as the protocol sends them, in one place. The protocol (protocol/) has wire
 * types of its own so that the core's internal types are not the wire format; each function
 * here is typed core -> wire, so the compiler says where a change in the core no longer gives
 * clients what the protocol promises. Values go out as the core made them (a run's events and
 * status are not copied); test/protocol/wireTypes.test.ts holds the run and graph shapes field
 * for field to the core's, so that nothing reaches the wire that the protocol does not declare.
 * The lists' items (workspaces, services, templates, compositions, providers) and errors are
 * built here from the model, the request handlers (customRequests.ts) giving the locations.
 */
import * as path from 'node:path';
import type { Location } from 'vscode-languageserver-types';
import { PromptError, toPromptError, type ErrorCode } from '../core/errors.js';
import type { HealthReport as CoreHealthReport } from '../core/manager/health.js';
import type { StepPreviewResult, TemplatePreview } from '../core/manager/renderTypes.js';
import type { CompositionDef, ProviderDef, ServiceDef } from '../core/model/types.js';
import type { TemplateEntry, WorkspaceValidation } from '../core/validate/api.js';
import type { GraphNode as CoreGraphNode } from '../core/workflow/graph.js';
import type { WorkflowEvent as CoreWorkflowEvent, WorkflowStatus as CoreWorkflowStatus } from '../core/workflow/types.js';
import type { SNode } from '../core/yaml/sourceTree.js';
import type {
  CompositionInfo,
  GraphNode,
  HealthReport,
  PromptErrorCode,
  PromptErrorInfo,
  PromptWorkspaceInfo,
  PreviewResult,
  PreviewStepInfo,
  ProviderInfo,
  ServiceInfo,
  TemplateInfo,
  WorkflowEvent,
  WorkflowStatus,
} from '../protocol/protocol.js';

/** The error codes the server adds to the core's for requests it cannot answer (the protocol lists both). */
export const SERVER_ERROR_CODES = [
  /** `promptManager/listTemplates` or `listCompositions` named a service that is not defined. */
  'unknown_service',
  /** Several prompt workspaces are open and the request did not say which. */
  'workspace_required',
  /** The request named a workspace the server does not know, or none is open. */
  'unknown_workspace',
  /** The workspace has no engine to answer with (its configuration never loaded). */
  'not_available',
] as const satisfies readonly PromptErrorCode[];
export type ServerErrorCode = (typeof SERVER_ERROR_CODES)[number];

export function wireErrorCode(code: ErrorCode | ServerErrorCode): PromptErrorCode {
  return code;
}

export function wireWorkflowStatus(status: CoreWorkflowStatus): WorkflowStatus {
  return status;
}

export function wireWorkflowEvent(event: CoreWorkflowEvent): WorkflowEvent {
  return event;
}

export function wireGraphNode(node: CoreGraphNode): GraphNode {
  return node;
}

export function wireHealthReport(report: CoreHealthReport): HealthReport {
  return report;
}

/**
 * Anything a render, a run or a load threw, as the protocol reports it (not a PromptError: a
 * `template_error`). `uriOf` spells a file's URI as the client does; a location's line and
 * column (1-based in the core) become an empty range at that place.
 */
export function wirePromptError(e: unknown, uriOf: (file: string) => string): PromptErrorInfo {
  const err = e instanceof PromptError ? e : toPromptError(e, 'template_error');
  const info: PromptErrorInfo = { code: wireErrorCode(err.code), message: err.message };
  if (err.template) info.template = err.template;
  if (err.service) info.service = err.service;
  if (err.composition) info.composition = err.composition;
  if (err.variable) info.variable = err.variable;
  const loc = err.location;
  if (loc?.file) {
    const line = Math.max(0, (loc.line ?? 1) - 1);
    const character = Math.max(0, (loc.column ?? 1) - 1);
    info.location = { uri: uriOf(loc.file), range: { start: { line, character }, end: { line, character } } };
  }
  return info;
}

/**
 * What messages call a prompt workspace: its editor folder's name, then its path below that
 * folder (`examples`, `examples/broken/cycle`); never `.`, which says nothing in a notification.
 */
export function workspaceName(folder: string, root: string): string {
  const below = path.relative(folder, root).split(path.sep).join('/');
  const base = path.basename(folder) || folder;
  return below && !below.startsWith('..') ? `${base}/${below}` : base;
}

/** A preview (core's previewTemplate or previewStep) as `promptManager/preview` answers it. */
export function wirePreview(p: TemplatePreview | StepPreviewResult, uriOf: (file: string) => string): PreviewResult {
  const out: PreviewResult = { ok: true, text: p.text, templateUsed: p.template, missing: [...p.missing], errorsElsewhere: p.errorsElsewhere, fromCache: p.fromCache, durationMs: p.durationMs };
  if (p.strictError) out.strictError = wirePromptError(p.strictError, uriOf);
  if (p.fallbackFor) out.fallbackFor = { ...p.fallbackFor, code: wireErrorCode(p.fallbackFor.code) };
  if ('step' in p) {
    const step: PreviewStepInfo = { composition: p.composition, step: p.step, dependencies: p.dependencies.map((d) => ({ ...d })), appliedOverrides: { ...p.appliedOverrides } };
    if (p.skip) step.skip = p.skip;
    if (p.model !== undefined) step.model = p.model;
    out.step = step;
  }
  return out;
}

/** A prompt workspace as `promptManager/listWorkspaces` lists it, from its latest validation. */
export function wireWorkspaceInfo(
  v: WorkspaceValidation,
  where: { uri: string; name: string; uriOf(file: string): string; exists(file: string): boolean },
): PromptWorkspaceInfo {
  const info = {
    uri: where.uri,
    name: where.name,
    templatesRoot: where.uriOf(v.templatesRoot),
    errorCount: v.errorCount,
    warningCount: v.warningCount,
    serviceCount: v.serviceMappings?.services.length ?? 0,
    compositionCount: v.compositionRules?.compositions.length ?? 0,
    templateCount: v.templates.size,
  };
  return {
    ...info,
    ...(where.exists(v.serviceMappingsFile) ? { serviceMappings: where.uriOf(v.serviceMappingsFile) } : {}),
    ...(where.exists(v.compositionRulesFile) ? { compositionRules: where.uriOf(v.compositionRulesFile) } : {}),
  };
}

export function wireServiceInfo(s: ServiceDef, location: Location): ServiceInfo {
  const info: ServiceInfo = {
    name: s.name,
    primaryTemplates: s.primaryTemplates.map((r) => r.name),
    templates: s.templates.map((r) => r.name),
    compositions: s.compositions.map((r) => r.name),
    contextRequirements: { required: [...s.contextRequirements.required], optional: [...s.contextRequirements.optional] },
    performanceTargets: { ...s.performanceTargets },
    location,
  };
  if (s.description) info.description = s.description;
  if (s.fallback?.template) info.fallbackTemplate = s.fallback.template.name;
  return info;
}

export function wireTemplateInfo(t: TemplateEntry, uri: string, usedBy: { services: string[]; compositions: string[] }): TemplateInfo {
  const info: TemplateInfo = {
    name: t.name,
    uri,
    variables: [...new Set(t.analysis.variables.map((x) => x.name))],
    partials: [...new Set(t.analysis.partials.map((x) => x.name))],
    stepReads: [...new Set(t.analysis.stepReads.map((x) => x.stepId))],
    helpers: [...t.analysis.helpers],
    usedByServices: usedBy.services,
    usedByCompositions: usedBy.compositions,
  };
  if (t.analysis.error) info.error = { message: t.analysis.error.message, range: t.analysis.error.range };
  return info;
}

/** `locationOf` places a node of composition_rules.yaml. */
export function wireCompositionInfo(c: CompositionDef, services: string[], locationOf: (node: SNode) => Location): CompositionInfo {
  const info: CompositionInfo = {
    name: c.name,
    inputs: { required: c.inputs.required.map((r) => r.name), optional: c.inputs.optional.map((r) => r.name) },
    steps: c.steps.map((s) => {
      const st: CompositionInfo['steps'][number] = { id: s.id, dependsOn: s.dependsOn.map((d) => d.name), location: locationOf(s.idNode ?? s.node) };
      if (s.template) {
        st.template = s.template.name;
        st.templateLocation = locationOf(s.template.node);
      }
      if (s.model) st.model = s.model.name;
      return st;
    }),
    overrides: { states: c.overrides.states.map((o) => o.key), experienceLevels: c.overrides.experienceLevels.map((o) => o.key) },
    services,
    location: locationOf(c.nameNode),
  };
  if (c.description) info.description = c.description;
  return info;
}

/** A provider without its key: only the name of the variable that holds it. */
export function wireProviderInfo(p: ProviderDef, location: Location): ProviderInfo {
  const info: ProviderInfo = { name: p.name, type: p.type, location };
  if (p.baseUrl !== undefined) info.baseUrl = p.baseUrl;
  if (p.model !== undefined) info.model = p.model;
  if (p.apiKeyEnv !== undefined) info.apiKeyEnv = p.apiKeyEnv;
  return info;
}
