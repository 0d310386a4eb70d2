/**
 * Files with one job: a source file of the core, the CLI or the protocol past 400
 * lines is either split along its seams or listed here with the one job that keeps it whole.
 * A new long file fails until it is one or the other.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { REPO } from '../helpers/paths.js';
import { sourceFiles } from './importGraph.js';

const MAX_LINES = 400;

/** The long files, each with its one job. */
const ONE_JOB: Record<string, string> = {
  'core/manager/promptManager.ts': 'the PromptManager class, the library API: each method checks its arguments and hands over to the snapshot, template engine, caches, workflow port, metrics and health modules',
  'core/yaml/fastParse.ts': 'the fast parser of the block-style YAML subset the configuration files use, building the same source tree as the yaml package (one parser class and its scalar rules)',
  'core/distributed/runScript.ts': "the Lua script of a distributed run's state in Redis: every change of a run (create, claim, finish, release, dispatch, stop, end) atomic in one script, as run.ts is in one class",
  'core/workflow/run.ts': "one workflow run: the scheduler and its state machine (ready heap, slots, retries, timeouts, cancellation), every state change in one class",
  'core/manager/templateEngine.ts': 'one isolated Handlebars environment per manager: templates compiled once per text and rendered under their budgets (work, time, output, partial depth)',
  'core/templates/helpers.ts': 'the prompt helpers: for each, its documentation and its implementation under the render budget',
  'protocol/protocol.ts': 'the custom requests between client and server: each promptManager/* method declared with its params and result types, and the settings (the wire shapes of runs are in workflowTypes.ts)',
};

test(`no source file of core/, cli/ or protocol/ over ${MAX_LINES} lines but those with one job`, () => {
  const long = sourceFiles(REPO, ['core', 'cli', 'protocol'])
    .filter((f) => !f.endsWith('.d.ts'))
    .map((f) => ({ f, lines: fs.readFileSync(path.join(REPO, f), 'utf8').split('\n').length }))
    .filter((x) => x.lines > MAX_LINES);
  assert.ok(long.length > 0, 'the scan sees the long files');
  const unexplained = long.filter((x) => !(x.f in ONE_JOB)).map((x) => `${x.f} (${x.lines} lines)`);
  assert.deepEqual(unexplained, [], 'split these along their seams, or say here the one job that keeps each whole');
  const gone = Object.keys(ONE_JOB).filter((f) => !long.some((x) => x.f === f));
  assert.deepEqual(gone, [], 'these are no longer long: remove them from ONE_JOB');
});
