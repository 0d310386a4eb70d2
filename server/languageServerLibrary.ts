/**
 * The server ships as two bundles (see main.ts): dist/server.js holds vscode-languageserver and
 * answers `initialize`; dist/serverCore.js holds the rest and is loaded on `initialized`. Both
 * must use one instance of the library: the connection tells an error answer by `instanceof
 * ResponseError`, and message types carry the library's own parameter-structure objects.
 *
 * So the entry hands the core these values, and the core's build (build/serverSplit.mjs) reads
 * them back wherever the core imports vscode-languageserver, -protocol or vscode-jsonrpc. The
 * list below is that build's list too: a value the core imports and this list lacks fails the
 * build.
 */
import {
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

export const LIBRARY_KEY = Symbol.for('promptmanager.languageServerLibrary');

/** Makes this bundle's library values available to dist/serverCore.js. */
export function shareLanguageServerLibrary(): void {
  (globalThis as Record<symbol, unknown>)[LIBRARY_KEY] = {
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
  };
}
