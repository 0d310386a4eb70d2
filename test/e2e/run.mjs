#!/usr/bin/env node
// The end-to-end suite in one command (`npm run test:e2e`):
//   1. setup: Debian packages, Node 24 and code-server into the cache folder (first run ~5 min);
//   2. `npm run package`, which must produce <repo>/promptmanager.vsix;
//   3. the harness self-test (test/e2e/harness.selftest.mjs) and every test/e2e/*.e2e.mjs,
//      one file at a time (each starts its own code-server and Chromium).
// Screenshots go to test-results/. Any failure (including a missing .vsix or no e2e test
// files) makes the exit code non-zero: this suite never passes by skipping.
//
// Options: --selftest-only (skip packaging and the project's tests), --no-selftest,
//          any other argument is passed to `node --test` (e.g. --test-name-pattern=cycle).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ensureE2EDeps, REPO_ROOT } from './setup.mjs';

const E2E_DIR = path.join(REPO_ROOT, 'test', 'e2e');
const VSIX = path.join(REPO_ROOT, 'promptmanager.vsix');
const RESULTS = path.join(REPO_ROOT, 'test-results');

const args = process.argv.slice(2);
const selftestOnly = args.includes('--selftest-only');
const noSelftest = args.includes('--no-selftest');
const passThrough = args.filter((a) => a !== '--selftest-only' && a !== '--no-selftest');

const t0 = Date.now();
const failures = [];
const say = (m) => process.stderr.write(`[e2e] ${m}\n`);
const secs = (t) => `${((Date.now() - t) / 1000).toFixed(1)} s`;

function banner(msg) {
  process.stderr.write(`\n${'='.repeat(100)}\n[e2e] ${msg}\n${'='.repeat(100)}\n`);
}

// 1. setup
try {
  const t = Date.now();
  ensureE2EDeps();
  say(`setup ok (${secs(t)})`);
} catch (e) {
  banner(`FAILED: setup\n${e.message}`);
  process.exit(1);
}

// 2. package the extension
let vsixOk = false;
if (!selftestOnly) {
  const t = Date.now();
  say('building the extension: npm run package (expects promptmanager.vsix at the repo root)');
  const before = fs.existsSync(VSIX) ? fs.statSync(VSIX).mtimeMs : 0;
  const r = spawnSync('npm', ['run', 'package'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, CI: process.env.CI || 'true' },
  });
  const after = fs.existsSync(VSIX) ? fs.statSync(VSIX).mtimeMs : 0;
  if (r.status !== 0) {
    failures.push(`npm run package failed (exit ${r.status ?? r.signal}): the project's .vsix could not be built, so its end-to-end tests did not run`);
  } else if (!after) {
    failures.push(
      `npm run package succeeded but ${path.relative(REPO_ROOT, VSIX)} does not exist: the package script must write promptmanager.vsix at the repo root`,
    );
  } else if (after <= before) {
    failures.push(`npm run package did not rewrite ${path.relative(REPO_ROOT, VSIX)}: refusing to test a stale .vsix`);
  } else {
    vsixOk = true;
    say(`packaged ${path.relative(REPO_ROOT, VSIX)} (${(fs.statSync(VSIX).size / 1024).toFixed(0)} KB, ${secs(t)})`);
  }
  if (!vsixOk) banner(`FAILED: ${failures.at(-1)}`);
}

// 3. tests
const e2eFiles = fs
  .readdirSync(E2E_DIR)
  .filter((f) => f.endsWith('.e2e.mjs'))
  .sort()
  .map((f) => path.join(E2E_DIR, f));
const files = [];
if (!noSelftest) files.push(path.join(E2E_DIR, 'harness.selftest.mjs'));
if (!selftestOnly) {
  if (e2eFiles.length === 0) failures.push('no end-to-end test files (test/e2e/*.e2e.mjs) were found');
  else if (vsixOk) files.push(...e2eFiles);
}

const testsStart = Date.now();
if (files.length) {
  say(`running ${files.map((f) => path.relative(REPO_ROOT, f)).join(', ')}`);
  const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...passThrough, ...files], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, PROMPTMANAGER_VSIX: VSIX },
  });
  if (r.status !== 0) failures.push(`node --test failed (exit ${r.status ?? r.signal}): see the failing tests above`);
}

// summary
const shots = fs.existsSync(RESULTS)
  ? fs
      .readdirSync(RESULTS)
      .filter((f) => f.endsWith('.png') && fs.statSync(path.join(RESULTS, f)).mtimeMs >= testsStart)
      .sort()
  : [];
if (shots.length) say(`screenshots of this run in ${path.relative(REPO_ROOT, RESULTS)}/: ${shots.join(', ')}`);
if (failures.length) {
  banner(`END-TO-END SUITE FAILED (${secs(t0)}):\n${failures.map((f) => `  - ${f}`).join('\n')}`);
  process.exit(1);
}
banner(`end-to-end suite passed (${files.length} file(s), ${secs(t0)})`);
