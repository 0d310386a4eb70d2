/**
 * One assertion of a prompt test against what its target produced: the kinds' rules, their
 * labels and their failure messages (which say what came, where it differs, and what to do).
 * Snapshots are compared through a callback (snapshots.ts keeps the golden files); JSON Schemas
 * are compiled by ajv, loaded on first use so that a run without `json_schema` never loads its
 * compiler.
 */
import type AjvClass from 'ajv';
import type { AssertionDef, PromptTestDef } from '../model/testTypes.js';
import { cutText } from '../workflow/redact.js';
import { FileReadError } from '../workspace/fileRead.js';
import { UnsafePathError } from '../workspace/safeWrite.js';
import type { AssertionResult, SnapshotResult } from './types.js';

/** What an assertion reads of its target. */
export interface TargetView {
  /** The target in words, for messages: "the rendered text", "the output", "step 'draft''s prompt". */
  what: string;
  /** The text assertions read; undefined when there is none (`noText` says why). */
  text?: string;
  /** The raw value (a step output that is not a string), for `equals`. */
  value?: unknown;
  noText?: string;
  /** How it ended: a step's, run's or render's status; undefined when it never ran (`noText`). */
  status?: string;
  /** The error it failed with. */
  error?: { code: string; message: string };
  attempts?: number;
}

/** Compares a text with its golden file (and writes one when the mode says so). */
export type SnapshotCheck = (text: string) => { result: SnapshotResult; expected?: string; shown: string };

/** Texts quoted in messages and kept for diffs are cut here. */
const MAX_SHOWN = 200;
const MAX_DIFF_TEXT = 100_000;

/**
 * The estimated token count: one token per 4 ASCII characters (rounded up), plus one per
 * other character (a code point). BPE tokenizers give English prose about 4 characters per
 * token and code a little less; non-Latin scripts take about a token per character or more.
 * It errs high for prose, as a bound should, and is the same on every machine and model.
 */
export function estimateTokens(text: string): number {
  let ascii = 0;
  let other = 0;
  for (const ch of text) {
    if (ch.charCodeAt(0) < 128) ascii++;
    else other++;
  }
  return Math.ceil(ascii / 4) + other;
}

/** Characters as people count them: Unicode code points, not UTF-16 units. */
export function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** The JSON in a model's answer: the whole text, trimmed, or the inside of one ```json fence around it. */
export function extractJson(text: string): { value: unknown } | { error: string } {
  let t = text.trim();
  const fence = /^```[A-Za-z0-9_-]*\r?\n([\s\S]*?)\r?\n?```$/.exec(t);
  if (fence) t = fence[1]!.trim();
  try {
    return { value: JSON.parse(t) as unknown };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

const quote = (s: string) => JSON.stringify(cutText(s, MAX_SHOWN));
const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : [String(v)]);

/** The target of an assertion in words, as labels name it: `output`, `steps.draft.prompt`. */
export function targetName(t: PromptTestDef, a: AssertionDef): string {
  if (a.step) return `steps.${a.step.name}.${a.kind === 'status' || a.kind === 'error' || a.kind === 'attempts' ? a.kind : a.of}`;
  if (t.template && !t.composition) return a.kind === 'status' || a.kind === 'error' ? 'render' : 'rendered text';
  return a.kind === 'status' || a.kind === 'error' ? 'run' : 'output';
}

/** What an assertion checks, in words (its `description` when it has one). */
export function assertionLabel(t: PromptTestDef, a: AssertionDef, snapshotFile?: string): string {
  if (a.description) return a.description;
  const target = targetName(t, a);
  const ic = a.ignoreCase ? ' (ignoring case)' : '';
  switch (a.kind) {
    case 'equals':
      return `${target} equals ${typeof a.value === 'string' ? quote(a.value) : JSON.stringify(a.value)}${ic}`;
    case 'contains':
      return `${target} contains ${list(a.value).map(quote).join(', ')}${ic}`;
    case 'not_contains':
      return `${target} does not contain ${list(a.value).map(quote).join(', ')}${ic}`;
    case 'regex':
      return `${target} matches /${String(a.value)}/${a.flags ?? ''}${a.ignoreCase && !(a.flags ?? '').includes('i') ? 'i' : ''}`;
    case 'json_schema':
      return `${target} is JSON matching the schema`;
    case 'max_length':
      return `${target} has at most ${String(a.value)} characters`;
    case 'max_tokens':
      return `${target} has at most ${String(a.value)} estimated tokens`;
    case 'status':
      return `${target} is ${String(a.value)}`;
    case 'error':
      return `${target} failed with ${String(a.value)}`;
    case 'attempts':
      return `${target} is ${String(a.value)}`;
    case 'snapshot':
      return `${target} matches snapshot ${snapshotFile ?? ''}`.trimEnd();
    default:
      return `${target}: an assertion with nothing to check`;
  }
}

/** Where two texts first differ, for a message: `line 3, column 14`. */
function firstDifference(a: string, b: string): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const before = a.slice(0, i);
  const line = before.split('\n').length;
  return `line ${line}, column ${i - before.lastIndexOf('\n')}`;
}

/** The line (1-based) of an offset, for "found at line 4". */
function lineOf(text: string, at: number): number {
  return text.slice(0, at).split('\n').length;
}

type Outcome = Pick<AssertionResult, 'passed' | 'message' | 'expected' | 'actual' | 'snapshot'>;

const ajvCache = new Map<string, (data: unknown) => { ok: boolean; errors: string }>();

async function compileSchema(schema: unknown): Promise<(data: unknown) => { ok: boolean; errors: string }> {
  const key = JSON.stringify(schema);
  let v = ajvCache.get(key);
  if (v) return v;
  // Bundled, the module's default is the class; typed from its CommonJS declarations, one level down.
  const mod = (await import('ajv')) as unknown as { default: typeof AjvClass | { default: typeof AjvClass } };
  const Ajv = typeof mod.default === 'function' ? mod.default : mod.default.default;
  // `format` is not checked (ajv's formats are a package of their own): documented.
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
  const validate = ajv.compile(schema as object);
  v = (data) => {
    const ok = validate(data) as boolean;
    const errors = ok ? '' : (validate.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || '(the value)'} ${e.message ?? e.keyword}`).join('; ') + ((validate.errors?.length ?? 0) > 5 ? `; and ${validate.errors!.length - 5} more` : '');
    return { ok, errors };
  };
  if (ajvCache.size > 500) ajvCache.clear();
  ajvCache.set(key, v);
  return v;
}

/** Checks one assertion against its target's view. */
export async function checkAssertion(a: AssertionDef, view: TargetView, snapshot: SnapshotCheck): Promise<Outcome> {
  const fail = (message: string, more: Partial<Outcome> = {}): Outcome => ({ passed: false, message, ...more });
  const pass: Outcome = { passed: true };
  const kind = a.kind;
  if (kind === 'status' || kind === 'error' || kind === 'attempts') {
    if (view.status === undefined) return fail(`${view.what} did not run${view.noText ? `: ${view.noText}` : ''}`);
    const err = view.error ? ` ([${view.error.code}] ${cutText(view.error.message, MAX_SHOWN)})` : '';
    if (kind === 'status') return view.status === a.value ? pass : fail(`${view.what} ended '${view.status}'${err}, expected '${String(a.value)}'`, { expected: String(a.value), actual: view.status });
    if (kind === 'error') {
      if (!view.error) return fail(`${view.what} ended '${view.status}' without an error, expected it to fail with '${String(a.value)}'`);
      return view.error.code === a.value ? pass : fail(`${view.what} failed with '${view.error.code}' (${cutText(view.error.message, MAX_SHOWN)}), expected '${String(a.value)}'`, { expected: String(a.value), actual: view.error.code });
    }
    return view.attempts === a.value ? pass : fail(`${view.what} made ${view.attempts ?? 0} attempt${view.attempts === 1 ? '' : 's'}, expected ${String(a.value)}${err}`, { expected: String(a.value), actual: String(view.attempts ?? 0) });
  }
  if (view.text === undefined) return fail(`${view.what} has no text${view.noText ? `: ${view.noText}` : ''}`);
  const text = view.text;
  const actual = cutText(text, MAX_DIFF_TEXT);
  const fold = (s: string) => (a.ignoreCase ? s.toLowerCase() : s);
  switch (kind) {
    case 'equals': {
      if (typeof a.value !== 'string' && view.value !== undefined && typeof view.value !== 'string') {
        const same = JSON.stringify(view.value) === JSON.stringify(a.value);
        return same ? pass : fail(`${view.what} is not the expected value`, { expected: JSON.stringify(a.value, null, 2), actual });
      }
      const expected = typeof a.value === 'string' ? a.value : JSON.stringify(a.value);
      if (fold(text) === fold(expected)) return pass;
      return fail(`${view.what} differs from the expected text at ${firstDifference(fold(expected), fold(text))}`, { expected, actual });
    }
    case 'contains': {
      const missing = list(a.value).filter((s) => !fold(text).includes(fold(s)));
      if (!missing.length) return pass;
      return fail(`${view.what} does not contain ${missing.map(quote).join(', ')} (it is ${codePoints(text)} characters long and begins ${quote(text.slice(0, 80))})`, { actual });
    }
    case 'not_contains': {
      const found = list(a.value)
        .map((s) => ({ s, at: fold(text).indexOf(fold(s)) }))
        .filter((f) => f.at >= 0);
      if (!found.length) return pass;
      return fail(`${view.what} contains ${found.map((f) => `${quote(f.s)} (line ${lineOf(text, f.at)})`).join(', ')}`, { actual });
    }
    case 'regex': {
      let re: RegExp;
      try {
        const flags = (a.flags ?? '') + (a.ignoreCase && !(a.flags ?? '').includes('i') ? 'i' : '');
        re = new RegExp(String(a.value), flags);
      } catch (e) {
        return fail(`the regular expression does not compile: ${(e as Error).message}`);
      }
      return re.test(text) ? pass : fail(`${view.what} does not match ${String(re)} (it begins ${quote(text.slice(0, 80))})`, { actual });
    }
    case 'json_schema': {
      const parsed = extractJson(text);
      if ('error' in parsed) return fail(`${view.what} is not JSON: ${parsed.error} (it begins ${quote(text.slice(0, 80))})`, { actual });
      let validate: Awaited<ReturnType<typeof compileSchema>>;
      try {
        validate = await compileSchema(a.value === true ? {} : a.value);
      } catch (e) {
        return fail(`the JSON schema does not compile: ${(e as Error).message}`);
      }
      const r = validate(parsed.value);
      return r.ok ? pass : fail(`${view.what} does not match the JSON schema: ${r.errors}`, { actual });
    }
    case 'max_length': {
      const n = codePoints(text);
      return n <= Number(a.value) ? pass : fail(`${view.what} has ${n} characters, more than ${String(a.value)}`);
    }
    case 'max_tokens': {
      const n = estimateTokens(text);
      return n <= Number(a.value) ? pass : fail(`${view.what} has about ${n} tokens (estimated), more than ${String(a.value)}`);
    }
    case 'snapshot': {
      let checked: ReturnType<SnapshotCheck>;
      try {
        checked = snapshot(text);
      } catch (e) {
        // The golden file or its folder is a link, a FIFO, too large...: the message names it and says what to do.
        if (e instanceof UnsafePathError || e instanceof FileReadError) return fail(`the snapshot cannot be used: ${e.message}`, { actual });
        throw e;
      }
      const { result, expected, shown: rel } = checked;
      switch (result.status) {
        case 'matched':
        case 'written':
        case 'updated':
          return { passed: true, snapshot: result };
        case 'missing':
          return fail(`there is no snapshot ${rel} yet, and it is not written in CI (the CI environment variable is set): run 'promptmanager test --update-snapshots' where you can review it, and commit it`, { snapshot: result, actual });
        case 'mismatch':
          return fail(`${view.what} differs from its snapshot ${rel} at ${firstDifference(expected ?? '', text.replace(/\r\n/g, '\n'))}: if the change is intended, run 'promptmanager test --update-snapshots' and commit the file`, {
            snapshot: result,
            ...(expected !== undefined ? { expected: cutText(expected, MAX_DIFF_TEXT) } : {}),
            actual,
          });
      }
      return fail('unknown snapshot status');
    }
    default:
      return fail('this assertion checks nothing');
  }
}
