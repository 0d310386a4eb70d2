// A burst of edits against the language server (issue: hardening, "Load"): the validator's big
// generated workspace open, then BURST keystrokes (default 1,000) sent over SECONDS (default 10)
// as a fast typist's editor would, then single edits with pauses. Prints the edit-to-diagnostics
// latency after the burst against the 80 ms goal, the server's peak RSS, and checks that the
// last diagnostics are those of a fresh validation of the final text. Figures go to
// bench/RESULTS.md; exit 1 only when a check (not a goal) fails.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as rpc from 'vscode-languageserver-protocol/node';
import { generateWorkspace } from './generate.mjs';
import { COMPOSITION_RULES_FILE } from './configFiles.mjs';
import { sleep } from './stats.mjs';

const BURST = Number(process.env.BURST ?? 1000);
const SECONDS = Number(process.env.SECONDS ?? 10);
const AFTER = Number(process.env.AFTER ?? 20);
const dir = resolve('bench/.generated/large');
generateWorkspace(dir);
const rulesFile = join(dir, COMPOSITION_RULES_FILE);
const rulesUri = pathToFileURL(rulesFile).href;
let text = readFileSync(rulesFile, 'utf8');

const child = spawn(process.execPath, [...(process.env.SERVER_NODE_ARGS ? process.env.SERVER_NODE_ARGS.split(' ') : []), resolve('dist/server.js'), '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
const conn = rpc.createProtocolConnection(new rpc.StreamMessageReader(child.stdout), new rpc.StreamMessageWriter(child.stdin));
const waiters = [];
let last;
conn.onNotification('textDocument/publishDiagnostics', (p) => {
  if (p.uri !== rulesUri) return;
  last = p;
  for (const w of [...waiters]) if (w.check(p)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(performance.now()));
});
conn.onNotification(() => undefined);
conn.onRequest('workspace/configuration', (p) => p.items.map(() => ({})));
conn.onRequest(() => null);
conn.listen();
const waitVersion = (v, ms = 60000) =>
  new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error(`no diagnostics for version ${v} within ${ms} ms`)), ms);
    waiters.push({ check: (p) => p.version === undefined || p.version === null || p.version >= v, resolve: (x) => (clearTimeout(t), res(x)) });
  });

await conn.sendRequest('initialize', { processId: process.pid, rootUri: pathToFileURL(dir).href, workspaceFolders: [{ uri: pathToFileURL(dir).href, name: 'large' }], capabilities: { workspace: { configuration: true }, textDocument: { publishDiagnostics: { versionSupport: true } } } });
await conn.sendNotification('initialized', {});
let version = 1;
await conn.sendNotification('textDocument/didOpen', { textDocument: { uri: rulesUri, languageId: 'yaml', version, text } });
await waitVersion(1);

// One keystroke: a character typed into a composition's description (the line and column as
// an editor would send them), moving to another composition every 50 keystrokes.
function keystroke(i) {
  const k = 100 + (Math.floor(i / 50) % 19) * 100;
  const needle = `  comp_${k}:\n    description: `;
  const at = text.indexOf(needle) + needle.length;
  const line = text.slice(0, at).split('\n').length - 1;
  const ch = String.fromCharCode(97 + (i % 26));
  text = text.slice(0, at) + ch + text.slice(at);
  version++;
  return { textDocument: { uri: rulesUri, version }, contentChanges: [{ range: { start: { line, character: 17 }, end: { line, character: 17 } }, text: ch }] };
}

const t0 = performance.now();
for (let i = 0; i < BURST; i++) {
  await conn.sendNotification('textDocument/didChange', keystroke(i));
  const due = t0 + ((i + 1) * SECONDS * 1000) / BURST;
  const wait = due - performance.now();
  if (wait > 0) await sleep(wait);
}
const burstMs = performance.now() - t0;
const settleStart = performance.now();
await waitVersion(version);
const settleMs = performance.now() - settleStart;

const after = [];
for (let i = 0; i < AFTER; i++) {
  await sleep(150);
  const change = keystroke(BURST + i);
  const sent = performance.now();
  const p = waitVersion(change.textDocument.version);
  await conn.sendNotification('textDocument/didChange', change);
  after.push((await p) - sent);
}
const rss = (() => {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
})();

// The final diagnostics must be those of a fresh validation of the final text.
const require = createRequire(import.meta.url);
const { validateWorkspace } = require(resolve('dist/core.js'));
const fresh = validateWorkspace(dir, { overlays: new Map([[rulesFile, text]]) }).diagnostics.filter((d) => d.file === rulesFile);
const same = JSON.stringify(fresh.map((d) => [d.code, d.range.start.line])) === JSON.stringify(last.diagnostics.map((d) => [d.code, d.range.start.line]));
await conn.sendRequest('shutdown');
conn.sendNotification('exit');

const s = [...after].sort((a, b) => a - b);
console.log(`machine: ${os.cpus()[0]?.model} x${os.cpus().length}, node ${process.version}, ${new Date().toISOString()}, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log(`burst: ${BURST} keystrokes in ${(burstMs / 1000).toFixed(1)} s; diagnostics caught up ${settleMs.toFixed(0)} ms after the last one`);
console.log(`edit to diagnostics after the burst (${AFTER} edits): median ${s[Math.floor(s.length / 2)].toFixed(1)} ms, p95 ${s[Math.ceil(s.length * 0.95) - 1].toFixed(1)} ms, max ${s[s.length - 1].toFixed(1)} ms (goal <= 80 ms)`);
console.log(`server peak RSS ${rss.toFixed(0)} MB (goal <= 250 MB); final diagnostics equal a fresh validation: ${same ? 'yes' : 'NO'}`);
setTimeout(() => process.exit(same ? 0 : 1), 200).unref();
