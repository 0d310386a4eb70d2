// Validator benchmark (issue: foundation). Generates 2,000 compositions x 10 steps (~2.2 MB
// composition_rules.yaml), 500 services and 500 templates, then measures: a full validation
// from cold (new cache, as the CLI does), and re-validation after a one-line edit in one
// composition through a warm ValidationCache with the edited text as an overlay (as the
// language server does). Prints the figures and peak memory. Not a test: numbers go to
// bench/RESULTS.md.
import * as esbuild from 'esbuild';
import { precompiledSchemas } from '../build/precompiledSchemas.mjs';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import os from 'node:os';
import { generateWorkspace } from './generate.mjs';
import { COMPOSITION_RULES_FILE } from './configFiles.mjs';

const out = resolve('bench/.generated/validator.cjs');
await esbuild.build({ plugins: [precompiledSchemas], entryPoints: ['core/validate/validateWorkspace.ts'], bundle: true, platform: 'node', format: 'cjs', outfile: out, logLevel: 'warning' });
const { validateWorkspace, ValidationCache } = createRequire(import.meta.url)(out);

const dir = resolve('bench/.generated/large');
generateWorkspace(dir);
const rulesFile = join(dir, COMPOSITION_RULES_FILE);
const rules = readFileSync(rulesFile, 'utf8');
let peak = 0;
const sample = () => (peak = Math.max(peak, process.memoryUsage().rss));
const timer = setInterval(sample, 5);

// CPU time of this process (user + system): on a shared, loaded machine wall time mostly
// measures the other processes; both are printed.
const cpuTimes = [];
function time(fn) {
  const c = process.cpuUsage();
  const t = performance.now();
  const r = fn();
  const d = process.cpuUsage(c);
  cpuTimes.push((d.user + d.system) / 1000);
  return [performance.now() - t, r];
}
const cpuOf = (from, to) => cpuTimes.slice(from, to);

const runs = Number(process.env.RUNS ?? 3);
const cold = [];
for (let i = 0; i < runs; i++) {
  const [ms, r] = time(() => validateWorkspace(dir));
  cold.push(ms);
  if (i === 0) console.log(`diagnostics: ${r.errorCount} errors, ${r.warningCount} warnings, ${r.diagnostics.length} total`);
}

const cache = new ValidationCache();
const [warmFirst] = time(() => validateWorkspace(dir, { cache }));
const editFrom = cpuTimes.length;
// Typing: each version is the previous one plus one keystroke, as an editor sends them;
// one run of keystrokes in one composition, then single edits moving across compositions.
const edits = [];
let current = rules;
// The first keystrokes also warm up the JIT; the last 20 are the figures.
for (let i = 0; i < 40; i++) {
  const k = 1000;
  const at = current.indexOf(`  comp_${k}:\n    description: `) + `  comp_${k}:\n    description: `.length;
  current = current.slice(0, at) + 'x' + current.slice(at);
  const [ms] = time(() => validateWorkspace(dir, { cache, overlays: new Map([[rulesFile, current]]) }));
  edits.push(ms);
}
const typingCpu = cpuOf(editFrom + 20);
edits.splice(0, 20);
const jumps = [];
const jumpFrom = cpuTimes.length;
for (let i = 0; i < 20; i++) {
  const k = 100 + i * 90;
  const at = current.indexOf(`  comp_${k}:\n    description: `) + `  comp_${k}:\n    description: `.length;
  current = current.slice(0, at) + 'y' + current.slice(at);
  const [ms] = time(() => validateWorkspace(dir, { cache, overlays: new Map([[rulesFile, current]]) }));
  jumps.push(ms);
}
const jumpCpu = cpuOf(jumpFrom);
clearInterval(timer);
sample();
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(`machine: ${os.cpus()[0]?.model} x${os.cpus().length}, node ${process.version}, ${new Date().toISOString()}`);
console.log(`${COMPOSITION_RULES_FILE}: ${(rules.length / 1e6).toFixed(2)} MB`);
console.log(`load average: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log(`full validation (cold, median of ${runs}): wall ${med(cold).toFixed(0)} ms  [${cold.map((x) => x.toFixed(0)).join(', ')}], CPU ${med(cpuOf(0, runs)).toFixed(0)} ms  goal <= 1500 ms`);
console.log(`first validation with a cache: ${warmFirst.toFixed(0)} ms`);
console.log(`re-validation after a keystroke in one composition (median of ${edits.length}): wall ${med(edits).toFixed(1)} ms (max ${Math.max(...edits).toFixed(1)}), CPU ${med(typingCpu).toFixed(1)} ms  goal <= 30 ms`);
console.log(`re-validation after an edit in another composition each time (median of ${jumps.length}): wall ${med(jumps).toFixed(1)} ms, CPU ${med(jumpCpu).toFixed(1)} ms`);
console.log(`peak RSS: ${(peak / 1e6).toFixed(0)} MB`);
