/**
 * The typed model of a prompt test file (`prompt_tests.yaml`, `prompt_tests/**.yaml`), built
 * leniently from its source tree like the configuration's model (types.ts): a value of the
 * wrong type is left out (the schema check reports it). Each element keeps its source node,
 * for diagnostics, the editor's ranges and a failure shown at its assertion's line.
 */
import type { LineIndex } from '../text/lineIndex.js';
import type { SMap, SNode, SPair, SScalar } from '../yaml/sourceTree.js';
import type { NameRef } from './types.js';

/** What a text assertion reads: the output (of the render, run or step) or a step's rendered prompt. */
export type AssertionText = 'output' | 'prompt';

/** The assertion kinds, in the order the documentation lists them. */
export const ASSERTION_KINDS = ['equals', 'contains', 'not_contains', 'regex', 'json_schema', 'max_length', 'max_tokens', 'status', 'error', 'attempts', 'snapshot'] as const;
export type AssertionKind = (typeof ASSERTION_KINDS)[number];

/** Kinds that read a text (the target's output or prompt); the others read how it ended. */
export const TEXT_ASSERTION_KINDS: ReadonlySet<AssertionKind> = new Set(['equals', 'contains', 'not_contains', 'regex', 'json_schema', 'max_length', 'max_tokens', 'snapshot']);

/** What a `status` assertion may expect, by target: a step, a composition run, a template render. */
export const STEP_STATUSES = ['succeeded', 'fallback', 'failed', 'skipped', 'cancelled'] as const;
export const RUN_STATUSES = ['succeeded', 'partial', 'failed', 'cancelled', 'timed_out'] as const;
export const RENDER_STATUSES = ['succeeded', 'fallback', 'failed'] as const;

export interface AssertionDef {
  /** Position in the test's `expect` list (0-based). */
  index: number;
  /** The kinds written in this item (a valid one has exactly one). */
  kinds: AssertionKind[];
  /** The first kind written, the one the runner checks. */
  kind?: AssertionKind;
  /** The kind's value, as plain data. */
  value: unknown;
  /** The kind's value node (for a diagnostic on a bad regex, a status). */
  valueNode?: SNode;
  step?: NameRef;
  of: AssertionText;
  ofNode?: SNode;
  description?: string;
  flags?: string;
  ignoreCase: boolean;
  /** The list item. */
  node: SNode;
}

/** One mocked answer, as written (a text is a reply). */
export type MockAnswerDef =
  | { kind: 'reply'; output: unknown; delayMs?: number }
  | { kind: 'status'; status: number; retryAfterSeconds?: number; message?: string; delayMs?: number }
  | { kind: 'error'; code: string; message?: string; retryable?: boolean; delayMs?: number }
  | { kind: 'down'; delayMs?: number }
  | { kind: 'hang' }
  | { kind: 'malformed'; body?: string; delayMs?: number };

export interface MockDef {
  step: NameRef;
  /** The answers to successive calls (the last repeats). */
  answers: MockAnswerDef[];
  /** The pair `step: answers`. */
  pair: SPair;
}

export interface PromptTestDef {
  name: string;
  nameNode: SNode;
  /** The test's mapping. */
  node: SMap;
  /** The file the test is in (absolute). */
  file: string;
  description?: string;
  template?: NameRef;
  composition?: NameRef;
  service?: NameRef;
  contextFile?: { value: string; node: SScalar };
  /** The inline context, as plain data. */
  context?: Record<string, unknown>;
  contextNode?: SNode;
  mocks: MockDef[];
  live: boolean;
  repeat?: number;
  passRate?: number;
  timeoutMs?: number;
  expect: AssertionDef[];
}

export interface PromptTestFileModel {
  kind: 'prompt_tests';
  file: string;
  /** The file's lines, to turn the nodes' offsets into ranges. */
  lines: LineIndex;
  description?: string;
  tests: PromptTestDef[];
}

/**
 * The golden file of a snapshot assertion, in `prompt_tests/__snapshots__/<test>/`: the name
 * it gives (`<name>.txt`), else one made of its target (`output.txt`, `<step>.output.txt`,
 * `<step>.prompt.txt`).
 */
export function snapshotFileName(a: Pick<AssertionDef, 'value' | 'step' | 'of'>): string {
  if (typeof a.value === 'string') return `${a.value}.txt`;
  return `${a.step ? `${a.step.name}.` : ''}${a.of}.txt`;
}
