/**
 * Shared checks of the bad-input corpus and the fuzzer: global prototypes untouched, every
 * diagnostic range inside its document (LSP's line model), and a hang guard for timings.
 */
import assert from 'node:assert/strict';
import type { PromptDiagnostic } from '../../core/model/diagnostics.js';

/**
 * Each corpus input must be answered within 2 s; on a loaded 2-core CI machine a test only
 * fails past this generous bound, as a hang guard. The measured times are printed.
 */
export const GOAL_MS = 2_000;
export const HANG_GUARD_MS = Number(process.env.PM_CORPUS_GUARD_MS ?? 15_000);
/**
 * A render that the work budget (`maxRenderWork`) stops must stop within the 2 s goal: the
 * budget stops it in well under a second on a loaded 2-core machine. PM_RENDER_STOP_MS raises
 * the bound on a slower one.
 */
export const RENDER_STOP_MS = Number(process.env.PM_RENDER_STOP_MS ?? GOAL_MS);

const PROTOTYPES: [string, object][] = [
  ['Object.prototype', Object.prototype],
  ['Array.prototype', Array.prototype],
  ['Function.prototype', Function.prototype],
  ['String.prototype', String.prototype],
  ['Number.prototype', Number.prototype],
  ['Boolean.prototype', Boolean.prototype],
  ['RegExp.prototype', RegExp.prototype],
  ['Error.prototype', Error.prototype],
  ['Promise.prototype', Promise.prototype],
  ['Map.prototype', Map.prototype],
  ['Set.prototype', Set.prototype],
];

export type PrototypeSnapshot = Map<string, Map<PropertyKey, unknown>>;

/** Every own property of the global prototypes, by identity of its value or accessors. */
export function snapshotPrototypes(): PrototypeSnapshot {
  const out: PrototypeSnapshot = new Map();
  for (const [name, proto] of PROTOTYPES) {
    const props = new Map<PropertyKey, unknown>();
    for (const key of Reflect.ownKeys(proto)) {
      const d = Object.getOwnPropertyDescriptor(proto, key)!;
      props.set(key, 'value' in d ? d.value : [d.get, d.set]);
    }
    props.set('[[Prototype]]', Object.getPrototypeOf(proto));
    out.set(name, props);
  }
  return out;
}

/** Fails when a global prototype gained, lost or changed a property since `before`. */
export function assertPrototypesIntact(before: PrototypeSnapshot, what: string): void {
  const after = snapshotPrototypes();
  for (const [name, props] of before) {
    const now = after.get(name)!;
    for (const [key, value] of props) {
      const v = now.get(key);
      const same = Array.isArray(value) && Array.isArray(v) ? value[0] === v[0] && value[1] === v[1] : value === v;
      assert.ok(same, `${what}: ${name}.${String(key)} changed`);
    }
    for (const key of now.keys()) assert.ok(props.has(key), `${what}: ${name}.${String(key)} was added`);
  }
  const probe = {} as Record<string, unknown>;
  for (const k of ['polluted', 'isAdmin', 'x']) assert.equal(probe[k], undefined, `${what}: ({}).${k} is defined`);
}

/** Lengths of the lines of a text in LSP's model (`\r\n`, `\r`, `\n` end a line), without their breaks. */
export function lineLengths(text: string): number[] {
  const out: number[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) {
      out.push(i - start);
      if (c === 13 && text.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
    }
  }
  out.push(text.length - start);
  return out;
}

/** Fails unless the range of `d` lies inside `text`, start before end, in LSP's line model. */
export function assertRangeInside(d: PromptDiagnostic | { range: PromptDiagnostic['range']; code?: string; message?: string }, text: string, what: string): void {
  const lines = lineLengths(text);
  const { start, end } = d.range;
  const label = `${what}: ${(d as { code?: string }).code ?? ''} ${JSON.stringify(d.range)} (${(d as { message?: string }).message?.slice(0, 80) ?? ''})`;
  for (const p of [start, end]) {
    assert.ok(Number.isInteger(p.line) && Number.isInteger(p.character) && p.line >= 0 && p.character >= 0, `${label}: not a position`);
    assert.ok(p.line < lines.length, `${label}: line ${p.line} past the last line ${lines.length - 1}`);
    assert.ok(p.character <= lines[p.line]!, `${label}: character ${p.character} past the end of line ${p.line} (length ${lines[p.line]})`);
  }
  assert.ok(start.line < end.line || (start.line === end.line && start.character <= end.character), `${label}: ends before it starts`);
}

/** Runs `fn`, returning its value (or what it threw) and the wall time it took. */
export async function timed<T>(fn: () => T | Promise<T>): Promise<{ value?: T; error?: unknown; ms: number }> {
  const t0 = performance.now();
  try {
    const value = await fn();
    return { value, ms: performance.now() - t0 };
  } catch (error) {
    return { error, ms: performance.now() - t0 };
  }
}

/** A line for the test log: measured times against the 2 s goal. */
export function timingReport(times: { name: string; ms: number }[]): string {
  const sorted = [...times].sort((a, b) => b.ms - a.ms);
  const over = sorted.filter((t) => t.ms > GOAL_MS);
  const top = sorted.slice(0, 5).map((t) => `${t.name} ${t.ms.toFixed(0)} ms`).join(', ');
  return `slowest: ${top}${over.length ? `; over the 2 s goal on this machine: ${over.map((t) => t.name).join(', ')}` : '; all within 2 s'}`;
}
