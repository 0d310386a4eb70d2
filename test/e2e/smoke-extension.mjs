// A throwaway VS Code extension used by the harness's own test (harness.selftest.mjs).
// It is generated on the fly into a temp dir and packaged into a .vsix with @vscode/vsce.
//
// What it does, so that every harness helper has something real to read:
//   - command "Smoke: Hello" (smoke.hello): writes "hello from smoke" to the output channel
//     "Smoke" and shows it;
//   - command "Smoke: Pick a Fruit" (smoke.pick): a QuickPick (apple/banana/cherry with
//     descriptions); the choice goes to the "Smoke" channel;
//   - a diagnostic on every open .yaml file ("smoke: yaml file seen", warning, code smoke-seen),
//     plus an error "smoke: cycle found" on each line containing the word "cycle";
//   - completions in YAML: smokeAlpha, smokeBeta.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './setup.mjs';

export const SMOKE_EXTENSION_ID = 'promptmanager-test.smoke';

const packageJson = {
  name: 'smoke',
  displayName: 'PromptManager e2e smoke extension',
  description: 'Throwaway extension for the e2e harness self-test.',
  version: '0.0.1',
  publisher: 'promptmanager-test',
  license: 'MIT',
  repository: { type: 'git', url: 'https://example.invalid/smoke.git' },
  engines: { vscode: '^1.90.0' },
  main: './extension.js',
  activationEvents: ['onStartupFinished', 'onLanguage:yaml'],
  capabilities: { untrustedWorkspaces: { supported: 'limited', description: 'Smoke works in Restricted Mode.' } },
  contributes: {
    commands: [
      { command: 'smoke.hello', title: 'Hello', category: 'Smoke' },
      { command: 'smoke.pick', title: 'Pick a Fruit', category: 'Smoke' },
      { command: 'smoke.many', title: 'Many Lines', category: 'Smoke' },
      { command: 'smoke.webview', title: 'Show Webview', category: 'Smoke' },
      { command: 'smoke.ask', title: 'Ask for JSON', category: 'Smoke' },
      { command: 'smoke.warn', title: 'Warn', category: 'Smoke' },
    ],
  },
};

const extensionJs = `'use strict';
const vscode = require('vscode');

function activate(context) {
  const out = vscode.window.createOutputChannel('Smoke');
  const diagnostics = vscode.languages.createDiagnosticCollection('smoke');
  context.subscriptions.push(out, diagnostics);

  const check = (doc) => {
    if (doc.uri.scheme !== 'file' || !doc.fileName.endsWith('.yaml')) return;
    const first = doc.lineAt(0).text.length;
    const seen = new vscode.Diagnostic(new vscode.Range(0, 0, 0, Math.max(first, 1)), 'smoke: yaml file seen', vscode.DiagnosticSeverity.Warning);
    seen.source = 'smoke';
    seen.code = 'smoke-seen';
    const list = [seen];
    for (let i = 0; i < doc.lineCount; i++) {
      const text = doc.lineAt(i).text;
      const at = text.indexOf('cycle');
      if (at >= 0) {
        const d = new vscode.Diagnostic(new vscode.Range(i, at, i, at + 5), 'smoke: cycle found', vscode.DiagnosticSeverity.Error);
        d.source = 'smoke';
        d.code = 'smoke-cycle';
        list.push(d);
      }
    }
    diagnostics.set(doc.uri, list);
  };
  vscode.workspace.textDocuments.forEach(check);
  context.subscriptions.push(
    vscode.workspace.onDidOpenTextDocument(check),
    vscode.workspace.onDidChangeTextDocument((e) => check(e.document)),
    vscode.workspace.onDidCloseTextDocument((doc) => diagnostics.delete(doc.uri)),
    vscode.commands.registerCommand('smoke.hello', () => {
      out.appendLine('hello from smoke');
      out.show(true);
    }),
    vscode.commands.registerCommand('smoke.pick', async () => {
      const pick = await vscode.window.showQuickPick(
        [
          { label: 'apple', description: 'red', detail: 'a fruit that keeps doctors away' },
          { label: 'banana', description: 'yellow' },
          { label: 'cherry', description: 'dark red' },
        ],
        { placeHolder: 'Pick a fruit' },
      );
      out.appendLine('picked ' + (pick ? pick.label : 'nothing'));
      out.show(true);
    }),
    vscode.commands.registerCommand('smoke.many', () => {
      for (let i = 1; i <= 150; i++) out.appendLine('line ' + i + ' of many ' + 'x'.repeat(i === 150 ? 250 : 0));
      out.show(true);
    }),
    vscode.commands.registerCommand('smoke.webview', () => {
      const panel = vscode.window.createWebviewPanel('smoke.graph', 'Smoke Graph', vscode.ViewColumn.Beside, {});
      const q = String.fromCharCode(39); // a single quote, for the CSP
      panel.webview.html = '<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src ' + q + 'none' + q + '; style-src ' + q + 'unsafe-inline' + q + ';"></head>' +
        '<body><h1>smoke graph</h1><svg width="300" height="120"><g class="node"><rect x="10" y="10" width="80" height="30" fill="#cde"/><text x="20" y="30">node-a</text></g>' +
        '<g class="node"><rect x="150" y="60" width="80" height="30" fill="#cde"/><text x="160" y="80">node-b</text></g><line x1="90" y1="25" x2="150" y2="75" stroke="black"/></svg></body></html>';
    }),
    vscode.commands.registerCommand('smoke.ask', async () => {
      const text = await vscode.window.showInputBox({ prompt: 'Context as JSON', placeHolder: '{"name": "value"}' });
      let parsed = 'cancelled';
      if (text !== undefined) {
        try {
          parsed = 'keys ' + Object.keys(JSON.parse(text)).join(',');
        } catch (e) {
          parsed = 'invalid JSON';
        }
      }
      out.appendLine('asked: ' + parsed);
      out.show(true);
    }),
    vscode.commands.registerCommand('smoke.warn', () => {
      vscode.window.showWarningMessage('Smoke server crashed; restarting it.');
    }),
    vscode.languages.registerCompletionItemProvider('yaml', {
      provideCompletionItems() {
        return ['smokeAlpha', 'smokeBeta'].map((l) => new vscode.CompletionItem(l, vscode.CompletionItemKind.Value));
      },
    }),
  );
  out.appendLine('smoke activated');
}

function deactivate() {}

module.exports = { activate, deactivate };
`;

/** Writes the smoke extension into `dir` and packages it; returns the .vsix path. */
export function buildSmokeVsix(dir) {
  const src = path.join(dir, 'smoke-extension');
  fs.rmSync(src, { recursive: true, force: true });
  fs.mkdirSync(src, { recursive: true });
  fs.writeFileSync(path.join(src, 'package.json'), JSON.stringify(packageJson, null, 2) + '\n');
  fs.writeFileSync(path.join(src, 'extension.js'), extensionJs);
  fs.writeFileSync(path.join(src, 'README.md'), '# smoke\n\nThrowaway extension for the PromptManager e2e harness self-test.\n');
  fs.writeFileSync(path.join(src, 'LICENSE'), 'MIT\n');
  const check = spawnSync(process.execPath, ['--check', path.join(src, 'extension.js')], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`the generated smoke extension.js does not parse:\n${check.stderr}`);
  const vsix = path.join(dir, 'smoke-0.0.1.vsix');
  const vsce = path.join(REPO_ROOT, 'node_modules', '@vscode', 'vsce', 'vsce');
  if (!fs.existsSync(vsce)) throw new Error(`@vscode/vsce is not installed (expected ${vsce}); run npm install in the repo`);
  const r = spawnSync(process.execPath, [vsce, 'package', '--no-dependencies', '--allow-missing-repository', '--skip-license', '-o', vsix], {
    cwd: src,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 120_000,
  });
  if (r.status !== 0 || !fs.existsSync(vsix)) {
    throw new Error(`packaging the smoke extension failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
  return vsix;
}
