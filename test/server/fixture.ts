/** A small prompt workspace with `|` cursor markers, shared by the feature tests. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Position, TextEdit, WorkspaceEdit } from 'vscode-languageserver-protocol';
import { markers, uri } from './lsp.js';

export interface MarkedFile {
  file: string;
  text: string;
  at: Position[];
}

/** Writes the files (markers removed) to a fresh folder; returns each file's marker positions. */
export function markedWorkspace(files: Record<string, string>): { dir: string; files: Record<string, MarkedFile> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-lsp-'));
  const out: Record<string, MarkedFile> = {};
  for (const [rel, raw] of Object.entries(files)) {
    // Only template files and YAML use `|` as a marker here; a literal bar is written `\\|`.
    const m = markers(raw);
    const file = path.join(dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, m.text);
    out[rel] = { file, text: m.text, at: m.positions };
  }
  return { dir, files: out };
}

export const RULES = `version: 1
providers:
  lo|cal:
    type: openai-compatible
    base_url: http://127.0.0.1:11434/v1
    model: llama3.2
compositions:
  review:
    description: Review a document
    inputs:
      required: [document]
      optional: [locale]
    steps:
      - id: outline
        template: review/out|line
        depends_on: [|]
      - id: feedback
        template: review/feedback
        |depends_on: [out|line]
        model: l|ocal
        context:
          notes: "{{steps.out|line.output}} {{|"
      - id: wrap_up
        template: review/wrap_up
        depends_on: [feedback, |]
    output: "{{steps.wrap_up.output}}"
    overrides:
      states:
        draft:
          steps:
            feed|back: { skip: true }
            |
`;

export const MAPPINGS = `version: 1
services:
  review_service:
    description: Reviews documents
    primary_templates: [review/outline]
    compositions: [rev|iew]
`;

export const TEMPLATES: Record<string, string> = {
  'templates/review/outline.hbs': 'Outline this document:\n{{document}}\n{{> common/pre|amble}}\n',
  'templates/review/feedback.hbs': 'Give feedback on {{steps.out|line.output}} in {{locale}}.\n',
  'templates/review/wrap_up.hbs': 'Wrap up: {{steps.feedback.output}} {{js|on locale}}\n',
  'templates/common/preamble.hbs': 'You are a careful reviewer.\n',
};

export function reviewWorkspace() {
  return markedWorkspace({ 'composition_rules.yaml': RULES, 'service_mappings.yaml': MAPPINGS, ...TEMPLATES });
}

/** Applies the text edits of a WorkspaceEdit for one file to its text. */
export function applyEdits(text: string, edits: TextEdit[]): string {
  const lines = text.split('\n');
  const offset = (p: Position) => lines.slice(0, p.line).reduce((n, l) => n + l.length + 1, 0) + p.character;
  const sorted = [...edits].sort((a, b) => offset(b.range.start) - offset(a.range.start));
  let out = text;
  for (const e of sorted) out = out.slice(0, offset(e.range.start)) + e.newText + out.slice(offset(e.range.end));
  return out;
}

/** The text edits a WorkspaceEdit makes to a file (from `changes` or `documentChanges`). */
export function editsFor(edit: WorkspaceEdit, file: string): TextEdit[] {
  const u = uri(file);
  const out: TextEdit[] = [...(edit.changes?.[u] ?? [])];
  for (const dc of edit.documentChanges ?? []) if ('textDocument' in dc && dc.textDocument.uri === u) out.push(...(dc.edits as TextEdit[]));
  return out;
}
