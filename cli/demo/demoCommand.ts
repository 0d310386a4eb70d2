/**
 * `promptmanager demo [DIR]`: what a newcomer needs to see, on the bundled examples, with no
 * network. Validates the workspace, renders a template for a service (and shows the cache and
 * an access check), runs a fan-out/fan-in workflow, then a workflow whose model step fails,
 * retries and falls back while the run still delivers; then runs the prompt tests, offline,
 * and the live one twice against the demo model, the second time from the response cache.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PromptManager } from '../../core/manager/promptManager.js';
import { PromptError } from '../../core/errors.js';
import { plural } from '../../core/plural.js';
import type { WorkspaceValidation } from '../../core/validate/api.js';
import { validateWorkspace } from '../../core/validate/validateWorkspace.js';
import { runPromptTests } from '../../core/testing/runner.js';
import { MemoryResponseCacheStore, ResponseCache } from '../../core/workflow/responseCache.js';
import { formatSummary, formatTestResult } from '../testReporters.js';
import { parseArgs, UsageError } from '../args.js';
import { startDemoModelServer } from './demoModelServer.js';
import { ProgressView } from '../progress.js';
import { formatDiagnostic, type CommandIO } from '../validateCommand.js';
import { pickWorkspace, readContextFile } from '../workspaceArg.js';

function excerpt(text: string, lines = 8): string {
  const all = text.trim().split('\n');
  const shown = all.slice(0, lines).map((l) => `    | ${l}`);
  if (all.length > lines) shown.push(`    | ... (${all.length - lines} more lines)`);
  return shown.join('\n') + '\n';
}

async function readJson(file: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readContextFile(file)) as Record<string, unknown>;
}

/** What the tour uses of the bundled examples; another workspace gets a plain "not the examples" instead of a crash halfway. */
const NEEDS = {
  contexts: ['analysis_service', 'qa_service', 'complete_analysis', 'reply_drafter'],
  templates: ['analysis/quick_summary', 'analysis/extract'],
  services: ['analysis_service', 'qa_service', 'drafting_service'],
  compositions: ['complete_analysis', 'reply_drafter'],
  providers: ['local'],
};

function missingForTour(v: WorkspaceValidation, contexts: string): string[] {
  const missing: string[] = [];
  for (const c of NEEDS.contexts) if (!fs.existsSync(path.join(contexts, `${c}.json`))) missing.push(`contexts/${c}.json`);
  for (const t of NEEDS.templates) if (!v.templates.has(t)) missing.push(`template ${t}`);
  const services = new Set(v.serviceMappings?.services.map((x) => x.name));
  for (const x of NEEDS.services) if (!services.has(x)) missing.push(`service ${x}`);
  const compositions = new Set(v.compositionRules?.compositions.map((x) => x.name));
  for (const x of NEEDS.compositions) if (!compositions.has(x)) missing.push(`composition ${x}`);
  const providers = new Set(v.compositionRules?.providers.map((x) => x.name));
  for (const x of NEEDS.providers) if (!providers.has(x)) missing.push(`provider ${x}`);
  return missing;
}

export async function demoCommand(argv: string[], io: CommandIO): Promise<number> {
  const args = parseArgs(argv, new Set(), new Set());
  const given = args.positionals[0];
  if (given === undefined && !fs.existsSync(path.join(io.cwd, 'examples'))) {
    throw new UsageError(`the demo is a tour of the examples of a PromptManager clone, and there is no examples/ folder in ${io.cwd}: run it from the clone, or give the examples folder as DIR`);
  }
  const root = pickWorkspace(given ?? 'examples', io.cwd, 'DIR');
  const rel = path.relative(io.cwd, root) || '.';
  const contexts = path.join(root, 'contexts');
  const say = io.stdout;

  say(`\n== 1. Validate ${rel}/ (the same check the editor runs as you type and CI runs with 'promptmanager validate')\n`);
  const v = validateWorkspace(root);
  for (const d of v.diagnostics.filter((x) => x.severity !== 'information')) say('  ' + formatDiagnostic(d, io.cwd) + '\n');
  say(
    `  ${plural(v.errorCount, 'error')}, ${plural(v.warningCount, 'warning')}, ${plural(v.templates.size, 'template')}, ` +
      `${plural(v.compositionRules?.compositions.length ?? 0, 'composition')}, ${plural(v.serviceMappings?.services.length ?? 0, 'service')}\n`,
  );
  if (v.errorCount) return 1;
  const missing = missingForTour(v, contexts);
  if (missing.length) {
    throw new UsageError(
      `the demo is a tour of the bundled examples (examples/ in a PromptManager clone), and ${rel}/ lacks what it uses: ${missing.join(', ')}. ` +
        `For your own workspace: 'promptmanager validate ${rel}', 'promptmanager render TEMPLATE --dir ${rel}', 'promptmanager run COMPOSITION --dir ${rel}'`,
    );
  }

  const model = await startDemoModelServer();
  // The demo's model server takes any key; a real provider reads it from api_key_env.
  const env = (name: string) => process.env[name] || (name === 'PROMPTMANAGER_API_KEY' ? 'demo-key' : undefined);
  const providerOverrides = { local: { baseUrl: model.url } };
  const manager = await PromptManager.create({ root, environment: 'production', watch: false, workflow: { providerOverrides, env } });
  try {
    say(`\n== 2. Render a template for a service\n`);
    const svcCtx = await readJson(path.join(contexts, 'analysis_service.json'));
    const r1 = await manager.render('analysis/quick_summary', svcCtx, { serviceName: 'analysis_service' });
    say(`  analysis_service renders analysis/quick_summary with contexts/analysis_service.json:\n`);
    say(excerpt(r1.text));
    const r2 = await manager.render('analysis/quick_summary', svcCtx, { serviceName: 'analysis_service' });
    say(`  first render ${r1.durationMs.toFixed(2)} ms; the same render again: ${r2.durationMs.toFixed(3)} ms${r2.fromCache ? ' (from the result cache)' : ''}\n`);
    try {
      await manager.render('analysis/extract', await readJson(path.join(contexts, 'qa_service.json')), { serviceName: 'qa_service' });
    } catch (e) {
      if (e instanceof PromptError) say(`  qa_service asking for analysis/extract is refused: [${e.code}] ${e.message}\n`);
      else throw e;
    }

    const runOne = async (composition: string, service: string, title: string) => {
      say(`\n== ${title}\n`);
      const run = await manager.startWorkflow(composition, await readJson(path.join(contexts, `${composition}.json`)), { serviceName: service });
      const view = new ProgressView((s) => say(io.isTTY ? s : s.replace(/^(?=.)/gm, '  ')), io.isTTY);
      for await (const ev of run) view.onEvent(ev);
      const result = await run.done;
      view.finish(result);
      if (result.output !== null) say(`  output:\n${excerpt(result.output, 10)}`);
      return result;
    };

    await runOne('complete_analysis', 'analysis_service', '3. Run complete_analysis: extract, then summary, critique and risks in parallel, then the report');
    await runOne('reply_drafter', 'drafting_service', `4. Run reply_drafter: its 'draft' step sends the prompt to the model provider (a demo server on 127.0.0.1)`);
    model.mode = 'down';
    const before = model.requests;
    const failing = await runOne('reply_drafter', 'drafting_service', '5. Run reply_drafter again while the provider answers 503: the model step retries, then falls back');
    const draft = failing.steps.find((s) => s.id === 'draft');
    say(
      `  the model server saw ${plural(model.requests - before, 'request')} in this run; step 'draft' ended '${draft?.status}' after ${plural(draft?.attempts ?? 0, 'attempt')}, and the run is '${failing.status}'\n`,
    );
    const during = manager.healthCheck().components.providers;
    say(`  health of the providers now: ${during.status}: ${during.reason}\n`);

    model.mode = 'healthy';
    await runOne('reply_drafter', 'drafting_service', '6. The provider is back: the next run uses the model again');

    say(`\n== 7. Metrics and health\n`);
    const h = manager.healthCheck();
    say(`  health: ${h.status}\n`);
    for (const [name, c] of Object.entries(h.components)) say(`    ${name.padEnd(10)} ${c.status.padEnd(9)} ${c.reason}\n`);
    if (h.status !== 'healthy') {
      const why = Object.entries(h.components).filter(([, c]) => c.status !== 'healthy').map(([name, c]) => `${name}: ${c.reason}`);
      say(`  not healthy because of ${why.join('; ')}\n`);
    }
    const prom = manager.getMetrics({ format: 'prometheus' });
    const lines = prom.split('\n').filter((l) => l && !l.startsWith('#'));
    say(`  ${lines.length} Prometheus samples, for example:\n`);
    for (const l of lines.filter((x) => /render|workflow/.test(x)).slice(0, 6)) say(`    ${l}\n`);
    say(`\n== 8. Run the prompt tests of ${rel}/ (what 'promptmanager test ${rel}' does): model steps answer from their mocks, on virtual time\n`);
    const indent = (lines: string[]) => lines.map((l) => `  ${l}`).join('\n') + '\n';
    // The golden files are the repository's: the tour compares with them and writes none.
    const offline = await runPromptTests({ root, history: false, updateSnapshots: 'none' });
    for (const r of offline.results) say(indent(formatTestResult(r, root)));
    say(indent(formatSummary([offline], io.cwd)));
    const liveIds = offline.results.filter((r) => r.live).map((r) => r.id);
    if (liveIds.length) {
      say(`\n== 9. The live test (${liveIds.join(', ')}) against the demo model, twice ('promptmanager test --live'): the second run is answered from the response cache\n`);
      const cache = new ResponseCache({ store: new MemoryResponseCacheStore() });
      for (const round of ['first', 'second']) {
        const before = model.requests;
        const live = await runPromptTests({ root, ids: liveIds, live: true, responseCache: cache, providerOverrides, env, history: false, updateSnapshots: 'none' });
        for (const r of live.results) say(indent(formatTestResult(r, root)));
        say(`  ${round} run: the model server saw ${plural(model.requests - before, 'request')}; ${cache.stats.hits} answers from the cache so far\n`);
      }
    }
    say(`\nNext: 'node dist/cli.js run complete_analysis --dir ${rel} --context ${path.join(rel, 'contexts', 'complete_analysis.json')}', or open ${rel}/ in VS Code with the extension.\n`);
    return 0;
  } finally {
    await manager.close();
    await model.close();
  }
}
