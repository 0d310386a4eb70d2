/**
 * A distributed run's state in Redis, through the one Lua script (runScript.ts): the calls a
 * starter and the workers make, each one atomic, and the run's status read back as the
 * in-process engine gives it (`WorkflowStatus`), from any process.
 */
import type { Redis } from 'ioredis';
import { MAX_STEP_ERRORS, STEP_ERRORS_KEPT_FIRST } from '../workflow/bounds.js';
import type { ErrorJSON, FallbackCause, FinalRunStatus, ResolvedComposition, SkipReason, StepRunStatus, StepStatus, WorkflowStatus } from '../workflow/types.js';
import { RUN_SCRIPT } from './runScript.js';
import { slotKeys } from './runSlots.js';
import type { RunLimits } from '../workflow/runLimits.js';

/** What a run carries from its start to every worker: all a worker needs besides the templates. */
export interface RunSpec {
  v: 1;
  id: string;
  composition: ResolvedComposition;
  /** The run's input context (JSON: a distributed run's context must be JSON). */
  input: Record<string, unknown>;
  serviceName?: string;
  /** `null` for no bound (JSON has no Infinity). */
  maxParallel: number | null;
  /** Content hash of the configuration and templates the run started with (configPin). */
  pin: string;
  /** Per step, its remaining-path priority (critical path first). */
  priority: number[];
  /** Who started it (`host:pid`), for people reading the status. */
  startedBy: string;
  /** The run's model steps answer from the response cache in Redis, entries kept `ttlMs` (the starting manager's `workflow.responseCache`). */
  responseCache?: { ttlMs: number };
}

export type Decision = 'ready' | SkipReason;

/** What the Lua `create` needs beside the spec (enqueue.ts's runInit). */
export interface RunInit {
  dependents: number[][];
  depCounts: number[];
  timeoutError: string;
  ttlMs: number;
  channel: string;
  startedEvent: string;
}

/** Why a step's provider call failed, kept with a fallback: what FallbackCause adds to the error. */
export type ProviderFailureNote = Pick<FallbackCause, 'kind' | 'provider' | 'apiKeyEnv'>;

export interface Advance {
  kind: 'ok';
  /** Redis's clock, epoch milliseconds. */
  now: number;
  /** Set when the run has come to its natural end: its status before the output is rendered. */
  finishing?: FinalRunStatus;
  /** Steps whose dependencies have all finished: their `skip` and `when` are to be decided. */
  toDecide: number[];
  /** Steps that just got a slot: each needs its job. */
  dispatched: number[];
  /** The step the caller offered to run eagerly that got a slot, claimed for attempt 1 in the same call (not in `dispatched`). */
  claimed?: { step: number; claim: Claim };
}

/** A step a worker offers to run eagerly if a completion dispatches it: its index and the steps it reads. */
export type EagerOffer = readonly [step: number, reads: readonly number[]];

export type Claim = { kind: 'ok'; now: number; startedAt: number; deadline?: number; views: Map<number, StepView> } | { kind: 'done' | 'ended' | 'notready'; now: number; state: string };

/** What `steps.<id>` holds in a later step's context. */
export interface StepView {
  output: unknown;
  status: StepStatus;
  attempts: number;
  duration_ms: number;
}

const FINAL = new Set(['succeeded', 'fallback', 'failed', 'skipped', 'cancelled']);

/** The keys of one run (the run id in a hash tag, so that a run's keys share a slot), then the prefix's run index and run slots. */
export function runKeys(prefix: string, runId: string): string[] {
  const base = `${prefix}:run:{${encodeURIComponent(runId)}}`;
  return [base, `${base}:steps`, `${base}:ready`, `${base}:events`, `${base}:errors`, `${prefix}:runs`, ...slotKeys(prefix)];
}

/** How a run under `maxConcurrentRuns` was admitted (runSlots.ts), with the runs holding slots and waiting after it. */
export interface Admission {
  kind: 'started' | 'queued' | 'full' | 'exists' | 'abandoned';
  now: number;
  running: number;
  /** Runs waiting: with `queued`, this run's place. */
  queued: number;
}

export function eventsKey(prefix: string, runId: string): string {
  return runKeys(prefix, runId)[3]!;
}

type ScriptCall = (...args: (string | number)[]) => Promise<unknown>;

/** A step's view from its fields (status, attempts, t0, t1, output); undefined until it has finished. */
function viewOf(v: readonly (string | null | undefined)[]): StepView | undefined {
  const [status, attempts, t0, t1, output] = v;
  if (!status || !FINAL.has(status)) return undefined;
  return { output: parseJSON(output ?? undefined), status: status as StepStatus, attempts: Number(attempts ?? 0), duration_ms: t0 && t1 ? Number(t1) - Number(t0) : 0 };
}

function ints(v: unknown): number[] {
  return Array.isArray(v) ? v.map((x) => Number(x)) : [];
}

function advanceOf(r: unknown, offers: readonly EagerOffer[] = []): Advance | { kind: 'ended' | 'exists' | 'stale'; now: number } {
  const a = r as [string, string, string, unknown, unknown, unknown?, unknown?];
  if (a[0] !== 'ok') return { kind: a[0] as 'ended', now: Number(a[1]) };
  const out: Advance = { kind: 'ok', now: Number(a[1]), toDecide: ints(a[3]), dispatched: ints(a[4]) };
  if (a[2]) out.finishing = a[2] as FinalRunStatus;
  if (a[5] !== undefined && a[5] !== null) {
    const step = Number(a[5]);
    out.claimed = { step, claim: claimOf(a[6], offers.find(([i]) => i === step)?.[1] ?? []) };
  }
  return out;
}

/** A claim's reply: the run's views of `reads`, in their order. */
function claimOf(reply: unknown, reads: readonly number[]): Claim {
  const r = reply as unknown[];
  if (r[0] === 'ok') {
    const views = new Map<number, StepView>();
    ((r[4] ?? []) as (string | null)[][]).forEach((v, k) => {
      const view = viewOf(v);
      if (view) views.set(reads[k]!, view);
    });
    const out: Claim = { kind: 'ok', now: Number(r[1]), startedAt: Number(r[2]), views };
    if (r[3]) out.deadline = Number(r[3]);
    return out;
  }
  return { kind: r[0] as 'done', now: Number(r[1]), state: String(r[2] ?? '') };
}

function pairs(flat: unknown): Map<string, string> {
  const m = new Map<string, string>();
  const a = flat as string[];
  for (let i = 0; i + 1 < a.length; i += 2) m.set(a[i]!, a[i + 1]!);
  return m;
}

function parseJSON(s: string | undefined): unknown {
  if (s === undefined || s === '') return null;
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}

export class RunStore {
  private readonly call: ScriptCall;
  /** Specs never change: parsed once per process. */
  private readonly specs = new Map<string, RunSpec>();

  constructor(
    readonly redis: Redis,
    readonly prefix: string,
  ) {
    const r = redis as Redis & { pmRunScript?: ScriptCall };
    if (typeof r.pmRunScript !== 'function') redis.defineCommand('pmRunScript', { numberOfKeys: 9, lua: RUN_SCRIPT });
    const fn = (redis as unknown as { pmRunScript: ScriptCall }).pmRunScript;
    this.call = fn.bind(redis);
  }

  private run(runId: string, ...args: (string | number)[]): Promise<unknown> {
    return this.call(...runKeys(this.prefix, runId), ...args);
  }

  /** Creates the run unless it exists (a second call, from a recovering worker, changes nothing). */
  async create(spec: RunSpec, init: RunInit): Promise<Advance | { kind: 'exists'; now: number }> {
    return advanceOf(await this.run(spec.id, ...this.createArgs('create', spec, init))) as Advance | { kind: 'exists'; now: number };
  }

  /** Creates the run under the run limit: begun with a slot, queued for one, or (`full`) not at all. */
  async admit(spec: RunSpec, init: RunInit, limits: RunLimits): Promise<Admission> {
    const args = this.createArgs('admit', spec, init);
    args.push(limits.maxConcurrentRuns, limits.maxQueuedRuns === Infinity ? -1 : limits.maxQueuedRuns);
    const r = (await this.run(spec.id, ...args)) as [string, string, number, number];
    return { kind: r[0] as Admission['kind'], now: Number(r[1]), running: Number(r[2]), queued: Number(r[3]) };
  }

  /** A run's start job under the run limit: begins the run when it holds a slot; `gone` (and a tombstone kept `tombstoneMs`) when it was never created. */
  async begin(runId: string, tombstoneMs: number): Promise<{ kind: 'gone' | 'queued' | 'running' | 'finishing' | 'ended'; position: number }> {
    const r = (await this.run(runId, 'begin', runId, Math.max(1, Math.round(tombstoneMs)))) as [string, string, number];
    return { kind: r[0] as 'queued', position: Number(r[2]) };
  }

  private createArgs(op: string, spec: RunSpec, init: RunInit): (string | number)[] {
    const c = spec.composition;
    const args: (string | number)[] = [
      op,
      JSON.stringify(spec),
      spec.id,
      c.name,
      c.steps.length,
      spec.maxParallel ?? 0,
      c.failFast ? 1 : 0,
      c.timeoutMs ?? 0,
      init.timeoutError,
      init.ttlMs,
      init.channel,
      init.startedEvent,
    ];
    c.steps.forEach((s, i) => args.push(s.id, init.depCounts[i]!, init.dependents[i]!.join(','), spec.priority[i] ?? 0, s.continueOnError ? 1 : 0, s.skip ? 1 : 0, s.when ? 1 : 0));
    this.specs.set(spec.id, spec);
    return args;
  }

  async settle(runId: string, decisions: readonly (readonly [number, Decision])[]): Promise<Advance | { kind: 'ended'; now: number }> {
    const args: (string | number)[] = ['settle'];
    for (const [i, d] of decisions) args.push(i, d);
    return advanceOf(await this.run(runId, ...args)) as Advance | { kind: 'ended'; now: number };
  }

  /** What a recovering worker must redo: the steps still to decide, and those holding a slot. */
  async pending(runId: string): Promise<{ state: string; now: number; status: string; deciding: number[]; slotted: number[] }> {
    const r = (await this.run(runId, 'pending')) as [string, string, string, unknown, unknown];
    return { state: r[0], now: Number(r[1]), status: r[2], deciding: ints(r[3]), slotted: ints(r[4]) };
  }

  /** Claims a step for an attempt, and reads the `steps.<id>` of the steps it reads (`reads`), in the same call. */
  async claim(runId: string, step: number, attempt: number, reads: readonly number[] = []): Promise<Claim> {
    return claimOf(await this.run(runId, 'claim', step, attempt, ...reads), reads);
  }

  async retrying(runId: string, step: number, attempt: number, waitMs: number, error: ErrorJSON): Promise<boolean> {
    return Number(await this.run(runId, 'retrying', step, attempt, attempt + 1, waitMs, JSON.stringify(error))) === 1;
  }

  async complete(
    runId: string,
    step: number,
    status: 'succeeded' | 'fallback' | 'failed',
    output: unknown,
    eventError: ErrorJSON | undefined,
    errors: readonly ErrorJSON[],
    /** A fallback after its provider's call failed: the kind of failure, for the run's `fallbacks`. */
    providerFailure?: ProviderFailureNote,
    /** Steps this worker would run eagerly: the first one this completion dispatches comes back claimed. */
    offers: readonly EagerOffer[] = [],
  ): Promise<Advance | { kind: 'stale'; now: number }> {
    const out = status === 'failed' || output === null || output === undefined ? '' : JSON.stringify(output);
    const args: (string | number)[] = ['complete', step, status, out, eventError ? JSON.stringify(eventError) : '', providerFailure ? JSON.stringify(providerFailure) : '', errors.length, ...errors.map((e) => JSON.stringify(e))];
    for (const [i, reads] of offers) args.push(i, reads.length, ...reads);
    return advanceOf(await this.run(runId, ...args), offers) as Advance | { kind: 'stale'; now: number };
  }

  /** Cancels or times out a running run (or one waiting for a run slot); false when it had already ended (or is rendering its output). */
  async stop(runId: string, status: 'cancelled' | 'timed_out', error: ErrorJSON): Promise<boolean> {
    return Number(await this.run(runId, 'stop', status, JSON.stringify(error))) === 1;
  }

  async finalize(runId: string, status: FinalRunStatus, output: string | null, error: ErrorJSON | undefined): Promise<boolean> {
    return Number(await this.run(runId, 'finalize', status, output === null ? '' : JSON.stringify(output), error ? JSON.stringify(error) : '')) === 1;
  }

  /** Ends the run `timed_out` when its deadline has passed; else the milliseconds left (0: nothing left to wait for). */
  async expire(runId: string): Promise<number> {
    return Number(await this.run(runId, 'expire'));
  }

  /** Deletes an ended run's state (its id is being reused). */
  async remove(runId: string): Promise<void> {
    const keys = runKeys(this.prefix, runId);
    await this.redis.del(...keys.slice(0, 5));
    await this.redis.zrem(keys[5]!, runId);
    this.specs.delete(runId);
  }

  async notice(runId: string, text: string): Promise<void> {
    await this.run(runId, 'notice', text);
  }

  async spec(runId: string): Promise<RunSpec | undefined> {
    const known = this.specs.get(runId);
    if (known) return known;
    const raw = await this.redis.hget(runKeys(this.prefix, runId)[0]!, 'spec');
    if (raw === null) return undefined;
    const spec = JSON.parse(raw) as RunSpec;
    if (spec.composition.maxParallel === null) spec.composition.maxParallel = Infinity;
    if (this.specs.size > 256) this.specs.delete(this.specs.keys().next().value!);
    this.specs.set(runId, spec);
    return spec;
  }

  /** Forgets a run's cached spec (its run has ended). */
  forget(runId: string): void {
    this.specs.delete(runId);
  }

  /** `steps.<id>` of these steps, for those that have finished. */
  async views(runId: string, steps: readonly number[]): Promise<Map<number, StepView>> {
    const out = new Map<number, StepView>();
    if (!steps.length) return out;
    const fields: string[] = [];
    for (const i of steps) fields.push(`s:${i}`, `a:${i}`, `t0:${i}`, `t1:${i}`, `o:${i}`);
    const v = await this.redis.hmget(runKeys(this.prefix, runId)[1]!, ...fields);
    steps.forEach((i, k) => {
      const view = viewOf(v.slice(k * 5, k * 5 + 5));
      if (view) out.set(i, view);
    });
    return out;
  }

  /** The run's status now, as `WorkflowStatus`; undefined when no such run is kept. */
  async read(runId: string): Promise<WorkflowStatus | undefined> {
    const r = await this.run(runId, 'read');
    if (!Array.isArray(r)) return undefined;
    const meta = pairs(r[0]);
    const steps = pairs(r[1]);
    const errors = pairs(r[2]);
    const raw = meta.get('spec');
    if (!raw) return undefined;
    let spec = this.specs.get(runId);
    if (!spec) {
      spec = JSON.parse(raw) as RunSpec;
      if (spec.composition.maxParallel === null) spec.composition.maxParallel = Infinity;
    }
    return statusOf(spec, meta, steps, errors, Number(r[3]));
  }

  /** Run ids in the index, oldest first (running runs last). */
  async runIds(limit = 1000): Promise<string[]> {
    return this.redis.zrange(runKeys(this.prefix, '')[5]!, -limit, -1);
  }
}

function statusOf(spec: RunSpec, meta: Map<string, string>, steps: Map<string, string>, errors: Map<string, string>, now: number): WorkflowStatus {
  const outputs: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  const fallbacks: FallbackCause[] = [];
  const list: StepRunStatus[] = spec.composition.steps.map((def, i) => {
    const raw = steps.get(`s:${i}`) ?? 'pending';
    const status = (FINAL.has(raw) || raw === 'running' ? raw : 'pending') as StepStatus;
    const ec = Number(steps.get(`ec:${i}`) ?? 0);
    const errs: ErrorJSON[] = [];
    const keep = (k: number) => {
      const e = errors.get(`${i}:${k}`);
      if (e !== undefined) errs.push(parseJSON(e) as ErrorJSON);
    };
    for (let k = 1; k <= Math.min(STEP_ERRORS_KEPT_FIRST, ec); k++) keep(k);
    for (let k = Math.max(STEP_ERRORS_KEPT_FIRST + 1, ec - (MAX_STEP_ERRORS - STEP_ERRORS_KEPT_FIRST) + 1); k <= ec; k++) keep(k);
    const output = status === 'succeeded' || status === 'fallback' ? parseJSON(steps.get(`o:${i}`)) : null;
    const st: StepRunStatus = { id: def.id, status, attempts: Number(steps.get(`a:${i}`) ?? 0), errors: errs, output };
    if (ec > MAX_STEP_ERRORS) st.errorsDropped = ec - MAX_STEP_ERRORS;
    const reason = steps.get(`k:${i}`);
    if (reason) st.skipReason = reason as SkipReason;
    const t0 = steps.get(`t0:${i}`);
    const t1 = steps.get(`t1:${i}`);
    if (t0 !== undefined) st.startedAt = Number(t0);
    if (t1 !== undefined && t0 !== undefined) {
      st.finishedAt = Number(t1);
      st.durationMs = Number(t1) - Number(t0);
    }
    if (def.template !== undefined) st.template = def.template;
    if (def.model !== undefined) st.model = def.model;
    if (output !== null && output !== undefined) outputs[def.id] = output;
    // Why it fell back: its last error (the one its fallback answered), and the provider's failure when its call failed.
    const last = errs.at(-1);
    if (status === 'fallback' && last) fallbacks.push({ step: def.id, code: String(last.code), cause: String(last.message), ...((parseJSON(steps.get(`fb:${i}`)) as ProviderFailureNote | null) ?? {}) });
    return st;
  });
  const state = meta.get('state');
  const out: WorkflowStatus = {
    id: spec.id,
    composition: spec.composition.name,
    status: state === 'ended' ? (meta.get('status') as FinalRunStatus) : state === 'queued' ? 'pending' : 'running',
    startedAt: Number(meta.get('t0')),
    steps: list,
    outputs: { ...outputs },
    output: state === 'ended' ? ((parseJSON(meta.get('output')) as string | null) ?? null) : null,
    maxParallel: spec.maxParallel ?? Infinity,
    appliedOverrides: { ...spec.composition.appliedOverrides },
  };
  if (spec.serviceName !== undefined) out.serviceName = spec.serviceName;
  const t1 = meta.get('t1');
  if (state === 'ended' && t1 !== undefined) {
    out.finishedAt = Number(t1);
    out.durationMs = Number(t1) - out.startedAt;
  }
  // A run that waited for a run slot: until it began, or so far (`now`, Redis's clock), or until it ended waiting.
  if (meta.get('q')) out.queuedMs = Number(meta.get('tb') ?? (state === 'queued' ? now : t1 ?? now)) - out.startedAt;
  const notice = meta.get('notice');
  if (notice && out.status === 'running') out.notice = notice;
  const err = meta.get('error');
  if (err) out.error = parseJSON(err) as ErrorJSON;
  if (fallbacks.length) out.fallbacks = fallbacks;
  return out;
}
