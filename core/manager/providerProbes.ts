/**
 * Active provider probes (`workflow: { probes: { intervalMs, timeoutMs } }`, off by default):
 * on an interval, each provider some step uses gets a cheap request from its executor's
 * `probe` (for `openai-compatible`, `GET {base_url}/models`: core/workflow/openaiProbe.ts), and
 * the outcome feeds the providers component of `healthCheck()`, so a provider that went down
 * shows before the next run finds out, and one that came back shows before the next run
 * succeeds.
 *
 * - Never in an untrusted workspace: a workspace's YAML must not make the manager send
 *   requests (and a key) to an address it chose; a round is skipped while untrusted.
 * - A provider with calls queued or in flight is not probed: its calls say more (on the BullMQ
 *   back end, where the workers make the calls: jobs waiting or running on its queue).
 * - A probe goes through the admission scheduler like a call, so it counts against the
 *   provider's `requests_per_minute` and never causes a 429; its timeout covers that wait.
 * - Rounds never overlap; a round's timer does not keep the process alive.
 */
import type { Clock } from '../clock.js';
import { PromptError, toPromptError } from '../errors.js';
import type { ProviderDef } from '../model/types.js';
import type { Admission, AdmissionGauges, AdmissionScheduler } from '../workflow/admission.js';
import type { ExecutorRegistry, ProbeAnswer, StepExecutor } from '../workflow/executors.js';
import { classifyProviderFailure, PROVIDER_FAILURE_LABELS, type ProviderFailureKind } from '../workflow/providerFailure.js';

export interface ProbeSettings {
  /** Time between two rounds, milliseconds. Default 60,000; at least 1,000. */
  intervalMs?: number;
  /** Time limit of one probe, admission wait included, milliseconds. Default 5,000. */
  timeoutMs?: number;
}

export interface ProbeState {
  provider: string;
  /** The provider answered the last probe. */
  ok: boolean;
  /** It answered, but a step would likely fail (a model it does not list, a 429). */
  warning?: string;
  detail?: string;
  /** Why the last probe failed. */
  kind?: ProviderFailureKind;
  message?: string;
  /** Wall-clock epoch milliseconds of the last probe's end. */
  at: number;
  durationMs: number;
  /** Probes failed in a row, up to the last. */
  consecutiveFailures: number;
  probes: number;
  /** The provider's call count when the last probe ended: a call since is newer evidence. */
  callsAtProbe: number;
}

/** Probes failed in a row that make a provider unhealthy (one makes it degraded). */
export const PROBE_DOWN_STREAK = 3;

export interface ProbeDependencies {
  clock: Clock;
  executors: ExecutorRegistry;
  env: (name: string) => string | undefined;
  /** The providers some step uses, now (with overrides). */
  providers: () => ProviderDef[];
  trusted: () => boolean;
  admission: AdmissionScheduler;
  gauges: () => ReadonlyMap<string, AdmissionGauges>;
  /** Calls made to a provider so far. */
  calls: (provider: string) => number;
  /** A provider whose calls run elsewhere and are busy now (the BullMQ workers'). */
  busy?: (provider: ProviderDef) => Promise<boolean>;
}

export class ProviderProbes {
  private readonly states = new Map<string, ProbeState>();
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private timer: unknown;
  private running = false;
  private closed = false;
  private readonly inFlight = new Set<AbortController>();

  constructor(
    private readonly deps: ProbeDependencies,
    settings: ProbeSettings,
  ) {
    const interval = settings.intervalMs ?? 60_000;
    const timeout = settings.timeoutMs ?? 5_000;
    if (!(Number.isFinite(interval) && interval >= 1000)) throw new TypeError(`workflow.probes.intervalMs must be a number of milliseconds from 1000, not ${settings.intervalMs}`);
    if (!(Number.isFinite(timeout) && timeout >= 1)) throw new TypeError(`workflow.probes.timeoutMs must be a number of milliseconds from 1, not ${settings.timeoutMs}`);
    this.intervalMs = interval;
    this.timeoutMs = timeout;
  }

  /** The first round at once (after the current task), then one every `intervalMs`. */
  start(): void {
    this.schedule(0);
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
    for (const ac of this.inFlight) ac.abort(new PromptError('cancelled', 'the prompt manager was closed'));
  }

  /** The last probe of each provider probed so far. */
  results(): ReadonlyMap<string, ProbeState> {
    return this.states;
  }

  /** One round: every used, idle provider whose executor can probe, in parallel. */
  async round(): Promise<void> {
    if (this.running || this.closed || !this.deps.trusted()) return;
    this.running = true;
    try {
      const gauges = this.deps.gauges();
      const jobs: Promise<void>[] = [];
      for (const p of this.deps.providers()) {
        const executor = this.deps.executors.get(p.type);
        const g = gauges.get(p.name);
        if (!executor?.probe || (g && g.queued + g.inFlight > 0)) continue;
        const probe = executor.probe.bind(executor);
        const busy = this.deps.busy;
        jobs.push(busy ? busy(p).then((b) => (b || this.closed ? undefined : this.probe(p, probe)), () => this.probe(p, probe)) : this.probe(p, probe));
      }
      await Promise.all(jobs);
    } finally {
      this.running = false;
    }
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = this.deps.clock.setTimeout(() => {
      this.timer = undefined;
      void this.round().finally(() => this.schedule(this.intervalMs));
    }, ms);
  }

  private async probe(p: ProviderDef, probe: NonNullable<StepExecutor['probe']>): Promise<void> {
    const clock = this.deps.clock;
    const t0 = clock.now();
    const ac = new AbortController();
    this.inFlight.add(ac);
    // The admission wait and the probe both end at the timeout or the manager's close.
    const stopped = new Promise<never>((_, reject) => ac.signal.addEventListener('abort', () => reject(ac.signal.reason), { once: true }));
    stopped.catch(() => undefined);
    const timer = clock.setTimeout(() => ac.abort(new PromptError('timeout', `the probe of provider "${p.name}" took longer than ${this.timeoutMs} ms`)), this.timeoutMs);
    const ticket = this.deps.admission.admit({ provider: p, run: '(probe)', priority: 0, tokens: 1 });
    let admission: Admission | undefined;
    let outcome: { ok: true; answer: ProbeAnswer | void } | { ok: false; error: PromptError };
    try {
      admission = await Promise.race([ticket.admitted, stopped]);
      outcome = { ok: true, answer: await Promise.race([probe({ provider: p, signal: ac.signal, clock, env: this.deps.env }), stopped]) };
    } catch (e) {
      outcome = { ok: false, error: toPromptError(e, 'provider_error') };
      if (!admission) {
        ticket.cancel(outcome.error);
        // Admitted in the same moment the wait was given up: free the slot all the same.
        ticket.admitted.then((a) => a.release(), () => undefined);
      }
    }
    clock.clearTimeout(timer);
    this.inFlight.delete(ac);
    admission?.release(outcome.ok ? { ok: true } : {});
    if (this.closed) return;
    const prev = this.states.get(p.name);
    const state: ProbeState = {
      provider: p.name,
      ok: outcome.ok,
      at: clock.wallNow?.() ?? Date.now(),
      durationMs: clock.now() - t0,
      consecutiveFailures: outcome.ok ? 0 : (prev?.consecutiveFailures ?? 0) + 1,
      probes: (prev?.probes ?? 0) + 1,
      callsAtProbe: this.deps.calls(p.name),
    };
    if (outcome.ok) {
      if (outcome.answer?.detail) state.detail = outcome.answer.detail;
      if (outcome.answer?.warning) state.warning = outcome.answer.warning;
    } else {
      state.kind = classifyProviderFailure(outcome.error);
      state.message = outcome.error.message;
    }
    this.states.set(p.name, state);
  }
}

/** How health tells a probe: `probe ok (12 models listed)`, `the last 3 probes failed (connection refused)`. */
export function describeProbe(s: ProbeState): string {
  if (s.ok) return `probe ${s.warning ? `answered, but ${s.warning}` : `ok${s.detail ? ` (${s.detail})` : ''}`}`;
  const label = PROVIDER_FAILURE_LABELS[s.kind ?? 'other'];
  return `${s.consecutiveFailures === 1 ? 'the last probe' : `the last ${s.consecutiveFailures} probes`} failed (${label})`;
}
