/**
 * The `openai-compatible` provider probe: `GET {base_url}/models`, with the provider's key.
 * Chosen over a one-token completion because it costs no tokens, is served by OpenAI, Ollama,
 * vLLM, LM Studio and llama.cpp alike, and still proves what a probe is for: the address
 * answers, over TLS when it says https, and accepts the key. When the answer lists models, the
 * provider's `model` is looked for in it.
 *
 * Outcomes: a 2xx answers (a warning when the model is not listed); 404, 405 and 501 answer
 * too (a server without the model list); 429 answers, rate limited (a warning: it is up);
 * 401 and 403 fail (`auth`), other 4xx fail (`client_error`), 5xx fail (`server_error`), a
 * redirect fails (the engine sends nothing outside base_url), and no answer fails with its
 * network kind. Secrets are redacted from every message, as for calls.
 */
import { PromptError, isPromptError } from '../errors.js';
import type { ProbeAnswer, ProbeRequest } from './executors.js';
import { markProviderFailure } from './providerFailure.js';
import { readLimited, takeCredentials } from './providerHttp.js';
import { quoteSafely, redactSecrets, redactUrl } from './redact.js';

/** Of a model list, this much is read at most. */
const MAX_LIST_BYTES = 1024 * 1024;

export function modelsUrl(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, '') + '/models';
}

/** Model ids of an OpenAI-style list (`data[].id`), or undefined when the answer is not one. */
function listedModels(text: string): string[] | undefined {
  try {
    const data = (JSON.parse(text) as { data?: unknown } | null)?.data;
    if (!Array.isArray(data)) return undefined;
    return data.map((m) => (m as { id?: unknown } | null)?.id).filter((id): id is string => typeof id === 'string');
  } catch {
    return undefined;
  }
}

export async function probeOpenAICompatible(req: ProbeRequest, doFetch: typeof fetch = fetch): Promise<ProbeAnswer> {
  const p = req.provider;
  const label = `provider "${p.name}"`;
  const secrets: (string | undefined)[] = [];
  const fail = (message: string, details: { status?: number; cause?: unknown } = {}) => new PromptError('provider_error', redactSecrets(message, secrets), details);
  if (!p.baseUrl) throw markProviderFailure(fail(`${label} has no base_url`), 'not_sent');
  let url: URL;
  try {
    url = new URL(modelsUrl(p.baseUrl));
  } catch {
    throw markProviderFailure(fail(`${label} has a base_url that is not a URL`), 'not_sent');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw markProviderFailure(fail(`${label}: base_url must be http or https, not ${url.protocol}`), 'not_sent');
  const credentials = takeCredentials(url);
  secrets.push(credentials.secret);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (p.apiKeyEnv) {
    const key = req.env(p.apiKeyEnv);
    if (!key) throw markProviderFailure(fail(`${label} reads its API key from the environment variable ${p.apiKeyEnv}, which is not set`), 'not_sent');
    secrets.push(key);
    headers.authorization = `Bearer ${key}`;
  } else if (credentials.basic) headers.authorization = `Basic ${credentials.basic}`;
  const where = `GET ${redactUrl(url)}`;
  let res: Response;
  try {
    res = await doFetch(url, { method: 'GET', headers, signal: req.signal, redirect: 'manual' });
  } catch (e) {
    if (req.signal.aborted && isPromptError(req.signal.reason)) throw req.signal.reason;
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw fail(`${label}: ${where} failed: ${quoteSafely(String(cause?.code ?? cause?.message ?? (e as Error).message), secrets, 200)}`, { cause: e });
  }
  let text = '';
  try {
    ({ text } = await readLimited(res, MAX_LIST_BYTES, () => undefined));
  } catch (e) {
    if (req.signal.aborted && isPromptError(req.signal.reason)) throw req.signal.reason;
    throw fail(`${label}: reading the answer to ${where} failed: ${quoteSafely(String((e as Error).message ?? e), secrets, 200)}`, { status: res.status });
  }
  const s = res.status;
  if (s >= 200 && s < 300) {
    const models = listedModels(text);
    if (!models) return { detail: `${where} answered ${s}` };
    const answer: ProbeAnswer = { detail: `${models.length} model${models.length === 1 ? '' : 's'} listed` };
    if (p.model && models.length && !models.includes(p.model)) answer.warning = `model ${p.model} is not among the ${models.length} models ${where} lists`;
    return answer;
  }
  if (s === 404 || s === 405 || s === 501) return { detail: `answers (${where}: ${s}, no model list)` };
  if (s === 429) return { detail: 'answers', warning: `rate limited (429) on ${where}` };
  if (s >= 300 && s < 400) throw markProviderFailure(fail(`${label} redirected ${where} (${s}); the engine follows no redirect out of base_url`, { status: s }), 'client_error');
  throw fail(`${label}: ${where} answered ${s}${text ? `: ${quoteSafely(text, secrets, 200)}` : ''}`, { status: s });
}
