/**
 * Completion in the YAML files (the two configuration files and the prompt test files) and in templates:
 * - schema keys at every level (from the one schema, via `schemaAt`), with descriptions, as
 *   snippets where a skeleton helps (a new step, a retry policy, inputs, a condition);
 * - enum values, a schema's `examples` (a value with a pattern, such as a provider's `type`) and
 *   booleans; template names (path and variables in the detail); composition
 *   names in service_mappings; step ids in `depends_on` (never the step itself, never one
 *   that would close a cycle); provider names for `model`; step ids as override keys;
 * - in prompt test files, what testFileCompletion.ts adds to the schema's keys and values;
 * - inside Handlebars (`.hbs` files, and strings in `context:`/`output:`) after `{{`: the
 *   composition's inputs, the step's context, `steps.<id>.output` of its dependencies and
 *   the helpers; partial names after `{{>`.
 */
import {
  CompletionItemKind,
  InsertTextFormat,
  InsertTextMode,
  MarkupKind,
  type CompletionItem,
  type CompletionList,
  type Range,
} from 'vscode-languageserver-types';
import type { CompositionDef, StepDef } from '../../core/model/types.js';
import { schemaAt, type FileKind } from '../../core/validate/schemaCheck.js';
import { compositionsUsingTemplate, stepsRenderingTemplate } from '../../core/workspace/queries.js';
import { helperDocs } from './helperDocs.js';
import { mustacheAt } from './hbsCursor.js';
import { innermostOpenBlock } from '../../core/templates/tagScan.js';
import { schemaFacts } from './hover.js';
import type { FeatureRequest } from './navigation.js';
import { ancestorsOf, compositionNamed, descendantsOf, displayPath, rulesOf, stepOf, templateByFile, type DocumentSnapshot, type WorkspaceSnapshot } from '../workspaceSnapshot.js';
import { yamlCursorAt, type YamlCursor } from './yamlCursor.js';
import { testFileKeyItems, testFileValueItems, testKeysNotFitting } from './testFileCompletion.js';

type Schema = Record<string, unknown>;
const TEMPLATE_PATTERN = '^[A-Za-z0-9_./-]+$';

export function completion(req: FeatureRequest): CompletionList {
  const { doc } = req;
  const offset = doc.lines.offsetAt(req.position);
  let items: CompletionItem[] = [];
  if (doc.kind === 'template') items = templateCompletion(req, offset);
  else if (doc.kind === 'composition_rules' || doc.kind === 'service_mappings' || doc.kind === 'prompt_tests') items = yamlCompletion(req, doc.kind, offset);
  return { isIncomplete: false, items };
}

function range(doc: DocumentSnapshot, start: number, end: number): Range {
  return { start: doc.lines.positionAt(start), end: doc.lines.positionAt(end) };
}

function md(value: string) {
  return { kind: MarkupKind.Markdown, value };
}

// ---------------------------------------------------------------------------------------
// YAML

function yamlCompletion(req: FeatureRequest, kind: FileKind, offset: number): CompletionItem[] {
  const { doc, ws } = req;
  const cur = yamlCursorAt(doc.text, doc.lines, offset);
  const comp = kind === 'composition_rules' && cur.path[0] === 'compositions' ? compositionNamed(ws, cur.path[1]) : undefined;

  // Handlebars inside a `context:` value or the composition's `output:`.
  if (kind === 'composition_rules' && (cur.kind === 'value' || cur.kind === 'item') && cur.path[0] === 'compositions') {
    const inContext = cur.path.includes('context');
    const inOutput = cur.path.length === 3 && cur.path[2] === 'output';
    if (inContext || inOutput) {
      const m = mustacheAt(cur.scalarPrefix, cur.scalarPrefix.length);
      if (m) {
        const base = cur.scalarStart;
        const step = inOutput ? undefined : stepAtCursor(comp, cur);
        const scope: HbsScope = { compositions: comp ? [comp] : [], steps: step ? [{ c: comp!, s: step }] : [], allSteps: inOutput, ownContext: false };
        return handlebarsItems(ws, doc, scope, { ...m, wordStart: base + m.wordStart, wordEnd: base + m.wordEnd + wordTail(doc.text, offset) }, undefined);
      }
      return [];
    }
  }

  let schema = schemaAt(kind, cur.path);
  let mode: 'key' | 'value' = cur.kind === 'key' ? 'key' : 'value';
  let needsDash = false;
  if (cur.kind === 'key' && schema && isArray(schema)) {
    // A list item on a line without its dash yet.
    needsDash = true;
    schema = schemaAt(kind, [...cur.path, '0']);
    mode = schema && isObject(schema) ? 'key' : 'value';
  } else if (cur.kind === 'key' && schema && !isObject(schema) && !isArray(schema)) {
    // A scalar list item being typed (`- analysis/su`).
    mode = 'value';
  }
  if (kind === 'prompt_tests') {
    const r = range(doc, cur.wordStart, cur.wordEnd);
    const own = mode === 'key' ? testFileKeyItems({ ws, doc, cur, range: r, valuePrefix: '', schema, needsDash }) : testFileValueItems({ ws, doc, cur, range: r, valuePrefix: valuePrefix(doc, cur, needsDash) });
    if (own) return own;
    if (mode === 'key' && !needsDash) {
      const unfit = testKeysNotFitting(ws, doc.file, cur);
      return keyItems(ws, doc, kind, cur, schema, comp).filter((i) => !unfit.has(i.label));
    }
  }
  if (mode === 'key') {
    if (needsDash) return newItemSnippets(kind, cur, doc);
    return keyItems(ws, doc, kind, cur, schema, comp);
  }
  return valueItems(ws, doc, kind, cur, schema, comp, needsDash);
}

function wordTail(text: string, offset: number): number {
  let e = offset;
  while (e < text.length && /[A-Za-z0-9_.@/-]/.test(text[e]!)) e++;
  return e - offset;
}

function isArray(s: Schema): boolean {
  return s.type === 'array' || (Array.isArray(s.type) && s.type.includes('array') && !s.type.includes('object'));
}
function isObject(s: Schema): boolean {
  return s.type === 'object' || !!s.properties || !!s.additionalProperties || !!s.patternProperties;
}

/** The step the cursor is in (block list item in `steps`, or an override's step key). */
function stepAtCursor(c: CompositionDef | undefined, cur: YamlCursor): StepDef | undefined {
  if (!c) return undefined;
  if (cur.path[2] === 'steps' && cur.path[3] !== undefined) return stepOf(c, cur.itemIds.get(3), Number(cur.path[3]));
  if (cur.path[2] === 'overrides' && cur.path[5] === 'steps' && cur.path[6]) return stepOf(c, cur.path[6]);
  return undefined;
}

const SNIPPETS: Record<string, (i: string) => string> = {
  retry: (i) => `retry:\n${i}  max_attempts: \${1:3}\n${i}  initial_interval_ms: \${2:200}\n${i}  backoff_coefficient: \${3:2}\n${i}  max_interval_ms: \${4:5000}\n${i}  non_retryable: [\${5:template_error, missing_context}]`,
  steps: (i) => `steps:\n${i}  - id: \${1:step}\n${i}    template: \$2`,
  inputs: (i) => `inputs:\n${i}  required: [\$1]\n${i}  optional: [\$2]`,
  when: () => 'when: { path: $1, ${2|equals,not_equals,in,exists|}: $3 }',
  fallback: () => 'fallback: { ${1|template,value|}: $2 }',
  context_requirements: (i) => `context_requirements:\n${i}  required: [\$1]\n${i}  optional: [\$2]`,
  performance_targets: (i) => `performance_targets:\n${i}  render_p95_ms: \${1:50}`,
  overrides: (i) => `overrides:\n${i}  \${1|states,experience_levels|}:\n${i}    \${2:name}:\n${i}      \$0`,
};
/** Where service_mappings.yaml's key of the same name holds something else (a service's fallback is a template, never a value). */
const SERVICE_SNIPPETS: Record<string, (i: string) => string> = {
  fallback: (i) => `fallback:\n${i}  template: $0`,
};

/** A prompt test's keys whose value is better started on the next line. */
const TEST_SNIPPETS: Record<string, (i: string) => string> = {
  expect: (i) => `expect:\n${i}  - $0`,
  mocks: (i) => `mocks:\n${i}  $0`,
};

function keyItems(ws: WorkspaceSnapshot, doc: DocumentSnapshot, kind: FileKind, cur: YamlCursor, schema: Schema | undefined, comp: CompositionDef | undefined): CompletionItem[] {
  const r = range(doc, cur.wordStart, cur.wordEnd);
  const indent = ' '.repeat(cur.column);
  // Step ids as keys of an override's `steps:`.
  if (kind === 'composition_rules' && cur.path[0] === 'compositions' && cur.path[2] === 'overrides' && cur.path.length === 6 && cur.path[5] === 'steps') {
    return (comp?.steps ?? [])
      .filter((s) => s.id && !cur.siblings.has(s.id))
      .map((s, i) => ({
        label: s.id,
        kind: CompletionItemKind.Function,
        detail: `step of ${comp!.name}${s.template ? ` · ${s.template.name}` : ''}`,
        textEdit: { range: r, newText: cur.flow ? `${s.id}: { $0 }` : `${s.id}:\n${indent}  $0` },
        insertTextFormat: InsertTextFormat.Snippet,
        insertTextMode: InsertTextMode.asIs,
        sortText: String(i).padStart(4, '0'),
      }));
  }
  const props = (schema?.properties ?? {}) as Record<string, Schema>;
  const out: CompletionItem[] = [];
  let i = 0;
  for (const key of Object.keys(props)) {
    if (cur.siblings.has(key)) continue;
    const ps = schemaAt(kind, [...cur.path, key]) ?? props[key]!;
    let newText: string;
    const snippet = kind === 'prompt_tests' ? TEST_SNIPPETS[key] : ((kind === 'service_mappings' ? SERVICE_SNIPPETS[key] : undefined) ?? SNIPPETS[key]);
    if (cur.flow) newText = `${key}: $0`;
    else if (snippet && !(key === 'steps' && cur.path.length > 3)) newText = snippet(indent);
    else if (Array.isArray(ps.enum)) newText = `${key}: \${1|${ps.enum.map((e) => String(e).replace(/[,|]/g, '\\$&')).join(',')}|}`;
    // An open value with examples: the first as a placeholder, to keep or type over.
    else if (Array.isArray(ps.examples) && ps.examples.length && typeof ps.examples[0] !== 'object') newText = `${key}: \${1:${String(ps.examples[0]).replace(/[$}\\]/g, '\\$&')}}`;
    else if (ps.type === 'boolean') newText = `${key}: \${1|true,false|}`;
    else if (isArray(ps)) newText = `${key}: [$0]`;
    else if (isObject(ps)) newText = `${key}:\n${indent}  $0`;
    else newText = `${key}: $0`;
    const facts = schemaFacts(ps);
    out.push({
      label: key,
      kind: CompletionItemKind.Property,
      detail: facts || undefined,
      documentation: typeof ps.description === 'string' ? md(ps.description) : undefined,
      textEdit: { range: r, newText },
      insertTextFormat: InsertTextFormat.Snippet,
      insertTextMode: InsertTextMode.asIs,
      // Required keys first, then the schema's order.
      sortText: `${Array.isArray(schema?.required) && (schema!.required as string[]).includes(key) ? 0 : 1}${String(i++).padStart(3, '0')}`,
    });
  }
  return out;
}

/**
 * The one item of a `depends_on` where no step can be added. VS Code asks its word-based
 * provider (which offers every word of the file: "a", "about"...) whenever the language's
 * providers return no item, whatever `isIncomplete` says: an item that explains, and that
 * changes nothing when accepted (it writes back what is typed, and matches whatever is typed),
 * keeps those words out.
 */
function nothingToAdd(comp: CompositionDef, stepId: string | undefined, r: Range, typed: string): CompletionItem {
  const why = stepId
    ? `Every other step of '${comp.name}' is listed already or runs after '${stepId}' (adding it would close a cycle).`
    : `'${comp.name}' has no step to depend on.`;
  return {
    label: '(no step to add)',
    kind: CompletionItemKind.Text,
    detail: 'depends_on',
    documentation: md(why),
    textEdit: { range: r, newText: typed },
    filterText: typed,
    sortText: '~',
  };
}

/** A new list item on a line without `- `: a step skeleton in `steps`, a `- ` value elsewhere. */
function newItemSnippets(kind: FileKind, cur: YamlCursor, doc: DocumentSnapshot): CompletionItem[] {
  const r = range(doc, cur.wordStart, cur.wordEnd);
  const last = cur.path[cur.path.length - 1];
  if (kind === 'composition_rules' && last === 'steps' && cur.path.length === 3) {
    const indent = ' '.repeat(cur.column);
    return [
      {
        label: '- id: … (new step)',
        kind: CompletionItemKind.Snippet,
        detail: 'A new step',
        documentation: md(String(schemaAt(kind, [...cur.path, '0'])?.description ?? '')),
        textEdit: { range: r, newText: `- id: \${1:step}\n${indent}  template: $2\n${indent}  depends_on: [$3]` },
        insertTextFormat: InsertTextFormat.Snippet,
        insertTextMode: InsertTextMode.asIs,
        filterText: cur.word || '-',
      },
    ];
  }
  return [];
}

/** What goes before an inserted value: its dash when the line has none yet, the space right after `key:`. */
function valuePrefix(doc: DocumentSnapshot, cur: YamlCursor, needsDash: boolean): string {
  return (needsDash ? '- ' : '') + (!cur.quote && !cur.flow && doc.text[cur.wordStart - 1] === ':' ? ' ' : '');
}

function valueItems(ws: WorkspaceSnapshot, doc: DocumentSnapshot, kind: FileKind, cur: YamlCursor, schema: Schema | undefined, comp: CompositionDef | undefined, needsDash: boolean): CompletionItem[] {
  const r = range(doc, cur.wordStart, cur.wordEnd);
  const dash = valuePrefix(doc, cur, needsDash);
  const path = cur.path;
  const last = path[path.length - 1]!;
  const isIndex = /^\d+$/.test(last);
  const key = isIndex ? path[path.length - 2] : last;
  const item = (label: string, k: CompletionItemKind, detail?: string, documentation?: string, sort?: string): CompletionItem => {
    const it: CompletionItem = { label, kind: k, textEdit: { range: r, newText: dash + label }, filterText: label };
    if (detail) it.detail = detail;
    if (documentation) it.documentation = md(documentation);
    if (sort) it.sortText = sort;
    return it;
  };

  // Step ids in depends_on.
  if (kind === 'composition_rules' && key === 'depends_on' && path[0] === 'compositions' && comp) {
    const self = stepAtCursor(comp, cur);
    const exclude = new Set<string>();
    if (self) {
      exclude.add(self.id);
      for (const d of descendantsOf(comp, self.id)) exclude.add(d);
      // Already listed, except the one being typed.
      for (const d of self.dependsOn) if (!(d.node.start <= cur.wordStart && cur.wordStart <= d.node.end)) exclude.add(d.name);
    }
    const candidates = comp.steps.filter((s) => s.id && !exclude.has(s.id));
    if (candidates.length) return candidates.map((s, i) => item(s.id, CompletionItemKind.Function, `step${s.template ? ` · ${s.template.name}` : ''}`, undefined, String(i).padStart(4, '0')));
    return [nothingToAdd(comp, self?.id, r, doc.text.slice(cur.wordStart, cur.wordEnd))];
  }
  // Providers for `model:` of a step or override.
  if (kind === 'composition_rules' && key === 'model' && path[0] === 'compositions') {
    return (rulesOf(ws)?.providers ?? []).map((p) => item(p.name, CompletionItemKind.Interface, `provider ${p.type}${p.model ? ` · ${p.model}` : ''}`, p.baseUrl ? `\`${p.baseUrl}\`` : undefined));
  }
  // Compositions a service may run.
  if (kind === 'service_mappings' && key === 'compositions' && (path[0] === 'services' || path[0] === 'defaults')) {
    return (rulesOf(ws)?.compositions ?? []).map((c) => item(c.name, CompletionItemKind.Module, `composition · ${c.steps.length} step(s)`, c.description));
  }
  // Inputs: the variables the composition's templates read that it does not declare yet.
  if (kind === 'composition_rules' && path[0] === 'compositions' && path[2] === 'inputs' && comp) {
    const declared = new Set([...comp.inputs.required, ...comp.inputs.optional].map((x) => x.name));
    const wanted = new Set<string>();
    for (const s of comp.steps) {
      const t = s.template && ws.validation.templates.get(s.template.name);
      const ctxKeys = new Set(s.context.map((e) => e.key));
      for (const v of t?.analysis.variables ?? []) if (v.name !== 'steps' && !declared.has(v.name) && !ctxKeys.has(v.name)) wanted.add(v.name);
    }
    return [...wanted].sort().map((n) => item(n, CompletionItemKind.Variable, 'read by a template of this composition'));
  }
  // `when: { path: }`: the composition's inputs and the steps it depends on.
  if (kind === 'composition_rules' && key === 'path' && path.includes('when') && comp) {
    const self = stepAtCursor(comp, cur);
    const inputs = [...comp.inputs.required, ...comp.inputs.optional].map((x) => x.name);
    const deps = self ? [...ancestorsOf(comp, self.id)] : [];
    return [...inputs.map((n) => item(n, CompletionItemKind.Variable, 'input')), ...deps.flatMap((d) => ['status', 'output'].map((f) => item(`steps.${d}.${f}`, CompletionItemKind.Field, `step ${d}`)))];
  }
  if (!schema) return [];
  if (schema.pattern === TEMPLATE_PATTERN) return templateNameItems(ws, r, dash);
  if (Array.isArray(schema.enum)) return schema.enum.map((e, i) => item(String(e), CompletionItemKind.EnumMember, undefined, typeof schema.description === 'string' ? schema.description : undefined, String(i).padStart(3, '0')));
  // A value the schema leaves open (a pattern) but gives examples of: offer them, the user may type another.
  if (Array.isArray(schema.examples)) {
    const about = typeof schema.description === 'string' ? schema.description : undefined;
    return schema.examples.filter((e) => e === null || typeof e !== 'object').map((e, i) => item(String(e), CompletionItemKind.Value, 'example', about, String(i).padStart(3, '0')));
  }
  if (schema.type === 'boolean') return ['true', 'false'].map((b) => item(b, CompletionItemKind.Value));
  return [];
}

function templateNameItems(ws: WorkspaceSnapshot, r: Range, prefix = ''): CompletionItem[] {
  const v = ws.validation;
  return [...v.templates.values()]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((t) => {
      const vars = [...new Set(t.analysis.variables.map((x) => x.name))];
      return {
        label: t.name,
        kind: CompletionItemKind.File,
        detail: `${displayPath(v, t.file)}${vars.length ? ` · reads ${vars.join(', ')}` : ''}`,
        documentation: md('```handlebars\n' + t.text.split('\n').slice(0, 6).join('\n').replace(/```/g, "'''") + '\n```'),
        textEdit: { range: r, newText: prefix + t.name },
        filterText: t.name,
      };
    });
}

// ---------------------------------------------------------------------------------------
// Handlebars

interface HbsScope {
  compositions: CompositionDef[];
  steps: { c: CompositionDef; s: StepDef }[];
  /** In the composition's `output`: every step's output is available. */
  allSteps: boolean;
  /** In a template file: the step's own `context:` keys are variables too. */
  ownContext: boolean;
}

function templateCompletion(req: FeatureRequest, offset: number): CompletionItem[] {
  const { ws, doc } = req;
  const m = mustacheAt(doc.text, offset);
  if (!m) return [];
  const t = templateByFile(ws.validation, doc.file);
  const comps = t ? compositionsUsingTemplate(rulesOf(ws)?.compositions ?? [], t.name) : [];
  const steps: HbsScope['steps'] = comps.flatMap((c) => stepsRenderingTemplate(c, t!.name).map((s) => ({ c, s })));
  return handlebarsItems(ws, doc, { compositions: comps, steps, allSteps: false, ownContext: true }, m, t?.name);
}

function handlebarsItems(ws: WorkspaceSnapshot, doc: DocumentSnapshot, scope: HbsScope, m: ReturnType<typeof mustacheAt> & object, self: string | undefined): CompletionItem[] {
  const r = range(doc, m.wordStart, m.wordEnd);
  const out: CompletionItem[] = [];
  if (m.sigil === '>') {
    for (const it of templateNameItems(ws, r)) if (it.label !== self) out.push(it);
    return out;
  }
  if (m.sigil === '/') {
    const open = innermostOpenBlock(doc.text.slice(0, m.wordStart));
    if (open) out.push({ label: open, kind: CompletionItemKind.Keyword, textEdit: { range: r, newText: open } });
    return out;
  }
  const push = (label: string, kind: CompletionItemKind, detail: string, sort: string, documentation?: string) => {
    if (out.some((o) => o.label === label)) return;
    const it: CompletionItem = { label, kind, detail, sortText: sort + label, textEdit: { range: r, newText: label }, filterText: label };
    if (documentation) it.documentation = md(documentation);
    out.push(it);
  };
  if (m.sigil === '#' || m.firstWord) {
    for (const h of helperDocs()) {
      if (m.sigil === '#' && !h.block && h.source === 'handlebars') continue;
      push(h.name, CompletionItemKind.Function, h.source === 'handlebars' ? 'Handlebars helper' : 'prompt helper', m.sigil === '#' && h.block ? '0' : '3', h.description + (h.signature ? '\n\n```handlebars\n' + h.signature + '\n```' : ''));
    }
  }
  for (const c of scope.compositions) {
    for (const x of c.inputs.required) push(x.name, CompletionItemKind.Variable, `required input of ${c.name}`, '1');
    for (const x of c.inputs.optional) push(x.name, CompletionItemKind.Variable, `optional input of ${c.name}`, '1');
  }
  if (scope.ownContext) for (const { s } of scope.steps) for (const e of s.context) push(e.key, CompletionItemKind.Variable, `context of step ${s.id}`, '1');
  const stepIds = new Set<string>();
  if (scope.allSteps) for (const c of scope.compositions) for (const s of c.steps) if (s.id) stepIds.add(s.id);
  for (const { c, s } of scope.steps) for (const d of ancestorsOf(c, s.id)) stepIds.add(d);
  for (const id of stepIds) push(`steps.${id}.output`, CompletionItemKind.Field, `output of step ${id}`, '2');
  return out;
}
