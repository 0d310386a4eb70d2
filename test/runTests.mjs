#!/usr/bin/env node
// Runs node:test on the test files under the given folders (default out/test/), the same way on
// every Node: Node 20 and 26 accept a folder after --test, Node 22 and 24 take it for a file
// and fail ("Cannot find module .../out/test"), and a glob only Node 21 and later expand.
//
// Usage: node test/runTests.mjs [node --test options] [folders or files...]
// Options (arguments starting with -) go to `node --test` as they are; the test files run
// with the Node running this script.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const TEST_FILE = /\.test\.(c|m)?js$/;

function testFiles(target, out = []) {
  const stat = fs.statSync(target, { throwIfNoEntry: false });
  if (!stat) throw new Error(`${target} does not exist (build the tests first: node esbuild.mjs --tests)`);
  if (!stat.isDirectory()) return out.push(target), out;
  for (const name of fs.readdirSync(target).sort()) {
    const p = path.join(target, name);
    if (fs.statSync(p).isDirectory()) testFiles(p, out);
    else if (TEST_FILE.test(name)) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const options = [];
const targets = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (!a.startsWith('-')) targets.push(a);
  else {
    options.push(a);
    // `--opt value` (not `--opt=value`): the value belongs to the option.
    if (!a.includes('=') && /^--test-(reporter|reporter-destination|name-pattern|skip-pattern|concurrency|timeout|shard)$/.test(a) && i + 1 < args.length) options.push(args[++i]);
  }
}
try {
  const files = (targets.length ? targets : ['out/test']).flatMap((t) => testFiles(t));
  if (!files.length) throw new Error(`no *.test.js files under ${targets.join(', ') || 'out/test'}`);
  const r = spawnSync(process.execPath, ['--test', ...options, ...files], { stdio: 'inherit' });
  process.exitCode = r.status ?? 1;
} catch (e) {
  process.stderr.write(`${e.message}\n`);
  process.exitCode = 1;
}
