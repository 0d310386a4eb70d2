/**
 * The protocol's own wire types and constants against the core's. The protocol
 * imports nothing from the core, so what it repeats is held equal here: the error codes, the
 * context size limit, and (at type level, checked by `npm run typecheck`) the shapes of a run's
 * status and events and of a graph's nodes, which the server sends as the core makes them
 * (server/wire.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ERROR_CODES, type ErrorCode } from '../../core/errors.js';
import { DEFAULT_LIMITS } from '../../core/limits.js';
import type { GraphNode as CoreGraphNode } from '../../core/workflow/graph.js';
import type { ProviderFailureKind as CoreProviderFailureKind } from '../../core/workflow/providerFailure.js';
import type { StepRunStatus as CoreStepRunStatus, WorkflowEvent as CoreWorkflowEvent, WorkflowStatus as CoreWorkflowStatus } from '../../core/workflow/types.js';
import { MAX_CONTEXT_BYTES, PROMPT_ERROR_CODES, type GraphNode, type PromptErrorCode, type ProviderFailureKind, type StepRunStatus, type WorkflowEvent, type WorkflowStatus } from '../../protocol/protocol.js';
import { SERVER_ERROR_CODES, type ServerErrorCode } from '../../server/wire.js';

/** True when A and B are the same type: every field on both sides, with the same type and optionality. */
type Exact<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

// A field the core adds or changes fails `npm run typecheck` here: add it to protocol/workflowTypes.ts
// (it then reaches clients) or map it away in server/wire.ts (and loosen the check for that type).
const sameShapes: [
  Exact<WorkflowStatus, CoreWorkflowStatus>,
  Exact<StepRunStatus, CoreStepRunStatus>,
  Exact<WorkflowEvent, CoreWorkflowEvent>,
  Exact<GraphNode, CoreGraphNode>,
  Exact<PromptErrorCode, ErrorCode | ServerErrorCode>,
  Exact<ProviderFailureKind, CoreProviderFailureKind>,
] = [true, true, true, true, true, true];

test('the wire shapes of runs and graphs are the core ones, field for field (checked by the compiler)', () => {
  assert.deepEqual(sameShapes, [true, true, true, true, true, true]);
});

test("the protocol's error codes are the core's, then the server's own, each once", () => {
  assert.deepEqual([...PROMPT_ERROR_CODES], [...ERROR_CODES, ...SERVER_ERROR_CODES]);
  assert.equal(new Set(PROMPT_ERROR_CODES).size, PROMPT_ERROR_CODES.length, 'a code is listed twice');
  for (const c of ['limit_exceeded', 'render_budget_exceeded', 'workspace_required', 'unknown_workspace', 'not_available', 'unknown_service'] as const) {
    assert.ok((PROMPT_ERROR_CODES as readonly string[]).includes(c), c);
  }
});

test("the protocol's context size limit is the core's", () => {
  assert.equal(MAX_CONTEXT_BYTES, DEFAULT_LIMITS.maxContextBytes);
});

test('provider failure kinds are named as the core names them (Show Metrics and health say the same)', async () => {
  const core = await import('../../core/workflow/providerFailure.js');
  const { PROVIDER_FAILURE_LABELS } = await import('../../protocol/protocol.js');
  assert.deepEqual({ ...PROVIDER_FAILURE_LABELS }, { ...core.PROVIDER_FAILURE_LABELS });
});
