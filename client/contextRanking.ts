/**
 * Which sample context (`contexts/*.json` of the prompt workspace) fits a render or a run:
 * pure ranking, so that the context picker can put the likely one first. A file named after the
 * composition wins, then one named after the service, then one named after a service that may
 * render the template, then one sharing a word with the template's name. A context that lacks
 * what the render or run requires (the server's `promptManager/contextRequirements`) is marked
 * and goes after those that do not. The last context used is remembered per template or
 * composition, never offered for another.
 */

export interface ContextHints {
  template?: string;
  service?: string;
  composition?: string;
  /** Services that may render the template. */
  services?: string[];
  /** Compositions whose steps use the template. */
  compositions?: string[];
  /** The top-level keys the render or run requires (the service's, the composition's inputs, the template's unconditional reads). */
  required?: string[];
}

export interface RankedContext {
  /** The file name (`analysis_service.json`). */
  name: string;
  score: number;
  /** Why it ranks where it does (shown in the picker), empty when it does not match. */
  reason: string;
}

const stem = (file: string) => file.replace(/\.json$/i, '');
const words = (s: string) => s.toLowerCase().split(/[^a-z0-9]+/).filter((w) => w.length > 2 && !['service', 'json'].includes(w));

export function rankContexts(files: string[], hints: ContextHints): RankedContext[] {
  const ranked = files.map((name): RankedContext => {
    const s = stem(name);
    if (hints.composition && s === hints.composition) return { name, score: 100, reason: `named after the composition ${hints.composition}` };
    if (hints.service && s === hints.service) return { name, score: 90, reason: `named after the service ${hints.service}` };
    if (hints.compositions?.includes(s)) return { name, score: 60, reason: `a composition using ${hints.template ?? 'it'}` };
    if (hints.services?.includes(s)) return { name, score: 50, reason: `${s} may render ${hints.template ?? 'it'}` };
    const mine = new Set(words(s));
    const shared = [...new Set([...(hints.template ? words(hints.template) : []), ...(hints.composition ? words(hints.composition) : []), ...(hints.service ? words(hints.service) : [])])].filter((w) => mine.has(w));
    if (shared.length) return { name, score: 10 + shared.length, reason: `shares "${shared.join('", "')}"` };
    return { name, score: 0, reason: '' };
  });
  return ranked.sort((a, b) => b.score - a.score || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Parses a context typed by the user: undefined when valid, else why not. */
export function contextJsonError(text: string): string | undefined {
  if (!text.trim()) return 'Type a JSON object, e.g. {"user_id": "u1"}';
  try {
    const v: unknown = JSON.parse(text);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'The context must be a JSON object ({...})';
    return undefined;
  } catch (e) {
    return `Not valid JSON: ${(e as Error).message}`;
  }
}

/** The top-level keys of a context, for a picker's detail line. */
export function describeContext(value: unknown, max = 80): string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  const keys = Object.keys(value as object);
  if (!keys.length) return 'empty';
  const s = keys.join(', ');
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

/** The required keys a context does not hold (a key set to null counts as missing, as the engine counts it). */
export function missingKeys(value: unknown, required: readonly string[] | undefined): string[] {
  if (!required?.length) return [];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [...required];
  const o = value as Record<string, unknown>;
  return required.filter((k) => !Object.prototype.hasOwnProperty.call(o, k) || o[k] === null || o[k] === undefined);
}

/** The picker's mark for a context that lacks something: `lacks: document, locale`. */
export function lacksLabel(missing: readonly string[]): string {
  return missing.length ? `lacks: ${missing.join(', ')}` : '';
}

/** Contexts that hold what is required first, each group in rank order. */
export function orderByFit<T extends { name: string }>(ranked: readonly T[], missingOf: (name: string) => readonly string[]): T[] {
  const fits = ranked.filter((r) => missingOf(r.name).length === 0);
  return [...fits, ...ranked.filter((r) => missingOf(r.name).length > 0)];
}

/**
 * Where the last context used is remembered: per prompt workspace and per composition (a run,
 * or a step's preview) or template (a preview), so that "Last used" is only ever offered again
 * for the same one. Undefined when the picker is for neither.
 */
export function lastContextKey(workspaceUri: string, hints: Pick<ContextHints, 'template' | 'composition'>): string | undefined {
  const ws = workspaceUri.replace(/\/+$/, '');
  if (hints.composition) return `${ws}#composition:${hints.composition}`;
  if (hints.template) return `${ws}#template:${hints.template}`;
  return undefined;
}

/** The remembered contexts with `key` set to `value`, most recent last, at most `max` of them. */
export function remember<V>(all: Readonly<Record<string, V>>, key: string, value: V, max = 200): Record<string, V> {
  const entries = Object.entries(all).filter(([k]) => k !== key);
  entries.push([key, value]);
  return Object.fromEntries(entries.slice(-max));
}
