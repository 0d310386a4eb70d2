// Extension figures that need no editor: bundle sizes, and the Preview
// Render round trip as the client makes it (promptManager/render over the server's stdio,
// JSON-RPC both ways) on the examples. Activation to server-ready needs a real VS Code: the
// end-to-end suite measures it (test/e2e), and bench/activation.mjs alone, with build variants
// side by side. Figures go to bench/RESULTS.md.
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import os from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createProtocolConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-languageserver-protocol/node';

const kb = (f) => (statSync(f).size / 1024).toFixed(0);
console.log(`machine: ${os.cpus()[0]?.model} x${os.cpus().length}, node ${process.version}, ${new Date().toISOString()}, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
// The server is three bundles (server/main.ts): what answers `initialize`, the rest, and its worker thread's.
const serverKb = (statSync('dist/server.js').size + statSync('dist/languageService.js').size + statSync('dist/templateWorker.js').size) / 1024;
// The budgets of dist/client.js and dist/server.js are checked by every build (esbuild.mjs).
console.log(`dist/client.js ${kb('dist/client.js')} KB; server ${serverKb.toFixed(0)} KB (budget 1536 KB): dist/server.js ${kb('dist/server.js')} KB + dist/languageService.js ${kb('dist/languageService.js')} KB + dist/templateWorker.js ${kb('dist/templateWorker.js')} KB`);

const examples = resolve('examples');
const child = spawn(process.execPath, [resolve('dist/server.js'), '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
const conn = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
conn.onRequest('workspace/configuration', (p) => p.items.map(() => ({})));
conn.onRequest('client/registerCapability', () => null);
conn.onNotification('textDocument/publishDiagnostics', () => {});
conn.listen();
const t0 = performance.now();
await conn.sendRequest('initialize', { processId: process.pid, rootUri: pathToFileURL(examples).href, capabilities: { workspace: { configuration: true } }, workspaceFolders: [{ uri: pathToFileURL(examples).href, name: 'examples' }] });
conn.sendNotification('initialized', {});
const context = JSON.parse((await import('node:fs')).readFileSync(resolve('examples/contexts/analysis_service.json'), 'utf8'));
const params = { workspace: pathToFileURL(examples).href, template: 'analysis/quick_summary', context, service: 'analysis_service' };
const first = performance.now();
const r0 = await conn.sendRequest('promptManager/render', params);
const firstMs = performance.now() - first;
if (!r0.ok) throw new Error(`render failed: ${JSON.stringify(r0.error)}`);
console.log(`server start to first render answered: ${(performance.now() - t0).toFixed(0)} ms (first render ${firstMs.toFixed(0)} ms, loads the engine)`);
const times = [];
for (let i = 0; i < 50; i++) {
  const t = performance.now();
  // A new context each time, as a user editing the context file would: no result-cache hit.
  const r = await conn.sendRequest('promptManager/render', { ...params, context: { ...context, user_id: `u-${i}` } });
  times.push(performance.now() - t);
  if (!r.ok) throw new Error(JSON.stringify(r.error));
}
times.sort((a, b) => a - b);
console.log(`Preview Render round trip (50 renders, new context each): median ${times[25].toFixed(1)} ms, p95 ${times[47].toFixed(1)} ms, max ${times[49].toFixed(1)} ms (goal <= 100 ms)`);
await conn.sendRequest('shutdown');
conn.sendNotification('exit');
setTimeout(() => process.exit(0), 200).unref();
