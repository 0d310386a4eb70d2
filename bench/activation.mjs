// Activation to a ready language server, as the end-to-end suite measures it (the client's own
// log line "language server started in … from activation"), but only that: each run installs a
// .vsix into a fresh code-server (test/e2e/harness.mjs), opens a fresh copy of examples/ in
// headless Chromium and reads the line from the output channel's log file. About 4x the runs per
// minute of `npm run test:e2e`, so that build variants can be compared in one time window.
//
//   node bench/activation.mjs [--runs N] name=path/to/a.vsix name=path/to/b.vsix ...
//
// The variants alternate (A, B, A, B, ...; the order of each round rotates), and the figures of
// each are printed with the load average at the time: on a shared machine, compare medians and
// ratios of one window only. Figures go to bench/RESULTS.md.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { examplesCopy, openWorkbench, runCommand, startCodeServer, waitFor } from '../test/e2e/harness.mjs';
import { median } from './stats.mjs';

const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 5;
const variants = args
  .filter((a, i) => a !== '--runs' && i !== runsAt + 1)
  .map((a) => {
    const [name, file] = a.includes('=') ? a.split('=') : [path.basename(a, '.vsix'), a];
    if (!fs.existsSync(file)) throw new Error(`no such .vsix: ${file}`);
    return { name, file: path.resolve(file), ms: [], initMs: [], hostMs: [], loads: [] };
  });
if (!variants.length || !(runs > 0)) {
  console.error('usage: node bench/activation.mjs [--runs N] name=a.vsix [name=b.vsix ...]');
  process.exit(2);
}

const LINE = /language server started in ([\d.]+) (ms|s) from activation(?: \(its process answered initialize ([\d.]+) (ms|s) after it started\))?/;
const toMs = (v, unit) => Number(v) * (unit === 's' ? 1000 : 1);

/** The text of the PromptManager output channel, from the log files VS Code writes for output channels. */
function channelText(userDataDir) {
  const found = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/-PromptManager\.log$/.test(e.name)) found.push(p);
    }
  };
  const logs = path.join(userDataDir, 'logs');
  if (fs.existsSync(logs)) walk(logs);
  return found.map((f) => fs.readFileSync(f, 'utf8')).join('\n');
}

async function once(v) {
  const folder = examplesCopy();
  const server = await startCodeServer({ vsix: v.file, folder });
  let wb;
  try {
    // Tall, so that Running Extensions (a virtualized list) shows every extension's row.
    wb = await openWorkbench(server.url, folder, { viewport: { width: 1400, height: 2400 } });
    const m = await waitFor(() => LINE.exec(channelText(server.userDataDir)), { timeoutMs: 60_000, intervalMs: 100, message: 'the client\'s "language server started" line' });
    // What VS Code itself counts for the extension: loading dist/client.js plus the activate() call
    // (Developer: Show Running Extensions). The client's log line starts inside activate().
    let row = '';
    for (let attempt = 0; attempt < 2 && !row; attempt++) {
      row = await runCommand(wb.page, 'Developer: Show Running Extensions')
        .then(() =>
          waitFor(
            () => wb.page.evaluate(() => [...document.querySelectorAll('.runtime-extensions-editor .monaco-list-row')].map((r) => r.innerText).find((t) => t.startsWith('PromptManager'))),
            { timeoutMs: 15_000, message: 'PromptManager in Running Extensions' },
          ),
        )
        .catch((e) => (console.log(`  (Running Extensions: ${e.message.split('\n')[0]})`), ''));
    }
    const act = /Activation: (\d+)ms/.exec(row);
    return { ms: toMs(m[1], m[2]), initMs: m[3] ? toMs(m[3], m[4]) : NaN, hostMs: act ? Number(act[1]) : NaN };
  } finally {
    await wb?.close();
    await server.stop();
    fs.rmSync(path.dirname(folder), { recursive: true, force: true });
  }
}

const load = () => os.loadavg()[0].toFixed(1);

console.log(`machine: ${os.cpus()[0]?.model} x${os.cpus().length}, ${new Date().toISOString()}, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
for (let r = 0; r < runs; r++) {
  for (let k = 0; k < variants.length; k++) {
    const v = variants[(r + k) % variants.length];
    const res = await once(v);
    v.ms.push(res.ms);
    v.initMs.push(res.initMs);
    v.hostMs.push(res.hostMs);
    v.loads.push(Number(load()));
    console.log(`round ${r + 1} ${v.name}: activation to server ready ${res.ms.toFixed(0)} ms (server process at initialize ${res.initMs.toFixed(0)} ms); load + activate() ${res.hostMs} ms; load ${load()}`);
  }
}
console.log(`\n${new Date().toISOString()}, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
const base = median(variants[0].ms);
for (const v of variants) {
  const sorted = [...v.ms].sort((a, b) => a - b).map((x) => x.toFixed(0));
  console.log(
    `${v.name}: median ${median(v.ms).toFixed(0)} ms (${(median(v.ms) / base).toFixed(2)}x ${variants[0].name}), server at initialize median ${median(v.initMs).toFixed(0)} ms, load + activate() median ${median(v.hostMs).toFixed(0)} ms; runs ${sorted.join(', ')}; load ${Math.min(...v.loads)}-${Math.max(...v.loads)}`,
  );
}
