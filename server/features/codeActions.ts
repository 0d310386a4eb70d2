/**
 * Quick fixes for the validator's diagnostics:
 * - `unknown-template`: create the template file, with a skeleton listing the composition's
 *   inputs (and the step outputs it may read) as comments;
 * - any "did you mean 'x'" (unknown template, step, composition, provider, schema key or
 *   value): replace the name with the closest known one;
 * - `dependency-cycle`: remove the `depends_on` edge the diagnostic sits on;
 * - `undeclared-step-read`: add the missing step to `depends_on`;
 * - `undeclared-variable`: add the variable to the composition's inputs (optional or required).
 */
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CodeActionKind, type CodeAction, type Diagnostic, type Range, type TextEdit, type WorkspaceEdit } from 'vscode-languageserver-types';
import type { CompositionDef, StepDef } from '../../core/model/types.js';
import { resolveTemplateName } from '../../core/workspace/templateIndex.js';
import { compositionsUsing } from './hover.js';
import { mustacheSpans } from './occurrences.js';
import { ancestorsOf, descendantsOf, templateByFile, type DocumentSnapshot, type WorkspaceSnapshot } from './snapshot.js';
import { addInput, addListItem, removeListItem } from './yamlEdits.js';

export interface CodeActionRequest {
  ws: WorkspaceSnapshot;
  doc: DocumentSnapshot;
  range: Range;
  /** The diagnostics the client sends in the code action context. */
  diagnostics: Diagnostic[];
}

export function codeActions(req: CodeActionRequest): CodeAction[] {
  const out: CodeAction[] = [];
  for (const d of req.diagnostics) {
    if (d.source !== undefined && d.source !== 'promptmanager') continue;
    const message = messageOf(d);
    const code = String(d.code ?? '');
    const guess = /did you mean '([^']+)'\?/.exec(message)?.[1];
    if (guess) out.push(replaceWith(req, d, guess));
    if (code === 'unknown-template') {
      const a = createTemplate(req, d);
      if (a) out.push(a);
    } else if (code === 'dependency-cycle') out.push(...breakCycle(req, d));
    else if (code === 'undeclared-step-read') out.push(...addDependsOn(req, d));
    else if (code === 'undeclared-variable') out.push(...addToInputs(req, d));
  }
  return out;
}

function messageOf(d: Diagnostic): string {
  return typeof d.message === 'string' ? d.message : (d.message as { value: string }).value;
}

function edit(req: CodeActionRequest, edits: TextEdit[]): WorkspaceEdit {
  return { changes: { [req.doc.uri]: edits } };
}

function textAt(doc: DocumentSnapshot, r: Range): string {
  return doc.text.slice(doc.lines.offsetAt(r.start), doc.lines.offsetAt(r.end));
}

/** The range without surrounding quotes, and the name inside. */
function nameAt(doc: DocumentSnapshot, r: Range): { range: Range; name: string } {
  const raw = textAt(doc, r);
  const q = raw[0];
  if ((q === '"' || q === "'") && raw.length >= 2 && raw[raw.length - 1] === q) {
    return { range: { start: { line: r.start.line, character: r.start.character + 1 }, end: { line: r.end.line, character: r.end.character - 1 } }, name: raw.slice(1, -1) };
  }
  return { range: r, name: raw };
}

function replaceWith(req: CodeActionRequest, d: Diagnostic, guess: string): CodeAction {
  const { range } = nameAt(req.doc, d.range);
  return { title: `Change to '${guess}'`, kind: CodeActionKind.QuickFix, diagnostics: [d], isPreferred: true, edit: edit(req, [{ range, newText: guess }]) };
}

/** The composition (and step) whose source holds an offset of composition_rules.yaml. */
function locate(req: CodeActionRequest, offset: number): { c?: CompositionDef; s?: StepDef } {
  if (req.doc.kind !== 'composition_rules') return {};
  const rules = req.ws.validation.compositionRules;
  const c = rules?.compositions.find((x) => x.node.start <= offset && offset <= x.node.end);
  if (!c) return {};
  let s = c.steps.find((x) => x.node.start <= offset && offset <= x.node.end);
  if (!s) {
    for (const o of [...c.overrides.states, ...c.overrides.experienceLevels]) {
      const so = o.steps.find((x) => x.node.start <= offset && offset <= x.node.end || (x.stepName.node.start <= offset && offset <= x.stepName.node.end));
      if (so) s = c.steps.find((x) => x.id === so.stepName.name);
    }
  }
  return s ? { c, s } : { c };
}

function createTemplate(req: CodeActionRequest, d: Diagnostic): CodeAction | undefined {
  const { ws, doc } = req;
  const v = ws.validation;
  const { name } = nameAt(doc, d.range);
  if (!name || v.templates.has(name)) return undefined;
  const res = resolveTemplateName(v.templatesRoot, name);
  if (res.kind === 'outside') return undefined;
  const file = res.file + '.hbs';
  const lines: string[] = [];
  const offset = doc.lines.offsetAt(d.range.start);
  const { c, s } = locate(req, offset);
  if (c) {
    lines.push(`{{!-- ${name}: ${s ? `step '${s.id}' of ` : ''}composition '${c.name}'.`);
    lines.push(`     Inputs of '${c.name}':`);
    for (const r of c.inputs.required) lines.push(`       ${r.name} (required)`);
    for (const r of c.inputs.optional) lines.push(`       ${r.name} (optional)`);
    if (!c.inputs.required.length && !c.inputs.optional.length) lines.push('       (none declared)');
    if (s) {
      for (const e of s.context) lines.push(`       ${e.key} (context of step '${s.id}')`);
      const deps = [...ancestorsOf(c, s.id)];
      if (deps.length) lines.push(`     Step outputs: ${deps.map((x) => `steps.${x}.output`).join(', ')}`);
    }
    lines.push('--}}');
  } else if (doc.kind === 'service_mappings') {
    const svc = v.serviceMappings?.services.find((x) => x.node.start <= offset && offset <= x.node.end);
    lines.push(`{{!-- ${name}${svc ? `: rendered by service '${svc.name}'` : ''}.`);
    if (svc) {
      for (const r of svc.contextRequirements.required) lines.push(`       ${r} (required)`);
      for (const r of svc.contextRequirements.optional) lines.push(`       ${r} (optional)`);
    }
    lines.push('--}}');
  } else {
    const t = templateByFile(v, doc.file);
    lines.push(`{{!-- ${name}: a partial${t ? ` of '${t.name}'` : ''}; it sees the same context. --}}`);
    const comps = t ? compositionsUsing(ws, t.name) : [];
    for (const cc of comps) lines.push(`{{!-- Inputs of '${cc.name}': ${[...cc.inputs.required, ...cc.inputs.optional].map((r) => r.name).join(', ') || '(none)'} --}}`);
  }
  lines.push('', '');
  const uri = pathToFileURL(file).href;
  return {
    title: `Create template '${name}' (${path.relative(v.root, file).split(path.sep).join('/')})`,
    kind: CodeActionKind.QuickFix,
    diagnostics: [d],
    edit: {
      documentChanges: [
        { kind: 'create', uri, options: { ignoreIfExists: true } },
        { textDocument: { uri, version: null }, edits: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, newText: lines.join('\n') }] },
      ],
    },
  };
}

function breakCycle(req: CodeActionRequest, d: Diagnostic): CodeAction[] {
  const { doc } = req;
  const offset = doc.lines.offsetAt(d.range.start);
  const { c, s } = locate(req, offset);
  if (!c || !s) return [];
  const dep = s.dependsOn.find((x) => x.node.start === offset);
  if (!dep) return [];
  const e = removeListItem(doc.text, doc.lines, s.node, 'depends_on', dep.node);
  if (!e) return [];
  const cycle = /: ((?:[^ ]+ -> )+[^ ;]+)/.exec(messageOf(d))?.[1];
  return [{ title: `Remove '${dep.name}' from depends_on of step '${s.id}'${cycle ? ` (breaks ${cycle})` : ''}`, kind: CodeActionKind.QuickFix, diagnostics: [d], edit: edit(req, [e]) }];
}

const STEP_READ = /\bsteps\.([A-Za-z_][A-Za-z0-9_-]*)/g;

function addDependsOn(req: CodeActionRequest, d: Diagnostic): CodeAction[] {
  const { doc } = req;
  const offset = doc.lines.offsetAt(d.range.start);
  const { c, s } = locate(req, offset);
  if (!c || !s) return [];
  // What the diagnosed place reads: a context value's text, or a template (and its partials).
  const reads = new Set<string>();
  const raw = textAt(doc, d.range);
  const named = /reads steps\.([A-Za-z_][A-Za-z0-9_-]*)/.exec(messageOf(d))?.[1];
  if (named) reads.add(named);
  for (const [a, b] of mustacheSpans(raw)) {
    const inner = raw.slice(a, b);
    STEP_READ.lastIndex = 0;
    for (let m = STEP_READ.exec(inner); m; m = STEP_READ.exec(inner)) reads.add(m[1]!);
  }
  const have = ancestorsOf(c, s.id);
  const after = descendantsOf(c, s.id);
  const ids = new Set(c.steps.map((x) => x.id));
  const out: CodeAction[] = [];
  for (const id of reads) {
    if (have.has(id) || id === s.id || after.has(id) || !ids.has(id)) continue;
    out.push({
      title: `Add '${id}' to depends_on of step '${s.id}'`,
      kind: CodeActionKind.QuickFix,
      diagnostics: [d],
      isPreferred: reads.size === 1,
      edit: edit(req, [addListItem(doc.text, doc.lines, s.node, 'depends_on', id, 'template')]),
    });
  }
  return out;
}

function addToInputs(req: CodeActionRequest, d: Diagnostic): CodeAction[] {
  const { doc } = req;
  const variable = /reads '([^']+)'/.exec(messageOf(d))?.[1];
  const { c } = locate(req, doc.lines.offsetAt(d.range.start));
  if (!variable || !c) return [];
  if ([...c.inputs.required, ...c.inputs.optional].some((r) => r.name === variable)) return [];
  return (['optional', 'required'] as const).map((list, i) => ({
    title: `Add '${variable}' to the ${list} inputs of composition '${c.name}'`,
    kind: CodeActionKind.QuickFix,
    diagnostics: [d],
    isPreferred: i === 0,
    edit: edit(req, [addInput(doc.text, doc.lines, c.node, list, variable)]),
  }));
}

