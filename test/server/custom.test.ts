/**
 * The custom requests of protocol/protocol.ts over real LSP: listing, rendering, workflow runs
 * (work-done progress, step notifications, status, cancellation), graphs, health, metrics.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { CancellationTokenSource, WorkDoneProgress } from 'vscode-languageserver-protocol';
import {
  CancelRunRequest,
  CompositionGraphRequest,
  HealthRequest,
  ListCompositionsRequest,
  ListProvidersRequest,
  ListRunsRequest,
  ListServicesRequest,
  ListTemplatesRequest,
  ListWorkspacesRequest,
  MetricsRequest,
  RenderRequest,
  RunStatusRequest,
  RunWorkflowRequest,
  StepProgressNotification,
  type StepProgressParams,
} from '../../protocol/protocol.js';
import { EXAMPLES } from '../helpers/paths.js';
import { copyFixture, LspClient, uri, writeFiles } from './lsp.js';

let c: LspClient;
let dir: string;
const context = JSON.parse(fs.readFileSync(path.join(EXAMPLES, 'contexts/analysis_service.json'), 'utf8')) as Record<string, unknown>;

before(async () => {
  dir = copyFixture();
  c = await LspClient.start({ folders: [dir] });
});
after(async () => {
  await c.stop();
});

test('listWorkspaces, listServices, listTemplates, listCompositions', async () => {
  const ws = await c.conn.sendRequest(ListWorkspacesRequest, null);
  assert.equal(ws.workspaces.length, 1);
  assert.equal(ws.workspaces[0]!.uri, uri(dir));
  assert.equal(ws.workspaces[0]!.errorCount, 0);
  // Messages name the workspace by its folder, never '.'.
  assert.equal(ws.workspaces[0]!.name, path.basename(dir));
  const services = await c.conn.sendRequest(ListServicesRequest, {});
  assert.deepEqual(services.items.map((s) => s.name), ['analysis_service', 'qa_service', 'drafting_service', 'classification_service']);
  const a = services.items[0]!;
  assert.deepEqual(a.primaryTemplates, ['analysis/quick_summary', 'analysis/extract']);
  assert.equal(a.location.uri, uri(path.join(dir, 'service_mappings.yaml')));
  const templates = await c.conn.sendRequest(ListTemplatesRequest, { service: 'classification_service' });
  assert.deepEqual(templates.items.map((t) => t.name).sort(), ['classify/doc_type', 'common/preamble', 'common/unavailable']);
  const all = await c.conn.sendRequest(ListTemplatesRequest, { workspace: uri(path.join(dir, 'composition_rules.yaml')) });
  const summary = all.items.find((t) => t.name === 'analysis/summary')!;
  assert.deepEqual(summary.usedByCompositions, ['complete_analysis']);
  assert.ok(summary.variables.includes('document'));
  assert.deepEqual(summary.stepReads, ['extract']);
  const comps = await c.conn.sendRequest(ListCompositionsRequest, { service: 'qa_service' });
  assert.deepEqual(comps.items.map((x) => x.name), ['grounded_answer']);
  assert.deepEqual(comps.items[0]!.steps.map((s) => [s.id, s.dependsOn]), [['passages', []], ['answer', ['passages']], ['citations', ['answer']]]);
  // The Preview CodeLens goes on the step's `template:` value, not on its id.
  const rulesLines = fs.readFileSync(path.join(dir, 'composition_rules.yaml'), 'utf8').split('\n');
  const tl = comps.items[0]!.steps[0]!.templateLocation!;
  assert.ok(tl, 'templateLocation is sent');
  assert.equal(rulesLines[tl.range.start.line]!.slice(tl.range.start.character, tl.range.end.character), 'qa/select_passages');
  assert.match(rulesLines[tl.range.start.line]!, /^\s+template: qa\/select_passages$/);
  const providers = await c.conn.sendRequest(ListProvidersRequest, {});
  assert.deepEqual(providers.items.map((p) => [p.name, p.type, p.model, p.apiKeyEnv]), [['local', 'openai-compatible', 'llama3.2', 'PROMPTMANAGER_API_KEY']]);
});

test('render: text, template used, cache flag and duration; positioned errors', async () => {
  const r = await c.conn.sendRequest(RenderRequest, { template: 'analysis/quick_summary', context });
  assert.ok(r.ok, JSON.stringify(r));
  assert.match(r.text, /Q1 Operations Report/);
  assert.equal(r.templateUsed, 'analysis/quick_summary');
  assert.equal(typeof r.fromCache, 'boolean');
  assert.equal(typeof r.durationMs, 'number');
  const missing = await c.conn.sendRequest(RenderRequest, { template: 'analysis/quick_summary', context: { user_id: 'u' } });
  assert.ok(!missing.ok);
  assert.equal(missing.error.code, 'missing_context');
  assert.match(String(missing.error.variable), /^document/);
  const unknown = await c.conn.sendRequest(RenderRequest, { template: 'nope/none', context: {} });
  assert.ok(!unknown.ok && unknown.error.code === 'unknown_template');
  const denied = await c.conn.sendRequest(RenderRequest, { template: 'qa/answer_direct', context, service: 'analysis_service' });
  assert.ok(!denied.ok && denied.error.code === 'access_denied', JSON.stringify(denied));
  // The render reads the open buffer, not the disk.
  const qs = path.join(dir, 'templates/analysis/quick_summary.hbs');
  const text = await c.open(qs);
  await c.change(qs, 'EDITED {{document.title}}\n' + text);
  const edited = await c.conn.sendRequest(RenderRequest, { template: 'analysis/quick_summary', context });
  assert.ok(edited.ok && edited.text.startsWith('EDITED Q1'), JSON.stringify(edited));
  await c.close(qs);
});

test('compositionGraph: nodes with locations, edges, layers; overrides applied with a context', async () => {
  const g = await c.conn.sendRequest(CompositionGraphRequest, { composition: 'complete_analysis' });
  assert.ok(g.ok);
  assert.deepEqual(g.graph.layers, [['extract'], ['summary', 'critique', 'risks'], ['report']]);
  assert.equal(g.graph.edges.length, 6);
  const extract = g.graph.nodes.find((n) => n.id === 'extract')!;
  assert.equal(extract.location!.uri, uri(path.join(dir, 'composition_rules.yaml')));
  assert.equal(extract.templateUri, uri(path.join(dir, 'templates/analysis/extract.hbs')));
  const draft = await c.conn.sendRequest(CompositionGraphRequest, { composition: 'guided_review', context: { state: 'draft' } });
  assert.ok(draft.ok);
  assert.equal(draft.graph.nodes.find((n) => n.id === 'checklist')!.skip, true);
  assert.deepEqual(draft.graph.appliedOverrides, { state: 'draft' });
  const none = await c.conn.sendRequest(CompositionGraphRequest, { composition: 'nope' });
  assert.ok(!none.ok && none.error.code === 'unknown_composition');
});

test('runWorkflow: work-done progress, a step notification per event, final status, runStatus', async () => {
  const events: StepProgressParams[] = [];
  const progress: unknown[] = [];
  const d1 = c.conn.onNotification(StepProgressNotification, (p) => void events.push(p));
  const d2 = c.conn.onProgress(WorkDoneProgress.type, 'tok-1', (p) => void progress.push(p));
  try {
    const r = await c.conn.sendRequest(RunWorkflowRequest, { composition: 'complete_analysis', context, runId: 'run-1', workDoneToken: 'tok-1' });
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.status.status, 'succeeded');
    assert.deepEqual(r.status.steps.map((s) => s.status), ['succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded']);
    await c.until(() => events.some((e) => e.event.type === 'workflow.finished'), 3000, 'workflow.finished');
    assert.equal(events[0]!.event.type, 'workflow.started');
    assert.ok(events.filter((e) => e.event.type === 'step.finished').length === 5);
    assert.ok(events.find((e) => e.event.type === 'step.started')!.location, 'step events carry the step location');
    assert.ok(progress.some((p) => (p as { kind: string }).kind === 'begin') && progress.some((p) => (p as { kind: string }).kind === 'end'), JSON.stringify(progress));
    const status = await c.conn.sendRequest(RunStatusRequest, { runId: 'run-1' });
    assert.equal(status?.status, 'succeeded');
    assert.equal(await c.conn.sendRequest(RunStatusRequest, { runId: 'never' }), null);
    const runs = await c.conn.sendRequest(ListRunsRequest, {});
    assert.ok(runs.some((x) => x.id === 'run-1' && x.composition === 'complete_analysis'));
  } finally {
    d1.dispose();
    d2.dispose();
  }
});

test('runWorkflow: cancelling the request (or cancelRun) cancels the run', async () => {
  // A provider that answers slowly, so that the run is still going when we cancel.
  const server = http.createServer((_req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ message: { content: 'late' } }] }));
    }, 5000).unref();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const d = copyFixture();
  writeFiles(d, {
    'composition_rules.yaml': `version: 1\nproviders:\n  slow:\n    type: openai-compatible\n    base_url: http://127.0.0.1:${port}/v1\n    model: m\ncompositions:\n  slow_run:\n    inputs: { required: [document] }\n    steps:\n      - id: ask\n        template: analysis/quick_summary\n        model: slow\n`,
    'service_mappings.yaml': 'version: 1\nservices: {}\n',
  });
  const c2 = await LspClient.start({ folders: [d] });
  try {
    const src = new CancellationTokenSource();
    const pending = c2.conn.sendRequest(RunWorkflowRequest, { composition: 'slow_run', context, runId: 'slow-1' }, src.token);
    await c2.until(() => false, 300, 'a moment').catch(() => undefined);
    const running = await c2.conn.sendRequest(RunStatusRequest, { runId: 'slow-1' });
    assert.equal(running?.status, 'running');
    src.cancel();
    const r = await pending.catch((e: Error) => e);
    // The server answers the cancelled request with the cancelled run, or the client drops it.
    const status = await c2.conn.sendRequest(RunStatusRequest, { runId: 'slow-1' });
    assert.equal(status?.status, 'cancelled', JSON.stringify(r));
    // cancelRun on a run that is not running says so.
    assert.deepEqual(await c2.conn.sendRequest(CancelRunRequest, { runId: 'slow-1' }), { cancelled: false });
    const again = c2.conn.sendRequest(RunWorkflowRequest, { composition: 'slow_run', context, runId: 'slow-2' });
    await c2.until(() => false, 300, 'a moment').catch(() => undefined);
    assert.deepEqual(await c2.conn.sendRequest(CancelRunRequest, { runId: 'slow-2' }), { cancelled: true });
    const r2 = await again;
    assert.ok(r2.ok && r2.status.status === 'cancelled', JSON.stringify(r2));
  } finally {
    await c2.stop();
    server.close();
  }
});

test('health and metrics of a workspace', async () => {
  const h = await c.conn.sendRequest(HealthRequest, {});
  assert.ok(h.ok);
  assert.ok(['healthy', 'degraded', 'unhealthy'].includes(h.health.status));
  for (const k of ['config', 'templates', 'cache', 'workflows', 'providers']) assert.ok(h.health.components[k], k);
  const m = await c.conn.sendRequest(MetricsRequest, {});
  assert.ok(m.ok && m.format === 'json');
  assert.match(JSON.stringify(m.metrics), /analysis\/quick_summary/);
  const p = await c.conn.sendRequest(MetricsRequest, { format: 'prometheus' });
  assert.ok(p.ok && p.format === 'prometheus' && /# TYPE/.test(p.text));
});

test('requests name their workspace when several are open', async () => {
  const other = copyFixture();
  const c2 = await LspClient.start({ folders: [dir, other] });
  try {
    await assert.rejects(c2.conn.sendRequest(ListServicesRequest, {}), /2 prompt workspaces/);
    const r = await c2.conn.sendRequest(ListServicesRequest, { workspace: uri(path.join(other, 'templates/common/preamble.hbs')) });
    assert.equal(r.workspace, uri(other));
  } finally {
    await c2.stop();
  }
});


test('render: the promptManager.templatesRoot setting applies to renders as to diagnostics, and a change of it is followed', async () => {
  const d = copyFixture();
  // A second templates folder whose quick_summary says where it comes from.
  fs.cpSync(path.join(d, 'templates'), path.join(d, 'other'), { recursive: true });
  fs.writeFileSync(path.join(d, 'other/analysis/quick_summary.hbs'), 'FROM OTHER {{document.title}}\n');
  const client = await LspClient.start({ folders: [d], settings: { templatesRoot: 'other' } });
  try {
    const r = await client.conn.sendRequest(RenderRequest, { template: 'analysis/quick_summary', context });
    assert.ok(r.ok && r.text.startsWith('FROM OTHER Q1'), JSON.stringify(r));
    // The setting is removed: renders go back to templates/.
    client.settings = {};
    await client.conn.sendNotification('workspace/didChangeConfiguration', { settings: {} });
    await client.until(() => false, 600).catch(() => undefined);
    const back = await client.conn.sendRequest(RenderRequest, { template: 'analysis/quick_summary', context });
    assert.ok(back.ok && !back.text.startsWith('FROM OTHER') && /Q1 Operations Report/.test(back.text), JSON.stringify(back));
  } finally {
    await client.stop();
  }
});
