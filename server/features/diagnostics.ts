/**
 * The validator's diagnostics as LSP diagnostics, grouped by file, with the user's settings
 * applied (codes switched off, at most N per file, errors first). No check lives here: every
 * diagnostic comes from validateWorkspace.
 */
import { DiagnosticSeverity, DiagnosticTag, type Diagnostic } from 'vscode-languageserver-types';
import type { PromptDiagnostic } from '../../core/model/diagnostics.js';

export interface DiagnosticSettings {
  disabledCodes: readonly string[];
  maxProblemsPerFile: number;
}

const SEVERITY: Record<PromptDiagnostic['severity'], DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  information: DiagnosticSeverity.Information,
};

export function toLspDiagnostic(d: PromptDiagnostic, uriOf: (file: string) => string): Diagnostic {
  const out: Diagnostic = { range: d.range, severity: SEVERITY[d.severity], code: d.code, source: 'promptmanager', message: d.message };
  if (d.related?.length) out.relatedInformation = d.related.map((r) => ({ location: { uri: uriOf(r.file), range: r.range }, message: r.message }));
  if (d.code === 'unused-template') out.tags = [DiagnosticTag.Unnecessary];
  return out;
}

/** Diagnostics by file, filtered and capped by the settings. */
export function diagnosticsByFile(list: readonly PromptDiagnostic[], settings: DiagnosticSettings, uriOf: (file: string) => string): Map<string, Diagnostic[]> {
  const disabled = new Set(settings.disabledCodes);
  const grouped = new Map<string, PromptDiagnostic[]>();
  for (const d of list) {
    if (disabled.has(d.code)) continue;
    let a = grouped.get(d.file);
    if (!a) grouped.set(d.file, (a = []));
    a.push(d);
  }
  const out = new Map<string, Diagnostic[]>();
  const rank = { error: 0, warning: 1, information: 2 } as const;
  const max = Math.max(0, settings.maxProblemsPerFile);
  for (const [file, ds] of grouped) {
    let keep = ds;
    if (ds.length > max) {
      // Keep the most severe, then show them in file order.
      keep = [...ds].sort((a, b) => rank[a.severity] - rank[b.severity]).slice(0, max);
      keep.sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character);
    }
    if (keep.length) out.set(file, keep.map((d) => toLspDiagnostic(d, uriOf)));
  }
  return out;
}
