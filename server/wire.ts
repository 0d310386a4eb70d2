/**
 * Core values as the protocol sends them, in one place. The protocol (protocol/) has wire
 * types of its own so that the core's internal types are not the wire format; each function
 * here is typed core -> wire, so the compiler says where a change in the core no longer gives
 * clients what the protocol promises. Values go out as the core made them (a run's events and
 * status are not copied); test/protocol/wireTypes.test.ts holds the run and graph shapes field
 * for field to the core's, so that nothing reaches the wire that the protocol does not declare.
 */
import { PromptError, toPromptError, type ErrorCode } from '../core/errors.js';
import type { HealthReport as CoreHealthReport } from '../core/manager/health.js';
import type { GraphNode as CoreGraphNode } from '../core/workflow/graph.js';
import type { WorkflowEvent as CoreWorkflowEvent, WorkflowStatus as CoreWorkflowStatus } from '../core/workflow/types.js';
import type { GraphNode, HealthReport, PromptErrorCode, PromptErrorInfo, WorkflowEvent, WorkflowStatus } from '../protocol/protocol.js';

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
