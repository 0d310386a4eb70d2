/**
 * The PromptManager language server. Started by any LSP client with `--stdio` (or by the VS
 * Code client over IPC with `--node-ipc`; `--socket=N` and `--pipe=NAME` work too): the
 * transport comes from the command line, as vscode-languageserver reads it.
 *
 * It ships as two bundles, for a quick first start (activation to a ready server in at most
 * 500 ms; figures in bench/RESULTS.md). This one, dist/server.js, holds the connection and
 * vscode-languageserver: it answers `initialize` (whose answer depends on nothing the client
 * sends, capabilities.ts) before anything else loads. The rest, dist/languageService.js (languageService.ts),
 * loads right after that answer is sent (over IPC, as VS Code starts it; over stdio
 * vscode-jsonrpc writes the answer's body after this load), while the client sets itself up,
 * and uses this bundle's library (build/serverSplit.mjs). The load is queued (setImmediate) as `initialize` is
 * handled, so it runs before the connection handles any later message, which finds its handler.
 * The template-analysis worker thread has a bundle of its own, dist/templateWorker.js.
 */
import * as path from 'node:path';
import * as languageServer from 'vscode-languageserver/node';
import { createConnection, ProposedFeatures, ResponseError, type InitializeParams } from 'vscode-languageserver/node';
import { initializeResult } from './capabilities.js';
import { LifecycleGate, REFUSED_METHOD } from './lifecycle.js';

type LanguageService = typeof import('./languageService.js');

// For dist/languageService.js, which uses this bundle's vscode-languageserver: the key is
// build/serverSplit.mjs's LIBRARY_KEY (every server test loads both bundles through it).
(globalThis as Record<symbol, unknown>)[Symbol.for('promptmanager.languageServerLibrary')] = languageServer;
// Beside this file in dist/ (external to the bundle: see esbuild.mjs).
const loadService = (): LanguageService => require('./languageService.js') as LanguageService;

// Requests before `initialize` or after `shutdown`, and a second `initialize`, are answered
// with the errors the specification gives before any handler sees them (lifecycle.ts).
const lifecycle = new LifecycleGate();
const connection = createConnection(ProposedFeatures.all, { messageStrategy: lifecycle.messageStrategy });
connection.onRequest(REFUSED_METHOD, (params: unknown) => {
  const r = lifecycle.refusal(params);
  return new ResponseError(r.code, r.message);
});
// A stray console.log would corrupt the stdio stream: send it to the client's log instead.
console.log = (...args: unknown[]) => connection.console.log(args.map(String).join(' '));
console.info = console.log;
console.warn = (...args: unknown[]) => connection.console.warn(args.map(String).join(' '));
console.error = (...args: unknown[]) => connection.console.error(args.map(String).join(' '));
process.on('uncaughtException', (e) => connection.console.error(`uncaught: ${e.stack ?? e}`));
process.on('unhandledRejection', (e) => connection.console.error(`unhandled rejection: ${(e as Error)?.stack ?? e}`));

const start = (params: InitializeParams) => {
  let service: LanguageService;
  try {
    service = loadService();
  } catch (e) {
    const msg = `PromptManager: the language server could not load dist/languageService.js (${(e as Error).message}): reinstall the extension.`;
    connection.console.error(`${msg}\n${(e as Error).stack ?? ''}`);
    void connection.window.showErrorMessage(msg);
    return;
  }
  service.startServer(connection, { initializeParams: params, analyzeTemplates: (requests) => service.analyzeTemplatesInWorker(requests, path.join(__dirname, 'templateWorker.js')) });
};
connection.onInitialize((params) => {
  // The connection handles each message in its own setImmediate: this one runs first.
  setImmediate(start, params);
  // Beside the capabilities, for the client's log of where its start went.
  return { ...initializeResult(), promptManager: { processUptimeMs: Math.round(process.uptime() * 1000) } };
});
connection.listen();
