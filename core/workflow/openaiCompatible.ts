/**
 * The `openai-compatible` executor: POST {base_url}/chat/completions, as OpenAI, Ollama,
 * vLLM, LM Studio and llama.cpp's server all accept. Every failure is a PromptError
 * `provider_error` carrying the HTTP status and the `Retry-After` wait when there is one, so
 * the engine's retry rules (429/503 honour Retry-After, other 4xx not retried) can act on it.
 * The API key is read from the environment variable the provider names and never appears in
 * an error message, even if the server echoes it back.
 */
import { PromptError, isPromptError } from '../errors.js';
import type { ProviderDef } from '../model/types.js';
import type { StepExecutionRequest, StepExecutor } from './executors.js';
import { markProviderFailure } from './providerFailure.js';
import { markNonRetryable } from './retry.js';

export const OPENAI_COMPATIBLE = 'openai-compatible';

/** Fields the executor sets itself; a provider's options cannot replace them. */
const RESERVED = new Set(['model', 'messages', 'stream']);
/** Error bodies are quoted in messages; a long HTML error page is cut. */
const MAX_QUOTED = 300;

export interface OpenAICompatibleOptions {
  /** Injected for tests of unusual transports; node's global fetch otherwise. */
  fetch?: typeof fetch;
  /** Wall clock for HTTP-date `Retry-After` values. */
  wallClock?: () => number;
}

export function chatCompletionsUrl(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, '') + '/chat/completions';
}

/** `Retry-After` as milliseconds: delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function redact(text: string, secret: string | undefined): string {
  return secret && secret.length >= 4 ? text.split(secret).join('***') : text;
}

function quote(body: string): string {
  let msg = body;
  try {
    const j = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown };
    const m = typeof j.error === 'string' ? j.error : (j.error?.message ?? j.message);
    if (typeof m === 'string') msg = m;
  } catch {
    // Not JSON: quote the text itself.
  }
  msg = msg.replace(/\s+/g, ' ').trim();
  return msg.length > MAX_QUOTED ? msg.slice(0, MAX_QUOTED) + '…' : msg;
}

export function createOpenAICompatibleExecutor(options: OpenAICompatibleOptions = {}): StepExecutor {
  const wallClock = options.wallClock ?? Date.now;
  return {
    name: OPENAI_COMPATIBLE,
    async execute(req: StepExecutionRequest): Promise<unknown> {
      const provider = req.provider;
      const fail = (message: string, details: { status?: number; retryAfterMs?: number; cause?: unknown } = {}, key?: string) =>
        new PromptError('provider_error', redact(message, key), { step: req.stepId, composition: req.composition, ...details });
      // Failures before anything is sent: the provider's settings, not the provider, are at fault.
      const notSent = (e: PromptError) => markProviderFailure(markNonRetryable(e), 'not_sent');
      if (!provider) throw notSent(fail(`step "${req.stepId}" has no provider`));
      const label = `provider "${provider.name}"`;
      if (!provider.baseUrl) throw notSent(fail(`${label} has no base_url`));
      let url: URL;
      try {
        url = new URL(chatCompletionsUrl(provider.baseUrl));
      } catch {
        throw notSent(fail(`${label} has a base_url that is not a URL: ${provider.baseUrl}`));
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw notSent(fail(`${label}: base_url must be http or https, not ${url.protocol}`));
      const model = provider.model ?? provider.name;

      let key: string | undefined;
      if (provider.apiKeyEnv) {
        key = req.env(provider.apiKeyEnv);
        if (!key) throw notSent(fail(`${label} reads its API key from the environment variable ${provider.apiKeyEnv}, which is not set`));
      }
      const body: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(provider.options)) if (!RESERVED.has(k)) body[k] = v;
      body.model = model;
      body.messages = [{ role: 'user', content: req.prompt }];
      const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
      if (key) headers.authorization = `Bearer ${key}`;

      const abortReason = () => (isPromptError(req.signal.reason) ? req.signal.reason : new PromptError('cancelled', `${label}: the request was aborted`, { step: req.stepId }));
      const doFetch = options.fetch ?? fetch;
      let res: Response;
      let text: string;
      try {
        res = await doFetch(url, { method: 'POST', headers, body: JSON.stringify(body), signal: req.signal });
        text = await res.text();
      } catch (e) {
        if (req.signal.aborted) throw abortReason();
        const cause = (e as { cause?: { code?: string; message?: string } }).cause;
        const why = cause?.code ?? cause?.message ?? (e as Error).message;
        // The cause keeps Node's error code (ECONNREFUSED, ENOTFOUND...) for classifyProviderFailure.
        throw fail(`${label}: request to ${url.origin}${url.pathname} failed: ${why}`, { cause: e }, key);
      }
      if (!res.ok) {
        const retryAfterMs = res.status === 429 || res.status === 503 ? parseRetryAfter(res.headers.get('retry-after'), wallClock()) : undefined;
        const quoted = quote(text);
        const details: { status: number; retryAfterMs?: number } = { status: res.status };
        if (retryAfterMs !== undefined) details.retryAfterMs = retryAfterMs;
        throw fail(`${label} answered ${res.status}${res.statusText ? ' ' + res.statusText : ''}${quoted ? `: ${quoted}` : ''}`, details, key);
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw fail(`${label} answered ${res.status} with malformed JSON: ${quote(text.slice(0, 100))}`, { status: res.status }, key);
      }
      const content = (json as { choices?: { message?: { content?: unknown } }[] } | null)?.choices?.[0]?.message?.content;
      if (typeof content !== 'string') throw fail(`${label} answered without choices[0].message.content`, { status: res.status }, key);
      // A provider that echoes the key back must not put it into the run's status and outputs.
      return redact(content, key);
    },
  };
}

/** For messages that name a provider's endpoint (health checks, the CLI). */
export function describeProvider(p: ProviderDef): string {
  return `${p.name} (${p.type}${p.baseUrl ? ` at ${p.baseUrl}` : ''}${p.model ? `, model ${p.model}` : ''})`;
}
