/**
 * The `openai-compatible` executor: POST {base_url}/chat/completions, as OpenAI, Ollama,
 * vLLM, LM Studio and llama.cpp's server all accept. Every failure is a PromptError
 * `provider_error` carrying the HTTP status and the `Retry-After` wait when there is one, so
 * the engine's retry rules (429/503 honour Retry-After, other 4xx not retried) can act on it.
 *
 * Secrets: the API key is read from the environment variable the provider names, and a
 * password in base_url (`https://user:password@host`) is sent as Basic authentication; neither
 * appears in an error message or an answer, even if the server echoes them back, in whole or
 * in part (core/workflow/redact.ts: redact, then cut).
 *
 * The prompt goes only to base_url's origin: redirects are not followed by fetch. A 307/308
 * to the same origin is followed with the same POST (at most 5 times); any other redirect is
 * an error that names where it pointed (a 301/302/303 would turn the POST into a GET, and a
 * redirect to another origin would send the prompt and its context there).
 *
 * The answer is read as it streams, and the read is aborted past `maxProviderResponseBytes`
 * (core/limits.ts). The time limit of a call (the provider's `timeout_ms`) is the engine's:
 * it aborts `request.signal`; `timeout_ms` is never sent. The answer's `usage` (`total_tokens`)
 * is reported to the engine (`request.reportUsage`), which corrects the provider's
 * `tokens_per_minute` budget by it.
 */
import { PromptError, isPromptError } from '../errors.js';
import { LIMITS } from '../limits.js';
import type { ProviderDef } from '../model/types.js';
import type { StepExecutionRequest, StepExecutor } from './executors.js';
import { cutText, quoteSafely, redactSecrets, redactUrl } from './redact.js';
import { markProviderFailure } from './providerFailure.js';
import { markNonRetryable } from './retry.js';
import { usageOfAnswer } from './tokens.js';
import { probeOpenAICompatible } from './openaiProbe.js';
import { readLimited, takeCredentials } from './providerHttp.js';

export const OPENAI_COMPATIBLE = 'openai-compatible';

/** Fields the executor sets itself; a provider's options cannot replace them. */
const RESERVED = new Set(['model', 'messages', 'stream']);
/** Provider settings that are the engine's, never request fields (OpenAI rejects unknown fields). */
const NOT_SENT = new Set(['timeout_ms', 'timeoutMs', 'max_concurrency', 'maxConcurrency', 'requests_per_minute', 'requestsPerMinute', 'tokens_per_minute', 'tokensPerMinute']);
/** Error bodies are quoted in messages; a long HTML error page is cut (after redaction). */
const MAX_QUOTED = 300;
/** Of a malformed answer, this much is quoted. */
const MAX_QUOTED_MALFORMED = 100;
/** Of an error answer, at most this much is read: only its start is quoted. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;
/** Same-origin 307/308 redirects followed for one call. */
const MAX_REDIRECTS = 5;

export interface OpenAICompatibleOptions {
  /** Injected for tests of unusual transports; node's global fetch otherwise. */
  fetch?: typeof fetch;
  /** Wall clock for HTTP-date `Retry-After` values. */
  wallClock?: () => number;
  /** Bytes of one answer read at most; default `LIMITS.maxProviderResponseBytes`, read at each call. */
  maxResponseBytes?: number;
}

export function chatCompletionsUrl(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, '') + '/chat/completions';
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAY = '(Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const LONG_DAY = '(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = `(${MONTHS.join('|')})`;
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
/** RFC 9110 5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms a recipient must accept. */
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
const RFC850_DATE = new RegExp(`^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`);

function utc(year: number, month: string, day: number, h: number, m: number, s: number): number | undefined {
  const mi = MONTHS.indexOf(month);
  if (mi < 0 || day < 1 || day > 31 || h > 23 || m > 59 || s > 60) return undefined;
  const t = Date.UTC(year, mi, day, h, m, Math.min(s, 59));
  // 31 Feb and the like roll over into the next month: not a date.
  return new Date(t).getUTCDate() === day ? t : undefined;
}

/** An HTTP-date (RFC 9110) as epoch milliseconds; undefined for anything else. */
export function parseHttpDate(value: string, now: number = Date.now()): number | undefined {
  let m = IMF_FIXDATE.exec(value);
  if (m) return utc(Number(m[4]), m[3]!, Number(m[2]), Number(m[5]), Number(m[6]), Number(m[7]));
  m = RFC850_DATE.exec(value);
  if (m) {
    // A two-digit year more than 50 years ahead is the most recent past year with those digits.
    const thisYear = new Date(now).getUTCFullYear();
    let year = Math.floor(thisYear / 100) * 100 + Number(m[4]);
    if (year > thisYear + 50) year -= 100;
    return utc(year, m[3]!, Number(m[2]), Number(m[5]), Number(m[6]), Number(m[7]));
  }
  m = ASCTIME_DATE.exec(value);
  if (m) return utc(Number(m[7]), m[2]!, Number(m[3]!.trim()), Number(m[4]), Number(m[5]), Number(m[6]));
  return undefined;
}

/**
 * `Retry-After` as milliseconds, as RFC 9110 10.2.3 defines it: delay-seconds (digits only) or
 * an HTTP-date (a past date is 0). Undefined for anything else (negative, fractional, garbage,
 * absent): the retry policy's backoff applies then. Not capped here: the engine refuses waits
 * past `maxRetryAfterMs` or the run's deadline, and says so.
 */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Math.min(Number(v) * 1000, Number.MAX_SAFE_INTEGER);
  const at = parseHttpDate(v, now);
  return at === undefined ? undefined : Math.max(0, at - now);
}

function messageOf(body: string): string {
  try {
    const j = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown };
    const m = typeof j.error === 'string' ? j.error : (j.error?.message ?? j.message);
    if (typeof m === 'string') return m;
  } catch {
    // Not JSON: quote the text itself.
  }
  return body;
}

export function createOpenAICompatibleExecutor(options: OpenAICompatibleOptions = {}): StepExecutor {
  const wallClock = options.wallClock ?? Date.now;
  return {
    name: OPENAI_COMPATIBLE,
    probe: (req) => probeOpenAICompatible(req, options.fetch),
    async execute(req: StepExecutionRequest): Promise<unknown> {
      const provider = req.provider;
      const secrets: (string | undefined)[] = [];
      const fail = (message: string, details: { status?: number; retryAfterMs?: number; cause?: unknown } = {}) =>
        new PromptError('provider_error', redactSecrets(message, secrets), { step: req.stepId, composition: req.composition, ...details });
      // Failures before anything is sent: the provider's settings, not the provider, are at fault.
      const notSent = (e: PromptError) => markProviderFailure(markNonRetryable(e), 'not_sent');
      if (!provider) throw notSent(fail(`step "${req.stepId}" has no provider`));
      const label = `provider "${provider.name}"`;
      if (!provider.baseUrl) throw notSent(fail(`${label} has no base_url`));
      let url: URL;
      try {
        url = new URL(chatCompletionsUrl(provider.baseUrl));
      } catch {
        throw notSent(fail(`${label} has a base_url that is not a URL: ${cutText(redactUrl(provider.baseUrl), MAX_QUOTED)}`));
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw notSent(fail(`${label}: base_url must be http or https, not ${url.protocol}`));
      const credentials = takeCredentials(url);
      secrets.push(credentials.secret);
      const model = provider.model ?? provider.name;

      let key: string | undefined;
      if (provider.apiKeyEnv) {
        key = req.env(provider.apiKeyEnv);
        if (!key) throw markProviderFailure(markNonRetryable(fail(`${label} reads its API key from the environment variable ${provider.apiKeyEnv}, which is not set`)), 'missing_key');
        secrets.push(key);
        if (credentials.basic) throw notSent(fail(`${label} has both an API key (api_key_env) and credentials in its base_url: keep one of them`));
      }
      const body: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(provider.options)) if (!RESERVED.has(k) && !NOT_SENT.has(k)) body[k] = v;
      body.model = model;
      body.messages = [{ role: 'user', content: req.prompt }];
      const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
      if (key) headers.authorization = `Bearer ${key}`;
      else if (credentials.basic) headers.authorization = `Basic ${credentials.basic}`;
      const payload = JSON.stringify(body);

      // Our own controller, following the engine's signal, so that an answer that is too large can be cut off.
      const ac = new AbortController();
      const follow = () => ac.abort(req.signal.reason);
      if (req.signal.aborted) follow();
      else req.signal.addEventListener('abort', follow, { once: true });
      const abortReason = () => (isPromptError(req.signal.reason) ? req.signal.reason : new PromptError('cancelled', `${label}: the request was aborted`, { step: req.stepId }));
      const doFetch = options.fetch ?? fetch;
      const where = `${url.origin}${url.pathname}`;
      try {
        let res: Response;
        let target = url;
        for (let hops = 0; ; hops++) {
          try {
            res = await doFetch(target, { method: 'POST', headers, body: payload, signal: ac.signal, redirect: 'manual' });
          } catch (e) {
            if (req.signal.aborted) throw abortReason();
            const cause = (e as { cause?: { code?: string; message?: string } }).cause;
            const why = cause?.code ?? cause?.message ?? (e as Error).message;
            throw fail(`${label}: request to ${where} failed: ${quoteSafely(String(why), secrets, MAX_QUOTED)}`, { cause: e });
          }
          if (res.status < 300 || res.status > 399) break;
          await res.body?.cancel().catch(() => undefined);
          const location = res.headers.get('location');
          let next: URL | undefined;
          try {
            next = location ? new URL(location, target) : undefined;
          } catch {
            next = undefined;
          }
          const shown = next ? cutText(redactUrl(next), MAX_QUOTED) : location ? 'an address that is not a URL' : 'no Location';
          if (res.status !== 307 && res.status !== 308) {
            throw markNonRetryable(fail(`${label} answered ${res.status} (a redirect to ${shown}), which would turn the POST into a GET: the engine does not follow it; set base_url to the provider's current address`, { status: res.status }));
          }
          if (!next || next.origin !== url.origin) {
            throw markNonRetryable(fail(`${label} redirected the request (${res.status}) to ${shown}, outside base_url's origin ${url.origin}: the engine sends prompts only there; set base_url to the new address if you trust it`, { status: res.status }));
          }
          if (hops >= MAX_REDIRECTS) throw markNonRetryable(fail(`${label} redirected the request more than ${MAX_REDIRECTS} times`, { status: res.status }));
          target = next;
        }

        const limit = options.maxResponseBytes ?? LIMITS.maxProviderResponseBytes;
        const tooLarge = (n: string) => fail(`${label} answered more than maxProviderResponseBytes (${limit} bytes${n}); the read was stopped`, { status: res.status });
        if (!res.ok) {
          const { text } = await readLimited(res, Math.min(limit, MAX_ERROR_BODY_BYTES), () => ac.abort());
          const retryAfterMs = res.status === 429 || res.status === 503 ? parseRetryAfter(res.headers.get('retry-after'), wallClock()) : undefined;
          // Redact the raw body, then the message taken out of it (JSON escapes can hide a key), then cut.
          const quoted = quoteSafely(messageOf(redactSecrets(text, secrets)), secrets, MAX_QUOTED);
          const statusText = res.statusText ? ' ' + quoteSafely(res.statusText, secrets, 100) : '';
          const details: { status: number; retryAfterMs?: number } = { status: res.status };
          if (retryAfterMs !== undefined) details.retryAfterMs = retryAfterMs;
          throw fail(`${label} answered ${res.status}${statusText}${quoted ? `: ${quoted}` : ''}`, details);
        }
        const declared = Number(res.headers.get('content-length') ?? NaN);
        if (declared > limit) {
          ac.abort();
          throw tooLarge(`: it announced ${declared}`);
        }
        const { text, over } = await readLimited(res, limit, () => ac.abort());
        if (over) throw tooLarge('');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          throw fail(`${label} answered ${res.status} with malformed JSON: ${quoteSafely(text, secrets, MAX_QUOTED_MALFORMED)}`, { status: res.status });
        }
        const content = (json as { choices?: { message?: { content?: unknown } }[] } | null)?.choices?.[0]?.message?.content;
        if (typeof content !== 'string') throw fail(`${label} answered without choices[0].message.content`, { status: res.status });
        // The tokens the call used correct the provider's tokens_per_minute budget.
        const usage = usageOfAnswer(json);
        if (usage) req.reportUsage?.(usage);
        // A provider that echoes the key back must not put it into the run's status and outputs.
        return redactSecrets(content, secrets);
      } catch (e) {
        if (req.signal.aborted && !(isPromptError(e) && e.code === 'provider_error')) throw abortReason();
        if (isPromptError(e)) throw e;
        // A failure while reading the body (the connection dropped mid-answer).
        throw fail(`${label}: reading the answer from ${where} failed: ${quoteSafely(String((e as Error).message ?? e), secrets, MAX_QUOTED)}`);
      } finally {
        req.signal.removeEventListener('abort', follow);
      }
    },
  };
}

/** For messages that name a provider's endpoint (health checks, the CLI): credentials and query values redacted. */
export function describeProvider(p: ProviderDef): string {
  return `${p.name} (${p.type}${p.baseUrl ? ` at ${redactUrl(p.baseUrl)}` : ''}${p.model ? `, model ${p.model}` : ''})`;
}
