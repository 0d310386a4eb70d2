/**
 * The text of a preview document: a header that says what was rendered and how (the step and
 * its overrides, where each `steps.<id>` came from, what the context lacks and what a run would
 * do, the service's fallback, errors elsewhere), then the rendered prompt. A template that
 * rendered as it is, with nothing to say, gets no header: the document is the prompt. Pure
 * functions (no `vscode` import), unit-tested as they are.
 */
import type { PreviewResult, PromptErrorInfo } from '../protocol/protocol.js';

export type PreviewOk = Extract<PreviewResult, { ok: true }>;

export interface PreviewSubject {
  /** The template asked for (a step's own template when previewing a step). */
  template: string;
  /** A step preview: the composition and the step. */
  composition?: string;
  step?: string;
  service?: string;
  /** `contexts/complete_analysis.json`, `typed JSON`... */
  contextLabel: string;
}

/** The rule under the header: the prompt starts on the line after it. */
export const HEADER_RULE = '─'.repeat(72);

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The first line of an error's message, for one line of the header. */
function firstLine(e: PromptErrorInfo): string {
  return e.message.split('\n')[0]!;
}

/** `missing_context max_words`, or the code and message when no variable is named. */
function cause(code: string, message: string, variable?: string): string {
  return variable ? `${code} ${variable}` : `${code}: ${message.split('\n')[0]}`;
}

/** The header's lines (none when there is nothing to say about a plain template render). */
export function previewHeader(s: PreviewSubject, r: PreviewOk): string[] {
  const lines: string[] = [];
  const as = s.service ? ` as ${s.service}` : '';
  const step = r.step;
  if (step) {
    lines.push(`Preview of step ${step.step} of ${step.composition}${as} (template ${r.templateUsed}) with ${s.contextLabel}, as a run would render it`);
    const o = step.appliedOverrides;
    const applied = [o.state && `state ${o.state}`, o.experienceLevel && `experience level ${o.experienceLevel}`].filter(Boolean);
    if (applied.length) lines.push(`Overrides applied: ${applied.join(', ')}`);
    if (step.skip) lines.push(step.skip === 'when' ? 'A run would skip this step: its `when` is false for this context' : 'A run would skip this step: an override says skip');
    for (const d of step.dependencies) {
      lines.push(d.source === 'run' ? `steps.${d.step}: from run ${d.runId} (${d.status})` : `steps.${d.step}: placeholder ⟨steps.${d.step}.output: …⟩, ${d.reason}`);
    }
    if (step.model) lines.push(`A run sends this prompt to the provider ${step.model}; the preview sends nothing`);
  }
  if (r.fallbackFor) {
    const f = r.fallbackFor;
    lines.push(`Answered by the fallback template ${r.templateUsed} because ${f.template} failed: ${cause(f.code, f.message, f.variable)}`);
  }
  if (r.missing.length) lines.push(`Missing from the context, shown as ⟨…⟩: ${r.missing.join(', ')}`);
  if (r.strictError) lines.push(`${step ? 'A run' : 'A render'} would fail: ${r.strictError.code}: ${firstLine(r.strictError)}`);
  if (r.errorsElsewhere) lines.push(`${plural(r.errorsElsewhere, 'error')} elsewhere in the workspace (not in what this preview uses: see Problems)`);
  if (!lines.length) return [];
  if (!step) lines.unshift(`Preview of ${s.template}${as} with ${s.contextLabel}`);
  return lines;
}

/** The preview document: the header (if any), its rule, then the rendered text. */
export function previewDocument(s: PreviewSubject, r: PreviewOk): string {
  const header = previewHeader(s, r);
  return header.length ? `${header.join('\n')}\n${HEADER_RULE}\n${r.text}` : r.text;
}

/** What the output channel says after the render's timing: what the header says, in short. */
export function previewNotes(r: PreviewOk): string[] {
  const notes: string[] = [];
  if (r.missing.length) notes.push(`${r.missing.length} missing (${r.missing.join(', ')})`);
  if (r.strictError) notes.push(`strict: ${r.strictError.code}`);
  const placeholders = r.step?.dependencies.filter((d) => d.source === 'placeholder').length ?? 0;
  if (placeholders) notes.push(plural(placeholders, 'placeholder'));
  if (r.errorsElsewhere) notes.push(`${plural(r.errorsElsewhere, 'error')} elsewhere`);
  return notes;
}
