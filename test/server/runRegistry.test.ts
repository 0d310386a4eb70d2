/** The server's registry of workflow runs (server/runRegistry.ts), without a connection. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WorkflowRun, WorkflowStatus } from '../../core/workflow/types.js';
import { RunRegistry } from '../../server/runRegistry.js';
import type { ManagedWorkspace } from '../../server/workspaceManager.js';

const wsA = { root: '/a' } as ManagedWorkspace;
const wsB = { root: '/b' } as ManagedWorkspace;

function status(id: string, s: WorkflowStatus['status']): WorkflowStatus {
  return { id, composition: 'c', status: s, startedAt: 5, steps: [], outputs: {}, output: null, maxParallel: 1, appliedOverrides: {} };
}

/** A run handle that records cancels. */
function fakeRun(id: string): WorkflowRun & { cancelled?: string } {
  const run = {
    id,
    status: () => status(id, run.cancelled ? 'cancelled' : 'running'),
    cancel: (reason?: string) => {
      run.cancelled = reason ?? 'cancelled';
    },
    cancelled: undefined as string | undefined,
  };
  return run as unknown as WorkflowRun & { cancelled?: string };
}

test('a run id is refused while its run is running, and free again once it ended', () => {
  const runs = new RunRegistry();
  const e = runs.start('r1', wsA, 'c', 100)!;
  assert.equal(e.startedAt, 100);
  assert.equal(runs.start('r1', wsA, 'c'), undefined);
  e.final = status('r1', 'succeeded');
  const again = runs.start('r1', wsB, 'd', 200)!;
  assert.notEqual(again, e);
  assert.equal(again.workspace, wsB);
});

test('status, cancel and the listing, by workspace', () => {
  const runs = new RunRegistry();
  const a = runs.start('a', wsA, 'c')!;
  runs.start('b', wsB, 'c');
  assert.equal(runs.status('nope'), undefined);
  assert.equal(runs.status('a'), undefined, 'not started by the engine yet');
  const run = fakeRun('a');
  a.run = run;
  assert.equal(runs.status('a')?.status, 'running');
  assert.equal(runs.cancel('a', 'enough'), true);
  assert.equal(run.cancelled, 'enough');
  assert.ok(a.controller.signal.aborted);
  assert.equal(runs.cancel('nope', 'x'), false);
  assert.deepEqual(runs.list().map((r) => [r.id, r.status?.status]), [['a', 'cancelled'], ['b', undefined]]);
  assert.deepEqual(runs.list(wsB).map((r) => r.id), ['b']);
  a.final = status('a', 'cancelled');
  assert.equal(runs.cancel('a', 'again'), false, 'an ended run is not cancelled');
});

test('a run that could not start ends failed with its error; shutdown aborts the running ones', () => {
  const runs = new RunRegistry();
  const bad = runs.start('bad', wsA, 'c', 7)!;
  runs.failed('bad', bad, { code: 'unknown_composition', message: 'no' });
  assert.deepEqual(runs.status('bad'), { id: 'bad', composition: 'c', status: 'failed', startedAt: 7, steps: [], outputs: {}, output: null, maxParallel: 0, appliedOverrides: {}, error: { code: 'unknown_composition', message: 'no' } });
  const live = runs.start('live', wsA, 'c')!;
  runs.abortAll();
  assert.ok(live.controller.signal.aborted);
  assert.ok(!bad.controller.signal.aborted, 'an ended run is left alone');
});

test('beyond the limit the oldest finished runs are dropped; running ones stay', () => {
  const runs = new RunRegistry(3);
  const first = runs.start('1', wsA, 'c')!;
  runs.start('2', wsA, 'c')!.final = status('2', 'succeeded');
  runs.start('3', wsA, 'c')!.final = status('3', 'succeeded');
  runs.start('4', wsA, 'c');
  assert.deepEqual(runs.list().map((r) => r.id), ['1', '3', '4']);
  first.final = status('1', 'failed');
  runs.start('5', wsA, 'c');
  assert.deepEqual(runs.list().map((r) => r.id), ['3', '4', '5']);
});
