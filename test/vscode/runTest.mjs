#!/usr/bin/env node
// Integration tests inside VS Code's extension host, the conventional way
// (`npm run test:vscode`): @vscode/test-electron downloads VS Code into .vscode-test/, then
// starts it with this repo as the extension under development, a copy of examples/ as the
// workspace, and test/vscode/suite/index.js as the test entry point.
//
// It needs a machine that can download VS Code (update.code.visualstudio.com) and a display
// (on a headless Linux box run it under `xvfb-run -a npm run test:vscode`). Machines that
// reach only the npm registry (like the CI machines) cannot download VS Code: there, run the
// end-to-end suite in code-server instead (`npm run test:e2e`).
//
// Environment: VSCODE_TEST_VERSION (default "stable"), VSCODE_TEST_DOWNLOAD_TIMEOUT_MS.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { downloadAndUnzipVSCode, runTests } from '@vscode/test-electron';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const version = process.env.VSCODE_TEST_VERSION || 'stable';

function fail(msg) {
  process.stderr.write(`\n[test:vscode] ${msg}\n`);
  process.exit(1);
}

if (!fs.existsSync(path.join(repo, 'dist', 'client.js'))) {
  fail('dist/client.js is missing: run `npm run build` first (the extension under test is the built one).');
}

let vscodeExecutablePath;
try {
  process.stderr.write(`[test:vscode] downloading VS Code ${version} into .vscode-test/ (once)\n`);
  vscodeExecutablePath = await downloadAndUnzipVSCode({
    version,
    cachePath: path.join(repo, '.vscode-test'),
    timeout: Number(process.env.VSCODE_TEST_DOWNLOAD_TIMEOUT_MS) || 30_000,
  });
} catch (e) {
  fail(
    `could not download VS Code ${version} (${e && e.message ? e.message.split('\n')[0] : e}).\n` +
      '  This runner needs a machine that can reach update.code.visualstudio.com; machines that reach\n' +
      '  only the npm registry cannot run it. There, use the end-to-end suite in a real VS Code from npm\n' +
      '  (code-server in headless Chromium): npm run test:e2e',
  );
}

if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
  process.stderr.write('[test:vscode] warning: no DISPLAY; VS Code (Electron) needs one. Use `xvfb-run -a npm run test:vscode`.\n');
}

// a throwaway copy of examples/: tests may edit files
const workspace = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pm-vscode-test-')), 'examples');
fs.cpSync(path.join(repo, 'examples'), workspace, { recursive: true });

let code = 1;
try {
  code = await runTests({
    vscodeExecutablePath,
    extensionDevelopmentPath: repo,
    extensionTestsPath: path.join(here, 'suite', 'index.js'),
    extensionTestsEnv: { PROMPTMANAGER_TEST_WORKSPACE: workspace },
    launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust', '--skip-welcome', '--skip-release-notes', '--disable-gpu'],
  });
} catch (e) {
  process.stderr.write(`[test:vscode] the integration tests failed: ${e && e.message ? e.message : e}\n`);
  code = 1;
} finally {
  fs.rmSync(path.dirname(workspace), { recursive: true, force: true });
}
process.exit(code);
