/**
 * `promptmanager test [DIR...]`: the prompt tests of every prompt workspace under each DIR
 * (default `.`), or of one test file. Exit 0 when every test passed (skipped ones included:
 * they are reported as skipped, never as passed), 1 when any failed, a test file has errors
 * no test carries (it does not parse), or the run was interrupted, 64 on a usage error.
 * Offline unless `--live`. Live answers are cached on disk in the workspace, or in Redis where
 * runs are distributed (`--redis URL`, else PROMPTMANAGER_REDIS_URL): shared by every machine and
 * CI job on it.
 */
import * as path from 'node:path';
import type { Redis } from 'ioredis';
import { backendFromEnv } from '../core/distributed/connection.js';
import { createRedisResponseCache } from '../core/distributed/redisResponseCache.js';
import { connectRedis } from '../core/distributed/redisClient.js';
import { ConfigurationError } from '../core/manager/configError.js';
import type { ResponseCache } from '../core/workflow/responseCache.js';
import { compareWithHistory, type RunComparison } from '../core/testing/compare.js';
import { TestHistory, type HistoryRun } from '../core/testing/history.js';
import { toJUnitXml } from '../core/testing/junit.js';
import { runPromptTests } from '../core/testing/runner.js';
import type { PromptTestResult, TestRunReport } from '../core/testing/types.js';
import { findPromptWorkspaces } from '../core/validate/validateWorkspace.js';
import { UnsafePathError, writeFileInsideSync } from '../core/workspace/safeWrite.js';
import { isPromptTestFile } from '../core/workspace/testFiles.js';
import { parseArgs, UsageError } from './args.js';
import { formatComparison, formatSummary, formatTestResult } from './testReporters.js';
import { formatDiagnostic, type CommandIO } from './validateCommand.js';
import { folderArgument, LOOKED_FOR } from './workspaceArg.js';

function positiveInt(v: string | true | undefined, flag: string, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`${flag} must be a whole number from 1 to ${max}, got '${String(v)}'`);
  return n;
}

/**
 * Writes the report where `--output` says, never through a link or into a FIFO a repository
 * put on the way (CI names a path in the checkout, which the pull request controls): below the
 * current folder every folder must be a real one; elsewhere the folder is the user's choice,
 * and only the file itself is checked. A report already there is replaced, never written through.
 */
function writeReport(cwd: string, output: string, text: string): void {
  const file = path.resolve(cwd, output);
  const rel = path.relative(cwd, file);
  const inside = rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
  writeFileInsideSync(inside ? cwd : path.dirname(file), file, text);
}

export async function testCommand(argv: string[], io: CommandIO): Promise<number> {
  const args = parseArgs(argv, new Set(['update-snapshots', 'live', 'compare', 'no-cache', 'help']), new Set(['filter', 'reporter', 'repeat', 'concurrency', 'output', 'redis']));
  const reporter = (args.flags.get('reporter') as string | undefined) ?? 'text';
  if (reporter !== 'text' && reporter !== 'json' && reporter !== 'junit') throw new UsageError(`--reporter must be text, json or junit, got '${reporter}'`);
  const repeat = positiveInt(args.flags.get('repeat'), '--repeat', 1000);
  const concurrency = positiveInt(args.flags.get('concurrency'), '--concurrency', 1000);
  const filter = args.flags.get('filter') as string | undefined;
  if (filter !== undefined) {
    try {
      new RegExp(filter);
    } catch (e) {
      throw new UsageError(`--filter must be a regular expression: ${(e as Error).message}`);
    }
  }
  const output = args.flags.get('output') as string | undefined;
  if (output !== undefined && reporter === 'text') throw new UsageError('--output writes the JSON or JUnit report: add --reporter junit or --reporter json');
  const live = args.flags.get('live') === true;
  const noCache = args.flags.get('no-cache') === true;
  const redisUrl = (args.flags.get('redis') as string | undefined) ?? backendFromEnv()?.connection.url;

  // Which workspaces; a test file argument runs that file's tests only.
  const targets = new Map<string, Set<string> | 'all'>();
  for (const arg of args.positionals.length ? args.positionals : ['.']) {
    const where = folderArgument(arg, io.cwd);
    if (where.file) {
      const cur = targets.get(where.dir);
      if (isPromptTestFile(where.file, where.dir)) {
        if (cur !== 'all') targets.set(where.dir, new Set([...(cur ?? []), where.file]));
      } else targets.set(where.dir, 'all');
      continue;
    }
    const found = findPromptWorkspaces(where.dir);
    if (!found.length) {
      io.stderr(`promptmanager test: no prompt workspace under ${arg} ${LOOKED_FOR}\n`);
      return 1;
    }
    for (const ws of found) targets.set(ws, 'all');
  }

  // The distributed back end's Redis keeps the live answers; connected only when a live run may use it.
  let redis: Redis | undefined;
  let responseCache: ResponseCache | undefined;
  if (live && !noCache && redisUrl) {
    redis = await connectRedis({ url: redisUrl });
    responseCache = createRedisResponseCache(redis);
  }
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  const reports: TestRunReport[] = [];
  const comparisons: { root: string; comparison: RunComparison }[] = [];
  // People read progress and the summary on stdout, unless stdout carries the JSON or XML.
  const human = reporter === 'text' || output !== undefined ? io.stdout : io.stderr;
  let configErrors = 0;
  try {
    for (const [root, files] of targets) {
      if (abort.signal.aborted) break;
      const rel = path.relative(io.cwd, root) || '.';
      const history = new TestHistory(root);
      let previous: HistoryRun[] = [];
      if (args.flags.get('compare')) {
        try {
          previous = await history.runs();
        } catch (e) {
          if (!(e instanceof UnsafePathError)) throw e;
          io.stderr(`promptmanager test: the history of ${rel} is not read: ${e.message}\n`);
        }
      }
      // Results are printed in the file's order as soon as every test before them is done.
      let order: string[] = [];
      const done = new Map<string, PromptTestResult>();
      let next = 0;
      let currentFile = '';
      const flush = () => {
        while (next < order.length && done.has(order[next]!)) {
          const r = done.get(order[next++]!)!;
          if (r.file !== currentFile) {
            currentFile = r.file;
            human(`${path.relative(io.cwd, currentFile)}\n`);
          }
          human(formatTestResult(r, root).join('\n') + '\n');
        }
      };
      let report: TestRunReport;
      try {
        report = await runPromptTests({
          root,
          live,
          signal: abort.signal,
          history,
          ...(repeat !== undefined ? { repeat } : {}),
          ...(concurrency !== undefined ? { concurrency } : {}),
          ...(filter !== undefined ? { filter } : {}),
          ...(files !== 'all' ? { files: [...files] } : {}),
          ...(args.flags.get('update-snapshots') ? { updateSnapshots: 'all' as const } : {}),
          ...(noCache ? { responseCache: false as const } : responseCache ? { responseCache } : {}),
          onProgress: (e) => {
            if (e.type === 'run.started') order = e.tests;
            else if (e.type === 'test.finished') {
              done.set(e.result.id, e.result);
              flush();
            }
          },
        });
      } catch (e) {
        if (e instanceof ConfigurationError) {
          configErrors++;
          io.stderr(`promptmanager test: the prompt workspace ${rel} has errors; fix them first ('promptmanager validate ${rel}'):\n`);
          for (const d of e.diagnostics) io.stderr(`  ${formatDiagnostic(d, io.cwd)}\n`);
          continue;
        }
        if (e instanceof RangeError) throw new UsageError(e.message);
        throw e;
      }
      if (!report.results.length && !report.problems.length && targets.size === 1) human(`no prompt tests in ${rel}${filter ? ` match --filter ${filter}` : ''} (looked for prompt_tests.yaml and prompt_tests/**/*.yaml)\n`);
      reports.push(report);
      if (args.flags.get('compare')) comparisons.push({ root, comparison: compareWithHistory(report, previous) });
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
    await redis?.quit().catch(() => undefined);
  }

  let rendered: string | undefined;
  if (reporter === 'junit') rendered = toJUnitXml(reports, { base: io.cwd });
  else if (reporter === 'json') {
    const doc: Record<string, unknown> = { workspaces: reports };
    if (comparisons.length) doc.comparisons = comparisons;
    rendered = JSON.stringify(doc, null, 2) + '\n';
  }
  let outputError: string | undefined;
  if (rendered !== undefined) {
    if (output) {
      try {
        writeReport(io.cwd, output, rendered);
      } catch (e) {
        if (!(e instanceof UnsafePathError)) throw e;
        outputError = `promptmanager test: the report was not written: ${e.message}\n`;
      }
    } else io.stdout(rendered);
  }
  human('\n' + formatSummary(reports, io.cwd).join('\n') + '\n');
  if (comparisons.length) {
    for (const c of comparisons) human(formatComparison(c.comparison, comparisons.length > 1 ? path.relative(io.cwd, c.root) || '.' : undefined).join('\n') + '\n');
  }
  if (outputError) {
    io.stderr(outputError);
    return 1;
  }
  if (output) human(`${reporter === 'junit' ? 'JUnit XML' : 'JSON report'} written to ${output}\n`);
  if (abort.signal.aborted) {
    io.stderr('promptmanager test: interrupted\n');
    return 1;
  }
  return configErrors || reports.some((r) => r.summary.failed > 0 || r.problems.length > 0) ? 1 : 0;
}
