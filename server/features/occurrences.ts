/**
 * Every place a name is defined or used in a prompt workspace: templates (files, YAML
 * references, `{{> partial}}`), steps (ids, `depends_on`, override keys, `steps.<id>` reads),
 * compositions, providers and services; and where the prompt test files name them. Definition, references, rename, hover and highlights
 * all start here, so they agree on what a name is. Built once per validation result.
 */
import type { Position, Range } from 'vscode-languageserver-types';
import type { NameRef } from '../../core/model/types.js';
import type { TemplateEntry } from '../../core/validate/api.js';
import type { SNode, SScalar } from '../../core/yaml/sourceTree.js';
import { hasTag, tagInsides } from '../../core/templates/tagScan.js';
import { compositionTemplates, isPathUnder, serviceTemplateRefs } from '../../core/workspace/queries.js';
import { contains, linesOf, type WorkspaceSnapshot } from '../workspaceSnapshot.js';

export type NameKind = 'template' | 'step' | 'composition' | 'provider' | 'service';

export interface Occurrence {
  kind: NameKind;
  name: string;
  /** For steps: the composition they belong to. */
  scope?: string;
  file: string;
  /** The name itself (quotes excluded); a template's definition is its file's first position. */
  range: Range;
  role: 'definition' | 'reference';
  /** What kind of place it is, for messages and for deciding what rename may touch. */
  site: 'file' | 'key' | 'value' | 'list-item' | 'override-key' | 'partial' | 'step-read';
}

export function symbolKey(o: { kind: NameKind; scope?: string; name: string }): string {
  return `${o.kind}\0${o.kind === 'step' ? (o.scope ?? '') : ''}\0${o.name}`;
}

/**
 * Which occurrences a walk emits. The walk prunes with cheap comparisons (names, source
 * offsets) before it computes any range, so a lookup in a 2 MB file touches only the
 * composition under the cursor or the few places a name occurs.
 */
export interface OccurrenceFilter {
  /** Only occurrences in this file that may hold this offset. */
  at?: { file: string; offset: number };
  /** Only names this accepts. */
  accept?: (kind: NameKind, name: string, scope: string | undefined) => boolean;
  /** Only this name: lets the walk skip whole compositions. */
  only?: { kind: NameKind; name: string; scope?: string };
  definitionsOnly?: boolean;
  /** Stop after this many. */
  limit?: number;
}

class Stop extends Error {}

const ZERO: Range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
const STEP_READ = /\bsteps\.([A-Za-z_][A-Za-z0-9_-]*)/g;

/** Emits the occurrences the filter lets through, without duplicates. */
export function walkOccurrences(ws: WorkspaceSnapshot, f: OccurrenceFilter = {}): Occurrence[] {
  const v = ws.validation;
  const out: Occurrence[] = [];
  const seen = new Set<string>();
  const at = f.at;
  const only = f.only;
  const accept = (kind: NameKind, name: string, scope?: string) =>
    (!only || (kind === only.kind && name === only.name && (kind !== 'step' || scope === only.scope))) && (!f.accept || f.accept(kind, name, scope));
  const push = (o: Occurrence) => {
    const k = `${symbolKey(o)}\0${o.file}\0${o.range.start.line}:${o.range.start.character}\0${o.role}`;
    if (seen.has(k)) return;
    seen.add(k);
    out.push(o);
    if (f.limit !== undefined && out.length >= f.limit) throw new Stop();
  };
  const holds = (file: string, start: number, end: number) => !at || (at.file === file && start <= at.offset && at.offset <= end);
  const nodeRange = (file: string, n: SNode): Range | undefined => {
    const li = linesOf(ws, file);
    if (!li) return undefined;
    let s = n.start;
    let e = n.end;
    const sc = n as SScalar;
    if (n.kind === 'scalar' && (sc.style === 'single' || sc.style === 'double') && e - s >= 2) {
      s++;
      e--;
    }
    return li.range(s, e);
  };
  const add = (kind: NameKind, name: string, scope: string | undefined, role: Occurrence['role'], site: Occurrence['site'], file: string, node: SNode | undefined) => {
    if (!node || (f.definitionsOnly && role !== 'definition') || !holds(file, node.start, node.end) || !accept(kind, name, scope)) return;
    const r = nodeRange(file, node);
    if (r) push({ kind, name, file, range: r, role, site, ...(scope !== undefined ? { scope } : {}) });
  };
  const ref = (kind: NameKind, file: string, r: NameRef | undefined, site: Occurrence['site'], scope?: string) => {
    if (r) add(kind, r.name, scope, 'reference', site, file, r.node);
  };

  try {
    // Templates: the files, and `{{> partial}}` uses inside them.
    for (const t of v.templates.values()) {
      if (!at && accept('template', t.name, undefined)) push({ kind: 'template', name: t.name, file: t.file, range: ZERO, role: 'definition', site: 'file' });
      if (f.definitionsOnly || (at && at.file !== t.file)) continue;
      for (const p of t.analysis.partials) {
        if (!accept('template', p.name, undefined)) continue;
        push({ kind: 'template', name: p.name, file: t.file, range: nameRangeIn(t.text, p.range, p.name) ?? p.range, role: 'reference', site: 'partial' });
      }
    }

    const rules = v.compositionRules;
    // Step reads in templates matter only when the position is in one (or there is no position).
    const outsideTemplates = at !== undefined && v.templates.size > 0 && !isPathUnder(at.file, v.templatesRoot);
    if (rules) {
      const file = rules.file;
      const inRules = !at || at.file === file;
      if (inRules) for (const p of rules.providers) add('provider', p.name, undefined, 'definition', 'key', file, p.nameNode);
      for (const c of rules.compositions) {
        const scope = c.name;
        // Inside the file: only the composition under the cursor.
        const here =
          inRules &&
          (!at || (Math.min(c.nameNode.start, c.node.start) <= at.offset && at.offset <= c.node.end)) &&
          (!only || only.kind !== 'step' || only.scope === scope) &&
          (!only || only.kind !== 'composition' || only.name === c.name);
        if (here) {
          add('composition', c.name, undefined, 'definition', 'key', file, c.nameNode);
          const stepReadsIn = (node: SNode | null | undefined) => {
            if (!node || f.definitionsOnly || !holds(file, node.start, node.end)) return;
            const text = ws.textOf(file) ?? '';
            const raw = text.slice(node.start, node.end);
            if (!hasTag(raw)) return;
            const li = linesOf(ws, file);
            if (!li) return;
            for (const [a, b] of mustacheSpans(raw)) {
              STEP_READ.lastIndex = 0;
              const inner = raw.slice(a, b);
              for (let m = STEP_READ.exec(inner); m; m = STEP_READ.exec(inner)) {
                if (!accept('step', m[1]!, scope)) continue;
                const s = node.start + a + m.index + 'steps.'.length;
                push({ kind: 'step', name: m[1]!, scope, file, range: li.range(s, s + m[1]!.length), role: 'reference', site: 'step-read' });
              }
            }
          };
          for (const s of c.steps) {
            if (at && !(s.node.start <= at.offset && at.offset <= s.node.end)) continue;
            if (s.id && s.idNode) add('step', s.id, scope, 'definition', 'value', file, s.idNode);
            ref('template', file, s.template, 'value');
            ref('template', file, s.fallback?.template, 'value');
            ref('provider', file, s.model, 'value');
            for (const d of s.dependsOn) ref('step', file, d, 'list-item', scope);
            for (const e of s.context) stepReadsIn(e.node);
          }
          for (const o of [...c.overrides.states, ...c.overrides.experienceLevels]) {
            for (const so of o.steps) {
              if (at && !(so.stepName.node.start <= at.offset && at.offset <= so.node.end)) continue;
              ref('step', file, so.stepName, 'override-key', scope);
              ref('template', file, so.template, 'value');
              ref('provider', file, so.model, 'value');
              for (const e of so.context) stepReadsIn(e.node);
            }
          }
          if (c.output) stepReadsIn(c.output.node);
        }
        // `steps.<id>` reads inside the templates this composition renders (and their partials).
        if (f.definitionsOnly || outsideTemplates) continue;
        if (only && !(only.kind === 'step' && only.scope === scope)) continue;
        const used = new Set<TemplateEntry>();
        for (const name of compositionTemplates(c)) {
          const t = v.templates.get(name);
          if (t) used.add(t);
        }
        const visited = new Set<string>();
        const visit = (t: TemplateEntry, depth: number) => {
          if (visited.has(t.file) || depth > 16) return;
          visited.add(t.file);
          if (!at || at.file === t.file) {
            for (const r of t.analysis.stepReads) {
              if (!accept('step', r.stepId, scope)) continue;
              push({ kind: 'step', name: r.stepId, scope, file: t.file, range: nameRangeIn(t.text, r.range, r.stepId, 'steps.') ?? r.range, role: 'reference', site: 'step-read' });
            }
          }
          for (const p of t.analysis.partials) {
            const pt = v.templates.get(p.name);
            if (pt) visit(pt, depth + 1);
          }
        };
        for (const t of used) visit(t, 0);
      }
    }

    const maps = v.serviceMappings;
    if (maps && (!at || at.file === maps.file)) {
      const file = maps.file;
      for (const s of maps.services) {
        if (at && !(Math.min(s.nameNode.start, s.node.start) <= at.offset && at.offset <= s.node.end) && !(s.fallback?.template && holds(file, s.fallback.template.node.start, s.fallback.template.node.end))) continue;
        add('service', s.name, undefined, 'definition', 'key', file, s.nameNode);
        for (const t of serviceTemplateRefs(s)) ref('template', file, t, 'list-item');
        // A fallback inherited from `defaults` is the same place for every service: reported once.
        if (s.fallback?.template) ref('template', file, s.fallback.template, 'value');
        for (const c of s.compositions) ref('composition', file, c, 'list-item');
      }
    }

    // Prompt test files: the template, composition and service a test names, and the steps of
    // its composition that its mocks and assertions name. Never definitions.
    if (!f.definitionsOnly && (!only || only.kind !== 'provider')) {
      for (const m of v.promptTests) {
        if (at && at.file !== m.file) continue;
        const file = m.file;
        for (const t of m.tests) {
          if (at && !(Math.min(t.nameNode.start, t.node.start) <= at.offset && at.offset <= t.node.end)) continue;
          ref('template', file, t.template, 'value');
          ref('composition', file, t.composition, 'value');
          ref('service', file, t.service, 'value');
          // A test naming a template too has no steps (the validator says so).
          const scope = t.template ? undefined : t.composition?.name;
          if (scope === undefined || (only?.kind === 'step' && only.scope !== scope)) continue;
          for (const mock of t.mocks) ref('step', file, mock.step, 'override-key', scope);
          for (const a of t.expect) ref('step', file, a.step, 'value', scope);
        }
      }
    }
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
  }
  return out;
}

/** `[start, end)` of every `{{ ... }}` in a text (offsets of the inside). */
export const mustacheSpans = tagInsides;

/** Narrows a range to where `name` (after `prefix`) is written inside it, in a template's text. */
function nameRangeIn(text: string, r: Range, name: string, prefix = ''): Range | undefined {
  const lines = text.split('\n');
  if (r.start.line !== r.end.line) return undefined;
  const line = lines[r.start.line];
  if (line === undefined) return undefined;
  const seg = line.slice(r.start.character, Math.max(r.end.character, r.start.character + prefix.length + name.length));
  let at = seg.indexOf(prefix + name);
  if (at === -1) {
    // The analysis may give a wider range (the whole tag): look on the line around it.
    const wide = line.indexOf(prefix + name, Math.max(0, r.start.character - 4));
    if (wide === -1) return undefined;
    at = wide - r.start.character;
  }
  const s = r.start.character + at + prefix.length;
  return { start: { line: r.start.line, character: s }, end: { line: r.start.line, character: s + name.length } };
}

/** The occurrences at a position of a file, innermost first. */
export function occurrencesAt(ws: WorkspaceSnapshot, file: string, p: Position): Occurrence[] {
  const li = linesOf(ws, file);
  if (!li) return [];
  const offset = li.offsetAt(p);
  const hits = walkOccurrences(ws, { at: { file, offset } }).filter((o) => o.site !== 'file' && contains(o.range, p));
  const size = (r: Range) => (r.end.line - r.start.line) * 1e6 + (r.end.character - r.start.character);
  return hits.sort((a, b) => size(a.range) - size(b.range));
}

/** Every occurrence of one name (a step's within its composition). */
export function occurrencesOf(ws: WorkspaceSnapshot, o: { kind: NameKind; scope?: string; name: string }): Occurrence[] {
  return walkOccurrences(ws, { only: { kind: o.kind, name: o.name, ...(o.scope !== undefined ? { scope: o.scope } : {}) } });
}
