/**
 * The one validator: file texts in, every diagnostic of the contract out. The engine calls it
 * at load, the language server as you type and the CLI in CI, so they can never disagree.
 *
 * A `ValidationCache` carries what can be reused between calls (parsed YAML pieces, template
 * analyses, file reads); without one every call starts fresh, which is what the CLI does.
 */
import * as path from 'node:path';
import { compareDiagnostics, DEFAULT_SEVERITY, type DiagnosticCode, type PromptDiagnostic, type Range, type RelatedLocation } from '../model/diagnostics.js';
import { buildCompositionRules, buildServiceMappings, type ModelMemo } from '../model/build.js';
import type { CompositionDef, CompositionRulesModel, NameRef, ServiceMappingsModel, StepDef } from '../model/types.js';
import { analyzeTemplate } from '../templates/analyze.js';
import { expressionLimitAt } from '../templates/expressionLimit.js';
import type { TemplateAnalysis } from '../templates/analysis.js';
import { LineIndex } from '../text/lineIndex.js';
import { IncrementalYamlParser } from '../yaml/parse.js';
import { AliasBudgetError, CollectionLimitError, deref, isMap, keyName, toJS, walk, type SMap, type SNode, type SPair } from '../yaml/sourceTree.js';
import { LIMITS } from '../limits.js';
import { COMPOSITION_RULES_FILE, SERVICE_MAPPINGS_FILE } from '../workspace/discover.js';
import { nodeFileSystem, overlayFileSystem, type FileSystemHost } from '../workspace/fileSystem.js';
import { asFileReadError, type FileReadError } from '../workspace/fileRead.js';
import { listTemplates, resolveTemplateName, type TemplateFile } from '../workspace/templateIndex.js';
import type { TemplateEntry, ValidateOptions, WorkspaceValidation } from './api.js';
import { closest } from './didYouMean.js';
import { checkSchema, type FileKind } from './schemaCheck.js';
import type { PrewarmedTemplate } from './templatePrewarm.js';

export { findPromptWorkspaces } from '../workspace/discover.js';

let versionCounter = 0;

/** Longest diagnostic message; longer ones (quoting a huge name) are cut. */
const MAX_MESSAGE_LENGTH = 2000;

/** What one validator instance keeps between calls. Owned by one caller (server, manager). */
export class ValidationCache {
  readonly yamlParsers = new Map<string, IncrementalYamlParser>();
  readonly templates = new Map<string, { text: string; analysis: TemplateAnalysis; version: number; badByte: number }>();
  readonly inlineAnalyses = new Map<string, TemplateAnalysis>();
  /** Schema faults and duplicate keys of one top-level entry, keyed by its (reused) source pair. */
  readonly entryChecks = new WeakMap<SPair, EntryChecks>();
  readonly models: ModelMemo = { compositions: new WeakMap() };
  readonly compositionChecks = new WeakMap<CompositionDef, Recording>();
  /** Where template names point by their path alone (pure, so kept across validations). */
  private readonly lexicalNames = new Map<string, ReturnType<typeof resolveTemplateName>>();

  lexicalName(templatesRoot: string, name: string): ReturnType<typeof resolveTemplateName> {
    const key = `${templatesRoot}\0${name}`;
    let r = this.lexicalNames.get(key);
    if (!r) {
      // Names typed letter by letter would pile up: a bound, then start over.
      if (this.lexicalNames.size >= 50_000) this.lexicalNames.clear();
      this.lexicalNames.set(key, (r = resolveTemplateName(templatesRoot, name)));
    }
    return r;
  }

  /** Disk reads, kept until `invalidate` says the file changed. */
  private readonly reads = new Map<string, string | undefined>();
  private readonly listings = new Map<string, TemplateFile[]>();

  /**
   * A file's text, or undefined when it does not exist; throws the host's FileReadError when it
   * exists but is not read (that is not kept: the next validation tries again).
   */
  read(fs: FileSystemHost, file: string, cacheable: boolean, maxBytes?: number): string | undefined {
    if (!cacheable) return fs.readFile(file, maxBytes);
    if (this.reads.has(file)) return this.reads.get(file);
    const t = fs.readFile(file, maxBytes);
    this.reads.set(file, t);
    return t;
  }

  listing(root: string, fs: FileSystemHost, cacheable: boolean): TemplateFile[] {
    if (!cacheable) return listTemplates(root, fs);
    let l = this.listings.get(root);
    if (!l) this.listings.set(root, (l = listTemplates(root, fs)));
    return l;
  }

  /**
   * Template analyses made elsewhere (a worker thread: core/validate/templatePrewarm.ts). A
   * template already cached keeps its entry; the validator still compares texts, so an
   * analysis of a text that is no longer current is never used.
   */
  adoptTemplates(list: readonly PrewarmedTemplate[]): void {
    for (const t of list) {
      if (this.templates.has(t.file)) continue;
      this.templates.set(t.file, { text: t.text, analysis: t.analysis, version: ++versionCounter, badByte: invalidUtf8At(t.text) });
    }
  }

  /** A file changed, appeared or disappeared on disk. */
  invalidate(file: string): void {
    this.reads.delete(file);
    for (const root of this.listings.keys()) {
      if (file === root || file.startsWith(root + path.sep) || root.startsWith(file + path.sep)) this.listings.delete(root);
    }
  }

  invalidateAll(): void {
    this.reads.clear();
    this.listings.clear();
  }
}

interface FileCtx {
  file: string;
  text: string;
  lines: LineIndex;
}

class Collector {
  readonly diagnostics: PromptDiagnostic[] = [];
  private readonly seen = new Set<string>();

  add(ctx: FileCtx, start: number, end: number, code: DiagnosticCode, message: string, related?: RelatedLocation[]): void {
    // A message quotes names and values from the files: a hostile 1 MB name must not make a 2 MB line.
    if (message.length > MAX_MESSAGE_LENGTH) message = message.slice(0, MAX_MESSAGE_LENGTH) + '…';
    const key = `${ctx.file}\0${start}\0${end}\0${code}\0${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const d: PromptDiagnostic = { file: ctx.file, range: ctx.lines.range(start, end), severity: DEFAULT_SEVERITY[code], code, message };
    if (related?.length) d.related = related;
    this.diagnostics.push(d);
  }

  node(ctx: FileCtx, node: SNode, code: DiagnosticCode, message: string, related?: Related[]): void {
    this.add(ctx, node.start, node.end, code, message, related?.map((r) => ('node' in r ? relatedAt(ctx, r.node, r.message) : r)));
  }
}

/** A related location in the same YAML file, resolved to a range only when reported. */
interface NodeRelated {
  node: SNode;
  message: string;
}
type Related = RelatedLocation | NodeRelated;

/**
 * Records what one composition's checks report, by source node, so that an unchanged
 * composition replays its result instead of re-checking (its nodes are shifted in place).
 */
interface Recording {
  key: string;
  records: { node: SNode; code: DiagnosticCode; message: string; related?: Related[] }[];
  used: string[];
}

class Recorder {
  readonly recording: Recording;
  constructor(key: string) {
    this.recording = { key, records: [], used: [] };
  }
  node(_ctx: FileCtx, node: SNode, code: DiagnosticCode, message: string, related?: Related[]): void {
    this.recording.records.push(related ? { node, code, message, related } : { node, code, message });
  }
}

function relatedAt(ctx: FileCtx, node: SNode, message: string): RelatedLocation {
  return { file: ctx.file, range: ctx.lines.range(node.start, node.end), message };
}

const NOT_UTF8 = 'the file is not valid UTF-8 here; save it as UTF-8';

/**
 * Where bytes that are not UTF-8 (a file saved as Latin-1) were read as U+FFFD, or -1: the
 * file's text then silently differs from what its author wrote.
 */
function invalidUtf8At(text: string): number {
  return text.indexOf('\uFFFD');
}

interface ParsedFile {
  ctx: FileCtx;
  root: SNode | null;
  ok: boolean;
}

/**
 * Where a configuration file is a link that leaves the prompt workspace: its target, which is
 * then never read (a link to a credentials file would otherwise be parsed and quoted).
 */
function linkOutside(fs: FileSystemHost, root: string, file: string): string | undefined {
  const real = fs.realpath(file);
  if (real === undefined) return undefined;
  const realRoot = fs.realpath(root) ?? root;
  const rel = path.relative(realRoot, real);
  return rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? real : undefined;
}

/**
 * The length of a text past the limit, or undefined. The disk stops reading at the limit in
 * bytes; an open buffer or a host in memory returns whole texts, measured in characters (as
 * their sizes always were): counting UTF-8 bytes of a big buffer at each keystroke costs more.
 */
function overLimit(text: string, max: number): number | undefined {
  return text.length > max ? text.length : undefined;
}

function emptyCtx(file: string): FileCtx {
  return { file, text: '', lines: new LineIndex('') };
}

/** Why a file was not read, after its name: "is a FIFO (named pipe), not a regular file; ...". */
function unreadableReason(e: FileReadError): string {
  return e.transient ? `${e.reason}; it is read again on the next change` : e.reason;
}

function configTooLarge(size: number | undefined): string {
  const what = size !== undefined ? `is ${megabytes(size)} MB, larger than` : 'is larger than';
  return `the file ${what} the ${megabytes(LIMITS.maxConfigBytes)} MB limit (maxConfigBytes); split it or remove generated content`;
}

function parseConfigFile(kind: FileKind, workspace: string, file: string, fs: FileSystemHost, cache: ValidationCache, cacheable: boolean, out: Collector): ParsedFile | undefined {
  const target = linkOutside(fs, workspace, file);
  if (target !== undefined) {
    const ctx = emptyCtx(file);
    out.add(ctx, 0, 0, 'unreadable-file', `${path.basename(file)} is a link to ${target}, outside the prompt workspace ${workspace}; configuration files are not read through links that leave it: put the file itself here`);
    return { ctx, root: null, ok: false };
  }
  let text: string | undefined;
  try {
    text = cache.read(fs, file, cacheable, LIMITS.maxConfigBytes);
  } catch (thrown) {
    const e = asFileReadError(file, thrown);
    if (!e) throw thrown;
    const ctx = emptyCtx(file);
    if (e.problem === 'too-large') out.add(ctx, 0, 0, 'yaml-syntax', configTooLarge(e.size));
    else out.add(ctx, 0, 0, 'unreadable-file', `${path.basename(file)} ${unreadableReason(e)}`);
    return { ctx, root: null, ok: false };
  }
  if (text === undefined) return undefined;
  const bytes = overLimit(text, LIMITS.maxConfigBytes);
  if (bytes !== undefined) {
    const ctx = emptyCtx(file);
    out.add(ctx, 0, 0, 'yaml-syntax', configTooLarge(bytes));
    return { ctx, root: null, ok: false };
  }
  const ctx: FileCtx = { file, text, lines: new LineIndex(text) };
  let parser = cache.yamlParsers.get(file);
  if (!parser) cache.yamlParsers.set(file, (parser = new IncrementalYamlParser()));
  const parsed = parser.parse(text);
  if (parsed.errors.length || parsed.root === undefined) {
    for (const e of parsed.errors) out.add(ctx, e.start, e.end, 'yaml-syntax', e.message);
    return { ctx, root: null, ok: false };
  }
  const badByte = invalidUtf8At(text);
  if (badByte >= 0) out.add(ctx, badByte, badByte + 1, 'yaml-syntax', NOT_UTF8);
  const root = parsed.root;
  if (root !== null && !isMap(deref(root))) {
    out.node(ctx, root, 'schema', `the file must be a mapping of keys (version, ${kind === 'composition_rules' ? 'compositions' : 'services'}, ...), got ${root.kind === 'seq' ? 'a list' : 'a single value'}`);
    return { ctx, root: null, ok: true };
  }
  try {
    for (const c of schemaChecks(kind, root, cache)) {
      out.node(ctx, c.node, 'schema', c.message, c.first ? [relatedAt(ctx, c.first, 'first defined here')] : undefined);
    }
  } catch (e) {
    if (e instanceof AliasBudgetError) {
      const why = /(^|[\s[{,:])\*[^\s,\]}]/.test(text) ? 'once its aliases are expanded (a possible alias bomb); expand them by hand or remove some' : 'split it or remove generated content';
      out.add(ctx, 0, Math.min(1, text.length), 'yaml-syntax', `the file holds more than ${LIMITS.maxYamlValues.toLocaleString('en-US')} values (maxYamlValues) ${why}`);
      return { ctx, root: null, ok: false };
    }
    if (e instanceof CollectionLimitError) {
      out.node(ctx, e.node, 'yaml-syntax', `this ${e.node.kind === 'map' ? 'mapping' : 'list'} has ${e.count.toLocaleString('en-US')} entries, more than the limit of ${e.limit.toLocaleString('en-US')} (maxCollectionItems); split the file`);
      return { ctx, root: null, ok: false };
    }
    throw e;
  }
  return { ctx, root, ok: true };
}

interface EntryCheck {
  node: SNode;
  message: string;
  /** For a duplicate key: where the key was first defined. */
  first?: SNode;
}
/** An entry's schema faults and duplicate keys, with how many YAML values its check expanded. */
interface EntryChecks {
  checks: EntryCheck[];
  /** Counted against maxYamlValues when the entry is reused, as a fresh check would count it. */
  values: number;
}

/** The big mapping of each file, checked entry by entry so that unchanged entries are reused. */
const SPLIT_KEY: Record<FileKind, string> = { composition_rules: 'compositions', service_mappings: 'services' };

/**
 * Schema faults and duplicate keys. The file's big mapping (compositions or services) is
 * checked one entry at a time, each as `{compositions: {name: entry}}` against the whole
 * schema so that paths and messages are the same as for a whole-file check; an entry whose
 * source node is unchanged keeps its result.
 */
function schemaChecks(kind: FileKind, root: SNode | null, cache: ValidationCache): EntryCheck[] {
  const budget = { left: LIMITS.maxYamlValues };
  const cap = LIMITS.maxSchemaProblemsPerFile;
  const r = deref(root);
  if (!isMap(r)) return checkSchema(kind, toJS(r, budget) ?? {}, root, cap);
  if (r.items.length > LIMITS.maxCollectionItems) throw new CollectionLimitError(r, r.items.length, LIMITS.maxCollectionItems);
  const splitKey = SPLIT_KEY[kind];
  const shell: Record<string, unknown> = {};
  const shellPairs: SPair[] = [];
  let split: SPair | undefined;
  for (const p of r.items) {
    const k = keyName(p);
    if (k === splitKey && !split && isMap(deref(p.value))) {
      split = p;
      Object.defineProperty(shell, k, { value: {}, enumerable: true, writable: true, configurable: true });
      shellPairs.push({ ...p, value: { kind: 'map', items: [], flow: false, start: p.value!.start, end: p.value!.end } });
      continue;
    }
    shellPairs.push(p);
    if (k !== undefined) Object.defineProperty(shell, k, { value: toJS(p.value, budget), enumerable: true, writable: true, configurable: true });
  }
  const shellRoot: SNode = { kind: 'map', items: shellPairs, flow: r.flow, start: r.start, end: r.end };
  const out: EntryCheck[] = [...checkSchema(kind, shell, shellRoot, cap), ...duplicateKeys(shellRoot, false)];
  if (!split) return capProblems(out, cap, r.items[0]?.key ?? r);
  const splitMap = deref(split.value) as SMap;
  const entries = splitMap.items;
  if (entries.length > LIMITS.maxCollectionItems) throw new CollectionLimitError(splitMap, entries.length, LIMITS.maxCollectionItems);
  out.push(...duplicateKeysOf(entries));
  for (const e of entries) {
    // Past the cap nothing more is reported: entries after it are not even checked. Each
    // entry's own result is capped alike, so a cached entry and a fresh one report the same.
    if (out.length > cap) break;
    let entry = cache.entryChecks.get(e);
    if (entry) {
      budget.left -= entry.values;
      if (budget.left < 0) throw new AliasBudgetError(LIMITS.maxYamlValues);
    } else {
      const before = budget.left;
      const name = keyName(e);
      const value: Record<string, unknown> = {};
      const inner: Record<string, unknown> = {};
      if (name !== undefined) Object.defineProperty(inner, name, { value: toJS(e.value, budget), enumerable: true, writable: true, configurable: true });
      Object.defineProperty(value, splitKey, { value: inner, enumerable: true, writable: true, configurable: true });
      const miniRoot: SNode = { kind: 'map', flow: false, start: r.start, end: r.end, items: [{ key: split.key, value: { kind: 'map', flow: false, items: [e], start: e.start, end: e.end }, start: split.start, end: split.end }] };
      entry = { checks: [...checkSchema(kind, value, miniRoot, cap), ...duplicateKeys(e.value, true)], values: before - budget.left };
      cache.entryChecks.set(e, entry);
    }
    out.push(...entry.checks);
  }
  return capProblems(out, cap, r.items[0]!.key);
}

/** At most `cap` problems, then one that says more were left out. */
function capProblems(out: EntryCheck[], cap: number, at: SNode): EntryCheck[] {
  if (out.length <= cap) return out;
  const kept = out.slice(0, cap);
  kept.push({ node: at, message: `more than ${cap.toLocaleString('en-US')} schema problems in this file; only the first ${cap.toLocaleString('en-US')} are reported (maxSchemaProblemsPerFile): fix those first` });
  return kept;
}

const ZERO: Range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };

function limitAnalysis(message: string, range: Range): TemplateAnalysis {
  return { partials: [], variables: [], stepReads: [], helpers: [], error: { message, range } };
}

function megabytes(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  return mb >= 10 || Number.isInteger(mb) ? mb.toFixed(0) : mb.toFixed(1);
}

function duplicateKeysOf(items: SPair[]): EntryCheck[] {
  if (items.length < 2) return [];
  const out: EntryCheck[] = [];
  const seen = new Map<string, SNode>();
  for (const p of items) {
    const k = keyName(p);
    if (k === undefined) continue;
    const first = seen.get(k);
    if (first) out.push({ node: p.key, message: `duplicate key '${k}': the later one would silently win; remove or rename one`, first });
    else seen.set(k, p.key);
  }
  return out;
}

/** Duplicate keys in every mapping of a subtree (or only the top one when `deep` is false). */
function duplicateKeys(node: SNode | null, deep: boolean): EntryCheck[] {
  const out: EntryCheck[] = [];
  if (!deep) {
    if (node?.kind === 'map') out.push(...duplicateKeysOf(node.items));
    return out;
  }
  walk(node, (n) => {
    if (n.kind === 'map') out.push(...duplicateKeysOf(n.items));
  });
  return out;
}

/** Validates the prompt workspace in `root` (the folder holding the YAML files). */
export function validateWorkspace(root: string, options: ValidateOptions & { cache?: ValidationCache } = {}): WorkspaceValidation {
  root = path.resolve(root);
  const cacheable = !!options.cache;
  const cache = options.cache ?? new ValidationCache();
  const fs = overlayFileSystem(options.fs ?? nodeFileSystem, options.overlays ?? new Map());
  const out = new Collector();
  const smFile = path.join(root, SERVICE_MAPPINGS_FILE);
  const crFile = path.join(root, COMPOSITION_RULES_FILE);

  // An overlay (an open buffer) is never kept as a disk read: the next call may not have it.
  const overlays = options.overlays ?? new Map<string, string>();
  const sm = parseConfigFile('service_mappings', root, smFile, fs, cache, cacheable && !overlays.has(smFile), out);
  const cr = parseConfigFile('composition_rules', root, crFile, fs, cache, cacheable && !overlays.has(crFile), out);
  const smModel: ServiceMappingsModel | undefined = sm?.ok ? buildServiceMappings(smFile, sm.root) : undefined;
  const crModel: CompositionRulesModel | undefined = cr?.ok ? buildCompositionRules(crFile, cr.root, cache.models) : undefined;

  // The templates root: `templates/` beside the files unless `templates_dir` says otherwise.
  let templatesRoot = path.join(root, 'templates');
  const smDir = smModel?.templatesDir;
  const crDir = crModel?.templatesDir;
  if (smDir) templatesRoot = path.resolve(root, smDir.value);
  if (crDir) templatesRoot = path.resolve(root, crDir.value);
  if (options.templatesRoot) templatesRoot = path.resolve(root, options.templatesRoot);
  if (smDir && crDir && path.resolve(root, smDir.value) !== path.resolve(root, crDir.value) && sm && cr) {
    const msg = `templates_dir differs between the two files ('${smDir.value}' here, '${crDir.value}' in composition_rules.yaml); make them name the same folder or remove one`;
    out.node(sm.ctx, smDir.node, 'templates-dir-mismatch', msg, [relatedAt(cr.ctx, crDir.node, 'composition_rules.yaml sets templates_dir here')]);
    out.node(cr.ctx, crDir.node, 'templates-dir-mismatch', msg.replace("here, '", "in service_mappings.yaml, '").replace(`'${crDir.value}' in composition_rules.yaml`, `'${crDir.value}' here`), [
      relatedAt(sm.ctx, smDir.node, 'service_mappings.yaml sets templates_dir here'),
    ]);
  }

  const templates = indexTemplates(templatesRoot, fs, cache, cacheable, out, overlays);
  const used = new Set<string>();
  const check = new ReferenceChecker(templatesRoot, templates, fs, out, used, cache);

  for (const t of templates.values()) check.partials(t);
  if (crModel && cr) check.compositionRules(cr.ctx, crModel);
  if (smModel && sm) check.serviceMappings(sm.ctx, smModel, cr ? (crModel ?? null) : undefined);

  // Unused templates only when every file could be read: otherwise "unused" may be wrong.
  if ((!sm || sm.ok) && (!cr || cr.ok) && (sm || cr)) {
    for (const t of templates.values()) {
      if (used.has(t.name) || t.unreadable !== undefined) continue;
      const ctx = check.templateCtx(t);
      out.add(ctx, 0, Math.min(ctx.lines.lineText(0).length, t.text.length), 'unused-template', `template '${t.name}' is not used by any service, composition or partial`);
    }
  }

  // A name that resolves outside the templates root is `template-outside-root`, not also a
  // `schema` error for its pattern (a backslash, a drive letter): one diagnostic per fault.
  const where = (d: PromptDiagnostic) => `${d.file}\0${d.range.start.line}:${d.range.start.character}:${d.range.end.line}:${d.range.end.character}`;
  const outside = new Set(out.diagnostics.filter((d) => d.code === 'template-outside-root').map(where));
  const kept = outside.size ? out.diagnostics.filter((d) => d.code !== 'schema' || !outside.has(where(d))) : out.diagnostics;
  const diagnostics = kept.sort(compareDiagnostics);
  const result: WorkspaceValidation = {
    root,
    templatesRoot,
    serviceMappingsFile: smFile,
    compositionRulesFile: crFile,
    diagnostics,
    errorCount: diagnostics.filter((d) => d.severity === 'error').length,
    warningCount: diagnostics.filter((d) => d.severity === 'warning').length,
    templates,
  };
  if (smModel) result.serviceMappings = smModel;
  if (crModel) result.compositionRules = crModel;
  return result;
}

function indexTemplates(templatesRoot: string, fs: FileSystemHost, cache: ValidationCache, cacheable: boolean, out: Collector, overlays: ReadonlyMap<string, string>): Map<string, TemplateEntry> {
  const templates = new Map<string, TemplateEntry>();
  const tooLarge = (size: number | undefined) =>
    limitAnalysis(`the template ${size !== undefined ? `is ${megabytes(size)} MB, larger than` : 'is larger than'} the ${megabytes(LIMITS.maxTemplateBytes)} MB limit (maxTemplateBytes); split it into partials`, ZERO);
  for (const { name, file, problem } of cache.listing(templatesRoot, fs, cacheable)) {
    let text = '';
    let limited: TemplateAnalysis | undefined;
    let unreadable: string | undefined = problem;
    if (unreadable === undefined) {
      try {
        const read = cache.read(fs, file, cacheable && !overlays.has(file), LIMITS.maxTemplateBytes);
        // Listed a moment ago, gone now: not an empty template.
        if (read === undefined) unreadable = 'disappeared while being read (ENOENT); it is read again on the next change';
        else {
          const bytes = overLimit(read, LIMITS.maxTemplateBytes);
          if (bytes !== undefined) limited = tooLarge(bytes);
          else text = read;
        }
      } catch (thrown) {
        const e = asFileReadError(file, thrown);
        if (!e) throw thrown;
        if (e.problem === 'too-large') limited = tooLarge(e.size);
        else unreadable = unreadableReason(e);
      }
    }
    if (unreadable !== undefined) {
      out.add(emptyCtx(file), 0, 0, 'unreadable-file', `${path.relative(path.dirname(templatesRoot), file)} ${unreadable}`);
      templates.set(name, { name, file, text: '', analysis: limitAnalysis(`the template file ${unreadable}`, ZERO), version: ++versionCounter, unreadable });
      continue;
    }
    let cached = cache.templates.get(file);
    if (!cached || cached.text !== text || limited) {
      // Compiling costs per expression, and Handlebars runs out of memory on a few hundred
      // thousand: a template with too many is refused before it is even parsed.
      const at = limited ? -1 : expressionLimitAt(text);
      if (at >= 0) {
        const lines = new LineIndex(text);
        limited = limitAnalysis(`the template has more than ${LIMITS.maxTemplateExpressions.toLocaleString('en-US')} '{{...}}' expressions (maxTemplateExpressions); split it into partials`, lines.range(at, at + 2));
      }
      cached = { text, analysis: limited ?? analyzeTemplate(text), version: cached && cached.text === text ? cached.version : ++versionCounter, badByte: invalidUtf8At(text) };
      cache.templates.set(file, cached);
    }
    if (cached.badByte >= 0) {
      // A prompt would silently carry the replacement characters.
      const ctx: FileCtx = { file, text, lines: new LineIndex(text) };
      out.add(ctx, cached.badByte, cached.badByte + 1, 'template-syntax', 'the template is not valid UTF-8 here; save it as UTF-8');
    }
    templates.set(name, { name, file, text, analysis: cached.analysis, version: cached.version });
    if (cached.analysis.error) {
      const ctx: FileCtx = { file, text, lines: new LineIndex(text) };
      const r = cached.analysis.error.range;
      out.add(ctx, ctx.lines.offsetAt(r.start), ctx.lines.offsetAt(r.end), 'template-syntax', cached.analysis.error.message);
    }
  }
  return templates;
}

class ReferenceChecker {
  private readonly templateCtxs = new Map<string, FileCtx>();
  private readonly resolved = new Map<string, ReturnType<typeof resolveTemplateName>>();
  /** Where node diagnostics go: the collector, or a recorder while a composition is checked. */
  private sink: Pick<Collector, 'node'>;
  private usedSink: { push(name: string): unknown };

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

  /** Checks one template reference; returns the template when it exists and parses. */
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
      const tctx = this.templateCtx(t);
      const r = t.analysis.error.range;
      this.sink.node(ctx, node, 'template-syntax', `template '${ref.name}' cannot be parsed (line ${r.start.line + 1}, column ${r.start.character + 1}): ${t.analysis.error.message}`, [
        { file: t.file, range: r, message: t.analysis.error.message },
      ]);
      void tctx;
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
        ctx && this.out.add(ctx, start, end, 'template-outside-root', `partial '${p.name}' is outside the templates root (${res.reason})`);
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

  /** Variables and step reads of a template and, transitively, of its partials. */
  private reads(t: TemplateEntry): { variables: Set<string>; steps: Set<string> } {
    const variables = new Set<string>();
    const steps = new Set<string>();
    const seen = new Set<string>();
    const visit = (e: TemplateEntry, depth: number) => {
      if (seen.has(e.name) || depth > 16) return;
      seen.add(e.name);
      for (const v of e.analysis.variables) variables.add(v.name);
      for (const s of e.analysis.stepReads) steps.add(s.stepId);
      for (const p of e.analysis.partials) {
        const pe = this.templates.get(p.name);
        if (pe && !pe.analysis.error) visit(pe, depth + 1);
      }
    };
    visit(t, 0);
    return { variables, steps };
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
        try {
          this.composition(ctx, c, providers);
        } finally {
          this.sink = out;
          this.usedSink = used;
        }
        rec = recorder.recording;
        this.cache.compositionChecks.set(c, rec);
      }
      for (const r of rec.records) this.out.node(ctx, r.node, r.code, r.message, r.related);
      for (const u of rec.used) this.used.add(u);
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
    // Edges: step -> the steps it depends on (the known ones).
    const deps = new Map<string, NameRef[]>();
    const unknownDeps: { s: StepDef; ref: NameRef }[] = [];
    for (const s of c.steps) {
      if (!s.id || byId.get(s.id) !== s) continue;
      const known: NameRef[] = [];
      for (const d of s.dependsOn) {
        if (byId.has(d.name)) known.push(d);
        else unknownDeps.push({ s, ref: d });
      }
      deps.set(s.id, known);
    }
    this.cycles(ctx, c, deps);
    const ancestors = transitiveDeps(deps);
    for (const { s, ref } of unknownDeps) {
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
    if (!t) return;
    const { variables, steps } = this.reads(t);
    for (const v of variables) {
      if (v === 'steps' || inputs.has(v) || contextKeys.has(v)) continue;
      this.sink.node(ctx, ref.node, 'undeclared-variable', `template '${t.name}' reads '${v}', which neither composition '${c.name}''s inputs nor step '${s.id}''s context provides; add it to inputs (required or optional) or to the step's context`);
    }
    for (const id of steps) {
      if (mine.has(id)) continue;
      this.sink.node(ctx, ref.node, 'undeclared-step-read', undeclaredStepMessage(`template '${t.name}'`, id, s, c));
    }
  }

  private contextReads(ctx: FileCtx, c: CompositionDef, s: StepDef, value: unknown, node: SNode | null, mine: Set<string>): void {
    if (!node) return;
    const strings: string[] = [];
    collectStrings(value, strings, 0);
    for (const str of strings) {
      if (!str.includes('{{')) continue;
      const a = this.inline(str);
      for (const r of a.stepReads) {
        if (mine.has(r.stepId)) continue;
        this.sink.node(ctx, node, 'undeclared-step-read', undeclaredStepMessage('this context value', r.stepId, s, c));
      }
    }
  }

  /** Every strongly connected component, reported on every edge with the whole path. */
  private cycles(ctx: FileCtx, c: CompositionDef, deps: Map<string, NameRef[]>): void {
    for (const scc of stronglyConnected(deps)) {
      const inScc = new Set(scc);
      for (const from of scc) {
        for (const edge of deps.get(from) ?? []) {
          if (!inScc.has(edge.name)) continue;
          const back = shortestPath(deps, edge.name, from, inScc);
          const cycle = [from, ...(back ?? [edge.name])];
          if (cycle[cycle.length - 1] !== from || cycle.length === 1) cycle.push(from);
          const text = cycle.join(' -> ');
          this.sink.node(ctx, edge.node, 'dependency-cycle', `dependency cycle in composition '${c.name}': ${text}; remove one of these depends_on entries`);
        }
      }
    }
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
        const where = rules ? 'composition_rules.yaml does not define it' : 'there is no composition_rules.yaml beside this file';
        this.sink.node(ctx, ref.node, 'unknown-composition', `composition '${ref.name}' is not defined: ${where}${guess ? ` (did you mean '${guess}'?)` : ''}`);
      }
    }
  }
}

function undeclaredStepMessage(reader: string, id: string, s: StepDef, c: CompositionDef): string {
  const exists = c.steps.some((x) => x.id === id);
  if (!exists) return `${reader} reads steps.${id}, but composition '${c.name}' has no step '${id}'`;
  // depends_on cannot help here: it would make a cycle.
  if (id === s.id) return `${reader} reads steps.${id}, the output of step '${id}' itself: a step cannot read its own output, which exists only once it has run; read it in a step that depends on '${id}'`;
  if (runsAfter(c, id, s.id)) return `${reader} reads steps.${id}, but step '${id}' depends on '${s.id}' (directly or through its dependencies), so it runs after it: step '${s.id}' cannot read its output; read it in a step that depends on '${id}'`;
  return `${reader} reads steps.${id}, but step '${s.id}' does not depend on '${id}' (directly or through its dependencies), so it may not have run yet; add '${id}' to depends_on`;
}

/** Whether step `later` depends on step `earlier`, directly or through its dependencies. */
function runsAfter(c: CompositionDef, later: string, earlier: string): boolean {
  const seen = new Set<string>();
  const todo = [later];
  while (todo.length) {
    const id = todo.pop()!;
    for (const step of c.steps) {
      if (step.id !== id) continue;
      for (const d of step.dependsOn) {
        if (d.name === earlier) return true;
        if (!seen.has(d.name)) {
          seen.add(d.name);
          todo.push(d.name);
        }
      }
    }
  }
  return false;
}

function collectStrings(v: unknown, out: string[], depth: number): void {
  if (depth > 32) return;
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) collectStrings(x, out, depth + 1);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) collectStrings(x, out, depth + 1);
}

/** For each step, every step it depends on directly or transitively (cycles tolerated). */
export function transitiveDeps(deps: Map<string, NameRef[]>): Map<string, Set<string>> {
  const memo = new Map<string, Set<string>>();
  const visiting = new Set<string>();
  const visit = (id: string): Set<string> => {
    const m = memo.get(id);
    if (m) return m;
    const acc = new Set<string>();
    if (visiting.has(id)) return acc;
    visiting.add(id);
    for (const d of deps.get(id) ?? []) {
      acc.add(d.name);
      for (const x of visit(d.name)) acc.add(x);
    }
    visiting.delete(id);
    memo.set(id, acc);
    return acc;
  };
  for (const id of deps.keys()) visit(id);
  return memo;
}

/** Tarjan's algorithm, iterative; returns the components that hold a cycle (incl. self-loops). */
export function stronglyConnected(deps: Map<string, NameRef[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  for (const start of deps.keys()) {
    if (idx.has(start)) continue;
    const work: { v: string; i: number }[] = [{ v: start, i: 0 }];
    idx.set(start, index);
    low.set(start, index++);
    stack.push(start);
    onStack.add(start);
    while (work.length) {
      const top = work[work.length - 1]!;
      const edges = deps.get(top.v) ?? [];
      if (top.i < edges.length) {
        const w = edges[top.i++]!.name;
        if (!deps.has(w)) continue;
        if (!idx.has(w)) {
          idx.set(w, index);
          low.set(w, index++);
          stack.push(w);
          onStack.add(w);
          work.push({ v: w, i: 0 });
        } else if (onStack.has(w)) low.set(top.v, Math.min(low.get(top.v)!, idx.get(w)!));
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1]!.v;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.v)!));
      }
      if (low.get(top.v) === idx.get(top.v)) {
        const comp: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          comp.push(w);
        } while (w !== top.v);
        const selfLoop = comp.length === 1 && (deps.get(comp[0]!) ?? []).some((e) => e.name === comp[0]);
        if (comp.length > 1 || selfLoop) out.push(comp.reverse());
      }
    }
  }
  return out;
}

/** Shortest path from `from` to `to` inside a component, as the list of nodes after `from`. */
function shortestPath(deps: Map<string, NameRef[]>, from: string, to: string, allowed: Set<string>): string[] | undefined {
  if (from === to) return [from];
  const prev = new Map<string, string>();
  const queue = [from];
  const seen = new Set([from]);
  while (queue.length) {
    const v = queue.shift()!;
    for (const e of deps.get(v) ?? []) {
      if (!allowed.has(e.name) || seen.has(e.name)) continue;
      seen.add(e.name);
      prev.set(e.name, v);
      if (e.name === to) {
        const pathOut = [to];
        for (let cur = v; cur !== from; cur = prev.get(cur)!) pathOut.unshift(cur);
        pathOut.unshift(from);
        return pathOut;
      }
      queue.push(e.name);
    }
  }
  return undefined;
}
