/**
 * The bad-input corpus through the one validator, on disk (symlinks and raw bytes need a real
 * file system): every case gives its diagnostic, nothing throws, every range lies inside its
 * file, nothing outside a templates root is read, no global prototype changes, and each case
 * is answered well within the 2 s goal (the bound asserted is a hang guard; times are printed).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { validateWorkspace, ValidationCache } from '../../core/validate/validateWorkspace.js';
import type { WorkspaceValidation } from '../../core/validate/api.js';
import { nodeFileSystem, type FileSystemHost } from '../../core/workspace/fileSystem.js';
import { corpusCases, OUTSIDE_SECRET, writeCorpus, type WrittenCorpus } from './cases.js';
import { assertPrototypesIntact, assertRangeInside, HANG_GUARD_MS, snapshotPrototypes, timed, timingReport } from './support.js';

const cases = corpusCases();
let corpus: WrittenCorpus;
const times: { name: string; ms: number }[] = [];

before(() => {
  corpus = writeCorpus(cases);
});
after(() => corpus.remove());

/** The disk, recording every path read (file or directory). */
function spyFileSystem(): { fs: FileSystemHost; reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    fs: {
      readFile: (f) => (reads.push(f), nodeFileSystem.readFile(f)),
      readDirectory: (d) => (reads.push(d), nodeFileSystem.readDirectory(d)),
      realpath: (f) => nodeFileSystem.realpath(f),
      fileSize: (f) => nodeFileSystem.fileSize(f),
    },
  };
}

function fileText(file: string): string {
  // What the validator saw: the disk's text without a byte-order mark (sizes past the limit are never read).
  const size = fs.statSync(file).size;
  if (size > 4 * 1024 * 1024) return '';
  return nodeFileSystem.readFile(file) ?? '';
}

for (const c of cases) {
  test(`corpus/validator: ${c.name}`, async (t) => {
    const dir = corpus.dirs.get(c.name);
    if (!dir) return t.skip('symbolic links are not available here');
    const protos = snapshotPrototypes();
    const spy = spyFileSystem();
    const r = await timed(() => validateWorkspace(dir, { fs: spy.fs }));
    times.push({ name: c.name, ms: r.ms });
    t.diagnostic(`${r.ms.toFixed(0)} ms`);
    if (r.error) assert.fail(`the validator threw: ${(r.error as Error).stack}`);
    const v = r.value as WorkspaceValidation;
    assert.ok(r.ms < HANG_GUARD_MS, `took ${r.ms.toFixed(0)} ms`);
    assertPrototypesIntact(protos, c.name);

    const codes = new Set(v.diagnostics.map((d) => d.code));
    for (const code of c.codes) assert.ok(codes.has(code), `expected ${code}, got: ${v.diagnostics.map((d) => `${d.code} ${d.message.slice(0, 100)}`).join(' | ') || 'nothing'}`);
    for (const code of c.notCodes ?? []) assert.ok(!codes.has(code), `did not expect ${code}: ${v.diagnostics.filter((d) => d.code === code).map((d) => d.message).join(' | ')}`);
    if (c.codes.length === 0) assert.equal(v.errorCount, 0, `expected no errors, got: ${v.diagnostics.map((d) => `${d.code} ${d.message.slice(0, 100)}`).join(' | ')}`);
    const problem = c.check?.(v);
    assert.equal(problem, undefined, problem);

    // Every diagnostic is on a range inside its file, with a message a person can read.
    const texts = new Map<string, string>();
    for (const d of v.diagnostics) {
      assert.ok(d.message.length > 0 && d.message.length <= 2001, `${d.code}: message of ${d.message.length} characters`);
      assert.ok(!d.message.includes(OUTSIDE_SECRET), `a message quotes a file outside the root: ${d.message}`);
      if (!texts.has(d.file)) texts.set(d.file, fileText(d.file));
      assertRangeInside(d, texts.get(d.file)!, `${c.name} ${path.relative(dir, d.file)}`);
    }

    // Nothing outside the prompt workspace is read: not the `outside/` folder, not through a link.
    const real = (p: string) => nodeFileSystem.realpath(p) ?? p;
    const outsideReal = real(corpus.outside);
    for (const p of spy.reads) {
      const rp = real(p);
      assert.ok(!rp.startsWith(outsideReal + path.sep) && rp !== outsideReal, `read ${p} (${rp}), outside the templates root`);
    }
    for (const entry of v.templates.values()) assert.ok(!entry.text.includes(OUTSIDE_SECRET), `template ${entry.name} holds a file from outside the root`);
  });
}

test('corpus/validator: a second validation with a reused cache gives the same diagnostics', async () => {
  const cache = new ValidationCache();
  for (const c of cases) {
    const dir = corpus.dirs.get(c.name);
    if (!dir || c.name === 'yaml-10mb') continue;
    const fresh = validateWorkspace(dir).diagnostics;
    validateWorkspace(dir, { cache });
    const again = validateWorkspace(dir, { cache }).diagnostics;
    assert.deepEqual(again, fresh, c.name);
  }
});

test('corpus/validator: timings', (t) => {
  t.diagnostic(timingReport(times));
});
