/**
 * What a finished run tells the user: "succeeded", "succeeded with fallbacks" and why each
 * step fell back, "refused" and why (its steps "not run"), or the contract's other statuses.
 * One place decides the words that the output channel, the notification, the status bar and the
 * graph use, so that none of them says "succeeded" while a model step answered with its
 * fallback. Pure (no `vscode` import).
 */
import type { FallbackCause, PromptErrorInfo, WorkflowStatus } from '../protocol/protocol.js';

export interface RunOutcome {
  /** `succeeded`, `succeeded with fallbacks`, `partial`, `partial with fallbacks`, `failed`, `refused`, `cancelled`, `timed out`. */
  label: string;
  /** How loud the editor should say it: a clean success goes to the status bar only. */
  severity: 'info' | 'warning' | 'error';
  /** One sentence per reason: why each step fell back, why the run was refused or failed. */
  reasons: string[];
  /** Environment variables whose missing API key made a step fall back (the Set Provider API Key button). */
  missingKeys: string[];
  /** The run never started: its steps did not run. */
  refused: boolean;
}

/** Why one step fell back, as a clause: "draft fell back: the API key of provider local is not set (PROMPTMANAGER_API_KEY)". */
export function describeFallback(f: FallbackCause): string {
  const p = f.provider ?? 'its provider';
  const why: Record<NonNullable<FallbackCause['kind']>, string> = {
    missing_key: `the API key of provider ${p} is not set${f.apiKeyEnv ? ` (${f.apiKeyEnv})` : ''}`,
    connection_refused: `provider ${p} refused the connection`,
    dns: `the host of provider ${p} was not found`,
    unreachable: `provider ${p} could not be reached`,
    connection_reset: `provider ${p} closed the connection`,
    tls: `the TLS connection to provider ${p} failed`,
    timeout: `provider ${p} did not answer in time`,
    rate_limited: `provider ${p} rate-limited the request (429)`,
    server_error: `provider ${p} answered with a server error`,
    auth: `provider ${p} refused the API key`,
    client_error: `provider ${p} refused the request`,
    malformed_response: `provider ${p} sent an answer that could not be read`,
    not_sent: `the settings of provider ${p} kept the request from being sent`,
    cancelled: `the call to provider ${p} was cancelled`,
    other: `the call to provider ${p} failed`,
  };
  const detail = f.kind && f.kind !== 'other' ? why[f.kind] : `${f.kind ? `${why.other}: ` : ''}${f.code}: ${cut(f.cause, 160)}`;
  return `${f.step} fell back: ${detail}`;
}

function cut(s: string, max: number): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > max ? one.slice(0, max - 1) + '…' : one;
}

function errorMessage(e: Record<string, unknown> | undefined): string {
  if (!e) return '';
  const msg = typeof e.message === 'string' ? e.message : JSON.stringify(e);
  return cut(msg, 300);
}

/** The outcome of a run that ended with a status (whatever it is). */
export function outcomeOfStatus(s: WorkflowStatus): RunOutcome {
  const fallbacks = s.fallbacks ?? [];
  const missingKeys = [...new Set(fallbacks.filter((f) => f.kind === 'missing_key' && f.apiKeyEnv).map((f) => f.apiKeyEnv!))];
  const reasons = fallbacks.map(describeFallback);
  if (s.refused) return { label: 'refused', severity: 'error', reasons: [errorMessage(s.error) || 'the run could not start'], missingKeys: [], refused: true };
  const base = s.status === 'timed_out' ? 'timed out' : s.status;
  const label = fallbacks.length && (s.status === 'succeeded' || s.status === 'partial') ? `${base} with fallbacks` : base;
  // Why it did not succeed: each failed step's last error, then the run's own error.
  const failed = s.steps.filter((x) => x.status === 'failed');
  const lastError = (x: (typeof failed)[number]) => errorMessage(x.errors[x.errors.length - 1]);
  const failures = failed.map((x) => `${x.id} failed${x.errors.length ? `: ${cut(lastError(x), 160)}` : ''}`);
  // A run stopped by its timeout fails the steps it cut off with its own error: say it once.
  const runError = s.status !== 'succeeded' ? errorMessage(s.error) : '';
  if (runError && !failed.some((x) => lastError(x) === runError)) failures.push(runError);
  reasons.unshift(...failures);
  const severity = s.status === 'succeeded' ? (fallbacks.length ? 'warning' : 'info') : s.status === 'cancelled' || s.status === 'partial' ? 'warning' : 'error';
  return { label, severity, reasons, missingKeys, refused: false };
}

/** The outcome of a run the server would not start (`ok: false`): refused, with the reason. */
export function outcomeOfRefusal(error: PromptErrorInfo): RunOutcome {
  return { label: 'refused', severity: 'error', reasons: [cut(error.message, 300)], missingKeys: [], refused: true };
}

/** The notification's text: "PromptManager: reply_drafter succeeded with fallbacks: draft fell back: …". */
export function outcomeMessage(composition: string, o: RunOutcome, durationText?: string): string {
  const head = `PromptManager: ${composition} ${o.refused ? 'was refused' : o.label}${durationText && !o.refused ? ` in ${durationText}` : ''}`;
  return o.reasons.length ? `${head}: ${o.reasons.join('; ')}` : head;
}
