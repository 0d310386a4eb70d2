/**
 * Completion in prompt test files (`prompt_tests.yaml`, `prompt_tests/**.yaml`), where the
 * schema alone cannot say what to offer: the compositions and services of the workspace, its
 * context files, the steps of the composition under test (for `mocks` keys, the model steps not
 * mocked yet), assertion kinds as snippets (only the modifiers that fit once an item has its
 * kind), the statuses the target can end with, the forms of a mocked answer, and a new test's
 * skeleton. Template names, enums and booleans come from the schema (completion.ts).
 */
import { CompletionItemKind, InsertTextFormat, InsertTextMode, MarkupKind, type CompletionItem, type Range } from 'vscode-languageserver-types';
import { ASSERTION_KINDS, RENDER_STATUSES, RUN_STATUSES, STEP_STATUSES, TEXT_ASSERTION_KINDS, type AssertionKind, type PromptTestDef } from '../../core/model/testTypes.js';
import type { CompositionDef } from '../../core/model/types.js';
import { schemaAt } from '../../core/validate/schemaCheck.js';
import { modelSteps } from '../../core/validate/testChecks.js';
import { servicesRunningComposition, templatesServiceMayRender } from '../../core/workspace/queries.js';
import { compositionNamed, mappingsOf, rulesOf, type DocumentSnapshot, type WorkspaceSnapshot } from '../workspaceSnapshot.js';
import type { YamlCursor } from './yamlCursor.js';

type Schema = Record<string, unknown>;

const md = (value: string) => ({ kind: MarkupKind.Markdown, value });
const escapeSnippet = (s: string) => s.replace(/[$}\\]/g, '\\$&');
const choice = (values: readonly string[]) => `\${1|${values.map((v) => v.replace(/[,|\\]/g, '\\$&')).join(',')}|}`;

/** The test under the cursor, as the last validation built it (absent while the file does not parse). */
function testAt(ws: WorkspaceSnapshot, file: string, name: string | undefined): PromptTestDef | undefined {
  if (name === undefined) return undefined;
  return ws.validation.promptTests.find((m) => m.file === file)?.tests.find((t) => t.name === name);
}

/** The composition a test runs (none for a template test). */
function compositionOf(ws: WorkspaceSnapshot, t: PromptTestDef | undefined): CompositionDef | undefined {
  return t && !t.template ? compositionNamed(ws, t.composition?.name) : undefined;
}

/** What the assertion being typed checks: a step, the run of a composition, or a template's render. */
function statusesFor(t: PromptTestDef | undefined, hasStep: boolean): readonly string[] {
  if (hasStep) return STEP_STATUSES;
  if (t?.composition && !t.template) return RUN_STATUSES;
  if (t?.template) return RENDER_STATUSES;
  return [...new Set([...STEP_STATUSES, ...RUN_STATUSES, ...RENDER_STATUSES])];
}

/** The snippet an assertion kind inserts (`indent`: the column of its key). */
function kindSnippet(kind: AssertionKind, indent: string, statuses: readonly string[]): string {
  switch (kind) {
    case 'equals':
    case 'contains':
    case 'not_contains':
      return `${kind}: \${1:text}`;
    case 'regex':
      return `regex: '\${1:^pattern}'`;
    case 'json_schema':
      return `json_schema:\n${indent}  type: \${1|object,array,string,number,boolean|}\n${indent}  $0`;
    case 'max_length':
      return 'max_length: ${1:2000}';
    case 'max_tokens':
      return 'max_tokens: ${1:500}';
    case 'status':
      return `status: ${choice(statuses)}`;
    case 'error':
      return `error: ${choice(errorCodes())}`;
    case 'attempts':
      return 'attempts: ${1:1}';
    case 'snapshot':
      return 'snapshot: ${1:true}';
  }
}

function errorCodes(): string[] {
  const e = (schemaAt('prompt_tests', ['tests', 't', 'expect', '0', 'error'])?.enum ?? []) as unknown[];
  return e.map(String);
}

/** Modifiers of an assertion item, and whether one fits a kind. */
const MODIFIERS = ['step', 'of', 'ignore_case', 'flags', 'description'] as const;
function modifierFits(m: (typeof MODIFIERS)[number], kind: AssertionKind | undefined, compositionTest: boolean): boolean {
  switch (m) {
    case 'step':
      return compositionTest;
    case 'of':
      return !kind || TEXT_ASSERTION_KINDS.has(kind);
    case 'ignore_case':
      return !kind || kind === 'equals' || kind === 'contains' || kind === 'not_contains' || kind === 'regex';
    case 'flags':
      return !kind || kind === 'regex';
    case 'description':
      return true;
  }
}

/** Forms of a mocked model answer, as snippets. */
const ANSWERS: { label: string; detail: string; text: string }[] = [
  { label: '"reply"', detail: "the model's reply to every call", text: '"${1:reply}"' },
  { label: '{ status: 429, retry_after }', detail: 'rate limited, then retried after Retry-After seconds', text: '{ status: ${1:429}, retry_after: ${2:1} }' },
  { label: '{ status: 503 }', detail: 'a server error (retried)', text: '{ status: ${1:503} }' },
  { label: '{ down: true }', detail: 'the provider cannot be reached (retried)', text: '{ down: true }' },
  { label: '{ hang: true }', detail: 'never answers, until a timeout', text: '{ hang: true }' },
  { label: '{ malformed: true }', detail: 'answers 200 with a body that is not chat-completions JSON', text: '{ malformed: true }' },
  { label: '{ error, message }', detail: 'fails with an engine error code', text: `{ error: ${choice(errorCodes())}, message: \${2:why} }` },
  { label: '[429, then a reply]', detail: 'successive calls: the last answer repeats', text: '[{ status: 429, retry_after: ${1:1} }, "${2:reply}"]' },
];

export interface TestCompletionContext {
  ws: WorkspaceSnapshot;
  doc: DocumentSnapshot;
  cur: YamlCursor;
  /** The range the items replace (the word at the cursor). */
  range: Range;
  /** What goes before an inserted value (`- ` for a list item without its dash, a space after `key:`). */
  valuePrefix: string;
}

/**
 * Items for a place of a prompt test file that needs the workspace (values) or a skeleton
 * (keys); undefined where the schema's keys, enums and template names are the answer.
 */
export function testFileValueItems(c: TestCompletionContext): CompletionItem[] | undefined {
  const { ws, cur } = c;
  const p = cur.path;
  if (p[0] !== 'tests' || p.length < 3) return undefined;
  const t = testAt(ws, c.doc.file, p[1]);
  const item = (label: string, kind: CompletionItemKind, detail?: string, documentation?: string, sort?: string, insert = label): CompletionItem => {
    const it: CompletionItem = { label, kind, textEdit: { range: c.range, newText: c.valuePrefix + insert }, filterText: label };
    if (detail) it.detail = detail;
    if (documentation) it.documentation = md(documentation);
    if (sort) it.sortText = sort;
    return it;
  };
  if (p.length === 3 && p[2] === 'composition') {
    return (rulesOf(ws)?.compositions ?? []).map((x) => item(x.name, CompletionItemKind.Module, `composition · ${x.steps.length} step(s)`, x.description));
  }
  if (p.length === 3 && p[2] === 'service') {
    // The services that may render the template (or run the composition) first.
    const services = mappingsOf(ws)?.services ?? [];
    const allowed = new Set(
      t?.template && !t.composition
        ? services.filter((s) => templatesServiceMayRender(s, (n) => compositionNamed(ws, n)).has(t.template!.name)).map((s) => s.name)
        : t?.composition
          ? servicesRunningComposition(services, t.composition.name).map((s) => s.name)
          : [],
    );
    const what = t?.template ? `may render ${t.template.name}` : t?.composition ? `may run ${t.composition.name}` : '';
    return services.map((s, i) => item(s.name, CompletionItemKind.Class, allowed.has(s.name) ? `service · ${what}` : 'service', s.description, `${allowed.has(s.name) ? 0 : 1}${String(i).padStart(4, '0')}`));
  }
  if (p.length === 3 && p[2] === 'context_file') {
    return (ws.contextFileNames?.() ?? []).map((f) => item(f, CompletionItemKind.File, 'context file'));
  }
  // An assertion's `step:`: the composition's steps.
  if (p.length === 5 && p[2] === 'expect' && p[4] === 'step') {
    const comp = compositionOf(ws, t);
    return (comp?.steps ?? []).filter((s) => s.id).map((s, i) => item(s.id, CompletionItemKind.Function, `step${s.template ? ` · ${s.template.name}` : ''}${s.model ? ` · model ${s.model.name}` : ''}`, undefined, String(i).padStart(4, '0')));
  }
  // An assertion's `status:`: what its target can end with.
  if (p.length === 5 && p[2] === 'expect' && p[4] === 'status') {
    const a = t?.expect[Number(p[3])];
    const statuses = statusesFor(t, !!a?.step);
    const about = schemaAt('prompt_tests', p)?.description;
    return statuses.map((s, i) => item(s, CompletionItemKind.EnumMember, undefined, typeof about === 'string' ? about : undefined, String(i).padStart(3, '0')));
  }
  // A mocked step's answers.
  if (p[2] === 'mocks' && (p.length === 4 || (p.length === 5 && /^\d+$/.test(p[4]!)))) {
    if (cur.quote) return [];
    return ANSWERS.map((a, i) => ({ ...item(a.label, CompletionItemKind.Value, a.detail, undefined, String(i).padStart(3, '0'), a.text), insertTextFormat: InsertTextFormat.Snippet }));
  }
  return undefined;
}

/**
 * A test's own keys that do not fit it: a test names a template or a composition, not both, and
 * a template's render calls no model (no `mocks`, nothing `live`).
 */
export function testKeysNotFitting(ws: WorkspaceSnapshot, file: string, cur: YamlCursor): Set<string> {
  const out = new Set<string>();
  if (cur.path.length !== 2 || cur.path[0] !== 'tests') return out;
  const t = testAt(ws, file, cur.path[1]);
  const template = cur.siblings.has('template') || !!t?.template;
  const composition = cur.siblings.has('composition') || !!t?.composition;
  if (template) for (const k of ['composition', 'mocks', 'live']) out.add(k);
  if (composition) out.add('template');
  return out;
}

/** Keys of a prompt test file that need more than the schema; undefined where its keys are the answer. */
export function testFileKeyItems(c: TestCompletionContext & { schema: Schema | undefined; needsDash: boolean }): CompletionItem[] | undefined {
  const { ws, cur } = c;
  const p = cur.path;
  const indent = ' '.repeat(cur.column);
  const snippet = (label: string, newText: string, detail: string | undefined, documentation: unknown, sort: string, kind: CompletionItemKind = CompletionItemKind.Property): CompletionItem => {
    const it: CompletionItem = { label, kind, textEdit: { range: c.range, newText }, insertTextFormat: InsertTextFormat.Snippet, insertTextMode: InsertTextMode.asIs, sortText: sort };
    if (detail) it.detail = detail;
    if (typeof documentation === 'string') it.documentation = md(documentation);
    return it;
  };
  // A new test: its name is the user's; the skeleton follows it.
  if (p.length === 1 && p[0] === 'tests' && !cur.flow) {
    const name = cur.word && /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(cur.word) ? escapeSnippet(cur.word) : 'test_name';
    const body = `${indent}  `;
    const out = [
      snippet('new template test', `\${1:${name}}:\n${body}template: $2\n${body}context_file: $3\n${body}expect:\n${body}  - contains: $0`, 'renders a template and checks the text', 'A test that renders a template with a context and checks the rendered prompt.', '0'),
      snippet('new composition test', `\${1:${name}}:\n${body}composition: $2\n${body}context_file: $3\n${body}mocks:\n${body}  \${4:step}: "\${5:the model's reply}"\n${body}expect:\n${body}  - status: succeeded$0`, 'runs a composition with mocked model steps', 'A test that runs a composition, its model steps answering from `mocks`, and checks the run.', '1'),
    ];
    // Shown whatever name is being typed.
    for (const o of out) o.filterText = cur.word || o.label;
    return out;
  }
  if (p[0] !== 'tests' || p.length < 2) return undefined;
  const t = testAt(ws, c.doc.file, p[1]);
  const compositionTest = !t?.template;
  // `mocks:` keys: the composition's model steps not mocked yet.
  if (p.length === 3 && p[2] === 'mocks') {
    const comp = compositionOf(ws, t);
    if (!comp) return [];
    const models = modelSteps(comp);
    return [...models]
      .filter(([id]) => !cur.siblings.has(id))
      .map(([id, provider], i) => snippet(id, cur.flow ? `${id}: "\${1:reply}"` : `${id}: "\${1:the model's reply}"`, `model step · provider ${provider}`, undefined, String(i).padStart(4, '0'), CompletionItemKind.Function));
  }
  // A mocked answer written as a mapping.
  if (p[2] === 'mocks' && (p.length === 4 || (p.length === 5 && /^\d+$/.test(p[4]!)))) {
    const fields = schemaAt('prompt_tests', ['tests', 't', 'mocks', 's', '0'])?.allOf as Schema[] | undefined;
    const ref = fields?.[0]?.$ref as string | undefined;
    const defs = ((schemaAt('prompt_tests', []) as Schema).definitions ?? {}) as Record<string, Schema>;
    const props = (ref ? defs[ref.split('/').pop()!]?.properties : undefined) as Record<string, Schema> | undefined;
    return Object.entries(props ?? {})
      .filter(([k]) => !cur.siblings.has(k))
      .map(([k, s], i) => snippet(k, `${k}: $0`, undefined, s.description, String(i).padStart(3, '0')));
  }
  // `expect:` entries: an assertion kind (with its dash when the line has none yet).
  const inItem = p.length === 4 && p[2] === 'expect' && /^\d+$/.test(p[3]!);
  const newItem = p.length === 3 && p[2] === 'expect' && c.needsDash;
  if (!inItem && !newItem) return undefined;
  const present = inItem ? ASSERTION_KINDS.find((k) => cur.siblings.has(k)) : undefined;
  const hasStep = inItem && cur.siblings.has('step');
  const statuses = statusesFor(t, hasStep);
  const out: CompletionItem[] = [];
  const dash = newItem ? '- ' : '';
  const itemIndent = newItem ? `${indent}  ` : indent;
  if (!present) {
    ASSERTION_KINDS.forEach((k, i) => {
      if (k === 'attempts' && !compositionTest) return;
      const doc = schemaAt('prompt_tests', ['tests', 't', 'expect', '0', k])?.description;
      out.push(snippet(k, dash + kindSnippet(k, itemIndent, statuses), 'assertion', doc, `0${String(i).padStart(3, '0')}`, CompletionItemKind.Keyword));
    });
  }
  MODIFIERS.forEach((m, i) => {
    if (cur.siblings.has(m) || !modifierFits(m, present, compositionTest)) return;
    const s = schemaAt('prompt_tests', ['tests', 't', 'expect', '0', m]);
    const text = m === 'of' ? `of: ${choice(['output', 'prompt'])}` : m === 'ignore_case' ? 'ignore_case: ${1|true,false|}' : `${m}: $0`;
    out.push(snippet(m, dash + text, present ? `modifies ${present}` : 'modifier', s?.description, `1${String(i).padStart(3, '0')}`));
  });
  return out;
}
