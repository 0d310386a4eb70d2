/**
 * The references between the files of a prompt workspace: templates and partials by name
 * (and where they resolve), model providers, compositions named by services, and within each
 * composition its steps: duplicate ids, unknown steps, dependency cycles and what each step
 * reads (dataFlow.ts). A composition's findings are recorded and replayed while it, the
 * templates and the providers are unchanged.
 */
import * as path from 'node:path';
import type { CompositionDef, CompositionRulesModel, NameRef, ServiceMappingsModel, StepDef } from '../model/types.js';
import { analyzeTemplate } from '../templates/analyze.js';
import type { TemplateAnalysis } from '../templates/analysis.js';
import { LineIndex } from '../text/lineIndex.js';
import type { SNode } from '../yaml/sourceTree.js';
import type { FileSystemHost } from '../workspace/fileSystem.js';
import { resolveTemplateName } from '../workspace/templateIndex.js';
import { COMPOSITION_RULES_FILE } from '../workspace/discover.js';
import type { TemplateEntry } from './api.js';
import { checkContextReads, checkTemplateReads, templateReads } from './dataFlow.js';
import { Recorder, relatedAt, type Collector, type FileCtx, type NodeSink, type TemplateSite } from './diagnosticCollector.js';
import { closest } from './didYouMean.js';
import { ancestorsById, compositionStepGraph, reportCycles } from './stepGraph.js';
import type { ValidationCache } from './validationCache.js';

export class ReferenceChecker {
  private readonly templateCtxs = new Map<string, FileCtx>();
  private readonly resolved = new Map<string, ReturnType<typeof resolveTemplateName>>();
  /** Where node diagnostics go: the collector, or a recorder while a composition is checked. */
  private sink: NodeSink;
  private usedSink: { push(name: string): unknown };
  /** The template reads each composition's checks found (recorded with them, replayed with them). */
  private siteSink: TemplateSite[] = [];

  constructor(
    readonly templatesRoot: string,
    readonly templates: Map<string, TemplateEntry>,
    readonly fs: FileSystemHost,
    readonly out: Collector,
    readonly used: Set<string>,
    readonly cache: ValidationCache,
  ) {
    this.sink = out;
    this.usedSink = { push: (name: string) => used.add(name) };
  }

  templateCtx(t: TemplateEntry): FileCtx {
    let c = this.templateCtxs.get(t.file);
    if (!c) this.templateCtxs.set(t.file, (c = { file: t.file, text: t.text, lines: new LineIndex(t.text) }));
    return c;
  }

  private relPath(name: string): string {
    return path.relative(process.cwd(), path.join(this.templatesRoot, name + '.hbs')) || name + '.hbs';
  }

  /** `templates/a/b.hbs`: the file as seen from the workspace, whatever the current folder. */
  private relFile(file: string): string {
    return path.relative(path.dirname(this.templatesRoot), file);
  }

  /** Where a name points. A name in the index is inside (listing skipped links that leave); others are checked on disk once. */
  private resolve(name: string): ReturnType<typeof resolveTemplateName> {
    let r = this.resolved.get(name);
    if (!r) {
      const lexical = this.cache.lexicalName(this.templatesRoot, name);
      r = lexical.kind === 'outside' || this.templates.has(name) ? lexical : resolveTemplateName(this.templatesRoot, name, this.fs);
      this.resolved.set(name, r);
    }
    return r;
  }

  /** Checks one template reference; returns the template when it exists and parses. */
  templateRef(ctx: FileCtx, ref: NameRef, node: SNode = ref.node): TemplateEntry | undefined {
    const res = this.resolve(ref.name);
    if (res.kind === 'outside') {
      this.sink.node(ctx, node, 'template-outside-root', `template '${ref.name}' is outside the templates root (${res.reason}); templates must live under ${this.templatesRoot}`);
      return undefined;
    }
    const t = this.templates.get(ref.name);
    if (!t) {
      const guess = closest(ref.name, this.templates.keys());
      this.sink.node(ctx, node, 'unknown-template', `template '${ref.name}' not found: looked for ${this.relPath(ref.name)} (or .handlebars)${guess ? `; did you mean '${guess}'?` : ''}`);
      return undefined;
    }
    if (t.unreadable !== undefined) {
      this.sink.node(ctx, node, 'unreadable-file', `template '${ref.name}' cannot be used: ${this.relFile(t.file)} ${t.unreadable}`);
      return undefined;
    }
    this.usedSink.push(t.name);
    if (t.analysis.error) {
      const r = t.analysis.error.range;
      this.sink.node(ctx, node, 'template-syntax', `template '${ref.name}' cannot be parsed (line ${r.start.line + 1}, column ${r.start.character + 1}): ${t.analysis.error.message}`, [
        { file: t.file, range: r, message: t.analysis.error.message },
      ]);
      return undefined;
    }
    return t;
  }

  /** `{{> partial}}` uses inside every template. */
  partials(t: TemplateEntry): void {
    if (!t.analysis.partials.length) return;
    const ctx = this.templateCtx(t);
    for (const p of t.analysis.partials) {
      const start = ctx.lines.offsetAt(p.range.start);
      const end = ctx.lines.offsetAt(p.range.end);
      const res = this.resolve(p.name);
      if (res.kind === 'outside') {
        this.out.add(ctx, start, end, 'template-outside-root', `partial '${p.name}' is outside the templates root (${res.reason})`);
        continue;
      }
      const pt = this.templates.get(p.name);
      if (!pt) {
        const guess = closest(p.name, this.templates.keys());
        this.out.add(ctx, start, end, 'unknown-template', `partial '${p.name}' not found: looked for ${this.relPath(p.name)} (or .handlebars)${guess ? `; did you mean '${guess}'?` : ''}`);
        continue;
      }
      if (pt.unreadable !== undefined) this.out.add(ctx, start, end, 'unreadable-file', `partial '${p.name}' cannot be used: ${this.relFile(pt.file)} ${pt.unreadable}`);
      this.used.add(p.name);
    }
  }

  private inline(source: string): TemplateAnalysis {
    let a = this.cache.inlineAnalyses.get(source);
    if (!a) {
      a = analyzeTemplate(source);
      if (this.cache.inlineAnalyses.size > 10_000) this.cache.inlineAnalyses.clear();
      this.cache.inlineAnalyses.set(source, a);
    }
    return a;
  }

  compositionRules(ctx: FileCtx, model: CompositionRulesModel): void {
    const sites: TemplateSite[] = [];
    const providers = new Set(model.providers.map((p) => p.name));
    // What a composition's result depends on besides itself: the templates and the providers.
    const key = `${this.templatesRoot}\0${[...this.templates.values()].map((t) => `${t.name}:${t.version}`).join(',')}\0${[...providers].join(',')}`;
    for (const c of model.compositions) {
      let rec = this.cache.compositionChecks.get(c);
      if (!rec || rec.key !== key) {
        const recorder = new Recorder(key);
        const out = this.sink;
        const used = this.usedSink;
        this.sink = recorder;
        this.usedSink = recorder.recording.used;
        this.siteSink = recorder.recording.sites;
        try {
          this.composition(ctx, c, providers);
        } finally {
          this.sink = out;
          this.usedSink = used;
          this.siteSink = [];
        }
        rec = recorder.recording;
        this.cache.compositionChecks.set(c, rec);
      }
      for (const r of rec.records) this.out.node(ctx, r.node, r.code, r.message, r.related);
      for (const u of rec.used) this.used.add(u);
      for (const site of rec.sites) sites.push(site);
    }
    this.templateSites(ctx, sites);
  }

  /**
   * The template side of `undeclared-variable` and `undeclared-step-read`: one diagnostic at
   * each read in the template (or partial) file, naming the steps that render it without what it
   * reads, with their `template:` values as related locations. The contract reports these on
   * the step's `template:` value, and its conformance cases count warnings exactly: the
   * template-side one is `information`, a pointer to where the warning is, so that a fault is
   * counted once (README "Diagnostics").
   */
  private templateSites(ctx: FileCtx, sites: readonly TemplateSite[]): void {
    const groups = new Map<string, TemplateSite[]>();
    for (const site of sites) {
      const r = site.range;
      const key = `${site.file}\0${r.start.line}:${r.start.character}:${r.end.line}:${r.end.character}\0${site.code}\0${site.subject}`;
      const g = groups.get(key);
      if (g) {
        if (!g.some((x) => x.by === site.by && x.ref === site.ref)) g.push(site);
      } else groups.set(key, [site]);
    }
    for (const group of groups.values()) {
      const first = group[0]!;
      const t = this.templates.get(first.template);
      if (!t || t.file !== first.file) continue;
      const tctx = this.templateCtx(t);
      const read = first.code === 'undeclared-variable' ? `'${first.subject}'` : `steps.${first.subject}`;
      const message =
        group.length === 1
          ? first.message
          : `${read} is read here, but ${group.length} steps render this template without ${first.code === 'undeclared-variable' ? 'it' : 'being able to read it'}: ${group.map((x) => x.by).join('; ')}; see the warnings on their template: values`;
      const related = group.map((x) => relatedAt(ctx, x.ref, group.length === 1 ? `the ${first.code} warning of ${x.by}` : x.message));
      this.out.add(tctx, tctx.lines.offsetAt(first.range.start), tctx.lines.offsetAt(first.range.end), first.code, message, related, 'information');
    }
  }

  private providerRef(ctx: FileCtx, ref: NameRef, providers: Set<string>): void {
    if (providers.has(ref.name)) return;
    const guess = closest(ref.name, providers);
    const known = providers.size ? `defined providers: ${[...providers].join(', ')}` : 'no providers are defined; add one under `providers:`';
    this.sink.node(ctx, ref.node, 'unknown-provider', `model provider '${ref.name}' is not defined${guess ? ` (did you mean '${guess}'?)` : ''}; ${known}`);
  }

  private composition(ctx: FileCtx, c: CompositionDef, providers: Set<string>): void {
    const byId = new Map<string, StepDef>();
    for (const s of c.steps) {
      if (!s.id) continue;
      const first = byId.get(s.id);
      if (first) {
        this.sink.node(ctx, s.idNode ?? s.node, 'duplicate-step-id', `step id '${s.id}' is already used in composition '${c.name}'; step ids must be unique`, first.idNode ? [{ node: first.idNode, message: `first step '${s.id}'` }] : undefined);
      } else byId.set(s.id, s);
    }
    const ids = [...byId.keys()];
    // A suggestion must not make a new error: `taken` are the names that would.
    const unknownStep = (ref: NameRef, what: string, taken: ReadonlySet<string>) => {
      const guess = closest(ref.name, ids.filter((id) => !taken.has(id)));
      this.sink.node(ctx, ref.node, 'unknown-step', `${what} names step '${ref.name}', which composition '${c.name}' does not define${guess ? ` (did you mean '${guess}'?)` : ''}`);
    };
    const graph = compositionStepGraph(byId);
    reportCycles(this.sink, ctx, c, graph);
    const ancestors = ancestorsById(graph);
    for (const { s, ref } of graph.unknownDeps) {
      // Not the step itself, one it already lists, or one that runs after it (a cycle).
      const taken = new Set([s.id, ...s.dependsOn.map((d) => d.name)]);
      for (const [id, before] of ancestors) if (before.has(s.id)) taken.add(id);
      unknownStep(ref, `'depends_on' of step '${s.id}'`, taken);
    }
    const inputs = new Set([...c.inputs.required, ...c.inputs.optional].map((r) => r.name));

    for (const s of c.steps) {
      if (s.model) this.providerRef(ctx, s.model, providers);
      if (s.fallback?.template) this.templateRef(ctx, s.fallback.template);
      const mine = ancestors.get(s.id) ?? new Set<string>();
      const contextKeys = new Set(s.context.map((e) => e.key));
      if (s.template) this.stepTemplate(ctx, c, s, s.template, inputs, contextKeys, mine);
      for (const e of s.context) this.contextReads(ctx, c, s, e.value, e.node, mine);
    }
    for (const o of [...c.overrides.states, ...c.overrides.experienceLevels]) {
      for (const so of o.steps) {
        const step = byId.get(so.stepName.name);
        if (!step) {
          // Not a step this override already names: that would be a duplicate key.
          unknownStep(so.stepName, `the override '${o.key}'`, new Set(o.steps.map((x) => x.stepName.name)));
          continue;
        }
        if (so.model) this.providerRef(ctx, so.model, providers);
        const mine = ancestors.get(step.id) ?? new Set<string>();
        const contextKeys = new Set([...step.context.map((e) => e.key), ...so.context.map((e) => e.key)]);
        if (so.template) this.stepTemplate(ctx, c, step, so.template, inputs, contextKeys, mine);
        for (const e of so.context) this.contextReads(ctx, c, step, e.value, e.node, mine);
      }
    }
  }

  private stepTemplate(ctx: FileCtx, c: CompositionDef, s: StepDef, ref: NameRef, inputs: Set<string>, contextKeys: Set<string>, mine: Set<string>): void {
    const t = this.templateRef(ctx, ref);
    if (t) checkTemplateReads(this.sink, ctx, c, s, ref, t, templateReads(t, this.templates), inputs, contextKeys, mine, (site) => this.siteSink.push(site));
  }

  private contextReads(ctx: FileCtx, c: CompositionDef, s: StepDef, value: unknown, node: SNode | null, mine: Set<string>): void {
    checkContextReads(this.sink, ctx, c, s, value, node, mine, (source) => this.inline(source));
  }

  serviceMappings(ctx: FileCtx, model: ServiceMappingsModel, rules: CompositionRulesModel | null | undefined): void {
    const comps = new Map((rules?.compositions ?? []).map((c) => [c.name, c]));
    for (const s of model.services) {
      for (const ref of [...s.primaryTemplates, ...s.templates]) this.templateRef(ctx, ref);
      if (s.fallback?.template) this.templateRef(ctx, s.fallback.template);
      // With composition_rules.yaml unreadable we cannot know: say nothing rather than guess.
      if (rules === null) continue;
      for (const ref of s.compositions) {
        if (comps.has(ref.name)) continue;
        // Not a name the list already has: that would be a duplicate.
        const guess = closest(ref.name, [...comps.keys()].filter((n) => !s.compositions.some((r) => r.name === n)));
        const where = rules ? `${COMPOSITION_RULES_FILE} does not define it` : `there is no ${COMPOSITION_RULES_FILE} beside this file`;
        this.sink.node(ctx, ref.node, 'unknown-composition', `composition '${ref.name}' is not defined: ${where}${guess ? ` (did you mean '${guess}'?)` : ''}`);
      }
    }
  }
}
