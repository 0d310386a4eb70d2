/**
 * What kind of failure a provider call ended in, classified where it happens (the executor,
 * the run's attempt) so that metrics and health can say "connection refused" or "rate
 * limited (429)" instead of "none". Works for any executor: an error carries its kind when the
 * executor marked it (`markProviderFailure`), else the kind is read from the PromptError's
 * code and HTTP status, then from the `cause` chain (Node's network error codes, an SDK
 * error's `status`).
 */
import type { PromptError } from '../errors.js';

export type ProviderFailureKind =
  | 'connection_refused'
  | 'dns'
  | 'unreachable'
  | 'connection_reset'
  | 'tls'
  | 'timeout'
  | 'rate_limited'
  | 'server_error'
  | 'auth'
  | 'client_error'
  | 'malformed_response'
  | 'missing_key'
  | 'not_sent'
  | 'cancelled'
  | 'other';

/** How health and logs name each kind. */
export const PROVIDER_FAILURE_LABELS: Record<ProviderFailureKind, string> = {
  connection_refused: 'connection refused',
  dns: 'host name not found',
  unreachable: 'host unreachable',
  connection_reset: 'connection reset',
  tls: 'TLS or certificate error',
  timeout: 'timed out',
  rate_limited: 'rate limited',
  server_error: 'server error',
  auth: 'key refused',
  client_error: 'request refused',
  malformed_response: 'malformed answer',
  missing_key: 'API key not set',
  not_sent: 'bad provider settings, not sent',
  cancelled: 'cancelled',
  other: 'other error',
};

/** Node's (libuv's and undici's) network error codes. */
const NETWORK: Record<string, ProviderFailureKind> = {
  ECONNREFUSED: 'connection_refused',
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EAI_NONAME: 'dns',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  EHOSTDOWN: 'unreachable',
  ENETDOWN: 'unreachable',
  EADDRNOTAVAIL: 'unreachable',
  ECONNRESET: 'connection_reset',
  ECONNABORTED: 'connection_reset',
  EPIPE: 'connection_reset',
  UND_ERR_SOCKET: 'connection_reset',
  UND_ERR_CLOSED: 'connection_reset',
  ETIMEDOUT: 'timeout',
  ESOCKETTIMEDOUT: 'timeout',
  UND_ERR_CONNECT_TIMEOUT: 'timeout',
  UND_ERR_HEADERS_TIMEOUT: 'timeout',
  UND_ERR_BODY_TIMEOUT: 'timeout',
};

const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_(GET|VERIFY)_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|HOSTNAME_MISMATCH$)/;

const marked = new WeakMap<object, ProviderFailureKind>();

/** Records what an executor knows about its own failure (a key that is not set: `missing_key`; settings it cannot send with: `not_sent`; a 200 with a body it cannot read: `malformed_response`). */
export function markProviderFailure<E extends object>(error: E, kind: ProviderFailureKind): E {
  marked.set(error, kind);
  return error;
}

export function kindOfStatus(status: number): ProviderFailureKind {
  if (status === 429) return 'rate_limited';
  if (status === 401 || status === 403) return 'auth';
  if (status === 408) return 'timeout';
  if (status >= 500) return 'server_error';
  if (status >= 400) return 'client_error';
  // An error with a success status: the answer came but could not be used.
  return 'malformed_response';
}

function fromCause(cause: unknown): ProviderFailureKind | undefined {
  for (let c = cause, depth = 0; c !== null && typeof c === 'object' && depth < 6; c = (c as { cause?: unknown }).cause, depth++) {
    const o = c as { code?: unknown; status?: unknown; name?: unknown };
    if (typeof o.code === 'string') {
      if (NETWORK[o.code]) return NETWORK[o.code];
      if (TLS_CODE.test(o.code)) return 'tls';
    }
    if (typeof o.status === 'number' && o.status >= 100) return kindOfStatus(o.status);
    if (o.name === 'TimeoutError') return 'timeout';
  }
  return undefined;
}

/** The kind of a failed provider call, from the error its attempt ended with. */
export function classifyProviderFailure(error: PromptError | (Error & { code?: string; status?: number })): ProviderFailureKind {
  const mark = marked.get(error);
  if (mark) return mark;
  if (error.code === 'timeout') return 'timeout';
  if (error.code === 'cancelled') return 'cancelled';
  if (typeof error.status === 'number') return kindOfStatus(error.status);
  return fromCause(error.cause) ?? 'other';
}

/** "connection refused", "server error 503", "rate limited 429": a kind with the HTTP statuses seen for it. */
export function describeFailures(byKind: Readonly<Record<string, number>>, byStatus: Readonly<Record<string, number>>): string {
  return Object.entries(byKind)
    .sort((a, b) => b[1] - a[1])
    .map(([kind, n]) => {
      const label = PROVIDER_FAILURE_LABELS[kind as ProviderFailureKind] ?? kind;
      const statuses = Object.keys(byStatus).filter((s) => s !== 'none' && kindOfStatus(Number(s)) === kind);
      return `${n}x ${label}${statuses.length ? ` ${statuses.join('/')}` : ''}`;
    })
    .join(', ');
}
