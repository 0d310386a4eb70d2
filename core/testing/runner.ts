/**
 * Runs the prompt tests of a workspace: the API the CLI (`promptmanager test`) and the
 * language server (the editor's Testing view) share. A selection of tests runs concurrently
 * (bounded) on two engines made from one validation: offline tests on a virtual clock with
 * their mocks, live ones on the real clock with the providers behind the response cache.
 * Progress goes to a callback, an AbortSignal cancels, each test runs `repeat` times (or
 * `options.repeat`), and the report says per test, per run and per assertion (with its source
 * range, and expected and actual text for a diff) what happened. The run is recorded in the
 * workspace's history unless told not to.
 */
import * as path from 'node:path';
import { systemClock } from '../clock.js';
import { ConfigurationError } from '../manager/configError.js';
import type { ProviderOverrides } from '../manager/engineWorkflowPort.js';
import { PromptManager } from '../manager/promptManager.js';
import { snapshotFileName } from '../model/testTypes.js';
import type { WorkspaceValidation } from '../validate/api.js';
import { validateWorkspace } from '../validate/validateWorkspace.js';
import { createWorkspaceResponseCache } from '../workflow/diskResponseCache.js';
import type { StepExecutor } from '../workflow/executors.js';
import type { ResponseCache } from '../workflow/responseCache.js';
import { nodeFileSystem, type FileSystemHost } from '../workspace/fileSystem.js';
import { assertionLabel, checkAssertion } from './assertions.js';
import { mocksOf, testExecutors, type TestRunState } from './executors.js';
import { TestHistory, textDigest } from './history.js';
import { compositionOnce, errorInfo, renderOnce, viewOf, type Observed } from './observe.js';
import { testEntries, testFileProblems, type TestEntry } from './listTests.js';
import { defaultSnapshotMode, SnapshotStore, type SnapshotMode } from './snapshots.js';
import type { AssertionResult, PromptTestResult, RepetitionResult, TestProgressEvent, TestRunReport } from './types.js';
import { VirtualClock } from './virtualClock.js';

export interface RunPromptTestsOptions {
  /** The prompt workspace folder. */
  root: string;
  /**
   * A validation of it that the caller already has (the language server's, with the open
   * buffers; `fs` must read the same texts); the validator runs otherwise.
   */
  validation?: WorkspaceValidation;
  fs?: FileSystemHost;
  /** Run only these tests (by name). */
  ids?: readonly string[];
  /** Run only the tests of these files (absolute paths). */
  files?: readonly string[];
  /** Run only tests whose name, or file relative to the workspace, this regular expression matches (`--filter`). */
  filter?: string | RegExp;
  /** Run the tests marked `live: true` against their providers; without it they are skipped. */
  live?: boolean;
  /** Runs of each test, instead of its `repeat`. */
  repeat?: number;
  /** Golden files: `new` writes missing ones (default, `none` in CI), `all` also rewrites differing ones. */
  updateSnapshots?: SnapshotMode;
  /** Tests running at once; default 16 offline, 4 live. */
  concurrency?: number;
  /** Aborting cancels the runs under way; tests not started are reported skipped. */
  signal?: AbortSignal;
  onProgress?: (event: TestProgressEvent) => void;
  /** The response cache of live runs; default the workspace's on disk; false: none. */
  responseCache?: ResponseCache | false;
  /** Live runs: your own model clients, by provider type (the built-in `openai-compatible` otherwise). */
  executors?: Iterable<StepExecutor>;
  /** Where live runs look up API keys (`api_key_env`); default process.env. */
  env?: (name: string) => string | undefined;
  /** Live runs: per-provider settings that win over composition_rules.yaml (a local server's URL). */
  providerOverrides?: ProviderOverrides;
  /** False in an untrusted workspace: live tests are refused by the engine (offline ones, which call no provider, still run). Default true. */
  trusted?: boolean;
  /** Where the run is recorded; default the workspace's `.promptmanager/test-history/`; false: not recorded. */
  history?: TestHistory | false;
}

const OFFLINE_CONCURRENCY = 16;
const LIVE_CONCURRENCY = 4;

function selector(options: RunPromptTestsOptions, root: string): (e: TestEntry) => boolean {
  const ids = options.ids ? new Set(options.ids) : undefined;
  const files = options.files ? new Set(options.files.map((f) => path.resolve(f))) : undefined;
  let re: RegExp | undefined;
  if (options.filter !== undefined) {
    try {
      re = options.filter instanceof RegExp ? options.filter : new RegExp(options.filter);
    } catch (e) {
      throw new RangeError(`the filter is not a regular expression: ${(e as Error).message}`);
    }
  }
  return (e) => (!ids || ids.has(e.info.id)) && (!files || files.has(e.info.file)) && (!re || re.test(e.info.id) || re.test(path.relative(root, e.info.file).split(path.sep).join('/')));
}

/** Runs the selected tests of a workspace and returns the report (see the module's comment). */
export async function runPromptTests(options: RunPromptTestsOptions): Promise<TestRunReport> {
  const root = path.resolve(options.root);
  const fs = options.fs ?? nodeFileSystem;
  const startedAt = Date.now();
  const t0 = performance.now();
  const validation = options.validation ?? validateWorkspace(root, { fs });
  if (validation.configErrorCount > 0) {
    const tests = new Set(validation.promptTestFiles);
    throw new ConfigurationError(root, validation.diagnostics.filter((d) => !tests.has(d.file)));
  }
  if (options.repeat !== undefined && !(Number.isInteger(options.repeat) && options.repeat >= 1 && options.repeat <= 1000)) throw new RangeError(`repeat must be a whole number from 1 to 1000, got ${String(options.repeat)}`);
  if (options.concurrency !== undefined && !(Number.isInteger(options.concurrency) && options.concurrency >= 1)) throw new RangeError(`concurrency must be a whole number of at least 1, got ${String(options.concurrency)}`);
  const all = testEntries(validation);
  const entries = all.filter(selector(options, root));
  const problems =
    options.ids || options.filter !== undefined
      ? []
      : testFileProblems(validation, all, options.files ? new Set(options.files.map((f) => path.resolve(f))) : undefined).map((d) => ({ file: d.file, range: d.range, code: d.code, message: d.message }));
  const emit = (e: TestProgressEvent) => {
    try {
      options.onProgress?.(e);
    } catch {
      // A listener's failure is its own: the run goes on.
    }
  };
  emit({ type: 'run.started', tests: entries.map((e) => e.info.id) });

  const snapshots = new SnapshotStore(root, options.updateSnapshots ?? defaultSnapshotMode());
  const runs = new Map<string, TestRunState>();
  const types = new Set((validation.compositionRules?.providers ?? []).map((p) => p.type));
  const ownExecutors = new Map([...(options.executors ?? [])].map((e) => [e.name, e]));
  for (const name of ownExecutors.keys()) types.add(name);
  const needsLive = !!options.live && entries.some((e) => e.def.live && !e.info.error);
  const cache = needsLive && options.responseCache !== false ? (options.responseCache ?? createWorkspaceResponseCache(root)) : undefined;
  const engines: Partial<Record<'offline' | 'live', Promise<PromptManager>>> = {};
  const engine = (kind: 'offline' | 'live'): Promise<PromptManager> =>
    (engines[kind] ??= PromptManager.create({
      root,
      fs,
      validation,
      environment: 'testing',
      watch: false,
      metrics: false,
      clock: kind === 'offline' ? new VirtualClock() : systemClock,
      workflow: {
        historyLimit: 64,
        executors: testExecutors({ runs, types, ...(kind === 'live' ? { live: { executors: ownExecutors, ...(cache ? { cache } : {}) } } : {}) }),
        // Offline tests reach no provider (their model steps answer from mocks): trust is the live engine's matter.
        ...(kind === 'live' && options.trusted !== undefined ? { trusted: options.trusted } : {}),
        ...(kind === 'live' && options.env ? { env: options.env } : {}),
        ...(kind === 'live' && options.providerOverrides ? { providerOverrides: options.providerOverrides } : {}),
      },
    }));

  let counter = 0;
  const runOnce = async (entry: TestEntry, repetition: number): Promise<{ result: RepetitionResult; digests: Record<string, string> }> => {
    const t = entry.def;
    const r0 = performance.now();
    const live = t.live && !!options.live;
    const manager = await engine(live ? 'live' : 'offline');
    const contextFile = t.contextFile ? validation.contextFiles.get(path.resolve(root, t.contextFile.value)) : undefined;
    const context: Record<string, unknown> = { ...structuredClone(contextFile ?? {}), ...structuredClone(t.context ?? {}) };
    const serviceName = t.service?.name;
    let observed: Observed;
    if (t.template && !t.composition) observed = renderOnce(manager, t, context, serviceName);
    else {
      const runId = `test:${t.name}#${repetition}.${++counter}`;
      const state: TestRunState = { test: t, repetition, live, prompts: new Map() };
      const mocks = mocksOf(t);
      if (mocks) state.mocks = mocks;
      runs.set(runId, state);
      try {
        observed = await compositionOnce(manager, t, context, serviceName, runId, state, options.signal);
      } finally {
        runs.delete(runId);
      }
    }
    const assertions: AssertionResult[] = [];
    const digests: Record<string, string> = {};
    for (const a of t.expect) {
      if (!a.kind) continue;
      const snapName = a.kind === 'snapshot' ? snapshotFileName(a) : undefined;
      const view = viewOf(t, a, observed);
      const outcome = await checkAssertion(a, view, (text) => {
        digests[snapName!] = textDigest(text);
        return snapshots.check(t.name, snapName!, text);
      });
      const info = entry.info.assertions.find((x) => x.index === a.index)!;
      assertions.push({ ...info, ...outcome, label: assertionLabel(t, a, snapName && outcome.snapshot ? path.relative(root, outcome.snapshot.file).split(path.sep).join('/') : snapName) });
    }
    const checksItself = t.expect.some((a) => !a.step && (a.kind === 'status' || a.kind === 'error'));
    if (!checksItself && observed.status !== 'succeeded') {
      const what = t.template && !t.composition ? 'render' : 'run';
      const err = observed.error ? `: [${observed.error.code}] ${observed.error.message}` : '';
      const failedStep = [...observed.steps.entries()].find(([, s]) => s.status === 'failed' && s.error);
      const stepErr = !observed.error && failedStep ? `: step '${failedStep[0]}' failed: [${failedStep[1].error!.code}] ${failedStep[1].error!.message}` : '';
      assertions.unshift({
        index: -1,
        kind: 'status',
        label: what === 'render' ? 'the render succeeds' : 'the run ends succeeded',
        range: entry.info.range,
        passed: false,
        implicit: true,
        message: `the ${what} ended '${observed.status}'${err}${stepErr} (expect a status or an error to test a failure)`,
        expected: 'succeeded',
        actual: observed.status,
      });
    }
    return { result: { repetition, passed: assertions.every((a) => a.passed), durationMs: performance.now() - r0, status: observed.status, assertions }, digests };
  };

  const runTest = async (entry: TestEntry): Promise<PromptTestResult> => {
    const result = await runTestOnce(entry);
    emit({ type: 'test.finished', result });
    return result;
  };

  const runTestOnce = async (entry: TestEntry): Promise<PromptTestResult> => {
    const t = entry.def;
    const base: PromptTestResult = {
      id: entry.info.id,
      file: entry.info.file,
      range: entry.info.range,
      outcome: 'skipped',
      durationMs: 0,
      repetitions: [],
      passRate: 0,
      requiredPassRate: entry.info.passRate,
      assertions: [],
      live: t.live,
    };
    if (entry.info.error) {
      const message = `the test has errors: ${entry.info.error}`;
      return { ...base, outcome: 'failed', reason: message, assertions: [{ index: -1, label: 'the test is valid', range: entry.info.range, passed: false, implicit: true, message }] };
    }
    if (t.live && !options.live) return { ...base, reason: 'it calls a live model (live: true): run with --live to include it' };
    if (options.signal?.aborted) return { ...base, reason: 'the test run was cancelled before this test started' };
    emit({ type: 'test.started', id: entry.info.id });
    const t0 = performance.now();
    const reps = options.repeat ?? entry.info.repeat;
    const results: RepetitionResult[] = [];
    let digests: Record<string, string> = {};
    for (let i = 1; i <= reps; i++) {
      if (i > 1 && options.signal?.aborted) break;
      let r: RepetitionResult;
      try {
        const once = await runOnce(entry, i);
        r = once.result;
        digests = once.digests;
      } catch (e) {
        const info = errorInfo(e);
        r = { repetition: i, passed: false, durationMs: 0, status: 'failed', assertions: [{ index: -1, label: 'the test runs', range: entry.info.range, passed: false, implicit: true, message: `[${info.code}] ${info.message}` }] };
      }
      results.push(r);
      emit({ type: 'test.repetition', id: entry.info.id, result: r, of: reps });
    }
    const passed = results.filter((r) => r.passed).length;
    const passRate = results.length ? passed / results.length : 0;
    const firstFailed = results.find((r) => !r.passed);
    const shown = firstFailed ?? results[results.length - 1];
    const result: PromptTestResult = {
      ...base,
      outcome: results.length === reps && passRate >= entry.info.passRate - 1e-9 && results.length > 0 ? 'passed' : 'failed',
      durationMs: performance.now() - t0,
      repetitions: results,
      passRate,
      assertions: shown?.assertions ?? [],
    };
    if (results.length < reps) result.reason = `cancelled after ${results.length} of ${reps} runs`;
    else if (reps > 1) result.reason = `${passed} of ${reps} runs passed (${Math.round(passRate * 100)}%; ${Math.round(entry.info.passRate * 100)}% required)`;
    if (Object.keys(digests).length) result.snapshotDigests = digests;
    return result;
  };

  let results: PromptTestResult[];
  try {
    // The engines first: a test's time is its own, not the engine's start.
    const runnable = entries.filter((e) => !e.info.error && (!e.def.live || options.live));
    if (runnable.some((e) => !e.def.live)) await engine('offline');
    if (runnable.some((e) => e.def.live)) await engine('live');
    const { default: pLimit } = await import('p-limit');
    const offline = pLimit(options.concurrency ?? OFFLINE_CONCURRENCY);
    const liveLimit = pLimit(options.concurrency ?? LIVE_CONCURRENCY);
    results = await Promise.all(entries.map((e) => (e.def.live && options.live ? liveLimit : offline)(() => runTest(e))));
  } finally {
    await Promise.all(Object.values(engines).map(async (p) => (await p.catch(() => undefined))?.close()));
  }
  const summary = { total: results.length, passed: 0, failed: 0, skipped: 0 };
  for (const r of results) summary[r.outcome]++;
  const report: TestRunReport = { root, startedAt, durationMs: performance.now() - t0, live: !!options.live, results, summary, problems, snapshotsWritten: [...snapshots.written] };
  if (cache) report.cache = { ...cache.stats };
  if (options.history !== false && results.length) {
    try {
      report.historyFile = await (options.history ?? new TestHistory(root)).record(report);
    } catch (e) {
      report.historyError = `the run could not be recorded in the history: ${(e as Error).message}`;
    }
  }
  emit({ type: 'run.finished', report });
  return report;
}
