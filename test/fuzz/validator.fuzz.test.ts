/**
 * A seeded fuzzer of the one validator. It mutates the examples' YAML files and templates in
 * memory (memoryFileSystem) and checks, for every case:
 * - the validator never throws;
 * - every diagnostic's range lies inside its document (LSP's line model), and so does every
 *   related location's;
 * - validating the same texts twice gives the same result: fresh (no cache), and with one
 *   ValidationCache reused across all cases, the texts given as open-editor overlays (as the
 *   language server does) or as changed files after `invalidate` (as on a file event).
 * A large composition_rules.yaml (past the incremental parser's threshold) is fuzzed as well.
 *
 * Scale: PM_FUZZ_SCALE (default 1: a few hundred cases, well under 20 s; `npm run fuzz` sets 20).
 * Reproduce: PM_FUZZ_SEED (default fixed) and the case number printed with a failure.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import type { PromptDiagnostic } from '../../core/model/diagnostics.js';
import { validateWorkspace, ValidationCache } from '../../core/validate/validateWorkspace.js';
import { memoryFileSystem } from '../../core/workspace/fileSystem.js';
import { INCREMENTAL_THRESHOLD } from '../../core/yaml/incrementalParse.js';
import { assertPrototypesIntact, assertRangeInside, snapshotPrototypes } from '../corpus/support.js';
import { EXAMPLES } from '../helpers/paths.js';
import { mutate, Random, type Kind } from './mutator.js';

const SCALE = Math.max(0.05, Number(process.env.PM_FUZZ_SCALE ?? 1) || 1);
const SEED = Number(process.env.PM_FUZZ_SEED ?? 20_261_128);
/** Small-workspace cases per unit of scale; every 20th case fuzzes the large file instead. */
const CASES = Math.round(Number(process.env.PM_FUZZ_CASES ?? 400 * SCALE));
/** A stop for a very loaded machine: the cases done so far still count (seeds make them reproducible). */
const TIME_BUDGET_MS = Number(process.env.PM_FUZZ_BUDGET_MS ?? 18_000 * SCALE);

/** The examples' prompt workspace as texts: relative path -> text. */
function exampleTexts(): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of ['service_mappings.yaml', 'composition_rules.yaml']) out.set(f, fs.readFileSync(path.join(EXAMPLES, f), 'utf8'));
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.hbs') || e.name.endsWith('.handlebars')) out.set(path.relative(EXAMPLES, p).split(path.sep).join('/'), fs.readFileSync(p, 'utf8'));
    }
  };
  walk(path.join(EXAMPLES, 'templates'));
  return out;
}

/** composition_rules.yaml grown past the incremental threshold: its compositions copied under new names. */
function largeRules(rules: string): string {
  const at = rules.indexOf('\ncompositions:\n');
  assert.ok(at > 0, 'the examples have a compositions: block');
  const block = rules.slice(at + '\ncompositions:\n'.length);
  const parts = [rules.trimEnd(), '\n'];
  for (let k = 1; parts.join('').length < INCREMENTAL_THRESHOLD * 1.5; k++) parts.push(block.replace(/^ {2}([A-Za-z][\w.-]*):/gm, `  $1_${k}:`).trimEnd() + '\n');
  return parts.join('');
}

function toFiles(root: string, texts: Map<string, string>): Map<string, string> {
  return new Map([...texts].map(([rel, text]) => [path.join(root, ...rel.split('/')), text]));
}

function summary(diagnostics: readonly PromptDiagnostic[]): string {
  return diagnostics.map((d) => `${path.basename(d.file)}:${d.range.start.line}:${d.range.start.character}-${d.range.end.line}:${d.range.end.character} ${d.code} ${d.message}`).join('\n');
}

/** How often each code came up: a fuzzer that only ever finds yaml-syntax explores little. */
const codes = new Map<string, number>();

interface Workspace {
  root: string;
  base: Map<string, string>;
  cache: ValidationCache;
}

function failureReport(seed: number, label: string, texts: Map<string, string>, error: unknown): Error {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-fuzz-failure-'));
  for (const [rel, text] of texts) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  const why = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return new Error(`fuzz case ${label} (seed ${seed}) failed; its texts are in ${dir}\n${why}`);
}

/** One case: mutate a file or two of `ws`, then check the three properties. */
function runCase(ws: Workspace, seed: number, label: string, mode: 'overlay' | 'invalidate'): void {
  const r = new Random(seed);
  const texts = new Map(ws.base);
  const names = [...texts.keys()];
  const donors = [...texts.values()];
  const count = r.chance(0.8) ? 1 : 2;
  const changed: string[] = [];
  for (let i = 0; i < count; i++) {
    // Mostly the YAML files: that is where most of the validator is.
    const rel = r.chance(0.7) ? r.pick(names.filter((n) => n.endsWith('.yaml'))) : r.pick(names);
    const kind: Kind = rel.endsWith('.yaml') ? 'yaml' : 'hbs';
    texts.set(rel, mutate(r, texts.get(rel)!, kind, donors));
    changed.push(rel);
  }
  try {
    const files = toFiles(ws.root, texts);
    const fresh = validateWorkspace(ws.root, { fs: memoryFileSystem(files) });
    for (const d of fresh.diagnostics) codes.set(d.code, (codes.get(d.code) ?? 0) + 1);

    // Every range inside its document; related locations too.
    for (const d of fresh.diagnostics) {
      const text = files.get(d.file);
      assert.ok(text !== undefined, `a diagnostic on a file that is not in the workspace: ${d.file}`);
      assertRangeInside(d, text, label);
      for (const rel of d.related ?? []) {
        const t = files.get(rel.file);
        if (t !== undefined) assertRangeInside({ range: rel.range, code: `${d.code} (related)`, message: rel.message }, t, label);
      }
    }

    // The same texts through a cache that has seen every earlier case of this workspace.
    let cached;
    if (mode === 'overlay') {
      const overlays = new Map(changed.map((rel) => [path.join(ws.root, ...rel.split('/')), texts.get(rel)!]));
      cached = validateWorkspace(ws.root, { fs: memoryFileSystem(toFiles(ws.root, ws.base)), overlays, cache: ws.cache });
    } else {
      for (const rel of changed) ws.cache.invalidate(path.join(ws.root, ...rel.split('/')));
      cached = validateWorkspace(ws.root, { fs: memoryFileSystem(files), cache: ws.cache });
      // The cache must now forget these texts again for the next case, which starts from the base.
      for (const rel of changed) ws.cache.invalidate(path.join(ws.root, ...rel.split('/')));
    }
    assert.equal(summary(cached.diagnostics), summary(fresh.diagnostics), `fresh and cached (${mode}) validations differ`);
    assert.equal(cached.errorCount, fresh.errorCount);
    assert.deepEqual([...cached.templates.keys()].sort(), [...fresh.templates.keys()].sort());
  } catch (e) {
    throw failureReport(seed, label, texts, e);
  }
}

test(`fuzz: the validator on mutated examples (scale ${SCALE}, seed ${SEED})`, (t) => {
  const protos = snapshotPrototypes();
  const texts = exampleTexts();
  const small: Workspace = { root: path.resolve('/fuzz/small'), base: texts, cache: new ValidationCache() };
  const bigTexts = new Map(texts);
  bigTexts.set('composition_rules.yaml', largeRules(texts.get('composition_rules.yaml')!));
  const big: Workspace = { root: path.resolve('/fuzz/large'), base: bigTexts, cache: new ValidationCache() };

  // The unmutated workspaces validate clean, fresh and cached (the baseline the mutations start from).
  for (const ws of [small, big]) {
    const v = validateWorkspace(ws.root, { fs: memoryFileSystem(toFiles(ws.root, ws.base)), cache: ws.cache });
    assert.equal(v.errorCount, 0, summary(v.diagnostics));
  }

  const t0 = performance.now();
  let done = 0;
  let large = 0;
  for (let i = 0; i < CASES; i++) {
    if (performance.now() - t0 > TIME_BUDGET_MS) {
      t.diagnostic(`time budget of ${TIME_BUDGET_MS} ms reached after ${done} cases (of ${CASES})`);
      break;
    }
    const seed = (SEED + i * 7919) >>> 0;
    const useLarge = i % 20 === 19;
    runCase(useLarge ? big : small, seed, `#${i}${useLarge ? ' (large file)' : ''}`, i % 2 ? 'overlay' : 'invalidate');
    done++;
    if (useLarge) large++;
  }
  t.diagnostic(`${done} cases (${large} on the large file) in ${(performance.now() - t0).toFixed(0)} ms`);
  t.diagnostic(`diagnostics by code: ${[...codes].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ')}`);
  assert.ok(done >= Math.min(CASES, 50), `only ${done} cases ran`);
  assertPrototypesIntact(protos, 'after fuzzing');
});
