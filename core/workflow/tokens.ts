/**
 * Tokens of a provider call, for `tokens_per_minute`: an estimate made before the call is
 * sent, and the count the provider's answer reports, which corrects it. The estimate is the
 * usual rule of thumb for English text with OpenAI's tokenizers, about four characters a
 * token, plus the reply's upper bound (`max_tokens`) when the provider sets one: a request's
 * tokens are its prompt's and its reply's. No tokenizer is loaded: a limit needs a budget that
 * errs by a few percent and is corrected within the call, not an exact count.
 */
import type { ProviderDef } from '../model/types.js';

/** Characters a token stands for in the estimate. */
export const CHARS_PER_TOKEN = 4;

/** What a call used, as its provider counts it (OpenAI's `usage`). */
export interface StepUsage {
  /** Tokens of the prompt and the reply together. */
  totalTokens: number;
  promptTokens?: number;
  completionTokens?: number;
}

function count(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
}

/** The estimate charged before a call: ceil(prompt characters / 4), plus `max_tokens` when the provider sets it; at least 1. */
export function estimateTokens(prompt: string, provider?: ProviderDef): number {
  const reply = count(provider?.options?.max_tokens) ?? 0;
  return Math.max(1, Math.ceil(prompt.length / CHARS_PER_TOKEN) + reply);
}

/**
 * The usage of an OpenAI-style answer (`usage.total_tokens`, or `prompt_tokens` plus
 * `completion_tokens`); undefined when the answer does not say.
 */
export function usageOfAnswer(answer: unknown): StepUsage | undefined {
  const u = (answer as { usage?: Record<string, unknown> } | null)?.usage;
  if (!u || typeof u !== 'object') return undefined;
  const prompt = count(u.prompt_tokens);
  const completion = count(u.completion_tokens);
  const total = count(u.total_tokens) ?? (prompt !== undefined && completion !== undefined ? prompt + completion : undefined);
  if (total === undefined) return undefined;
  const out: StepUsage = { totalTokens: total };
  if (prompt !== undefined) out.promptTokens = prompt;
  if (completion !== undefined) out.completionTokens = completion;
  return out;
}
