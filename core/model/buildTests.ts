/**
 * Builds the model of a prompt test file from its source tree (testTypes.ts). Lenient like
 * build.ts: what the schema rejects is left out, so the model is usable while a file is half
 * written; the checks that need the workspace (names, steps, files) are the validator's.
 */
import type { LineIndex } from '../text/lineIndex.js';
import { deref, getValue, isMap, isScalar, isSeq, keyName, type SMap, type SNode, type SScalar } from '../yaml/sourceTree.js';
import { bool, nameRef, num, plain, str } from './build.js';
import { ASSERTION_KINDS, type AssertionDef, type AssertionKind, type MockAnswerDef, type MockDef, type PromptTestDef, type PromptTestFileModel } from './testTypes.js';

const KIND_SET: ReadonlySet<string> = new Set(ASSERTION_KINDS);

function mockAnswer(n: SNode | null): MockAnswerDef | undefined {
  const d = deref(n);
  if (isScalar(d)) return d.value === null ? undefined : { kind: 'reply', output: typeof d.value === 'string' ? d.value : String(d.value) };
  if (!isMap(d)) return undefined;
  const delay = num(getValue(d, 'delay_ms'));
  const timing = delay !== undefined ? { delayMs: delay } : {};
  const message = str(getValue(d, 'message'));
  const msg = message !== undefined ? { message } : {};
  if (d.items.some((p) => keyName(p) === 'reply')) return { kind: 'reply', output: plain(getValue(d, 'reply')), ...timing };
  const status = num(getValue(d, 'status'));
  if (status !== undefined) {
    const ra = num(getValue(d, 'retry_after'));
    return { kind: 'status', status, ...(ra !== undefined ? { retryAfterSeconds: ra } : {}), ...msg, ...timing };
  }
  const code = str(getValue(d, 'error'));
  if (code !== undefined) {
    const retryable = bool(getValue(d, 'retryable'));
    return { kind: 'error', code, ...msg, ...(retryable !== undefined ? { retryable } : {}), ...timing };
  }
  if (bool(getValue(d, 'down')) === true) return { kind: 'down', ...timing };
  if (bool(getValue(d, 'hang')) === true) return { kind: 'hang' };
  const malformed = deref(getValue(d, 'malformed'));
  if (isScalar(malformed) && (malformed.value === true || typeof malformed.value === 'string')) {
    return { kind: 'malformed', ...(typeof malformed.value === 'string' ? { body: malformed.value } : {}), ...timing };
  }
  return undefined;
}

function mocks(n: SNode | null): MockDef[] {
  const d = deref(n);
  if (!isMap(d)) return [];
  const out: MockDef[] = [];
  for (const p of d.items) {
    const step = nameRef(p.key);
    if (!step) continue;
    const v = deref(p.value);
    const answers = (isSeq(v) ? v.items : [v]).map(mockAnswer).filter((a): a is MockAnswerDef => !!a);
    out.push({ step, answers, pair: p });
  }
  return out;
}

function assertion(n: SNode | null, index: number): AssertionDef | undefined {
  const d = deref(n);
  if (!isMap(d) || !n) return undefined;
  const kinds: AssertionKind[] = [];
  let kind: AssertionKind | undefined;
  let valueNode: SNode | undefined;
  for (const p of d.items) {
    const k = keyName(p);
    if (k === undefined || !KIND_SET.has(k)) continue;
    kinds.push(k as AssertionKind);
    if (!kind) {
      kind = k as AssertionKind;
      valueNode = p.value ?? p.key;
    }
  }
  const ofNode = getValue(d, 'of') ?? undefined;
  const of = str(ofNode ?? null) === 'prompt' ? 'prompt' : 'output';
  const a: AssertionDef = { index, kinds, value: kind ? plain(getValue(d, kind)) : undefined, of, ignoreCase: bool(getValue(d, 'ignore_case')) === true, node: n };
  if (kind) a.kind = kind;
  if (valueNode) a.valueNode = valueNode;
  if (ofNode) a.ofNode = ofNode;
  const step = nameRef(getValue(d, 'step'));
  if (step) a.step = step;
  const description = str(getValue(d, 'description'));
  if (description !== undefined) a.description = description;
  const flags = str(getValue(d, 'flags'));
  if (flags !== undefined) a.flags = flags;
  return a;
}

export function buildPromptTest(file: string, name: string, nameNode: SNode, d: SMap): PromptTestDef {
  const t: PromptTestDef = { name, nameNode, node: d, file, mocks: mocks(getValue(d, 'mocks')), live: bool(getValue(d, 'live')) === true, expect: [] };
  const description = str(getValue(d, 'description'));
  if (description !== undefined) t.description = description;
  const template = nameRef(getValue(d, 'template'));
  if (template) t.template = template;
  const composition = nameRef(getValue(d, 'composition'));
  if (composition) t.composition = composition;
  const service = nameRef(getValue(d, 'service'));
  if (service) t.service = service;
  const cf = deref(getValue(d, 'context_file'));
  if (isScalar(cf) && typeof cf.value === 'string' && cf.value) t.contextFile = { value: cf.value, node: cf as SScalar };
  const ctx = deref(getValue(d, 'context'));
  if (isMap(ctx)) {
    t.context = plain(ctx) as Record<string, unknown>;
    t.contextNode = ctx;
  }
  const repeat = num(getValue(d, 'repeat'));
  if (repeat !== undefined && Number.isInteger(repeat) && repeat >= 1) t.repeat = repeat;
  const passRate = num(getValue(d, 'pass_rate'));
  if (passRate !== undefined && passRate >= 0 && passRate <= 1) t.passRate = passRate;
  const timeout = num(getValue(d, 'timeout_ms'));
  if (timeout !== undefined && Number.isInteger(timeout) && timeout >= 1) t.timeoutMs = timeout;
  const expect = deref(getValue(d, 'expect'));
  if (isSeq(expect)) {
    expect.items.forEach((item, i) => {
      const a = assertion(item, i);
      if (a) t.expect.push(a);
    });
  }
  return t;
}

export function buildPromptTests(file: string, root: SNode | null, lines: LineIndex): PromptTestFileModel {
  const model: PromptTestFileModel = { kind: 'prompt_tests', file, lines, tests: [] };
  const r = deref(root);
  if (!isMap(r)) return model;
  const description = str(getValue(r, 'description'));
  if (description !== undefined) model.description = description;
  const tests = deref(getValue(r, 'tests'));
  if (!isMap(tests)) return model;
  const seen = new Set<string>();
  for (const p of tests.items) {
    const name = keyName(p);
    const d = deref(p.value);
    // A repeated name is the schema's duplicate-key error; the first one stands.
    if (name === undefined || seen.has(name) || !isMap(d)) continue;
    seen.add(name);
    model.tests.push(buildPromptTest(file, name, p.key, d));
  }
  return model;
}
