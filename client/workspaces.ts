/**
 * Which prompt workspace a command is about: the server lists them, the client picks the one of
 * the active file (or the only one, or the one at a folder's root) and asks otherwise.
 */
import * as vscode from 'vscode';
import { ListWorkspacesRequest, type PromptWorkspaceInfo } from '../protocol/protocol.js';
import { COMPOSITION_RULES_FILE, SERVICE_MAPPINGS_FILE } from '../protocol/configFiles.js';
import { choosePromptWorkspace } from './policy.js';
import type { ServerController } from './serverController.js';

export const normUri = (u: string) => vscode.Uri.parse(u).toString();

export async function listWorkspaces(server: ServerController): Promise<PromptWorkspaceInfo[]> {
  return (await server.request(ListWorkspacesRequest, null)).workspaces;
}

/** What a command says when the editor's folders hold no prompt workspace. */
export const NO_WORKSPACE_MESSAGE = `PromptManager: no prompt workspace here (a folder with ${SERVICE_MAPPINGS_FILE} or ${COMPOSITION_RULES_FILE}).`;

/**
 * The prompt workspace for a command; `hint` is a URI in it (a CodeLens's document), else the
 * active editor's. Undefined when there is none (the user was told) or the user cancelled.
 */
export async function pickWorkspace(server: ServerController, hint?: string, placeHolder = 'Pick a prompt workspace'): Promise<PromptWorkspaceInfo | undefined> {
  const all = await listWorkspaces(server);
  if (!all.length) {
    void vscode.window.showWarningMessage(NO_WORKSPACE_MESSAGE);
    return undefined;
  }
  const uris = all.map((w) => normUri(w.uri));
  const active = hint ?? vscode.window.activeTextEditor?.document.uri;
  const activeUri = active ? normUri(active.toString()) : undefined;
  const folders = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.toString());
  const chosen = choosePromptWorkspace(uris, activeUri?.startsWith('file:') ? activeUri : undefined, folders);
  if (chosen) return all[uris.indexOf(chosen)];
  const pick = await vscode.window.showQuickPick(
    all.map((w) => ({
      label: w.name,
      description: `${w.errorCount} errors · ${w.compositionCount} compositions · ${w.templateCount} templates`,
      detail: vscode.Uri.parse(w.uri).fsPath,
      w,
    })),
    { placeHolder, matchOnDetail: true },
  );
  return pick?.w;
}
