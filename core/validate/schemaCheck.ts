/**
 * Runs the JSON schemas (ajv, allErrors) over a file's value and turns each fault into one
 * diagnostic on the exact YAML key or value, with a sentence a person can act on. ajv's own
 * text never reaches the user.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
// Generated at build time by build/precompiledSchemas.mjs (ajv standalone code).
import * as precompiled from 'precompiled-schemas';
import compositionRulesSchema from '../../schemas/composition_rules.schema.json';
import promptTestsSchema from '../../schemas/prompt_tests.schema.json';
import serviceMappingsSchema from '../../schemas/service_mappings.schema.json';
import { deref, isMap, isSeq, keyName, type SMap, type SNode, type SPair } from '../yaml/sourceTree.js';
import { closest } from './didYouMean.js';

export type FileKind = 'composition_rules' | 'service_mappings' | 'prompt_tests';

/** A schema fault on a node; turned into a positioned diagnostic by the caller. */
export interface SchemaFault {
  node: SNode;
  message: string;
}

type JsonSchema = Record<string, unknown>;

export const SCHEMAS: Record<FileKind, JsonSchema> = {
  composition_rules: compositionRulesSchema as JsonSchema,
  service_mappings: serviceMappingsSchema as JsonSchema,
  prompt_tests: promptTestsSchema as JsonSchema,
};

function validatorFor(kind: FileKind): ValidateFunction {
  return precompiled[kind];
}

/** Checks a file's plain value against its schema and maps every fault to the source tree. */
export function checkSchema(kind: FileKind, value: unknown, root: SNode | null, maxFaults = Infinity): SchemaFault[] {
  const validate = validatorFor(kind);
  if (validate(value)) return [];
  return mapErrors(validate.errors ?? [], root, value, maxFaults);
}

const COMBINATORS = new Set(['if', 'then', 'else', 'anyOf', 'oneOf', 'allOf', 'not']);

function mapErrors(errors: ErrorObject[], root: SNode | null, rootValue: unknown, maxFaults: number): SchemaFault[] {
  const faults: SchemaFault[] = [];
  const seen = new Set<string>();
  // Key lookups go through an index built once per mapping: a file with thousands of unknown
  // keys must not cost one linear scan per key (that made a 400 KB file take minutes).
  const pairOf = pairIndex();
  // A bad key name is reported once by `propertyNames`; drop the error ajv adds for the name
  // itself (at the mapping's path, its data the name), keeping its pattern for the message.
  const badNames = new Set(errors.filter((e) => e.keyword === 'propertyNames').map((e) => `${e.instancePath}/${(e.params as { propertyName?: string }).propertyName}`));
  const namePatterns = new Map<string, string>();
  for (const e of errors) {
    if (e.keyword !== 'propertyNames' && typeof e.data === 'string' && badNames.has(`${e.instancePath}/${e.data}`)) {
      if (e.keyword === 'pattern') namePatterns.set(`${e.instancePath}/${e.data}`, (e.params as { pattern: string }).pattern);
    }
  }
  for (const e of errors) {
    // One more than asked for, so that the caller can tell that there were more.
    if (faults.length > maxFaults) break;
    if (COMBINATORS.has(e.keyword)) continue;
    const propertyName = (e.params as { propertyName?: string }).propertyName;
    if (propertyName !== undefined && e.keyword !== 'propertyNames') continue;
    if (e.keyword !== 'propertyNames' && typeof e.data === 'string' && badNames.has(`${e.instancePath}/${e.data}`)) continue;
    const segments = e.instancePath === '' ? [] : e.instancePath.slice(1).split('/').map(unescapePointer);
    const fault = describe(e, segments, root, rootValue, badNames, pairOf, namePatterns);
    if (!fault) continue;
    const key = `${fault.node.start}:${fault.node.end}:${fault.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    faults.push(fault);
  }
  // One diagnostic per place: a wrong type already says everything about that value.
  const firstTyped = new Map<string, SchemaFault>();
  for (const f of faults) {
    if (!f.message.includes(' must be ')) continue;
    const k = `${f.node.start}:${f.node.end}`;
    if (!firstTyped.has(k)) firstTyped.set(k, f);
  }
  if (!firstTyped.size) return faults;
  const kept = new Set<string>();
  return faults.filter((f) => {
    const k = `${f.node.start}:${f.node.end}`;
    if (!firstTyped.has(k)) return true;
    // The first fault at a typed place (whatever its kind) stands for the place.
    if (kept.has(k)) return false;
    kept.add(k);
    return true;
  });
}

type PairLookup = (map: SMap, key: string) => SPair | undefined;

/** The first pair of a mapping with a key, through an index built on the first lookup. */
function pairIndex(): PairLookup {
  const indexes = new Map<SMap, Map<string, SPair>>();
  return (map, key) => {
    if (map.items.length < 8) {
      for (const p of map.items) if (keyName(p) === key) return p;
      return undefined;
    }
    let idx = indexes.get(map);
    if (!idx) {
      idx = new Map();
      for (const p of map.items) {
        const k = keyName(p);
        if (k !== undefined && !idx.has(k)) idx.set(k, p);
      }
      indexes.set(map, idx);
    }
    return idx.get(key);
  };
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

interface Located {
  node: SNode | null;
  /** The key node of the pair holding the value, when the value sits in a mapping. */
  keyNode: SNode | null;
  /** The parent collection. */
  parent: SNode | null;
}

function locate(root: SNode | null, segments: string[], pairOf: PairLookup): Located {
  let cur: SNode | null = deref(root);
  let keyNode: SNode | null = null;
  let parent: SNode | null = null;
  for (const seg of segments) {
    if (!cur) break;
    parent = cur;
    if (isMap(cur)) {
      const p = pairOf(cur, seg);
      keyNode = p ? p.key : null;
      cur = p ? deref(p.value) : null;
      if (!p) break;
    } else if (isSeq(cur)) {
      keyNode = null;
      cur = deref(cur.items[Number(seg)] ?? null);
    } else break;
  }
  return { node: cur, keyNode, parent };
}

/** How to name the value at a path in a message: `'max_parallel'`, `item 2 of 'depends_on'`. */
function nameOf(segments: string[]): string {
  if (!segments.length) return 'the file';
  const last = segments[segments.length - 1]!;
  if (/^\d+$/.test(last)) {
    const owner = segments[segments.length - 2];
    if (owner === 'steps') return `step ${Number(last) + 1}`;
    if (owner === 'expect') return `assertion ${Number(last) + 1}`;
    return owner ? `item ${Number(last) + 1} of '${owner}'` : `item ${Number(last) + 1}`;
  }
  return `'${last}'`;
}

/** What the mapping at a path is, for "X is missing required key 'y'". */
function ownerName(segments: string[]): string {
  if (!segments.length) return 'the file';
  const last = segments[segments.length - 1]!;
  const owner = segments[segments.length - 2];
  if (/^\d+$/.test(last) && owner === 'steps') return `step ${Number(last) + 1}`;
  if (/^\d+$/.test(last) && owner === 'expect') return `assertion ${Number(last) + 1}`;
  if (owner === 'tests') return `test '${last}'`;
  if (owner === 'compositions') return `composition '${last}'`;
  if (owner === 'services') return `service '${last}'`;
  if (owner === 'providers') return `provider '${last}'`;
  return nameOf(segments);
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null) return 'null (an empty value)';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

const PATTERN_HINTS: Record<string, string> = {
  '^[A-Za-z_][A-Za-z0-9_-]*$': "letters, digits, '_' and '-', starting with a letter or '_'",
  '^[A-Za-z][A-Za-z0-9_.-]*$': "letters, digits, '_', '.' and '-', starting with a letter",
  '^[A-Za-z0-9_./-]+$': "letters, digits, '_', '.', '/' and '-' (a path below the templates root, without extension)",
  '^[A-Za-z_][A-Za-z0-9_]*$': "letters, digits and '_', starting with a letter or '_' (an environment variable's name)",
  '^https?://': 'an http:// or https:// URL',
  '^[A-Za-z0-9_][A-Za-z0-9_.-]*$': "letters, digits, '_', '.' and '-', starting with a letter, digit or '_'",
};

function typeWords(schema: JsonSchema): string {
  const t = schema.type;
  const types = Array.isArray(t) ? t : t ? [t] : [];
  const words = types.map((x) => (x === 'integer' ? 'an integer' : x === 'number' ? 'a number' : x === 'string' ? 'a string' : x === 'boolean' ? 'true or false' : x === 'array' ? 'a list' : x === 'object' ? 'a mapping' : x === 'null' ? 'empty' : String(x)));
  let s = words.join(' or ');
  const min = schema.minimum;
  const above = schema.exclusiveMinimum;
  const max = schema.maximum;
  if (typeof above === 'number') s += ` more than ${above}${typeof max === 'number' ? ` and at most ${max}` : ''}`;
  else if (typeof min === 'number' && typeof max === 'number') s += ` from ${min} to ${max}`;
  else if (typeof min === 'number') s += ` of at least ${min}`;
  else if (typeof max === 'number') s += ` of at most ${max}`;
  return s || 'something else';
}

function knownKeys(schema: JsonSchema | undefined): string[] {
  const props = schema?.properties;
  return props && typeof props === 'object' ? Object.keys(props) : [];
}

function describe(e: ErrorObject, segments: string[], root: SNode | null, rootValue: unknown, badNames: Set<string>, pairOf: PairLookup, namePatterns: ReadonlyMap<string, string>): SchemaFault | undefined {
  const at = locate(root, segments, pairOf);
  const parentSchema = (e.parentSchema ?? {}) as JsonSchema;
  const name = nameOf(segments);
  const valueNode = at.node ?? at.keyNode ?? deref(root);
  if (!valueNode) return undefined;
  const data = e.data;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = (e.params as { additionalProperty: string }).additionalProperty;
      if (badNames.has(`${e.instancePath}/${key}`)) return undefined;
      const holder = deref(at.node);
      const pair = isMap(holder) ? pairOf(holder, key) : undefined;
      const known = knownKeys(parentSchema);
      const guess = closest(key, known);
      const where = segments.length ? ` in ${ownerName(segments)}` : '';
      const hint = guess ? ` (did you mean '${guess}'?)` : known.length ? `; expected one of: ${known.join(', ')}` : '';
      return { node: pair?.key ?? valueNode, message: `unknown key '${key}'${where}${hint}` };
    }
    case 'required': {
      const missing = (e.params as { missingProperty: string }).missingProperty;
      // On the key of the mapping that lacks it; for a list item (a step), on its first key.
      const holder = deref(at.node);
      const first = isMap(holder) ? holder.items[0]?.key : undefined;
      const node = at.keyNode ?? first ?? valueNode;
      return { node, message: `${ownerName(segments)} is missing required key '${missing}'` };
    }
    case 'propertyNames': {
      const prop = (e.params as { propertyName: string }).propertyName;
      const holder = deref(at.node);
      const pair = isMap(holder) ? pairOf(holder, prop) : undefined;
      const names = (parentSchema.propertyNames ?? {}) as JsonSchema;
      // Behind a `$ref` the pattern is the one the name's own error gave.
      const pattern = typeof names.pattern === 'string' ? names.pattern : (namePatterns.get(`${e.instancePath}/${prop}`) ?? '');
      const hint = PATTERN_HINTS[pattern] ?? `names matching ${pattern}`;
      return { node: pair?.key ?? valueNode, message: `'${prop}' is not a valid name in ${nameOf(segments)}: use ${hint}` };
    }
    case 'type':
      return { node: valueNode, message: `${name} must be ${typeWords(parentSchema)}, got ${show(data)}` };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { node: valueNode, message: `${name} must be ${typeWords(parentSchema)}, got ${show(data)}` };
    case 'pattern': {
      const pattern = (e.params as { pattern: string }).pattern;
      const hint = PATTERN_HINTS[pattern] ?? `text matching ${pattern}`;
      const what = segments[segments.length - 1] === 'id' ? `step id ${show(data)}` : `${name} ${show(data)}`;
      return { node: valueNode, message: `${what} is not valid: use ${hint}` };
    }
    case 'enum': {
      const allowed = ((e.params as { allowedValues: unknown[] }).allowedValues ?? []).map((v) => String(v));
      const guess = typeof data === 'string' ? closest(data, allowed) : undefined;
      return { node: valueNode, message: `${name} must be one of ${allowed.join(', ')}, got ${show(data)}${guess ? ` (did you mean '${guess}'?)` : ''}` };
    }
    case 'const':
      return { node: valueNode, message: `${name} must be ${show((e.params as { allowedValue: unknown }).allowedValue)}, got ${show(data)}` };
    case 'minItems':
      return { node: valueNode, message: `${name} must list at least ${(e.params as { limit: number }).limit} item(s)` };
    case 'maxItems':
      return { node: valueNode, message: `${name} must list at most ${(e.params as { limit: number }).limit} item(s)` };
    case 'uniqueItems': {
      const { i, j } = e.params as { i: number; j: number };
      const items = Array.isArray(data) ? data : [];
      const seq = deref(at.node);
      const dupNode = isSeq(seq) ? (seq.items[Math.max(i, j)] ?? valueNode) : valueNode;
      return { node: dupNode, message: `${name} lists ${show(items[Math.max(i, j)])} more than once; remove the repeat` };
    }
    case 'minProperties':
    case 'maxProperties': {
      const keys = knownKeys(parentSchema);
      const req = Array.isArray(parentSchema.required) ? (parentSchema.required as string[]) : [];
      const choices = keys.filter((k) => !req.includes(k));
      const limit = (e.params as { limit: number }).limit;
      const exact = parentSchema.minProperties === parentSchema.maxProperties;
      const count = exact ? limit - req.length : undefined;
      const base = req.length ? `${name} needs ${req.map((r) => `'${r}'`).join(', ')} and ` : `${name} needs `;
      const tail = count === 1 ? `exactly one of ${choices.join(', ')}` : e.keyword === 'minProperties' ? `at least ${limit} key(s)` : `at most ${limit} key(s)`;
      return { node: at.keyNode ?? valueNode, message: base + tail };
    }
    case 'minLength':
      return { node: valueNode, message: `${name} must not be empty` };
    case 'maxLength':
      return { node: valueNode, message: `${name} is too long (at most ${(e.params as { limit: number }).limit} characters)` };
    case 'format':
      return { node: valueNode, message: `${name} must be a valid ${(e.params as { format: string }).format}, got ${show(data)}` };
    default:
      void rootValue;
      return { node: valueNode, message: `${name} is not valid here (${e.keyword})` };
  }
}

/** Schema node at a JSON-pointer-like path, following `$ref`s: used for hover and completion. */
export function schemaAt(kind: FileKind, segments: readonly string[]): JsonSchema | undefined {
  const rootSchema = SCHEMAS[kind];
  const resolve = (s: unknown): JsonSchema | undefined => {
    let cur = s as JsonSchema | undefined;
    for (let i = 0; cur && typeof cur.$ref === 'string' && i < 16; i++) {
      const ref = cur.$ref as string;
      if (!ref.startsWith('#/')) return cur;
      let target: unknown = rootSchema;
      for (const part of ref.slice(2).split('/')) target = (target as JsonSchema | undefined)?.[unescapePointer(part)];
      // Keep the referring node's own description: it is written for that place.
      cur = { ...(target as JsonSchema), ...(cur.description ? { description: cur.description } : {}) };
      delete cur.$ref;
      if (typeof (target as JsonSchema)?.$ref === 'string') cur.$ref = (target as JsonSchema).$ref;
    }
    return cur;
  };
  let cur = resolve(rootSchema);
  for (const seg of segments) {
    if (!cur) return undefined;
    const props = cur.properties as Record<string, unknown> | undefined;
    if (/^\d+$/.test(seg) && cur.items) cur = resolve(cur.items);
    else if (props && seg in props) cur = resolve(props[seg]);
    else if (cur.patternProperties) cur = resolve(Object.values(cur.patternProperties as Record<string, unknown>)[0]);
    else if (cur.additionalProperties && typeof cur.additionalProperties === 'object') cur = resolve(cur.additionalProperties);
    else return undefined;
  }
  return cur;
}

export { keyName };
