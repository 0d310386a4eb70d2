// Validator benchmark (issue: foundation). Generates 2,000 compositions x 10 steps (~2.2 MB
// composition_rules.yaml), 500 services and 500 templates, then measures: a full validation
// from cold (new cache, as the CLI does), and re-validation after a one-line edit in one
// composition through a warm ValidationCache with the edited text as an overlay (as the
// language server does). Prints the figures and peak memory. Not a test: numbers go to
// bench/RESULTS.md.
import * as esbuild from 'esbuild';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import os from 'node:os';
import { generateWorkspace } from './generate.mjs';

const out = resolve('bench/.generated/validator.cjs');
await esbuild.build({ entryPoints: ['core/validate/validateWorkspace.ts'], bundle: true, platform: 'node', format: 'cjs', outfile: out, logLevel: 'warning' });
const { validateWorkspace, ValidationCache } = createRequire(import.meta.url)(out);

const dir = resolve('bench/.generated/large');
generateWorkspace(dir);
const rulesFile = join(dir, 'composition_rules.yaml');
const rules = readFileSync(rulesFile, 'utf8');
let peak = 0;
const sample = () => (peak = Math.max(peak, process.memoryUsage().rss));
const timer = setInterval(sample, 5);

function time(fn) {
  const t = performance.now();
  const r = fn();
  return [performance.now() - t, r];
}

const runs = Number(process.env.RUNS ?? 3);
const cold = [];
for (let i = 0; i < runs; i++) {
  const [ms, r] = time(() => validateWorkspace(dir));
  cold.push(ms);
  if (i === 0) console.log(`diagnostics: ${r.errorCount} errors, ${r.warningCount} warnings, ${r.diagnostics.length} total`);
}

const cache = new ValidationCache();
const [warmFirst] = time(() => validateWorkspace(dir, { cache }));
const edits = [];
for (let i = 0; i < 20; i++) {
  // A one-line edit in one composition: its description changes, length changes too.
  const k = 100 + i * 90;
  const edited = rules.replace(`  comp_${k}:\n    description: Generated composition number ${k}`, `  comp_${k}:\n    description: Edited composition number ${k} (${'x'.repeat(i)})`);
  const [ms] = time(() => validateWorkspace(dir, { cache, overlays: new Map([[rulesFile, edited]]) }));
  edits.push(ms);
}
clearInterval(timer);
sample();
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(`machine: ${os.cpus()[0]?.model} x${os.cpus().length}, node ${process.version}, ${new Date().toISOString()}`);
console.log(`composition_rules.yaml: ${(rules.length / 1e6).toFixed(2)} MB`);
console.log(`full validation (cold, median of ${runs}): ${med(cold).toFixed(0)} ms  [${cold.map((x) => x.toFixed(0)).join(', ')}]  goal <= 1500 ms`);
console.log(`first validation with a cache: ${warmFirst.toFixed(0)} ms`);
console.log(`re-validation after a one-line edit (median of ${edits.length}): ${med(edits).toFixed(1)} ms  (max ${Math.max(...edits).toFixed(1)})  goal <= 30 ms`);
console.log(`peak RSS: ${(peak / 1e6).toFixed(0)} MB`);
