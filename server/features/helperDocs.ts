/** The helpers a template can call, with their descriptions, for completion and hover. */
import { PROMPT_HELPERS } from '../../core/templates/helpers.js';
import { BUILTIN_HELPERS } from './hbsCursor.js';

export interface HelperDoc {
  name: string;
  description: string;
  /** How a call looks (`join list ", "`), when known. */
  signature?: string;
  block: boolean;
  source: 'handlebars' | 'promptmanager';
}

let docs: HelperDoc[] | undefined;

/** Handlebars' built-in helpers and PromptManager's prompt helpers (core/templates/helpers.ts). */
export function helperDocs(): HelperDoc[] {
  if (docs) return docs;
  const out: HelperDoc[] = BUILTIN_HELPERS.map((h) => ({ ...h, source: 'handlebars' as const }));
  const raw = PROMPT_HELPERS as unknown;
  const entries: [string, unknown][] = Array.isArray(raw)
    ? raw.map((h) => [String((h as { name?: unknown }).name ?? ''), h])
    : raw && typeof raw === 'object'
      ? Object.entries(raw as Record<string, unknown>)
      : [];
  for (const [name, h] of entries) {
    if (!name || out.some((o) => o.name === name)) continue;
    const o = (h ?? {}) as { description?: unknown; signature?: unknown; usage?: unknown; example?: unknown; block?: unknown };
    const doc: HelperDoc = { name, description: typeof h === 'string' ? h : String(o.description ?? ''), block: o.block === true, source: 'promptmanager' };
    const sig = o.signature ?? o.usage ?? o.example;
    if (typeof sig === 'string') doc.signature = sig;
    out.push(doc);
  }
  docs = out;
  return out;
}
