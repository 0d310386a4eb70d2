/**
 * One configuration file of a prompt workspace (service_mappings.yaml or composition_rules.yaml)
 * read, parsed and schema-checked: links that leave the workspace, files too large or not
 * readable, YAML errors, bytes that are not UTF-8, and the limits on values and entries.
 */
import * as path from 'node:path';
import { LIMITS } from '../limits.js';
import { LineIndex } from '../text/lineIndex.js';
import { invalidUtf8At } from '../text/utf8.js';
import { AliasBudgetError, CollectionLimitError, deref, isMap, type SNode } from '../yaml/sourceTree.js';
import { IncrementalYamlParser } from '../yaml/incrementalParse.js';
import type { FileSystemHost } from '../workspace/fileSystem.js';
import { asFileReadError } from '../workspace/fileRead.js';
import { emptyCtx, relatedAt, type Collector, type FileCtx } from './diagnosticCollector.js';
import { megabytes, overLimit, unreadableReason } from './fileReading.js';
import { schemaChecks } from './schemaByEntry.js';
import type { FileKind } from './schemaCheck.js';
import type { ValidationCache } from './validationCache.js';

const NOT_UTF8 = 'the file is not valid UTF-8 here; save it as UTF-8';

export interface ParsedFile {
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

function configTooLarge(size: number | undefined): string {
  const what = size !== undefined ? `is ${megabytes(size)} MB, larger than` : 'is larger than';
  return `the file ${what} the ${megabytes(LIMITS.maxConfigBytes)} MB limit (maxConfigBytes); split it or remove generated content`;
}

export function parseConfigFile(kind: FileKind, workspace: string, file: string, fs: FileSystemHost, cache: ValidationCache, cacheable: boolean, out: Collector): ParsedFile | undefined {
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
    out.node(ctx, root, 'schema', `the file must be a mapping of keys (version, ${kind === 'composition_rules' ? 'compositions' : kind === 'service_mappings' ? 'services' : 'tests'}, ...), got ${root.kind === 'seq' ? 'a list' : 'a single value'}`);
    return { ctx, root: null, ok: true };
  }
  try {
    for (const c of schemaChecks(kind, root, cache.entryChecks)) {
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
