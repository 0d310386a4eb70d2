/**
 * PromptManager: Run Workflow. Picks a composition (and a service that may run it) and a
 * context, refuses runs that call a model provider in an untrusted workspace, then runs it on
 * the server with a cancellable progress notification ("step k of n"), one output line per
 * event, and a summary table with the final output at the end.
 */
import * as vscode from 'vscode';
import { CancelRunRequest, CompositionGraphRequest, ListCompositionsRequest, RunWorkflowRequest, type CompositionInfo, SETTING_DEFAULTS, type RunWorkflowParams, type WorkflowEvent } from '../protocol/protocol.js';
import { COMPOSITION_RULES_FILE } from '../protocol/configFiles.js';
import { pickContext, requiredContext } from './contexts.js';
import { formatDuration, formatEventLine, formatRunSummary } from './format.js';
import { outcomeMessage, outcomeOfRefusal, outcomeOfStatus } from './runOutcome.js';
import { providerSteps, untrustedRunMessage } from './policy.js';
import type { RunEnd, RunStore } from './runStore.js';
import { isConnectionLost, requestErrorMessage, type ServerController } from './serverController.js';
import { pickWorkspace } from './workspaces.js';

export interface RunArgs {
  workspace?: string;
  composition?: string;
  service?: string;
}

export async function runWorkflow(server: ServerController, runs: RunStore, out: vscode.OutputChannel, state: vscode.Memento, args: RunArgs = {}): Promise<void> {
  const ws = await pickWorkspace(server, args.workspace, 'Run Workflow: pick a prompt workspace');
  if (!ws) return;
  const compositions = (await server.request(ListCompositionsRequest, { workspace: ws.uri })).items;
  if (!compositions.length) {
    void vscode.window.showWarningMessage(`PromptManager: ${ws.name} defines no composition (${COMPOSITION_RULES_FILE}).`);
    return;
  }
  let comp: CompositionInfo | undefined = args.composition ? compositions.find((c) => c.name === args.composition) : undefined;
  if (args.composition && !comp) {
    void vscode.window.showErrorMessage(`PromptManager: composition '${args.composition}' is not defined in ${ws.name}.`);
    return;
  }
  if (!comp) {
    const pick = await vscode.window.showQuickPick(
      compositions.map((c) => ({
        label: c.name,
        description: c.services.length ? c.services.join(', ') : '',
        detail: [c.description, `${c.steps.length} steps`, c.inputs.required.length ? `requires ${c.inputs.required.join(', ')}` : '', c.steps.some((s) => s.model) ? '$(cloud) calls a model' : ''].filter(Boolean).join(' · '),
        c,
      })),
      { title: 'Run Workflow', placeHolder: 'Pick a composition to run', matchOnDescription: true, matchOnDetail: true },
    );
    if (!pick) return;
    comp = pick.c;
  }
  let service = args.service;
  if (service === undefined && comp.services.length) {
    const pick = await vscode.window.showQuickPick(
      [...comp.services.map((s) => ({ label: s, description: 'its access rules and required context apply', service: s as string | undefined })), { label: 'No service', description: 'every template, no access rules', service: undefined }],
      { title: `Run Workflow: ${comp.name}`, placeHolder: 'Run it as which service?' },
    );
    if (!pick) return;
    service = pick.service;
  }
  const required = await requiredContext(server, ws.uri, { composition: comp.name, ...(service ? { service } : {}) });
  const ctx = await pickContext(state, ws.uri, { composition: comp.name, ...(service ? { service } : {}), ...(required ? { required } : {}) }, `Run Workflow: context for ${comp.name}`);
  if (!ctx) return;

  // Workspace trust: nothing that calls a model provider runs in an untrusted workspace.
  if (!vscode.workspace.isTrusted) {
    let steps = providerSteps(comp.steps);
    try {
      const g = await server.request(CompositionGraphRequest, { workspace: ws.uri, composition: comp.name, context: ctx.value });
      if (g.ok) steps = providerSteps(g.graph.nodes);
    } catch {
      // Keep the steps as declared.
    }
    if (steps.length) {
      const msg = untrustedRunMessage(comp.name, steps);
      out.appendLine(msg);
      const a = await vscode.window.showErrorMessage(msg, 'Manage Workspace Trust');
      if (a) void vscode.commands.executeCommand('workbench.trust.manage');
      return;
    }
  }

  const composition = comp;
  const runId = `vscode-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  const stepIds = composition.steps.map((s) => s.id);
  const width = Math.max(10, ...stepIds.map((s) => s.length));
  const maxParallel = vscode.workspace.getConfiguration('promptManager').get<number>('run.maxParallel', SETTING_DEFAULTS['run.maxParallel']);
  const params: RunWorkflowParams = { workspace: ws.uri, composition: composition.name, context: ctx.value, runId, ...(service ? { service } : {}), ...(maxParallel > 0 ? { maxParallel } : {}) };

  out.appendLine('');
  out.appendLine(`=== Run ${runId}: ${composition.name}${service ? ` as ${service}` : ''} with ${ctx.label} (${ws.name}) ===`);
  out.show(true);
  runs.begin(ws.uri, composition.name, runId, stepIds);

  let end: RunEnd;
  try {
    // The notification lives exactly as long as the request: whatever way the run ends (a
    // result, a refusal, an error, the server going away), the task returns or throws and VS
    // Code closes it. What the run came to is told after, in a notification of its own.
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `PromptManager: ${composition.name}`, cancellable: true },
      async (progress, token) => {
        const total = Math.max(1, stepIds.length);
        let finished = 0;
        const running = new Set<string>();
        const message = () => `step ${Math.min(total, finished + (running.size ? 1 : 0))} of ${total}${running.size ? `: ${[...running].join(', ')}` : ''}`;
        progress.report({ message: `step 0 of ${total}: starting` });
        const sub = runs.onEvent(runId, (ev: WorkflowEvent, p) => {
          out.appendLine(formatEventLine(ev, new Date(), width, p.backend));
          if (ev.type === 'step.started') {
            running.add(ev.stepId);
            progress.report({ message: message() });
          } else if (ev.type === 'step.finished') {
            running.delete(ev.stepId);
            finished++;
            progress.report({ increment: 100 / total, message: `step ${finished} of ${total} done: ${ev.stepId} ${ev.status}` });
          }
        });
        const cancel = token.onCancellationRequested(() => {
          out.appendLine(`Cancelling run ${runId}…`);
          server.request(CancelRunRequest, { runId, reason: 'cancelled from VS Code' }).catch((e) => out.appendLine(requestErrorMessage(e)));
        });
        try {
          const r = await server.request(RunWorkflowRequest, params);
          end = r.ok ? { final: r.status, ...(r.errorsElsewhere ? { errorsElsewhere: r.errorsElsewhere } : {}), ...(r.backend ? { backend: r.backend } : {}) } : { refusal: r.error };
        } finally {
          sub.dispose();
          cancel.dispose();
        }
      },
    );
  } catch (e) {
    if (isConnectionLost(e)) {
      // The server (which runs the steps) went away with the run: say so, and what to do.
      const last = runs.lastRun(ws.uri, composition.name);
      const unfinished = last?.runId === runId ? Object.entries(last.steps).filter(([, s]) => s === 'running' || s === 'pending') : [];
      const stop = server.lastStop;
      const why = stop?.reason === 'restarted' ? 'the language server was restarted' : 'the language server stopped unexpectedly';
      const next = stop && !stop.restarting ? 'Restart it ("PromptManager: Restart Server"), then run the workflow again.' : 'It is being restarted: run the workflow again.';
      out.appendLine(`Run ${runId} of ${composition.name} was interrupted: ${why} while the run was under way, so the run has no result.`);
      if (unfinished.length) out.appendLine(`Steps that did not finish: ${unfinished.map(([id, s]) => `${id} (${s})`).join(', ')}.`);
      out.appendLine(next);
      out.appendLine(`=== End of run ${runId} (interrupted) ===`);
      out.show(true);
      void vscode.window.showErrorMessage(`PromptManager: the run of ${composition.name} was interrupted because ${why}. ${next}`, 'Run Again', 'Show Output').then((a) => {
        // (service '' = no service: the run goes as it went, without asking again.)
        if (a === 'Run Again') void vscode.commands.executeCommand('promptManager.runWorkflow', { workspace: ws.uri, composition: composition.name, service: service ?? '' });
        else if (a) out.show();
      });
    } else {
      out.appendLine(`Run ${runId} failed: ${requestErrorMessage(e)}`);
      void vscode.window.showErrorMessage(requestErrorMessage(e));
    }
  } finally {
    runs.end(runId, end);
  }
  if (end) reportRunEnd(out, composition.name, runId, end);
}

/** Tells what a finished or refused run came to: the output channel, then the status bar or a notification. */
function reportRunEnd(out: vscode.OutputChannel, composition: string, runId: string, end: NonNullable<RunEnd>): void {
  if ('refusal' in end) {
    const o = outcomeOfRefusal(end.refusal);
    out.appendLine(`Run ${runId} of ${composition} was refused: ${end.refusal.code}: ${end.refusal.message}`);
    out.appendLine(`=== End of run ${runId} (refused) ===`);
    void vscode.window.showErrorMessage(outcomeMessage(composition, o), 'Show Output').then((a) => a && out.show());
    return;
  }
  const status = end.final;
  const o = outcomeOfStatus(status);
  out.appendLine('');
  for (const line of formatRunSummary(status, end.backend)) out.appendLine(line);
  if (end.errorsElsewhere) out.appendLine(`Note: ${end.errorsElsewhere} error${end.errorsElsewhere === 1 ? '' : 's'} elsewhere in the workspace (not in what this run uses: see Problems).`);
  out.appendLine(`=== End of run ${runId} ===`);
  out.show(true);
  const duration = formatDuration(status.durationMs);
  if (o.severity === 'info') {
    void vscode.window.setStatusBarMessage(`PromptManager: ${composition} ${o.label} in ${duration}`, 5000);
    return;
  }
  void vscode.window.setStatusBarMessage(`$(warning) PromptManager: ${composition} ${o.label}`, 10_000);
  const setKey = o.missingKeys.length ? ['Set Provider API Key'] : [];
  const text = outcomeMessage(composition, o, o.refused ? undefined : duration);
  const shown = o.severity === 'error' ? vscode.window.showErrorMessage(text, ...setKey, 'Show Output') : vscode.window.showWarningMessage(text, ...setKey, 'Show Output');
  void shown.then((a) => {
    if (a === 'Set Provider API Key') void vscode.commands.executeCommand('promptManager.setApiKey', { env: o.missingKeys[0] });
    else if (a) out.show();
  });
}
