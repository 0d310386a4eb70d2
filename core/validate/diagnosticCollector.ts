/**
 * Where the validator's checks put what they find: the `Collector` (ranges resolved, messages
 * cut to a bound, exact repeats dropped), or a `Recorder` that keeps one composition's
 * findings by source node so that an unchanged composition replays them (core/validate/references.ts).
 */
import { DEFAULT_SEVERITY, type DiagnosticCode, type PromptDiagnostic, type RelatedLocation, type Severity } from '../model/diagnostics.js';
import { LineIndex } from '../text/lineIndex.js';
import type { Range } from '../text/range.js';
import type { SNode } from '../yaml/sourceTree.js';

/** Longest diagnostic message; longer ones (quoting a huge name) are cut. */
const MAX_MESSAGE_LENGTH = 2000;

/** A file being checked: its text and where its lines start. */
export interface FileCtx {
  file: string;
  text: string;
  lines: LineIndex;
}

export function emptyCtx(file: string): FileCtx {
  return { file, text: '', lines: new LineIndex('') };
}

/** A related location in the same YAML file, resolved to a range only when reported. */
interface NodeRelated {
  node: SNode;
  message: string;
}
export type Related = RelatedLocation | NodeRelated;

/** What a check reports on a YAML node: the collector itself, or a recorder while a composition is checked. */
export interface NodeSink {
  node(ctx: FileCtx, node: SNode, code: DiagnosticCode, message: string, related?: Related[]): void;
}

/**
 * A read in a template (or one of its partials) that a step's `template:` reference is
 * warned about (`undeclared-variable`, `undeclared-step-read`): shown in the template too, at
 * the read (ReferenceChecker.templateSites).
 */
export interface TemplateSite {
  code: 'undeclared-variable' | 'undeclared-step-read';
  /** The template whose file holds the read. */
  template: string;
  file: string;
  range: Range;
  /** The variable, or the step id read as `steps.<id>`. */
  subject: string;
  /** The step's `template:` value in composition_rules.yaml, where the warning is. */
  ref: SNode;
  /** `step 'summary' of composition 'complete_analysis'`. */
  by: string;
  /** The finding as one step sees it, said at the read. */
  message: string;
}

export class Collector implements NodeSink {
  readonly diagnostics: PromptDiagnostic[] = [];
  private readonly seen = new Set<string>();

  add(ctx: FileCtx, start: number, end: number, code: DiagnosticCode, message: string, related?: RelatedLocation[], severity: Severity = DEFAULT_SEVERITY[code]): void {
    // A message quotes names and values from the files: a hostile 1 MB name must not make a 2 MB line.
    if (message.length > MAX_MESSAGE_LENGTH) message = message.slice(0, MAX_MESSAGE_LENGTH) + '…';
    const key = `${ctx.file}\0${start}\0${end}\0${code}\0${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const d: PromptDiagnostic = { file: ctx.file, range: ctx.lines.range(start, end), severity, code, message };
    if (related?.length) d.related = related;
    this.diagnostics.push(d);
  }

  node(ctx: FileCtx, node: SNode, code: DiagnosticCode, message: string, related?: Related[]): void {
    this.add(ctx, node.start, node.end, code, message, related?.map((r) => ('node' in r ? relatedAt(ctx, r.node, r.message) : r)));
  }
}

/**
 * Records what one composition's checks report, by source node, so that an unchanged
 * composition replays its result instead of re-checking (its nodes are shifted in place).
 */
export interface Recording {
  key: string;
  records: { node: SNode; code: DiagnosticCode; message: string; related?: Related[] }[];
  used: string[];
  /** Its findings as the templates show them (their ranges hold while the key does: it has the templates' versions). */
  sites: TemplateSite[];
}

export class Recorder implements NodeSink {
  readonly recording: Recording;
  constructor(key: string) {
    this.recording = { key, records: [], used: [], sites: [] };
  }
  node(_ctx: FileCtx, node: SNode, code: DiagnosticCode, message: string, related?: Related[]): void {
    this.recording.records.push(related ? { node, code, message, related } : { node, code, message });
  }
}

export function relatedAt(ctx: FileCtx, node: SNode, message: string): RelatedLocation {
  return { file: ctx.file, range: ctx.lines.range(node.start, node.end), message };
}
