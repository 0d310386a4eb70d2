/**
 * The custom requests of protocol/protocol.ts: each handler finds the prompt workspace the
 * request names and answers from it. Lists and graphs come from the same validation the
 * diagnostics come from (so they work on a workspace with errors); renders, runs, health and
 * metrics go to the workspace's core PromptManager (enginePool.ts), built on that validation
 * too; runs are kept by id in runRegistry.ts; core values become wire values in wire.ts. The
 * prompt tests' requests are testRequests.ts's.
 */
import * as path from 'node:path';
import { ResponseError, ErrorCodes, type CancellationToken, type Connection, type Location } from 'vscode-languageserver/node';
import { isConfigFile } from '../core/workspace/discover.js';
import { compositionNamed, compositionsUsingTemplate, innermostHolding, serviceNamed, servicesNamingTemplate, servicesRunningComposition, templatesServiceMayRender } from '../core/workspace/queries.js';
import { templateNeeds } from '../core/validate/dataFlow.js';
import { buildGraph } from '../core/workflow/graph.js';
import { resolveComposition } from '../core/workflow/resolve.js';
import type { WorkflowEvent } from '../core/workflow/types.js';
import type { SNode } from '../core/yaml/sourceTree.js';
import { mappingsOf, rangeIn, rulesOf, type WorkspaceSnapshot } from './workspaceSnapshot.js';
import {
  CancelRunRequest,
  CompositionGraphRequest,
  ContextRequirementsRequest,
  HealthRequest,
  ListCompositionsRequest,
  ListProvidersRequest,
  ListRunsRequest,
  ListServicesRequest,
  ListTemplatesRequest,
  ListWorkspacesRequest,
  MetricsRequest,
  PreviewRequest,
  PROTOCOL_VERSION,
  RenderRequest,
  RunStatusRequest,
  RunWorkflowRequest,
  SetTrustNotification,
  StepProgressNotification,
  type CompositionGraph,
  type HealthReport,
  type WorkspaceParams,
} from '../protocol/protocol.js';
import { EnginePool } from './enginePool.js';
import { registerTestRequests } from './testRequests.js';
import { RunRegistry } from './runRegistry.js';
import {
  wireCompositionInfo,
  wireGraphNode,
  wireHealthReport,
  wirePreview,
  wirePromptError,
  wireProviderInfo,
  wireServiceInfo,
  wireTemplateInfo,
  wireWorkflowEvent,
  wireWorkflowStatus,
  wireWorkspaceInfo,
  workspaceName,
  type ServerErrorCode,
} from './wire.js';
import type { ManagedWorkspace, WorkspaceManager } from './workspaceManager.js';

export interface CustomRequestHost {
  connection: Connection;
  manager: WorkspaceManager;
  ready: Promise<void>;
  uriToPath(uri: string): string | undefined;
  freshSnapshot(ws: ManagedWorkspace): WorkspaceSnapshot;
  /** The workspace's trust (VS Code's workspace trust; true for clients without the notion). */
  trusted(): boolean;
}

/** Registers the handlers; the returned function cancels running runs and closes the engines (on shutdown). */
export function registerCustomRequests(host: CustomRequestHost): () => Promise<void> {
  const { connection, manager } = host;
  const engines = new EnginePool(manager, { snapshot: host.freshSnapshot, trusted: host.trusted() });
  const runs = new RunRegistry();

  function fail(code: ServerErrorCode, message: string): never {
    throw new ResponseError(ErrorCodes.InvalidParams, message, { code });
  }

  /** The prompt workspace a request names (its folder or any file in it), or the only one. */
  function workspaceOf(p: WorkspaceParams | null | undefined): ManagedWorkspace {
    const all = [...manager.workspaces.values()];
    if (!p?.workspace) {
      if (all.length === 1) return all[0]!;
      fail(all.length ? 'workspace_required' : 'unknown_workspace', all.length ? `${all.length} prompt workspaces are open: say which one with 'workspace'` : 'no prompt workspace is open');
    }
    const target = host.uriToPath(p.workspace) ?? path.resolve(p.workspace);
    const exact = manager.workspaces.get(target);
    if (exact) return exact;
    const byFile = manager.workspacesOf(target, isConfigFile(target))[0];
    if (byFile) return byFile;
    const above = innermostHolding(target, manager.workspaces.keys());
    if (above) return manager.workspaces.get(above)!;
    fail('unknown_workspace', `no prompt workspace holds ${p.workspace}`);
  }

  const locationOf = (snap: WorkspaceSnapshot, file: string, n: SNode | undefined): Location => ({
    uri: snap.uriOf(file),
    range: n ? rangeIn(snap, file, n.start, n.end) : { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
  });

// ------------------------------------------------------------------ lists

  connection.onRequest(ListWorkspacesRequest, async () => {
    await host.ready;
    return {
      protocolVersion: PROTOCOL_VERSION,
      workspaces: [...manager.workspaces.values()]
        .sort((a, b) => (a.root < b.root ? -1 : 1))
        .map((ws) =>
          wireWorkspaceInfo(host.freshSnapshot(ws).validation, {
            uri: manager.uriOf(ws.root),
            name: workspaceName(ws.folder, ws.root),
            uriOf: (f) => manager.uriOf(f),
            exists: (f) => manager.hasFile(f),
          }),
        ),
    };
  });

  connection.onRequest(ListServicesRequest, async (p) => {
    await host.ready;
    const ws = workspaceOf(p);
    const snap = host.freshSnapshot(ws);
    const model = mappingsOf(snap);
    const items = (model?.services ?? []).map((s) => wireServiceInfo(s, locationOf(snap, model!.file, s.nameNode)));
    return { workspace: manager.uriOf(ws.root), items };
  });

  connection.onRequest(ListTemplatesRequest, async (p) => {
    await host.ready;
    const ws = workspaceOf(p);
    const snap = host.freshSnapshot(ws);
    const v = snap.validation;
    const services = mappingsOf(snap)?.services ?? [];
    const rules = rulesOf(snap);
    let allowed: Set<string> | undefined;
    if (p.service !== undefined) {
      const s = serviceNamed(mappingsOf(snap), p.service);
      if (!s) fail('unknown_service', `service '${p.service}' is not defined`);
      allowed = templatesServiceMayRender(s, (c) => compositionNamed(rules, c));
    }
    const items = [...v.templates.values()]
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .filter((t) => !allowed || allowed.has(t.name))
      .map((t) =>
        wireTemplateInfo(t, snap.uriOf(t.file), {
          services: servicesNamingTemplate(services, t.name).map((s) => s.name),
          compositions: compositionsUsingTemplate(rules?.compositions ?? [], t.name).map((c) => c.name),
        }),
      );
    return { workspace: manager.uriOf(ws.root), items };
  });

  connection.onRequest(ListCompositionsRequest, async (p) => {
    await host.ready;
    const ws = workspaceOf(p);
    const snap = host.freshSnapshot(ws);
    const rules = rulesOf(snap);
    const services = mappingsOf(snap)?.services ?? [];
    let allowed: Set<string> | undefined;
    if (p.service !== undefined) {
      const s = serviceNamed(mappingsOf(snap), p.service);
      if (!s) fail('unknown_service', `service '${p.service}' is not defined`);
      allowed = new Set(s.compositions.map((c) => c.name));
    }
    const items = (rules?.compositions ?? [])
      .filter((c) => !allowed || allowed.has(c.name))
      .map((c) =>
        wireCompositionInfo(
          c,
          servicesRunningComposition(services, c.name).map((s) => s.name),
          (n) => locationOf(snap, rules!.file, n),
        ),
      );
    return { workspace: manager.uriOf(ws.root), items };
  });

  connection.onRequest(ListProvidersRequest, async (p) => {
    await host.ready;
    const ws = workspaceOf(p);
    const snap = host.freshSnapshot(ws);
    const rules = rulesOf(snap);
    const items = (rules?.providers ?? []).map((pr) => wireProviderInfo(pr, locationOf(snap, rules!.file, pr.nameNode)));
    return { workspace: manager.uriOf(ws.root), items };
  });

  connection.onRequest(ContextRequirementsRequest, async (p) => {
    await host.ready;
    const ws = workspaceOf(p);
    const snap = host.freshSnapshot(ws);
    if (p.template !== undefined && p.composition !== undefined) throw new ResponseError(ErrorCodes.InvalidParams, 'give a template or a composition, not both');
    const required = new Set<string>();
    const optional = new Set<string>();
    if (p.service !== undefined) {
      const s = serviceNamed(mappingsOf(snap), p.service);
      if (!s) return { ok: false as const, error: { code: 'unknown_service' as const, message: `service '${p.service}' is not defined`, service: p.service } };
      for (const k of s.contextRequirements.required) required.add(k);
      for (const k of s.contextRequirements.optional) optional.add(k);
    }
    if (p.composition !== undefined) {
      const c = compositionNamed(rulesOf(snap), p.composition);
      if (!c) return { ok: false as const, error: { code: 'unknown_composition' as const, message: `composition '${p.composition}' is not defined`, composition: p.composition } };
      for (const r of c.inputs.required) required.add(r.name);
      for (const r of c.inputs.optional) optional.add(r.name);
    } else if (p.template !== undefined) {
      const t = snap.validation.templates.get(p.template);
      if (!t) return { ok: false as const, error: { code: 'unknown_template' as const, message: `template '${p.template}' is not defined`, template: p.template } };
      const needs = templateNeeds(t, snap.validation.templates);
      for (const k of needs.required) required.add(k);
      for (const k of needs.optional) optional.add(k);
    }
    for (const k of required) optional.delete(k);
    return { ok: true as const, required: [...required].sort(), optional: [...optional].sort() };
  });

  // ------------------------------------------------------------------ graph

  connection.onRequest(CompositionGraphRequest, async (p) => {
    await host.ready;
    const ws = workspaceOf(p);
    const snap = host.freshSnapshot(ws);
    const rules = rulesOf(snap);
    const def = compositionNamed(rules, p.composition);
    if (!rules || !def) return { ok: false as const, error: { code: 'unknown_composition', message: `composition '${p.composition}' is not defined`, composition: p.composition } };
    let g;
    let applied: CompositionGraph['appliedOverrides'];
    if (p.context) {
      const resolved = resolveComposition(def, rules.defaults, p.context);
      g = buildGraph(resolved);
      applied = resolved.appliedOverrides;
    } else g = buildGraph(def);
    const graph: CompositionGraph = {
      composition: def.name,
      nodes: g.nodes.map((n) => {
        const step = def.steps.find((s) => s.id === n.id);
        const out: CompositionGraph['nodes'][number] = { ...wireGraphNode(n) };
        if (step) out.location = locationOf(snap, rules.file, step.idNode ?? step.node);
        const t = n.template ? snap.validation.templates.get(n.template) : undefined;
        if (t) out.templateUri = snap.uriOf(t.file);
        return out;
      }),
      edges: g.edges,
      layers: g.layers,
      location: locationOf(snap, rules.file, def.nameNode),
    };
    if (g.cycle) graph.cycle = g.cycle;
    if (applied) graph.appliedOverrides = applied;
    return { ok: true as const, graph };
  });

  // ------------------------------------------------------------------ engine: render, runs, health, metrics

  connection.onRequest(RenderRequest, async (p) => {
    await host.ready;
    const t0 = performance.now();
    const ws = workspaceOf(p);
    const e = await engines.engineFor(ws);
    if ('error' in e) return { ok: false as const, error: e.error, durationMs: performance.now() - t0 };
    try {
      const r = await e.pm.render(p.template, p.context ?? {}, p.service !== undefined ? { serviceName: p.service } : undefined);
      return { ok: true as const, text: r.text, templateUsed: r.template, fromCache: r.fromCache, durationMs: r.durationMs, ...(r.errorsElsewhere ? { errorsElsewhere: r.errorsElsewhere } : {}) };
    } catch (err) {
      const snap = host.freshSnapshot(ws);
      return { ok: false as const, error: wirePromptError(err, (f) => snap.uriOf(f)), durationMs: performance.now() - t0 };
    }
  });

  connection.onRequest(PreviewRequest, async (p) => {
    await host.ready;
    const t0 = performance.now();
    const ws = workspaceOf(p);
    const e = await engines.engineFor(ws);
    if ('error' in e) return { ok: false as const, error: e.error, durationMs: performance.now() - t0 };
    const snap = host.freshSnapshot(ws);
    const context = p.context ?? {};
    const serviceName = p.service !== undefined ? { serviceName: p.service } : {};
    try {
      if (p.composition !== undefined && p.step !== undefined) {
        const lastRun = runs.lastFinished(ws, p.composition);
        return wirePreview(e.pm.previewStep(p.composition, p.step, context, { ...serviceName, ...(lastRun ? { lastRun } : {}) }), (f) => snap.uriOf(f));
      }
      if (p.template !== undefined && p.composition === undefined) return wirePreview(e.pm.previewTemplate(p.template, context, serviceName), (f) => snap.uriOf(f));
      return { ok: false as const, error: { code: 'invalid_configuration' as const, message: 'promptManager/preview needs either `template`, or `composition` and `step`' }, durationMs: performance.now() - t0 };
    } catch (err) {
      return { ok: false as const, error: wirePromptError(err, (f) => snap.uriOf(f)), durationMs: performance.now() - t0 };
    }
  });

  connection.onRequest(RunWorkflowRequest, async (p, token: CancellationToken) => {
    await host.ready;
    const ws = workspaceOf(p);
    const mp = p.maxParallel;
    if (mp !== undefined && mp !== null && mp !== 0 && !(Number.isInteger(mp) && mp >= 1)) {
      return { ok: false as const, error: { code: 'invalid_configuration', message: `maxParallel must be a whole number from 1 up (0: the composition's max_parallel), not ${JSON.stringify(mp)}` } };
    }
    const e = await engines.engineFor(ws);
    if ('error' in e) return { ok: false as const, error: e.error };
    const backendProblem = engines.backendProblem(ws);
    if (backendProblem) return { ok: false as const, error: backendProblem };
    const backend = engines.runsOn(ws);
    const snap = host.freshSnapshot(ws);
    const runId = p.runId ?? e.pm.idGenerator();
    const entry = runs.start(runId, ws, p.composition);
    if (!entry) return { ok: false as const, error: { code: 'invalid_configuration', message: `a run with the id '${runId}' is still running` } };
    const { controller } = entry;
    const progress = connection.window.attachWorkDoneProgress(p.workDoneToken);
    const cancel = token.onCancellationRequested(() => controller.abort());
    const def = compositionNamed(rulesOf(snap), p.composition);
    const total = Math.max(1, def?.steps.length ?? 1);
    let finished = 0;
    // Cancelled through the request (or promptManager/cancelRun), not through the progress.
    progress.begin(`Running ${p.composition}`, 0, undefined, false);
    let first = true;
    const forward = (ev: WorkflowEvent) => {
      const step = 'stepId' in ev ? def?.steps.find((s) => s.id === ev.stepId) : undefined;
      void connection.sendNotification(StepProgressNotification, {
        runId,
        workspace: manager.uriOf(ws.root),
        event: wireWorkflowEvent(ev),
        ...(step && def ? { location: locationOf(snap, snap.validation.compositionRulesFile, step.idNode ?? step.node) } : {}),
        ...(first ? { backend } : {}),
      });
      first = false;
      if (ev.type === 'step.finished') {
        finished++;
        progress.report(Math.round((finished / total) * 100), `${ev.stepId}: ${ev.status}`);
      } else if (ev.type === 'step.started') progress.report(`${ev.stepId}: running`);
    };
    try {
      const opts: { serviceName?: string; workflowId: string; signal: AbortSignal; maxParallel?: number } = { workflowId: runId, signal: controller.signal };
      if (p.service !== undefined) opts.serviceName = p.service;
      // The setting only lowers the composition's max_parallel (the engine takes the smaller).
      if (mp) opts.maxParallel = mp;
      const run = await e.pm.startWorkflow(p.composition, p.context ?? {}, opts);
      entry.run = run;
      for await (const ev of run) forward(ev);
      const result = await run.done;
      entry.final = result;
      // Errors elsewhere in the workspace did not stop the run (errors in what it uses would have): say so.
      const elsewhere = e.pm.configurationErrors({ composition: p.composition, ...(p.service !== undefined ? { serviceName: p.service } : {}) }).elsewhere;
      return { ok: true as const, status: wireWorkflowStatus(result), ...(elsewhere ? { errorsElsewhere: elsewhere } : {}), backend };
    } catch (err) {
      runs.failed(runId, entry, wirePromptError(err, (f) => manager.uriOf(f)) as unknown as Record<string, unknown>);
      return { ok: false as const, error: wirePromptError(err, (f) => snap.uriOf(f)) };
    } finally {
      cancel.dispose();
      progress.done();
    }
  });

  // The workspace's trust, followed into every engine (and test run): an untrusted workspace runs no provider step.
  let trusted = host.trusted();
  connection.onNotification(SetTrustNotification, (p) => {
    trusted = p.trusted === true;
    engines.setTrusted(trusted);
  });
  const disposeTests = registerTestRequests({
    connection,
    manager,
    ready: host.ready,
    freshSnapshot: host.freshSnapshot,
    workspaceOf,
    trusted: () => trusted,
    // Live tests keep their answers where the workspace's runs do: in Redis when they are distributed.
    liveResponseCache: async (ws) => {
      const e = await engines.engineFor(ws);
      return 'error' in e || e.pm.workflowBackend !== 'bullmq' ? undefined : e.pm.responseCache;
    },
  });

  connection.onRequest(RunStatusRequest, async (p) => {
    const status = runs.status(p.runId);
    return status ? wireWorkflowStatus(status) : null;
  });

  connection.onRequest(CancelRunRequest, async (p) => ({ cancelled: runs.cancel(p.runId, p.reason ?? 'cancelled from the editor') }));

  connection.onRequest(ListRunsRequest, async (p) => {
    const want = p?.workspace ? workspaceOf(p) : undefined;
    return runs.list(want).map(({ id, entry, status }) => {
      const s = status && wireWorkflowStatus(status);
      return { id, workspace: manager.uriOf(entry.workspace.root), composition: entry.composition, status: s?.status ?? 'running', startedAt: s?.startedAt ?? entry.startedAt };
    });
  });

  connection.onRequest(HealthRequest, async (p) => {
    await host.ready;
    const ws = workspaceOf(p);
    const e = await engines.engineFor(ws);
    const workspace = manager.uriOf(ws.root);
    // A configuration that does not load: the last good one is still in use when there is one.
    const pm = 'pm' in e ? e.pm : engines.loaded(ws);
    if (!pm) {
      const reason = 'error' in e ? e.error.message : 'the configuration could not be loaded';
      return { ok: true as const, workspace, health: { status: 'unhealthy' as const, components: { config: { status: 'unhealthy' as const, reason } } } };
    }
    const health: HealthReport = wireHealthReport(pm.healthCheck());
    return { ok: true as const, workspace, health };
  });

  connection.onRequest(MetricsRequest, async (p) => {
    await host.ready;
    const ws = workspaceOf(p);
    const e = await engines.engineFor(ws);
    const pm = 'pm' in e ? e.pm : engines.loaded(ws);
    if (!pm) return { ok: false as const, error: 'error' in e ? e.error : { code: 'not_available', message: 'no engine' } };
    // Runs on the BullMQ back end: the workers' provider figures, read from Redis now (a Redis that does not answer leaves the last read, its age said).
    await pm.refreshMetrics().catch(() => undefined);
    if (p.format === 'prometheus') return { ok: true as const, workspace: manager.uriOf(ws.root), format: 'prometheus' as const, text: pm.getMetrics({ format: 'prometheus' }) };
    const metrics = { ...(pm.getMetrics() as unknown as Record<string, unknown>), workflowEngine: pm.getWorkflowMetrics() };
    return { ok: true as const, workspace: manager.uriOf(ws.root), format: 'json' as const, metrics };
  });

  return async () => {
    runs.abortAll();
    disposeTests();
    await engines.close();
  };
}
