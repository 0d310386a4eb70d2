/** The context picker reads only a regular file of bounded size. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contextFileProblem } from '../../client/contextFile.js';
import { DEFAULT_LIMITS } from '../../core/limits.js';

// vscode.FileType: Unknown 0, File 1, Directory 2, SymbolicLink 64.
test('context files: a regular file or a link to one is read; a FIFO, a device, a folder or a file past maxContextBytes is not', () => {
  assert.equal(contextFileProblem({ type: 1, size: 120 }), undefined);
  assert.equal(contextFileProblem({ type: 1 | 64, size: 120 }), undefined, 'a link to a regular file');
  assert.match(contextFileProblem({ type: 0, size: 0 })!, /not a regular file/, 'a FIFO or a socket');
  assert.match(contextFileProblem({ type: 64, size: 0 })!, /not a regular file/, 'a link to /dev/zero');
  assert.match(contextFileProblem({ type: 2, size: 4096 })!, /folder/);
  assert.match(contextFileProblem({ type: 1, size: DEFAULT_LIMITS.maxContextBytes + 1 })!, /maxContextBytes/);
  assert.equal(contextFileProblem({ type: 1, size: DEFAULT_LIMITS.maxContextBytes }), undefined);
});
