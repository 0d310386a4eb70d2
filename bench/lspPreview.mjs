// Keystroke-then-preview benchmark (the server validates each workspace once, for diagnostics and previews alike).
// Drives the bundled server (dist/server.js, or SERVER=path/to/server.js to compare another
// build) over stdio on the validator benchmark's generated workspace (~2.2 MB
// composition_rules.yaml): after the first diagnostics and a first preview (which creates the
// workspace's engine), CYCLES times: a one-line edit of the big file, its diagnostics, then a
// `promptManager/render` of a template, as the preview panel sends after each change. Prints
// the render's latency (edit to render answer, and the render request alone) and the server's
// CPU time per cycle (user + system, from /proc, less disturbed by other load than wall time)
// and its memory after the cycles.
// Not a test: the figures go to bench/RESULTS.md. `CYCLES=` changes the sample count.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import os from 'node:os';
import { createRequire } from 'node:module';
import { COMPOSITION_RULES_FILE } from './configFiles.mjs';
import { generateWorkspace } from './generate.mjs';
import { cpuMs, percentile as pct, sleep } from './stats.mjs';

const require = createRequire(import.meta.url);
const rpc = require('vscode-languageserver-protocol/node');

const CYCLES = Number(process.env.CYCLES ?? 20);
const server = resolve(process.env.SERVER ?? 'dist/server.js');
const dir = resolve('bench/.generated/preview');
generateWorkspace(dir);
const rulesFile = join(dir, COMPOSITION_RULES_FILE);
const rules = readFileSync(rulesFile, 'utf8');
const rulesUri = pathToFileURL(rulesFile).href;

const child = spawn(process.execPath, [server, '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
let stderr = '';
child.stderr.on('data', (d) => (stderr += d));
const conn = rpc.createProtocolConnection(new rpc.StreamMessageReader(child.stdout), new rpc.StreamMessageWriter(child.stdin));
const waiters = [];
conn.onNotification('textDocument/publishDiagnostics', (p) => {
  if (p.uri !== rulesUri) return;
  for (const w of [...waiters]) if (w.check(p)) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
});
conn.onNotification(() => undefined);
conn.onRequest('workspace/configuration', (p) => p.items.map(() => ({})));
conn.onRequest(() => null);
conn.listen();
const waitDiag = (check) =>
  new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error(`no diagnostics within 60 s\n${stderr}`)), 60_000);
    waiters.push({ check, resolve: () => (clearTimeout(t), res()) });
  });

await conn.sendRequest('initialize', {
  processId: process.pid,
  rootUri: pathToFileURL(dir).href,
  workspaceFolders: [{ uri: pathToFileURL(dir).href, name: 'preview' }],
  capabilities: { workspace: { configuration: true, workspaceFolders: true }, textDocument: { publishDiagnostics: { versionSupport: true } } },
});
await conn.sendNotification('initialized', {});
const first = waitDiag(() => true);
await conn.sendNotification('textDocument/didOpen', { textDocument: { uri: rulesUri, languageId: 'yaml', version: 1, text: rules } });
await first;

const render = async () => {
  const r = await conn.sendRequest('promptManager/render', { template: 'gen/t7', context: { document: 'A report', items: ['a', 'b'] } });
  if (!r.ok) throw new Error(`render failed: ${JSON.stringify(r.error)}`);
  return r;
};
let s = performance.now();
await render();
const firstPreview = performance.now() - s;

let text = rules;
const editToPreview = [];
const renderOnly = [];
const cpuStart = cpuMs(child.pid);
for (let i = 0; i < CYCLES; i++) {
  const k = 100 + i * 90;
  const needle = `  comp_${k}:\n    description: `;
  const at = text.indexOf(needle) + needle.length;
  const line = text.slice(0, at).split('\n').length - 1;
  const lineEnd = text.indexOf('\n', at);
  const oldLine = text.slice(at, lineEnd);
  const newLine = `Edited composition number ${k} (${'x'.repeat(i)})`;
  text = text.slice(0, at) + newLine + text.slice(lineEnd);
  const version = i + 2;
  const got = waitDiag((p) => p.version === undefined || p.version === null || p.version >= version);
  s = performance.now();
  await conn.sendNotification('textDocument/didChange', {
    textDocument: { uri: rulesUri, version },
    contentChanges: [{ range: { start: { line, character: 4 + 'description: '.length }, end: { line, character: 4 + 'description: '.length + oldLine.length } }, text: newLine }],
  });
  await got;
  const r0 = performance.now();
  await render();
  const end = performance.now();
  editToPreview.push(end - s);
  renderOnly.push(end - r0);
  await sleep(30);
}
const cpuPerCycle = (cpuMs(child.pid) - cpuStart) / CYCLES;
const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
const kb = (key) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) * 1024;
const rss = { now: kb('VmRSS'), peak: kb('VmHWM') };

try {
  await Promise.race([conn.sendRequest('shutdown'), sleep(3000)]);
  await conn.sendNotification('exit');
} catch {}
await Promise.race([new Promise((r) => child.once('exit', r)), sleep(3000)]);
if (child.exitCode === null) child.kill();
conn.dispose();

const f = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
console.log(`machine: ${os.cpus()[0]?.model} x${os.cpus().length}, node ${process.version}, ${new Date().toISOString()}`);
console.log(`server: ${server}`);
console.log(`load average at the end: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log(`first preview (creates the engine): ${f(firstPreview)} ms`);
console.log(`edit -> diagnostics -> preview, ${CYCLES} cycles: median ${f(pct(editToPreview, 50))} ms, p95 ${f(pct(editToPreview, 95))} ms`);
console.log(`the preview request alone: median ${f(pct(renderOnly, 50))} ms, p95 ${f(pct(renderOnly, 95))} ms`);
console.log(`server CPU per cycle: ${f(cpuPerCycle)} ms`);
console.log(`server RSS after the cycles: ${(rss.now / 1e6).toFixed(0)} MB (peak ${(rss.peak / 1e6).toFixed(0)} MB)`);
