/**
 * Parses YAML text into a source tree (sourceTree.ts): the common subset by the fast parser
 * (fastParse.ts), anything else with the `yaml` package, whose errors are reworded for people.
 * Editors parse successive versions of a file with the incremental parser (incrementalParse.ts).
 */
import { Alias, isAlias, isMap, isPair, isScalar, isSeq, parseDocument, Scalar, type Document, type Node as YNode } from 'yaml';
import type { SNode, SPair, SScalar } from './sourceTree.js';
import { fastParseYaml } from './fastParse.js';
import { LIMITS } from '../limits.js';

export interface YamlParseError {
  message: string;
  start: number;
  end: number;
}

export interface ParsedYaml {
  /** Null when the file is empty (or holds only comments). Undefined when it has errors. */
  root: SNode | null | undefined;
  errors: YamlParseError[];
}

/** A faster parser for the common subset may be plugged in; it returns undefined to decline. */
export type SubsetParser = (text: string) => SNode | null | undefined;
let subsetParser: SubsetParser | undefined = fastParseYaml;
export function setSubsetParser(p: SubsetParser | undefined): void {
  subsetParser = p;
}

/**
 * YAML 1.2 (like editors and LSP) ends a line at a lone CR too, which the `yaml` package reads
 * as part of the line. A lone CR becomes a LF: the same length, so every offset still holds.
 */
export function withLineFeeds(text: string): string {
  return text.indexOf('\r') === -1 ? text : text.replace(/\r(?!\n)/g, '\n');
}

/** Parses one YAML text whole. */
export function parseYaml(text: string): ParsedYaml {
  text = withLineFeeds(text);
  // The fast path declines past 100 levels; a lower depth limit is the package path's to enforce.
  if (subsetParser && LIMITS.maxYamlDepth > 100) {
    try {
      const fast = subsetParser(text);
      if (fast !== undefined) return { root: fast, errors: [] };
    } catch {
      // A failure of the fast path is never the user's problem: the full parser decides.
    }
  }
  return parseWithYamlPackage(text);
}

export function parseWithYamlPackage(text: string): ParsedYaml {
  text = withLineFeeds(text);
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, { uniqueKeys: false, prettyErrors: false, strict: true, keepSourceTokens: false });
  } catch (e) {
    return { root: undefined, errors: [{ message: `cannot parse the file: ${(e as Error).message}`, start: 0, end: Math.min(1, text.length) }] };
  }
  if (doc.errors.length) {
    return {
      root: undefined,
      errors: doc.errors.map((e) => ({ message: rewriteYamlError(e.code, e.message), start: e.pos[0], end: Math.max(e.pos[1], e.pos[0]) })),
    };
  }
  const conv = new Converter();
  try {
    const root = doc.contents ? conv.node(doc.contents as YNode, 0) : null;
    return { root, errors: [] };
  } catch (e) {
    if (e instanceof LimitError) return { root: undefined, errors: [{ message: e.message, start: e.start, end: e.end }] };
    throw e;
  }
}

class LimitError extends Error {
  constructor(message: string, readonly start: number, readonly end: number) {
    super(message);
  }
}

class Converter {
  private aliases = 0;
  private readonly anchors = new Map<string, SNode>();

  node(n: YNode, depth: number): SNode {
    const [start, valueEnd] = n.range ?? [0, 0, 0];
    if (depth > LIMITS.maxYamlDepth) {
      throw new LimitError(`the file nests deeper than ${LIMITS.maxYamlDepth} levels; flatten it`, start, valueEnd);
    }
    let out: SNode;
    if (isAlias(n)) {
      if (++this.aliases > LIMITS.maxYamlAliases) {
        throw new LimitError(`the file uses more than ${LIMITS.maxYamlAliases} aliases (a possible alias bomb); expand them by hand`, start, valueEnd);
      }
      const alias: SNode & { kind: 'alias' } = { kind: 'alias', target: this.anchors.get((n as Alias).source) ?? null, start, end: valueEnd };
      out = alias;
    } else if (isMap(n)) {
      const items: SPair[] = [];
      for (const p of n.items) {
        if (!isPair(p)) continue;
        const key = p.key ? this.node(p.key as YNode, depth + 1) : this.emptyScalar(start);
        const value = p.value ? this.node(p.value as YNode, depth + 1) : null;
        items.push({ key, value, start: key.start, end: value ? value.end : key.end });
      }
      out = { kind: 'map', items, flow: !!n.flow, start, end: valueEnd };
    } else if (isSeq(n)) {
      const items = n.items.map((i) => (i ? this.node(i as YNode, depth + 1) : null));
      out = { kind: 'seq', items, flow: !!n.flow, start, end: valueEnd };
    } else if (isScalar(n)) {
      out = this.scalar(n as Scalar, start, valueEnd);
    } else {
      out = this.emptyScalar(start);
    }
    if (n.anchor) this.anchors.set(n.anchor, out);
    return out;
  }

  private scalar(n: Scalar, start: number, end: number): SScalar {
    let value: SScalar['value'];
    const v = n.value;
    if (v === null || v === undefined) value = null;
    else if (typeof v === 'string' || typeof v === 'boolean') value = v;
    else if (typeof v === 'number') value = v;
    else if (typeof v === 'bigint') value = Number(v);
    else value = String(v);
    const style = n.type === 'QUOTE_SINGLE' ? 'single' : n.type === 'QUOTE_DOUBLE' ? 'double' : n.type === 'BLOCK_LITERAL' || n.type === 'BLOCK_FOLDED' ? 'block' : 'plain';
    return { kind: 'scalar', value, style, start, end };
  }

  private emptyScalar(at: number): SScalar {
    return { kind: 'scalar', value: null, style: 'plain', start: at, end: at };
  }
}

/** Plain-language versions of the `yaml` package's error codes. */
function rewriteYamlError(code: string, message: string): string {
  const first = message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  switch (code) {
    case 'MULTIPLE_DOCS':
      return "the file holds several YAML documents ('---'); PromptManager reads one: merge them or remove the extra '---'";
    case 'BAD_INDENT':
    case 'MISSING_CHAR':
    case 'UNEXPECTED_TOKEN':
      return `YAML syntax error: ${first} (check the indentation of this line against the lines above)`;
    case 'TAB_AS_INDENT':
      return 'YAML syntax error: tabs are not allowed for indentation; use spaces';
    case 'DUPLICATE_KEY':
      return `YAML syntax error: ${first}`;
    default:
      return `YAML syntax error: ${first}`;
  }
}
