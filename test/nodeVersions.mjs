#!/usr/bin/env node
// The built suite (all but the repository's source checks) on every supported Node line
// (`npm run test:node-versions`, which .ci/run calls before `npm test`). Supported: the Node LTS lines (see SUPPORTED_NODE and
// the README's "Node versions"); package.json `engines.node` says the oldest.
//
// Node binaries come from npm (the `node-<platform>-<arch>` packages, as the e2e suite takes its
// Node 24) into a cache folder outside the clone, reused by later runs:
// $PROMPTMANAGER_NODE_CACHE, else ~/.cache/promptmanager-node. The suite is built once
// (dist/ and out/test/, with the Node running this script) and the built suite runs with each
// binary (through test/runTests.mjs); the tests that start the CLI, the server or a consumer
// project start them with that same binary (process.execPath).
//
// Usage: node test/nodeVersions.mjs [--only 24] [--no-build] [extra node --test arguments]
// Exit code 0 only when every line passes.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The supported Node lines, oldest first (December 2026: 22 and 24 in maintenance, 26 active LTS). */
export const SUPPORTED_NODE = ['22', '24', '26'];

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function nodeCacheDir() {
  const fromEnv = process.env.PROMPTMANAGER_NODE_CACHE;
  return path.resolve(fromEnv && fromEnv.trim() ? fromEnv : path.join(os.homedir(), '.cache', 'promptmanager-node'));
}

/** The npm package that holds a Node binary for this machine. */
function binaryPackage() {
  const platform = process.platform === 'win32' ? 'win' : process.platform;
  return `node-${platform}-${process.arch}`;
}

function npmEnv() {
  const env = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
  // Never inherit a lifecycle context from an outer `npm run` (it would point npm at the repo).
  for (const k of Object.keys(env)) if (/^npm_(package|lifecycle)_/i.test(k) || k === 'npm_config_local_prefix' || k === 'INIT_CWD') delete env[k];
  return env;
}

const say = (m) => process.stderr.write(`[node versions] ${m}\n`);

function version(node) {
  const r = spawnSync(node, ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** The binary of Node `major`, installed from npm on first use. */
export function ensureNode(major, cache = nodeCacheDir()) {
  const prefix = path.join(cache, `node${major}`);
  const pkgDir = path.join(prefix, 'node_modules', binaryPackage());
  const node = path.join(pkgDir, 'bin', process.platform === 'win32' ? 'node.exe' : 'node');
  if (version(node)?.startsWith(`v${major}.`)) return node;
  say(`installing ${binaryPackage()}@${major} into ${prefix}`);
  fs.mkdirSync(prefix, { recursive: true });
  // A private prefix with its own package.json, so that npm never walks up to another project.
  fs.writeFileSync(path.join(prefix, 'package.json'), JSON.stringify({ name: `promptmanager-node${major}`, private: true }, null, 2) + '\n');
  const r = spawnSync('npm', ['install', '--prefix', prefix, '--no-package-lock', '--loglevel=warn', `${binaryPackage()}@${major}`], { cwd: prefix, env: npmEnv(), stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`npm install ${binaryPackage()}@${major} failed (exit ${r.status}); is the npm registry reachable?`);
  if (!version(node)?.startsWith(`v${major}.`)) throw new Error(`${node} is not a working Node ${major} after the install`);
  return node;
}

/**
 * What runs on each line: every built test folder but the repository's own checks
 * (test/repository: the type check, import boundaries, file sizes, docs against code). Those read
 * the source, not the runtime, so one run of them (npm test) says all they can; leaving them out
 * here saves CI a type check per line.
 */
export const SOURCE_ONLY_TEST_FOLDERS = ['repository'];

function runtimeTestFolders() {
  const root = path.join(REPO, 'out', 'test');
  return fs
    .readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !SOURCE_ONLY_TEST_FOLDERS.includes(e.name))
    .map((e) => path.join('out', 'test', e.name))
    .sort();
}

function main(argv) {
  const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;
  const build = !argv.includes('--no-build');
  const passThrough = argv.filter((a, i) => a !== '--no-build' && a !== '--only' && argv[i - 1] !== '--only');
  const majors = only ? [only] : SUPPORTED_NODE;
  if (only && !SUPPORTED_NODE.includes(only)) throw new Error(`--only ${only}: not a supported line (${SUPPORTED_NODE.join(', ')})`);
  if (build) {
    for (const args of [['esbuild.mjs'], ['esbuild.mjs', '--tests']]) {
      const r = spawnSync(process.execPath, args, { cwd: REPO, stdio: 'inherit' });
      if (r.status !== 0) throw new Error(`node ${args.join(' ')} failed`);
    }
  }
  const results = [];
  for (const major of majors) {
    const node = ensureNode(major);
    const v = version(node);
    say(`${v}: the built suite in out/test/ but ${SOURCE_ONLY_TEST_FOLDERS.join(", ")} (${node})`);
    const t0 = Date.now();
    // Dots on the terminal, TAP into a file for the counts; test/runTests.mjs lists the files
    // (Node 22 and 24 do not take a folder after --test).
    const tap = path.join(os.tmpdir(), `promptmanager-node${major}-${process.pid}.tap`);
    const reporters = ['--test-reporter=dot', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`];
    const r = spawnSync(node, ['test/runTests.mjs', ...reporters, ...passThrough, ...runtimeTestFolders()], {
      cwd: REPO,
      encoding: 'utf8',
      // The tests' own child processes (CLI, server, consumer project) use process.execPath; npm
      // and tools found on PATH see this Node first too.
      env: { ...npmEnv(), PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH ?? ''}` },
      maxBuffer: 256 * 1024 * 1024,
    });
    process.stdout.write(r.stdout ?? '');
    const counts = fs.existsSync(tap) ? fs.readFileSync(tap, 'utf8') : '';
    fs.rmSync(tap, { force: true });
    const pass = /^# pass (\d+)$/m.exec(counts)?.[1];
    const fail = /^# fail (\d+)$/m.exec(counts)?.[1];
    const ok = r.status === 0;
    if (!ok) process.stderr.write((r.stderr ?? '').slice(-20_000));
    results.push({ v, ok, line: `${v}: ${ok ? 'passed' : 'FAILED'} (pass ${pass ?? '?'}, fail ${fail ?? '?'}) in ${Math.round((Date.now() - t0) / 1000)} s` });
  }
  for (const r of results) say(r.line);
  return results.every((r) => r.ok) ? 0 : 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    say(e.message);
    process.exitCode = 1;
  }
}
