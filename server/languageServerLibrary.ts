/**
 * The server ships as two bundles (see main.ts): dist/server.js holds vscode-languageserver and
 * answers `initialize`; dist/serverCore.js holds the rest and is loaded right after. Both
 * must use one instance of the library: the connection tells an error answer by `instanceof
 * ResponseError`, and message types carry the library's own parameter-structure objects.
 *
 * So the entry hands the core the values below (main.ts), and the core's build
 * (build/serverSplit.mjs) reads them back wherever the core imports vscode-languageserver,
 * -protocol or vscode-jsonrpc. The list is that build's list too: a value the core imports and
 * this list lacks fails the build.
 */
export {
  CodeActionKind,
  DidChangeWatchedFilesNotification,
  ErrorCodes,
  FileChangeType,
  NotificationType,
  ProtocolRequestType,
  RequestType,
  ResponseError,
  TextDocumentSyncKind,
  TextDocuments,
} from 'vscode-languageserver/node';

/** Where main.ts puts this module's exports for dist/serverCore.js. */
export const LIBRARY_KEY = Symbol.for('promptmanager.languageServerLibrary');
