/** The one error a configuration with errors fails a load with. */
import { PromptError } from '../errors.js';
import type { PromptDiagnostic } from '../model/diagnostics.js';

/** `file:line:col code message`, one-based, as compilers print and terminals link. */
export function formatDiagnostic(d: PromptDiagnostic): string {
  return `${d.file}:${d.range.start.line + 1}:${d.range.start.character + 1} ${d.code} ${d.message}`;
}

/**
 * What a refusal is about, when it is not the whole workspace (`configErrors: 'isolate'`): the
 * render, run or preview refused, and how many errors are elsewhere (they do not stop it).
 */
export interface RefusalScope {
  /** `Template analysis/summary`, `Composition complete_analysis`... */
  subject: string;
  elsewhere: number;
}

/** A PromptError('invalid_configuration') that also carries the diagnostics themselves. */
export class ConfigurationError extends PromptError {
  readonly diagnostics: readonly PromptDiagnostic[];
  constructor(root: string, diagnostics: readonly PromptDiagnostic[], scope?: RefusalScope) {
    const errors = diagnostics.filter((d) => d.severity === 'error');
    const lines = errors.map((d) => '  ' + formatDiagnostic(d));
    const n = `${errors.length} error${errors.length === 1 ? '' : 's'}`;
    const head = scope
      ? `${scope.subject} uses parts of the prompt workspace ${root} with ${n}${scope.elsewhere ? ` (${scope.elsewhere} more elsewhere in the workspace do not stop it)` : ''}; fix ${errors.length === 1 ? 'it' : 'them'} to go on`
      : `The prompt workspace ${root} has ${n}`;
    super(
      'invalid_configuration',
      `${head}:\n${lines.join('\n')}`,
      errors[0] ? { location: { file: errors[0].file, line: errors[0].range.start.line + 1, column: errors[0].range.start.character + 1 } } : {},
    );
    this.name = 'ConfigurationError';
    this.diagnostics = errors;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), diagnostics: this.diagnostics.map(formatDiagnostic) };
  }
}
