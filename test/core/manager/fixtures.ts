/** Shared fixtures of the engine tests: a small prompt workspace, on disk or in memory. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const SERVICE_MAPPINGS = `version: 1
services:
  analysis_service:
    description: Summarises documents
    primary_templates: [analysis/summary]
    templates: [common/preamble]
    compositions: [complete_analysis]
    context_requirements:
      required: [user_id, document]
      optional: [items]
    performance_targets:
      render_p95_ms: 20
      workflow_p95_ms: 1000
      min_cache_hit_rate: 0.5
    fallback:
      template: common/apology
      on: [template_error, missing_context]
  chat_service:
    primary_templates: [chat/reply, chat/greeting]
    context_requirements:
      required: [user_id]
`;

export const COMPOSITION_RULES = `version: 1
defaults:
  max_parallel: 4
  retry: { max_attempts: 2, initial_interval_ms: 100 }
compositions:
  complete_analysis:
    inputs: { required: [document], optional: [user_id, state, user_experience_level] }
    steps:
      - id: extract
        template: analysis/extract
      - id: summary
        template: analysis/summary
        depends_on: [extract]
`;

export const TEMPLATES: Record<string, string> = {
  'common/preamble': 'You are a careful assistant.\n',
  'common/apology': 'Sorry {{user_id}}, the prompt could not be prepared.',
  'analysis/summary': '{{> common/preamble}}\nSummarise for {{user_id}}:\n{{document.title}}\n{{#each items}}- {{this}}\n{{/each}}',
  'analysis/extract': 'Extract facts from {{document.title}}',
  'chat/reply': 'Reply to {{user_id}} as {{service_name}}',
  'chat/greeting': 'Hello {{user_id}}',
};

export const CONTEXT = { user_id: 'u1', document: { title: 'Quarterly report' }, items: ['a', 'b'] };

/** A temp folder holding the workspace; returns its path. */
export function writeWorkspace(files: Record<string, string> = {}, options: { templates?: Record<string, string> } = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-engine-'));
  const all: Record<string, string> = {
    'service_mappings.yaml': SERVICE_MAPPINGS,
    'composition_rules.yaml': COMPOSITION_RULES,
    ...Object.fromEntries(Object.entries(options.templates ?? TEMPLATES).map(([n, t]) => [`templates/${n}.hbs`, t])),
    ...files,
  };
  for (const [rel, text] of Object.entries(all)) {
    const f = path.join(dir, rel);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, text);
  }
  return dir;
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Waits (without a fixed sleep) until `cond` holds, polling on the event loop. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A clock whose time moves only when told, also from inside a template helper. */
export class ManualClock {
  t = 0;
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number): unknown => {
    const h = setTimeout(fn, ms);
    h.unref();
    return h;
  };
  clearTimeout = (h: unknown) => clearTimeout(h as NodeJS.Timeout);
}
