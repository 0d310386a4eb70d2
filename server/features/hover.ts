/**
 * Hover: a key shows its schema description (from the one schema, via `schemaAt`); a template
 * reference its path, the variables it reads and its first lines; a step its template and
 * dependencies; a composition its inputs and steps; a provider its endpoint; a helper its doc.
 */
import { MarkupKind, type Hover, type Range } from 'vscode-languageserver-types';
import { schemaAt, type FileKind } from '../../core/validate/schemaCheck.js';
import { COMPOSITION_RULES_FILE } from '../../core/workspace/discover.js';
import { compositionsUsingTemplate, providerNamed, serviceNamed, serviceTemplateRefs } from '../../core/workspace/queries.js';
import { helperDocs } from './helperDocs.js';
import { mustacheAt, wordAt } from './hbsCursor.js';
import type { FeatureRequest } from './navigation.js';
import { occurrencesAt, type Occurrence } from './occurrences.js';
import { compositionNamed, displayPath, mappingsOf, rulesOf, templateByFile, type WorkspaceSnapshot } from '../workspaceSnapshot.js';
import { yamlCursorAt } from './yamlCursor.js';
import { testNameHover } from './testFileNavigation.js';

const code = (s: string) => '`' + s.replace(/`/g, "'") + '`';
const list = (a: string[]) => (a.length ? a.map(code).join(', ') : '_none_');

export function hover(req: FeatureRequest): Hover | null {
  const { ws, doc } = req;
  const hits = occurrencesAt(ws, doc.file, req.position);
  if (hits.length) {
    const first = hits[0]!;
    const same = hits.filter((h) => h.range.start.line === first.range.start.line && h.range.start.character === first.range.start.character);
    const parts = same.map((h) => describeName(ws, h)).filter((x): x is string => !!x);
    if (parts.length) return { contents: { kind: MarkupKind.Markdown, value: parts.join('\n\n---\n\n') }, range: first.range };
  }
  const offset = doc.lines.offsetAt(req.position);
  if (doc.kind === 'template') return templateTextHover(ws, req, offset);
  if (doc.kind === 'prompt_tests') return testNameHover(req) ?? keyHover(doc.kind, req, offset);
  if (doc.kind === 'composition_rules' || doc.kind === 'service_mappings') return keyHover(doc.kind, req, offset);
  return null;
}

function keyHover(kind: FileKind, req: FeatureRequest, offset: number): Hover | null {
  const { doc } = req;
  const cur = yamlCursorAt(doc.text, doc.lines, offset);
  if (cur.kind !== 'key') return null;
  const key = doc.text.slice(cur.wordStart, cur.wordEnd);
  if (!key || !/^\s*:/.test(doc.text.slice(cur.wordEnd, cur.wordEnd + 40))) return null;
  const schema = schemaAt(kind, [...cur.path, key]);
  if (!schema) return null;
  const lines = [`**${key}**`];
  if (typeof schema.description === 'string') lines.push('', schema.description);
  const facts = schemaFacts(schema);
  if (facts) lines.push('', facts);
  const range: Range = { start: doc.lines.positionAt(cur.wordStart), end: doc.lines.positionAt(cur.wordEnd) };
  return { contents: { kind: MarkupKind.Markdown, value: lines.join('\n') }, range };
}

/** Type, allowed values and default of a schema node, in one line. */
export function schemaFacts(schema: Record<string, unknown>): string {
  const out: string[] = [];
  if (Array.isArray(schema.enum)) out.push(`One of: ${schema.enum.map((v) => code(String(v))).join(', ')}`);
  else if (schema.type) out.push(`Type: ${Array.isArray(schema.type) ? schema.type.join(' | ') : String(schema.type)}`);
  if (schema.default !== undefined && !(typeof schema.default === 'object' && schema.default !== null)) out.push(`Default: ${code(JSON.stringify(schema.default))}`);
  return out.join(' · ');
}

function templateTextHover(ws: WorkspaceSnapshot, req: FeatureRequest, offset: number): Hover | null {
  const { doc } = req;
  const m = mustacheAt(doc.text, offset);
  const w = wordAt(doc.text, offset);
  if (!m || !w.word) return null;
  const range: Range = { start: doc.lines.positionAt(w.start), end: doc.lines.positionAt(w.end) };
  const helper = helperDocs().find((h) => h.name === w.word);
  if (helper && m.firstWord) {
    const lines = [`**helper** ${code(helper.name)}${helper.source === 'handlebars' ? ' (Handlebars built-in)' : ''}`, '', helper.description];
    if (helper.signature) lines.push('', '```handlebars\n' + helper.signature + '\n```');
    return { contents: { kind: MarkupKind.Markdown, value: lines.join('\n') }, range };
  }
  const root = w.word.split('.')[0]!;
  if (!root || root === 'this' || root.startsWith('@') || root === 'steps') return null;
  const t = templateByFile(ws.validation, doc.file);
  if (!t || !t.analysis.variables.some((v) => v.name === root)) return null;
  const users = compositionsUsingTemplate(rulesOf(ws)?.compositions ?? [], t.name);
  const lines = [`**variable** ${code(root)}`];
  for (const c of users) {
    const req = c.inputs.required.some((r) => r.name === root);
    const opt = c.inputs.optional.some((r) => r.name === root);
    lines.push('', `- composition ${code(c.name)}: ${req ? 'required input' : opt ? 'optional input' : 'not among its inputs'}`);
  }
  if (!users.length) lines.push('', '_No composition renders this template._');
  return { contents: { kind: MarkupKind.Markdown, value: lines.join('\n') }, range };
}

/** Markdown describing a named thing. */
export function describeName(ws: WorkspaceSnapshot, o: Pick<Occurrence, 'kind' | 'name' | 'scope'>): string | undefined {
  const v = ws.validation;
  switch (o.kind) {
    case 'template': {
      const t = v.templates.get(o.name);
      if (!t) return `**template** ${code(o.name)}\n\n_Not found under ${code(displayPath(v, v.templatesRoot))}._`;
      const vars = [...new Set(t.analysis.variables.map((x) => x.name))];
      const lines = [`**template** ${code(o.name)}`, '', code(displayPath(v, t.file)), '', `Reads: ${list(vars)}`];
      const partials = [...new Set(t.analysis.partials.map((p) => p.name))];
      if (partials.length) lines.push('', `Partials: ${list(partials)}`);
      const steps = [...new Set(t.analysis.stepReads.map((s) => s.stepId))];
      if (steps.length) lines.push('', `Step outputs: ${list(steps.map((s) => `steps.${s}`))}`);
      if (t.analysis.error) lines.push('', `⚠ Cannot be parsed: ${t.analysis.error.message}`);
      const head = t.text.split('\n').slice(0, 6).join('\n').replace(/```/g, "'''");
      if (head.trim()) lines.push('', '```handlebars\n' + head + (t.text.split('\n').length > 6 ? '\n…' : '') + '\n```');
      return lines.join('\n');
    }
    case 'step': {
      const c = compositionNamed(ws, o.scope);
      const s = c?.steps.find((x) => x.id === o.name);
      if (!c || !s) return `**step** ${code(o.name)}\n\n_Composition ${code(o.scope ?? '?')} has no such step._`;
      const lines = [`**step** ${code(s.id)} of composition ${code(c.name)}`, '', `Template: ${s.template ? code(s.template.name) : '_none_'}`, '', `Depends on: ${list(s.dependsOn.map((d) => d.name))}`];
      if (s.model) lines.push('', `Model: ${code(s.model.name)}`);
      if (s.when) lines.push('', `Runs when: ${code(s.when.path)}`);
      const dependents = c.steps.filter((x) => x.dependsOn.some((d) => d.name === s.id)).map((x) => x.id);
      if (dependents.length) lines.push('', `Needed by: ${list(dependents)}`);
      return lines.join('\n');
    }
    case 'composition': {
      const c = compositionNamed(ws, o.name);
      if (!c) return `**composition** ${code(o.name)}\n\n_Not defined in ${COMPOSITION_RULES_FILE}._`;
      const lines = [`**composition** ${code(c.name)}`];
      if (c.description) lines.push('', c.description);
      lines.push('', `Inputs: required ${list(c.inputs.required.map((r) => r.name))}; optional ${list(c.inputs.optional.map((r) => r.name))}`);
      lines.push('', 'Steps:');
      for (const s of c.steps) lines.push(`- ${code(s.id)}${s.template ? ` → ${code(s.template.name)}` : ''}${s.dependsOn.length ? ` (after ${s.dependsOn.map((d) => d.name).join(', ')})` : ''}`);
      return lines.join('\n');
    }
    case 'provider': {
      const p = providerNamed(rulesOf(ws), o.name);
      if (!p) return `**provider** ${code(o.name)}\n\n_Not defined under \`providers\`._`;
      const lines = [`**provider** ${code(p.name)}`, '', `Type: ${code(p.type)}`];
      if (p.baseUrl) lines.push('', `Base URL: ${code(p.baseUrl)}`);
      if (p.model) lines.push('', `Model: ${code(p.model)}`);
      if (p.apiKeyEnv) lines.push('', `API key from: ${code('$' + p.apiKeyEnv)}`);
      return lines.join('\n');
    }
    case 'service': {
      const s = serviceNamed(mappingsOf(ws), o.name);
      if (!s) return undefined;
      const lines = [`**service** ${code(s.name)}`];
      if (s.description) lines.push('', s.description);
      lines.push('', `Templates: ${list(serviceTemplateRefs(s).map((t) => t.name))}`, '', `Compositions: ${list(s.compositions.map((c) => c.name))}`);
      lines.push('', `Context: required ${list(s.contextRequirements.required)}; optional ${list(s.contextRequirements.optional)}`);
      return lines.join('\n');
    }
  }
}
