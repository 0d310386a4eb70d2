// The part of activation that the client's log line does not count: loading dist/client.js
// (VS Code requires it before it calls activate()). Each run is a new Node process that requires
// a client bundle with a stand-in `vscode` module and reports the time of that require and the
// process's CPU time; variants (dist folders of different builds) alternate.
//
//   node bench/clientLoad.mjs [--runs N] [--node path/to/node] name=dist-folder ...
//
// In a real extension host the figure is part of "Activation: N ms" in Developer: Show Running
// Extensions, which bench/activation.mjs reads.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median } from './stats.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const runs = Number(opt('--runs', 20));
const nodeBin = opt('--node', process.execPath);
const variants = (args.length ? args : ['dist=dist']).map((a) => {
  const [name, dir] = a.includes('=') ? a.split('=') : [a, a];
  const client = path.resolve(dir, 'client.js');
  if (!fs.existsSync(client)) throw new Error(`no ${client}`);
  return { name, client, ms: [], kb: fs.statSync(client).size / 1024 };
});

// The stand-in exports every name @types/vscode declares: classes as empty classes, namespaces
// as objects of which any property is a function that returns such an object. Enough for module
// initialization, which only reads and extends what \`vscode\` exports.
const CHILD = `
const Module = require('node:module');
const anything = () => new Proxy(function () {}, { get: (t, k) => (typeof k === 'symbol' || k === 'then' ? undefined : anything()), apply: () => anything(), construct: () => ({}) });
const vscode = {};
for (const n of JSON.parse(process.env.PM_VSCODE_CLASSES)) vscode[n] = class {};
for (const n of JSON.parse(process.env.PM_VSCODE_NAMESPACES)) vscode[n] = anything();
const load = Module._load;
Module._load = function (id, ...rest) { return id === 'vscode' ? vscode : load.call(this, id, ...rest); };
const t = performance.now();
require(process.argv[1]);
process.stdout.write(String(performance.now() - t));
`;

const dts = fs.readFileSync(path.resolve('node_modules/@types/vscode/index.d.ts'), 'utf8');
const names = (re) => JSON.stringify([...new Set([...dts.matchAll(re)].map((m) => m[1]))]);
const PM_VSCODE_CLASSES = names(/export (?:class|enum) (\w+)/g);
const PM_VSCODE_NAMESPACES = names(/export namespace (\w+)/g);

const version = spawnSync(nodeBin, ['--version'], { encoding: 'utf8' }).stdout.trim();
console.log(`machine: ${os.cpus()[0]?.model} x${os.cpus().length}, node ${version}, ${new Date().toISOString()}, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
for (let r = 0; r < runs; r++) {
  for (let k = 0; k < variants.length; k++) {
    const v = variants[(r + k) % variants.length];
    const env = { ...process.env, PM_VSCODE_CLASSES, PM_VSCODE_NAMESPACES };
    delete env.NODE_COMPILE_CACHE;
    const p = spawnSync(nodeBin, ['-e', CHILD, v.client], { encoding: 'utf8', env });
    if (p.status !== 0) throw new Error(`${v.name}: ${p.stderr.slice(-2000)}`);
    v.ms.push(Number(p.stdout));
  }
}
const base = variants[0];
for (const v of variants) {
  console.log(`${v.name} (${v.kb.toFixed(0)} KB): require median ${median(v.ms).toFixed(1)} ms (${(median(v.ms) / median(base.ms)).toFixed(2)}x ${base.name}), min ${Math.min(...v.ms).toFixed(1)} ms`);
}
console.log(`load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} at the end`);
