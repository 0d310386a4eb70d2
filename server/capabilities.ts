/**
 * What the server answers to `initialize`. It depends on nothing the client sends, so the
 * entry (main.ts) answers with it before it loads the rest of the server.
 */
import { CodeActionKind, TextDocumentSyncKind, type InitializeResult } from 'vscode-languageserver/node';
import { PROTOCOL_VERSION } from '../protocol/protocol.js';

export const SERVER_NAME = 'promptmanager-language-server';
export const SERVER_VERSION = '0.1.0';

export function initializeResult(): InitializeResult {
  return {
    capabilities: {
      // Saves tell the server a new template is on disk, in clients without file watchers.
      textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental, save: { includeText: false } },
      completionProvider: { triggerCharacters: ['{', '>', '.', ':', '/', '[', ',', ' ', '"', "'", '-'], resolveProvider: false },
      hoverProvider: true,
      definitionProvider: true,
      referencesProvider: true,
      documentSymbolProvider: true,
      workspaceSymbolProvider: true,
      renameProvider: { prepareProvider: true },
      codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
      workspace: { workspaceFolders: { supported: true, changeNotifications: true } },
    },
    serverInfo: { name: SERVER_NAME, version: `${SERVER_VERSION} (protocol ${PROTOCOL_VERSION})` },
  };
}
