/**
 * Quick fixes for the validator's diagnostics. Each one must fix what it is offered for and
 * make no new error (test/server/quickfixes/ holds a golden case for each):
 * - `unknown-template`: create the template file, with a skeleton listing the composition's
 *   inputs (and the step outputs it may read) as comments; a name that reaches an existing
 *   template by a detour (`../templates/x`) gets that template's own name instead;
 * - `unknown-step`, `unknown-composition`: the closest name that makes no new error (not the
 *   step itself or one that runs after it, not a name the list or the override already has);
 * - `unknown-provider`: the defined providers, the closest first;
 * - `duplicate-step-id`: a free id for the repeat (`summary_2`), only it renamed;
 * - `template-outside-root`: the name inside the root that the outside name ends with;
 * - any other "did you mean 'x'" (schema keys and values): the suggested name, unless the
 *   mapping already has that key;
 * - `dependency-cycle`: remove the `depends_on` edge the diagnostic sits on;
 * - `undeclared-step-read`: add the missing step to `depends_on` (never the step itself or a
 *   step that runs after it: that is a cycle, and the message says what to do instead);
 * - `undeclared-variable`: add the variable to the composition's inputs (optional or required).
 */
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CodeActionKind, type CodeAction, type Diagnostic, type Range, type TextEdit, type WorkspaceEdit } from 'vscode-languageserver-types';
import type { CompositionDef, StepDef } from '../../core/model/types.js';
import { closest, editDistance } from '../../core/validate/didYouMean.js';
import { resolveTemplateName, TEMPLATE_EXTENSIONS } from '../../core/workspace/templateIndex.js';
import { compositionsUsingTemplate } from '../../core/workspace/queries.js';
import { mustacheSpans } from './occurrences.js';
import { ancestorsOf, descendantsOf, rulesOf, templateByFile, type DocumentSnapshot, type WorkspaceSnapshot } from '../workspaceSnapshot.js';
import { yamlCursorAt } from './yamlCursor.js';
import { addInput, addListItem, removeListItem } from './yamlEdits.js';

export interface CodeActionRequest {
  ws: WorkspaceSnapshot;
  doc: DocumentSnapshot;
  range: Range;
  /** The diagnostics the client sends in the code action context. */
  diagnostics: Diagnostic[];
}

/** At most this many names are offered for one unknown provider. */
const MAX_PROVIDER_CHOICES = 3;

export function codeActions(req: CodeActionRequest): CodeAction[] {
  const out: CodeAction[] = [];
  for (const d of req.diagnostics) {
    if (d.source !== undefined && d.source !== 'promptmanager') continue;
    const message = messageOf(d);
    const code = String(d.code ?? '');
    const guess = /did you mean '([^']+)'\?/.exec(message)?.[1];
    switch (code) {
      case 'unknown-template':
        out.push(...templateFixes(req, d, guess));
        break;
      case 'unknown-step':
        out.push(...stepFixes(req, d));
        break;
      case 'unknown-composition':
        out.push(...compositionFixes(req, d));
        break;
      case 'unknown-provider':
        out.push(...providerFixes(req, d));
        break;
      case 'duplicate-step-id':
        out.push(...renameRepeat(req, d));
        break;
      case 'template-outside-root':
        out.push(...insideRoot(req, d));
        break;
      case 'dependency-cycle':
        out.push(...breakCycle(req, d));
        break;
      case 'undeclared-step-read':
        out.push(...addDependsOn(req, d));
        break;
      case 'undeclared-variable':
        out.push(...addToInputs(req, d));
        break;
      default:
        if (guess && !isSiblingKey(req, d, guess)) out.push(replaceWith(req, d, guess));
    }
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

function replaceWith(req: CodeActionRequest, d: Diagnostic, guess: string, preferred = true): CodeAction {
  const { range } = nameAt(req.doc, d.range);
  return { title: `Change to '${guess}'`, kind: CodeActionKind.QuickFix, diagnostics: [d], isPreferred: preferred, edit: edit(req, [{ range, newText: guess }]) };
}

/** The keys of the YAML mapping a diagnosed key belongs to, but the key itself; empty for a value. */
function siblingKeys(req: CodeActionRequest, d: Diagnostic): Set<string> {
  if (req.doc.kind !== 'composition_rules' && req.doc.kind !== 'service_mappings') return new Set();
  const cur = yamlCursorAt(req.doc.text, req.doc.lines, req.doc.lines.offsetAt(d.range.start));
  if (cur.kind !== 'key') return new Set();
  const keys = new Set(cur.siblings);
  keys.delete(nameAt(req.doc, d.range).name);
  return keys;
}

/** Whether `name` is already a key beside the diagnosed key: renaming it so makes a duplicate key. */
function isSiblingKey(req: CodeActionRequest, d: Diagnostic, name: string): boolean {
  return siblingKeys(req, d).has(name);
}

function stepFixes(req: CodeActionRequest, d: Diagnostic): CodeAction[] {
  const offset = req.doc.lines.offsetAt(d.range.start);
  const { c, s } = locate(req, offset);
  if (!c) return [];
  const { name } = nameAt(req.doc, d.range);
  const taken = new Set<string>();
  const dep = s?.dependsOn.find((x) => x.node.start <= offset && offset <= x.node.end);
  if (s && dep) {
    // Not the step itself, a step it already lists, or one that runs after it: each is an error.
    taken.add(s.id);
    for (const x of s.dependsOn) taken.add(x.name);
    for (const x of descendantsOf(c, s.id)) taken.add(x);
  } else {
    // An override's step key: not a step the override already names (a duplicate key).
    for (const k of siblingKeys(req, d)) taken.add(k);
  }
  const guess = closest(name, c.steps.map((x) => x.id).filter((id) => id && !taken.has(id)));
  return guess ? [replaceWith(req, d, guess)] : [];
}

function compositionFixes(req: CodeActionRequest, d: Diagnostic): CodeAction[] {
  const v = req.ws.validation;
  const offset = req.doc.lines.offsetAt(d.range.start);
  const svc = v.serviceMappings?.services.find((x) => x.node.start <= offset && offset <= x.node.end);
  const { name } = nameAt(req.doc, d.range);
  // Never a name the service already lists: that is a duplicate.
  const listed = new Set(svc?.compositions.map((r) => r.name) ?? []);
  const guess = closest(name, (v.compositionRules?.compositions ?? []).map((x) => x.name).filter((n) => !listed.has(n)));
  return guess ? [replaceWith(req, d, guess)] : [];
}

function providerFixes(req: CodeActionRequest, d: Diagnostic): CodeAction[] {
  const providers = (req.ws.validation.compositionRules?.providers ?? []).map((p) => p.name);
  const { name } = nameAt(req.doc, d.range);
  const close = closest(name, providers);
  const lower = name.toLowerCase();
  const ranked = providers
    .filter((p) => p !== name)
    .map((p) => ({ p, score: p === close ? -1 : editDistance(lower, p.toLowerCase()) }))
    .sort((a, b) => a.score - b.score || (a.p < b.p ? -1 : a.p > b.p ? 1 : 0))
    .slice(0, MAX_PROVIDER_CHOICES);
  // Preferred (applied by "fix all") only when the name is a near miss of one provider.
  return ranked.map(({ p }) => replaceWith(req, d, p, p === close));
}

/** `summary` -> `summary_2` (or the next id no step of the composition has). */
function freeStepId(c: CompositionDef, id: string): string {
  const ids = new Set(c.steps.map((s) => s.id));
  const base = /^(.*?)_\d+$/.exec(id)?.[1] || id;
  for (let n = 2; ; n++) if (!ids.has(`${base}_${n}`)) return `${base}_${n}`;
}

function renameRepeat(req: CodeActionRequest, d: Diagnostic): CodeAction[] {
  const offset = req.doc.lines.offsetAt(d.range.start);
  const { c, s } = locate(req, offset);
  // Only the repeat the diagnostic sits on: the first step keeps its id, and the depends_on
  // entries that name it keep meaning it.
  if (!c || !s?.idNode || s.idNode.start !== offset) return [];
  const { range } = nameAt(req.doc, d.range);
  const id = freeStepId(c, s.id);
  return [{ title: `Rename this step to '${id}'`, kind: CodeActionKind.QuickFix, diagnostics: [d], isPreferred: true, edit: edit(req, [{ range, newText: id }]) }];
}

/**
 * For a name outside the templates root, the names inside it that it ends with
 * (`../prompts/shared/summary` -> `shared/summary`), longest first.
 */
function insideRoot(req: CodeActionRequest, d: Diagnostic): CodeAction[] {
  const v = req.ws.validation;
  const { name } = nameAt(req.doc, d.range);
  let parts = name.replace(/\\/g, '/').split('/').filter((p) => p && p !== '.');
  const up = parts.lastIndexOf('..');
  if (up !== -1) parts = parts.slice(up + 1);
  const last = parts.length - 1;
  if (last >= 0) {
    const ext = TEMPLATE_EXTENSIONS.find((x) => parts[last]!.endsWith(x));
    if (ext) parts[last] = parts[last]!.slice(0, -ext.length);
  }
  const out: CodeAction[] = [];
  for (let i = 0; i < parts.length && out.length < 3; i++) {
    const candidate = parts.slice(i).join('/');
    if (candidate !== name && v.templates.has(candidate)) out.push(replaceWith(req, d, candidate, out.length === 0));
  }
  return out;
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

function templateFixes(req: CodeActionRequest, d: Diagnostic, guess: string | undefined): CodeAction[] {
  const v = req.ws.validation;
  const { name } = nameAt(req.doc, d.range);
  const res = resolveTemplateName(v.templatesRoot, name);
  // `../templates/x` from the root is `x`: the template's own name is the fix, not a new file.
  const own = res.kind === 'inside' ? path.relative(v.templatesRoot, res.file).split(path.sep).join('/') : undefined;
  if (own && own !== name && v.templates.has(own)) return [replaceWith(req, d, own)];
  const out: CodeAction[] = [];
  if (guess) out.push(replaceWith(req, d, guess));
  const create = createTemplate(req, d, own);
  if (create) out.push(create);
  return out;
}

/** Creates the template; `own` is its name as the index spells it, put in place of a detour. */
function createTemplate(req: CodeActionRequest, d: Diagnostic, own: string | undefined): CodeAction | undefined {
  const { ws, doc } = req;
  const v = ws.validation;
  const { name, range } = nameAt(doc, d.range);
  if (!name || !own || v.templates.has(name)) return undefined;
  const res = resolveTemplateName(v.templatesRoot, name);
  if (res.kind === 'outside') return undefined;
  const file = res.file + '.hbs';
  const lines: string[] = [];
  const offset = doc.lines.offsetAt(d.range.start);
  const { c, s } = locate(req, offset);
  if (c) {
    lines.push(`{{!-- ${own}: ${s ? `step '${s.id}' of ` : ''}composition '${c.name}'.`);
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
    lines.push(`{{!-- ${own}${svc ? `: rendered by service '${svc.name}'` : ''}.`);
    if (svc) {
      for (const r of svc.contextRequirements.required) lines.push(`       ${r} (required)`);
      for (const r of svc.contextRequirements.optional) lines.push(`       ${r} (optional)`);
    }
    lines.push('--}}');
  } else {
    const t = templateByFile(v, doc.file);
    lines.push(`{{!-- ${own}: a partial${t ? ` of '${t.name}'` : ''}; it sees the same context. --}}`);
    const comps = t ? compositionsUsingTemplate(rulesOf(ws)?.compositions ?? [], t.name) : [];
    for (const cc of comps) lines.push(`{{!-- Inputs of '${cc.name}': ${[...cc.inputs.required, ...cc.inputs.optional].map((r) => r.name).join(', ') || '(none)'} --}}`);
  }
  lines.push('', '');
  const uri = pathToFileURL(file).href;
  return {
    title: `Create template '${own}' (${path.relative(v.root, file).split(path.sep).join('/')})`,
    kind: CodeActionKind.QuickFix,
    diagnostics: [d],
    edit: {
      documentChanges: [
        { kind: 'create', uri, options: { ignoreIfExists: true } },
        { textDocument: { uri, version: null }, edits: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, newText: lines.join('\n') }] },
        // The index knows the new file by its own name only.
        ...(own !== name ? [{ textDocument: { uri: doc.uri, version: null }, edits: [{ range, newText: own }] }] : []),
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

