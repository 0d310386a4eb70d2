/**
 * Schema faults and duplicate keys of a configuration file. The file's big mapping
 * (compositions or services) is checked one entry at a time, and an entry whose source node is
 * unchanged keeps its result (in the ValidationCache), so a keystroke re-checks one entry.
 */
import { LIMITS } from '../limits.js';
import { AliasBudgetError, CollectionLimitError, deref, isMap, keyName, toJS, walk, type SMap, type SNode, type SPair } from '../yaml/sourceTree.js';
import { checkSchema, type FileKind } from './schemaCheck.js';

export interface EntryCheck {
  node: SNode;
  message: string;
  /** For a duplicate key: where the key was first defined. */
  first?: SNode;
}
/** An entry's schema faults and duplicate keys, with how many YAML values its check expanded. */
export interface EntryChecks {
  checks: EntryCheck[];
  /** Counted against maxYamlValues when the entry is reused, as a fresh check would count it. */
  values: number;
}

/** The big mapping of each file, checked entry by entry so that unchanged entries are reused. */
const SPLIT_KEY: Record<FileKind, string> = { composition_rules: 'compositions', service_mappings: 'services', prompt_tests: 'tests' };

/**
 * Schema faults and duplicate keys. The file's big mapping (compositions or services) is
 * checked one entry at a time, each as `{compositions: {name: entry}}` against the whole
 * schema so that paths and messages are the same as for a whole-file check; an entry whose
 * source node is unchanged keeps its result.
 */
export function schemaChecks(kind: FileKind, root: SNode | null, entryChecks: WeakMap<SPair, EntryChecks>): EntryCheck[] {
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
    let entry = entryChecks.get(e);
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
      entryChecks.set(e, entry);
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
