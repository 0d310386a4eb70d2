/**
 * The PromptManager language server. Started by any LSP client with `--stdio` (or by the VS
 * Code client over IPC with `--node-ipc`; `--socket=N` and `--pipe=NAME` work too): the
 * transport comes from the command line, as vscode-languageserver reads it. The same bundle
 * also runs as the server's template-analysis worker thread (templateWorker.ts).
 */
import { createConnection, ProposedFeatures } from 'vscode-languageserver/node';
import { startServer } from './server.js';
import { analyzeTemplatesInWorker, isTemplateWorker, runTemplateWorker } from './templateWorker.js';

if (isTemplateWorker()) {
  runTemplateWorker();
} else {
  const connection = createConnection(ProposedFeatures.all);
  // A stray console.log would corrupt the stdio stream: send it to the client's log instead.
  console.log = (...args: unknown[]) => connection.console.log(args.map(String).join(' '));
  console.info = console.log;
  console.warn = (...args: unknown[]) => connection.console.warn(args.map(String).join(' '));
  console.error = (...args: unknown[]) => connection.console.error(args.map(String).join(' '));
  process.on('uncaughtException', (e) => connection.console.error(`uncaught: ${e.stack ?? e}`));
  process.on('unhandledRejection', (e) => connection.console.error(`unhandled rejection: ${(e as Error)?.stack ?? e}`));
  startServer(connection, { analyzeTemplates: analyzeTemplatesInWorker });
}
