/**
 * What one validator instance keeps between calls (parsed YAML pieces, schema results by entry,
 * template analyses, each composition's recorded checks, file reads and listings); without one
 * every call starts fresh, which is what the CLI does. Owned by one caller (server, manager).
 */
import * as path from 'node:path';
import type { ModelMemo } from '../model/build.js';
import type { CompositionDef } from '../model/types.js';
import type { TemplateAnalysis } from '../templates/analysis.js';
import { invalidUtf8At } from '../text/utf8.js';
import { IncrementalYamlParser } from '../yaml/incrementalParse.js';
import type { SPair } from '../yaml/sourceTree.js';
import type { FileSystemHost } from '../workspace/fileSystem.js';
import { listTemplates, resolveTemplateName, type TemplateFile } from '../workspace/templateIndex.js';
import { listPromptTestFiles } from '../workspace/testFiles.js';
import type { Recording } from './diagnosticCollector.js';
import type { EntryChecks } from './schemaByEntry.js';
import type { PrewarmedTemplate } from './templatePrewarm.js';

let versionCounter = 0;

/** A new template version: a key for compiled-template and render caches, never reused in this process. */
export function nextTemplateVersion(): number {
  return ++versionCounter;
}

/** A template's text with what was derived from it. */
export interface CachedTemplate {
  text: string;
  analysis: TemplateAnalysis;
  version: number;
  /** Where the text holds U+FFFD (bytes that were not UTF-8), or -1. */
  badByte: number;
}

export class ValidationCache {
  readonly yamlParsers = new Map<string, IncrementalYamlParser>();
  readonly templates = new Map<string, CachedTemplate>();
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
  /** Test file listings, by workspace root. */
  private readonly testListings = new Map<string, string[]>();
  /** The last parse of each JSON file (context files), by path: parsed again only when its text changes. */
  private readonly jsonParses = new Map<string, { text: string; result: { value: unknown } | { error: string } }>();

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

  /** The prompt test files of a workspace (core/workspace/testFiles.ts), kept until a file below it changes. */
  testFiles(root: string, fs: FileSystemHost, cacheable: boolean): string[] {
    if (!cacheable) return listPromptTestFiles(root, fs);
    let l = this.testListings.get(root);
    if (!l) this.testListings.set(root, (l = listPromptTestFiles(root, fs)));
    return l;
  }

  /** A JSON text parsed, or why it does not parse; the same text is parsed once. */
  parseJson(file: string, text: string): { value: unknown } | { error: string } {
    const last = this.jsonParses.get(file);
    if (last && last.text === text) return last.result;
    let result: { value: unknown } | { error: string };
    try {
      result = { value: JSON.parse(text) as unknown };
    } catch (e) {
      result = { error: (e as Error).message };
    }
    if (this.jsonParses.size >= 1000) this.jsonParses.clear();
    this.jsonParses.set(file, { text, result });
    return result;
  }

  /**
   * Template analyses made elsewhere (a worker thread: core/validate/templatePrewarm.ts). A
   * template already cached keeps its entry; the validator still compares texts, so an
   * analysis of a text that is no longer current is never used.
   */
  adoptTemplates(list: readonly PrewarmedTemplate[]): void {
    for (const t of list) {
      if (this.templates.has(t.file)) continue;
      this.templates.set(t.file, { text: t.text, analysis: t.analysis, version: nextTemplateVersion(), badByte: invalidUtf8At(t.text) });
    }
  }

  /** A file changed, appeared or disappeared on disk. */
  invalidate(file: string): void {
    this.reads.delete(file);
    for (const root of this.listings.keys()) {
      if (file === root || file.startsWith(root + path.sep) || root.startsWith(file + path.sep)) this.listings.delete(root);
    }
    // Any change inside a workspace may add or remove a test file: listing them is one or two reads.
    for (const root of this.testListings.keys()) {
      if (file === root || file.startsWith(root + path.sep) || root.startsWith(file + path.sep)) this.testListings.delete(root);
    }
  }

  invalidateAll(): void {
    this.reads.clear();
    this.listings.clear();
    this.testListings.clear();
  }
}
