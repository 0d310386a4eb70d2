/**
 * Core values as the protocol sends them, in one place. The protocol (protocol/) has wire
 * types of its own so that the core's internal types are not the wire format; each function
 * here is typed core -> wire, so the compiler says where a change in the core no longer gives
 * clients what the protocol promises. Values go out as the core made them (a run's events and
 * status are not copied); test/protocol/wireTypes.test.ts holds the run and graph shapes field
 * for field to the core's, so that nothing reaches the wire that the protocol does not declare.
 */
import type { ErrorCode } from '../core/errors.js';
import type { HealthReport as CoreHealthReport } from '../core/manager/health.js';
import type { GraphNode as CoreGraphNode } from '../core/workflow/graph.js';
import type { WorkflowEvent as CoreWorkflowEvent, WorkflowStatus as CoreWorkflowStatus } from '../core/workflow/types.js';
import type { GraphNode, HealthReport, PromptErrorCode, WorkflowEvent, WorkflowStatus } from '../protocol/protocol.js';

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
