import type { Range } from '../text/range.js';

/** The stable diagnostic codes of the configuration contract (shared/spec/config-format.md). */
export const DIAGNOSTIC_CODES = [
  'yaml-syntax',
  'schema',
  'unknown-template',
  'template-outside-root',
  'template-syntax',
  'unknown-composition',
  'unknown-step',
  'duplicate-step-id',
  'dependency-cycle',
  'unknown-provider',
  'undeclared-step-read',
  'undeclared-variable',
  'unused-template',
  'templates-dir-mismatch',
  'unreadable-file',
  'unknown-service',
  'invalid-context-file',
  'invalid-test',
  'unused-mock',
] as const;

export type DiagnosticCode = (typeof DIAGNOSTIC_CODES)[number];
export type Severity = 'error' | 'warning' | 'information';

export type { Position, Range } from '../text/range.js';

export interface RelatedLocation {
  /** Absolute path of the file. */
  file: string;
  range: Range;
  message: string;
}

export interface PromptDiagnostic {
  /** Absolute path of the file the diagnostic is in. */
  file: string;
  range: Range;
  severity: Severity;
  code: DiagnosticCode;
  message: string;
  related?: RelatedLocation[];
}

export const DEFAULT_SEVERITY: Record<DiagnosticCode, Severity> = {
  'yaml-syntax': 'error',
  schema: 'error',
  'unknown-template': 'error',
  'template-outside-root': 'error',
  'template-syntax': 'error',
  'unknown-composition': 'error',
  'unknown-step': 'error',
  'duplicate-step-id': 'error',
  'dependency-cycle': 'error',
  'unknown-provider': 'error',
  'undeclared-step-read': 'warning',
  'undeclared-variable': 'warning',
  'unused-template': 'information',
  'templates-dir-mismatch': 'error',
  'unreadable-file': 'error',
  'unknown-service': 'error',
  'invalid-context-file': 'error',
  'invalid-test': 'error',
  'unused-mock': 'warning',
};

/** Orders diagnostics by file, then position, then code: stable output for CLI and tests. */
export function compareDiagnostics(a: PromptDiagnostic, b: PromptDiagnostic): number {
  return (
    (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
    a.range.start.line - b.range.start.line ||
    a.range.start.character - b.range.start.character ||
    (a.code < b.code ? -1 : a.code > b.code ? 1 : 0) ||
    (a.message < b.message ? -1 : a.message > b.message ? 1 : 0)
  );
}
