// A tour of the PromptManager library on the example workspace (examples/): three services
// of an imaginary document assistant render their prompts, with and without a service, hit
// the access rules and the fallback template, and the manager shows its metrics and health.
//
//   node esbuild.mjs --no-types && node examples/app/main.mjs
//
// An application imports the same API from 'promptmanager/core'.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPromptManagerForApp, PromptEnabled, PromptEnabledService, isPromptError } from '../../dist/core.js';

const here = dirname(fileURLToPath(import.meta.url));
const exampleContext = (name) => JSON.parse(readFileSync(join(here, '..', 'contexts', `${name}.json`), 'utf8'));

// -- The application's services -----------------------------------------------------------
// Each declares the name it has in service_mappings.yaml; that name decides which templates it
// may render, which context it must pass and which fallback answers for it.

class AnalysisService extends PromptEnabledService {
  static serviceName = 'analysis_service';

  /** The service's default template (its first primary template): analysis/quick_summary. */
  summarise(userId, document) {
    return this.renderPrompt({ context: { user_id: userId, document } });
  }

  extractFacts(userId, document) {
    return this.renderPrompt({ templateName: 'analysis/extract', context: { user_id: userId, document } });
  }
}

class QuestionAnsweringService extends PromptEnabledService {
  static serviceName = 'qa_service';

  answer(userId, document, question) {
    return this.renderPrompt({ context: { user_id: userId, document, question } });
  }

  /** The multi-step version: quote passages, answer, cite (needs a workflow engine attached). */
  answerGrounded(userId, document, question) {
    return this.executeWorkflow({ compositionName: 'grounded_answer', context: { user_id: userId, document, question } });
  }
}

// A class that already extends something (here an EventEmitter) gets the same capabilities
// through the mixin, and calls enablePrompts() in its constructor.
class DocumentRouter extends PromptEnabled(EventEmitter) {
  static serviceName = 'classification_service';

  constructor(promptManager) {
    super();
    this.enablePrompts(promptManager);
  }

  classificationPrompt(document, labels) {
    return this.renderPrompt({ context: { document, labels } });
  }
}

// -- Helpers for the printout -----------------------------------------------------------------

const rule = (title) => console.log(`\n== ${title} ${'='.repeat(Math.max(0, 78 - title.length))}`);
// Most prompts start with the shared preamble (a partial); the excerpt shows what follows it.
let preamble = '';
const excerpt = (text, lines = 3) =>
  (preamble && text.startsWith(preamble) ? `[common/preamble]\n${text.slice(preamble.length)}` : text)
    .trim()
    .split('\n')
    .filter((l) => l.trim())
    .slice(0, lines)
    .map((l) => `   | ${l}`)
    .join('\n');
const ms = (v) => `${v.toFixed(3)} ms`;

function describe(result) {
  const via = result.fallbackFor ? ` (fallback for ${result.fallbackFor.template}: ${result.fallbackFor.code})` : '';
  return `template ${result.template}${via}, ${result.fromCache ? 'from cache' : 'rendered'} in ${ms(result.durationMs)}`;
}

async function attempt(label, fn) {
  try {
    const r = await fn();
    console.log(`-- ${label}: ${describe(r)}\n${excerpt(r.text)}`);
  } catch (e) {
    if (!isPromptError(e)) throw e;
    console.log(`-- ${label}: PromptError ${e.code}\n   ${e.message.split('\n')[0]}`);
  }
}

// -- The tour -----------------------------------------------------------------------------------

// Finds the prompt workspace under the application folder (here: examples/, which holds
// service_mappings.yaml and composition_rules.yaml) and applies the development preset:
// strict templates, hot reload, a small result cache.
//
// Model providers read their API key (api_key_env) from process.env unless the application gives
// the manager its own lookup, as here: a real application would ask its secret store. The
// examples' provider is a local Ollama server, which takes any key.
const secrets = { PROMPTMANAGER_API_KEY: 'local-ollama-takes-any-key' };
const manager = await createPromptManagerForApp({
  appRoot: join(here, '..'),
  environment: 'development',
  workflow: { env: (name) => process.env[name] || secrets[name] },
});
manager.events.on('configReloaded', (e) => console.log(`(configuration reloaded: generation ${e.generation}, changed ${e.changedTemplates.join(', ') || 'configuration'})`));
manager.events.on('configRejected', (e) => console.log(`(an edit was rejected, the last good configuration stays:\n${e.error.message})`));

rule('Workspace');
console.log(`prompt workspace: ${manager.root}`);
console.log(`templates: ${manager.listTemplates().length}, compositions: ${manager.listCompositions().join(', ')}`);
const info = manager.getTemplateInfo('analysis/quick_summary');
console.log(`analysis/quick_summary reads ${info.variables.join(', ')}; includes ${info.partials.join(', ')}; used by ${info.usedBy.services.join(', ')}`);

const analysis = new AnalysisService({ promptManager: manager });
const qa = new QuestionAnsweringService({ promptManager: manager });
const router = new DocumentRouter(manager);

rule('Rendering without a service (backward-compatible: any template)');
await attempt('common/preamble (its first render includes compiling it)', () => manager.render('common/preamble', {}));
preamble = (await manager.render('common/preamble', {})).text;

rule('Rendering as a service');
const a = exampleContext('analysis_service');
const q = exampleContext('qa_service');
const c = exampleContext('classification_service');
console.log(`analysis_service may render: ${analysis.availableTemplates().join(', ')}`);
await attempt('analysis.summarise', () => analysis.summarise(a.user_id, a.document));
await attempt('analysis.extractFacts', () => analysis.extractFacts(a.user_id, a.document));
await attempt('qa.answer', () => qa.answer(q.user_id, q.document, q.question));
await attempt('router.classificationPrompt (mixin)', () => router.classificationPrompt(c.document, c.labels));

rule('What the service rules catch');
await attempt('classification_service asks for an analysis template', () =>
  router.renderPrompt({ templateName: 'analysis/quick_summary', context: { document: c.document } }),
);
console.log(`-- context check for qa_service without a question: ${JSON.stringify(qa.validateContext({ user_id: 'u1', document: q.document }))}`);
await attempt('qa.answer without a question (required context)', () => qa.renderPrompt({ context: { user_id: 'u1', document: q.document } }));
await attempt('analysis.summarise of a document without text (the fallback answers)', () =>
  analysis.summarise(a.user_id, { title: 'An empty upload' }),
);
await attempt('unknown template', () => manager.render('analysis/nope', {}));

rule('Workflows');
try {
  const result = await qa.answerGrounded(q.user_id, q.document, q.question);
  console.log(`grounded_answer: ${result?.status ?? 'done'}`);
} catch (e) {
  if (!isPromptError(e)) throw e;
  console.log(`grounded_answer: PromptError ${e.code}: ${e.message}`);
}
const resolved = manager.resolveComposition('guided_review', { state: 'draft', user_experience_level: 'beginner' });
console.log(
  `guided_review for a beginner's draft: max_parallel ${resolved.maxParallel}, ` +
    resolved.steps.map((s) => `${s.id}${s.skip ? ' (skipped)' : ` -> ${s.template}`}`).join(', '),
);

rule('Metrics');
// Some traffic, so that percentiles and cache hit rates mean something.
for (let i = 0; i < 200; i++) await analysis.summarise(`u_${i % 20}`, a.document);
for (let i = 0; i < 200; i++) await router.classificationPrompt(c.document, c.labels);
const metrics = manager.getMetrics();
console.log('service                  renders  errors  fallbacks  p50        p95        p99        cache hit rate');
for (const [name, s] of Object.entries(metrics.services)) {
  const errors = Object.values(s.errors).reduce((x, y) => x + y, 0);
  console.log(
    `${name.padEnd(24)} ${String(s.renders).padStart(7)} ${String(errors).padStart(7)} ${String(s.fallbacks).padStart(10)}  ` +
      `${ms(s.latencyMs.p50).padEnd(10)} ${ms(s.latencyMs.p95).padEnd(10)} ${ms(s.latencyMs.p99).padEnd(10)} ${s.cache.hitRate.toFixed(2)}`,
  );
}
const cache = metrics.cache;
if ('entries' in cache) {
  console.log(`result cache (${cache.mode}): ${cache.entries} entries, ${(cache.bytes / 1024).toFixed(1)} KiB of ${(cache.maxBytes / 1024 / 1024).toFixed(0)} MiB, hit rate ${cache.hitRate.toFixed(2)}`);
}
console.log(`templates compiled: ${metrics.templatesCompiled} (once per template version); configuration loads: ${JSON.stringify(metrics.config.outcomes)}`);
console.log(`analysis_service as seen by the service object: ${analysis.getRenderStats().renders} renders`);
console.log('\nPrometheus text (first lines of getMetrics({ format: "prometheus" })):');
console.log(manager.getMetrics({ format: 'prometheus' }).split('\n').slice(0, 8).join('\n'));

rule('Health');
const health = manager.healthCheck();
console.log(`status: ${health.status}`);
for (const [name, comp] of Object.entries(health.components)) console.log(`  ${name.padEnd(10)} ${comp.status.padEnd(9)} ${comp.reason}`);

await manager.close();
