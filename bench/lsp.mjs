// Language-server benchmark. Drives the bundled PromptManager server
// (dist/server.js) and yaml-language-server (the npm package, with our two schemas mapped to
// the files through `yaml.schemas`) over stdio, the way an editor does, on the generated
// workspace of the validator benchmark (~2.2 MB composition_rules.yaml), and prints both:
//   - open to first diagnostics: from spawning the server (initialize, initialized, didOpen
//     sent at once, as an editor opening a file does) to the file's first publishDiagnostics,
//     and from didOpen alone;
//   - one-line edit to diagnostics (debounce included): median, p95 and max of N edits;
//   - completion and hover: p95 of N requests each, at a few places of the big file;
//   - peak server memory (VmHWM of the server process).
// Not a test: the figures go to bench/RESULTS.md. `EDITS=`, `REQUESTS=`, `YLS_EDITS=` and
// `YLS_REQUESTS=` change the sample counts; `SKIP_YLS=1` measures our server alone;
// `SERVER_PROF=dir` writes a CPU profile of our server; `SERVER_NODE_ARGS="--flag ..."` passes
// node flags to it (for experiments: an editor starts it without any).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import os from 'node:os';
import { createRequire } from 'node:module';
import { generateWorkspace } from './generate.mjs';
import { COMPOSITION_RULES_FILE, SERVICE_MAPPINGS_FILE } from './configFiles.mjs';
import { peakRss, percentile as pct, sleep } from './stats.mjs';

const require = createRequire(import.meta.url);
const rpc = require('vscode-languageserver-protocol/node');

const EDITS = Number(process.env.EDITS ?? 20);
const REQUESTS = Number(process.env.REQUESTS ?? 40);
// yaml-language-server takes seconds per edit and per completion on this file: fewer samples.
const YLS_EDITS = Number(process.env.YLS_EDITS ?? 5);
const YLS_REQUESTS = Number(process.env.YLS_REQUESTS ?? 5);
const dir = resolve('bench/.generated/large');
generateWorkspace(dir);
const rulesFile = join(dir, COMPOSITION_RULES_FILE);
const rules = readFileSync(rulesFile, 'utf8');
const rulesUri = pathToFileURL(rulesFile).href;

/** Positions in the big file: a template value, a depends_on list, a key, at three depths of the file. */
function positions(text) {
  const lines = text.split('\n');
  const out = { completion: [], hover: [] };
  for (const k of [300, 1000, 1900]) {
    const start = lines.findIndex((l) => l === `  comp_${k}:`);
    for (let i = start; i < start + 40; i++) {
      const l = lines[i];
      if (l.includes('template: gen/t') && out.completion.length < 3 * (1 + [300, 1000, 1900].indexOf(k))) {
        out.completion.push({ line: i, character: l.indexOf('gen/') + 4 });
        out.hover.push({ line: i, character: l.indexOf('template') + 2 });
        out.hover.push({ line: i, character: l.indexOf('gen/') + 2 });
      }
      if (l.includes('depends_on: [')) {
        out.completion.push({ line: i, character: l.indexOf('[') + 1 });
        out.hover.push({ line: i, character: l.indexOf('depends_on') + 3 });
        break;
      }
    }
  }
  return out;
}

async function drive(name, command, args, { settings, configure, edits: nEdits = EDITS, requests: nRequests = REQUESTS }) {
  const t0 = performance.now();
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const conn = rpc.createProtocolConnection(new rpc.StreamMessageReader(child.stdout), new rpc.StreamMessageWriter(child.stdin));
  const waiters = [];
  const published = [];
  conn.onNotification('textDocument/publishDiagnostics', (p) => {
    if (p.uri !== rulesUri) return;
    published.push({ at: performance.now(), version: p.version, count: p.diagnostics.length });
    for (const w of [...waiters]) if (w.check(p)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(performance.now()));
  });
  conn.onNotification(() => undefined);
  let configPulled = 0;
  conn.onRequest('workspace/configuration', (p) => {
    configPulled++;
    return p.items.map((i) => settings(i.section));
  });
  conn.onRequest('client/registerCapability', () => null);
  conn.onRequest('window/workDoneProgress/create', () => null);
  conn.onRequest(() => null);
  conn.listen();
  const waitDiag = (check, ms = 60000) =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${name}: no diagnostics within ${ms} ms\n${stderr}`)), ms);
      waiters.push({ check, resolve: (x) => (clearTimeout(t), resolve(x)) });
    });

  await conn.sendRequest('initialize', {
    processId: process.pid,
    rootUri: pathToFileURL(dir).href,
    workspaceFolders: [{ uri: pathToFileURL(dir).href, name: 'large' }],
    capabilities: {
      workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: true }, didChangeWatchedFiles: { dynamicRegistration: true }, workspaceFolders: true },
      textDocument: {
        publishDiagnostics: { versionSupport: true, relatedInformation: true },
        completion: { completionItem: { snippetSupport: true, documentationFormat: ['markdown', 'plaintext'] } },
        hover: { contentFormat: ['markdown', 'plaintext'] },
        synchronization: { dynamicRegistration: true },
      },
    },
  });
  await conn.sendNotification('initialized', {});
  if (configure) await configure(conn, () => configPulled);
  const openAt = performance.now();
  const first = waitDiag(() => true);
  await conn.sendNotification('textDocument/didOpen', { textDocument: { uri: rulesUri, languageId: 'yaml', version: 1, text: rules } });
  const firstAt = await first;
  const openFromSpawn = firstAt - t0;
  const openFromDidOpen = firstAt - openAt;

  // One-line edits: the description line of a composition, its length changing each time.
  let text = rules;
  const edits = [];
  for (let i = 0; i < nEdits; i++) {
    const k = 100 + i * 90;
    const needle = `  comp_${k}:\n    description: `;
    const at = text.indexOf(needle) + needle.length;
    const line = text.slice(0, at).split('\n').length - 1;
    const lineEnd = text.indexOf('\n', at);
    const oldLine = text.slice(at, lineEnd);
    const newLine = `Edited composition number ${k} (${'x'.repeat(i)})`;
    text = text.slice(0, at) + newLine + text.slice(lineEnd);
    const version = i + 2;
    const sent = performance.now();
    const got = waitDiag((p) => p.version === undefined || p.version === null || p.version >= version);
    await conn.sendNotification('textDocument/didChange', {
      textDocument: { uri: rulesUri, version },
      contentChanges: [{ range: { start: { line, character: 4 + 'description: '.length }, end: { line, character: 4 + 'description: '.length + oldLine.length } }, text: newLine }],
    });
    edits.push((await got) - sent);
    await sleep(30);
  }

  const pos = positions(text);
  const timeReq = async (method, list) => {
    const out = [];
    for (let i = 0; i < nRequests; i++) {
      const position = list[i % list.length];
      const s = performance.now();
      const r = await conn.sendRequest(method, { textDocument: { uri: rulesUri }, position });
      out.push(performance.now() - s);
      if (i === 0) out.sample = r;
    }
    return out;
  };
  const completion = await timeReq('textDocument/completion', pos.completion);
  const hover = await timeReq('textDocument/hover', pos.hover);
  const rss = peakRss(child.pid);
  const items = Array.isArray(completion.sample) ? completion.sample.length : completion.sample?.items?.length ?? 0;
  try {
    await Promise.race([conn.sendRequest('shutdown'), sleep(3000)]);
    await conn.sendNotification('exit');
  } catch {}
  await Promise.race([new Promise((r) => child.once('exit', r)), sleep(3000)]);
  if (child.exitCode === null) child.kill();
  conn.dispose();
  return { name, openFromSpawn, openFromDidOpen, edits, completion, hover, rss, items, diagnostics: published[published.length - 1]?.count ?? 0 };
}

const schemas = {
  [pathToFileURL(resolve('schemas/composition_rules.schema.json')).href]: [`**/${COMPOSITION_RULES_FILE}`],
  [pathToFileURL(resolve('schemas/service_mappings.schema.json')).href]: [`**/${SERVICE_MAPPINGS_FILE}`],
};
const yamlSettings = { schemas, validate: true, hover: true, completion: true, format: { enable: false }, schemaStore: { enable: false }, maxItemsComputed: 5000 };

const ours = await drive('promptmanager', process.execPath, [...(process.env.SERVER_NODE_ARGS ? process.env.SERVER_NODE_ARGS.split(' ') : []), ...(process.env.SERVER_PROF ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.SERVER_PROF] : []), resolve('dist/server.js'), '--stdio'], { settings: () => ({}) });
const skipYls = process.env.SKIP_YLS === '1';
const yls = skipYls ? { openFromSpawn: NaN, openFromDidOpen: NaN, edits: [NaN], completion: [NaN], hover: [NaN], rss: NaN, items: 0, diagnostics: 0 } : await drive('yaml-language-server', process.execPath, [resolve('node_modules/yaml-language-server/bin/yaml-language-server'), '--stdio'], {
  settings: (section) => (section === 'yaml' ? yamlSettings : section === 'http' ? { proxy: '', proxyStrictSSL: false } : {}),
  edits: YLS_EDITS,
  requests: YLS_REQUESTS,
  configure: async (conn, pulled) => {
    await conn.sendNotification('workspace/didChangeConfiguration', { settings: { yaml: yamlSettings } });
    for (let i = 0; i < 200 && pulled() === 0; i++) await sleep(10);
    await sleep(100);
  },
});

const f = (x) => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x.toFixed(1)) : 'n/a');
const mb = (x) => (Number.isFinite(x) ? `${(x / 1e6).toFixed(0)} MB` : 'n/a');
const rows = [
  ['spawn + open to first diagnostics (ms)', ours.openFromSpawn, yls.openFromSpawn, 'goal <= 1500, <= 1/2 of YLS'],
  ['didOpen to first diagnostics (ms)', ours.openFromDidOpen, yls.openFromDidOpen, ''],
  [`one-line edit to diagnostics, median (ms)`, pct(ours.edits, 50), pct(yls.edits, 50), 'goal <= 80, <= 1/20 of YLS'],
  ['one-line edit to diagnostics, p95 (ms)', pct(ours.edits, 95), pct(yls.edits, 95), ''],
  ['one-line edit to diagnostics, max (ms)', Math.max(...ours.edits), Math.max(...yls.edits), ''],
  [`completion p95 (ms)`, pct(ours.completion, 95), pct(yls.completion, 95), 'goal <= 50'],
  [`hover p95 (ms)`, pct(ours.hover, 95), pct(yls.hover, 95), 'goal <= 50'],
  ['peak server RSS', ours.rss, yls.rss, 'goal <= 250 MB'],
];
console.log(`machine: ${os.cpus()[0]?.model} x${os.cpus().length}, node ${process.version}, ${new Date().toISOString()}`);
console.log(`${COMPOSITION_RULES_FILE}: ${(rules.length / 1e6).toFixed(2)} MB; promptmanager reports ${ours.diagnostics} diagnostics on it, yaml-language-server ${yls.diagnostics}`);
console.log(`first completion: promptmanager ${ours.items} items, yaml-language-server ${yls.items} items`);
console.log(`samples: promptmanager ${EDITS} edits, ${REQUESTS} completions and hovers; yaml-language-server ${YLS_EDITS} edits, ${YLS_REQUESTS} completions and hovers`);
console.log(`load average at the end: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} on ${os.cpus().length} CPUs`);
console.log('');
console.log(`${'measure'.padEnd(48)}${'promptmanager'.padStart(15)}${'yaml-ls'.padStart(12)}${'ratio'.padStart(9)}   goal`);
for (const [label, a, b, goal] of rows) {
  const va = label.includes('RSS') ? mb(a) : f(a);
  const vb = label.includes('RSS') ? mb(b) : f(b);
  const ratio = Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(3)}` : 'n/a';
  console.log(`${label.padEnd(48)}${va.padStart(15)}${vb.padStart(12)}${ratio.padStart(9)}   ${goal}`);
}
