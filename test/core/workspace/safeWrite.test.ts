/**
 * The writer of PromptManager's own files (core/workspace/safeWrite.ts): a link a repository
 * put where a folder or file is expected (git stores links) is refused by name, never written
 * through, truncated, listed or pruned; an existing file is replaced by a rename, never written
 * into (a hard link to a file outside keeps its content); a FIFO or a device is never opened
 * for a write nor read past the bound.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { FileReadError } from '../../../core/workspace/fileRead.js';
import { listFolderInside, readTextInsideSync, realFolderSync, UnsafePathError, writeFileInsideSync } from '../../../core/workspace/safeWrite.js';
import { ensureStateDir } from '../../../core/workspace/stateDir.js';

function temp(): { base: string; outside: string } {
  const top = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-safewrite-'));
  const base = path.join(top, 'ws');
  const outside = path.join(top, 'outside');
  fs.mkdirSync(base);
  fs.mkdirSync(outside);
  return { base, outside };
}
const listAll = (dir: string) => fs.readdirSync(dir, { recursive: true }).map(String).sort();

test('a folder on the way that is a link out is refused by name, and nothing is written outside', () => {
  for (const linkAt of ['a', 'a/b', 'a/b/c']) {
    const { base, outside } = temp();
    fs.writeFileSync(path.join(outside, 'keep.json'), 'mine');
    fs.mkdirSync(path.join(base, path.dirname(linkAt)), { recursive: true });
    fs.symlinkSync(outside, path.join(base, linkAt));
    assert.throws(
      () => writeFileInsideSync(base, path.join(base, 'a/b/c/file.txt'), 'x'),
      (e: unknown) => e instanceof UnsafePathError && e.file === path.join(base, linkAt) && /is a symbolic link \(to .*outside\).*remove the link/.test(e.message),
      linkAt,
    );
    assert.deepEqual(listAll(outside), ['keep.json'], linkAt);
    assert.throws(() => readTextInsideSync(base, path.join(base, 'a/b/c/file.txt'), 100), UnsafePathError);
  }
});

test('the file itself: a link is refused (never followed, never truncated), a FIFO is refused without waiting, a folder too', () => {
  const { base, outside } = temp();
  const secret = path.join(outside, 'authorized_keys');
  fs.writeFileSync(secret, 'ssh-ed25519 AAAA the-users-key\n');
  fs.symlinkSync(secret, path.join(base, 'out.txt'));
  assert.throws(() => writeFileInsideSync(base, path.join(base, 'out.txt'), 'attacker'), /out\.txt is a symbolic link/);
  assert.throws(() => readTextInsideSync(base, path.join(base, 'out.txt'), 1000), /out\.txt is a symbolic link/);
  assert.equal(fs.readFileSync(secret, 'utf8'), 'ssh-ed25519 AAAA the-users-key\n');
  execFileSync('mkfifo', [path.join(base, 'fifo.txt')]);
  assert.throws(() => writeFileInsideSync(base, path.join(base, 'fifo.txt'), 'x'), /fifo\.txt is a FIFO \(named pipe\), not a regular file/);
  assert.throws(() => readTextInsideSync(base, path.join(base, 'fifo.txt'), 1000), (e: unknown) => e instanceof FileReadError && e.problem === 'not-regular');
  fs.mkdirSync(path.join(base, 'dir.txt'));
  assert.throws(() => writeFileInsideSync(base, path.join(base, 'dir.txt'), 'x'), /dir\.txt is a folder, not a regular file/);
  // Where a folder is expected, a file: said so.
  fs.writeFileSync(path.join(base, 'plain'), '');
  assert.throws(() => realFolderSync(base, path.join(base, 'plain/sub'), { create: true }), /plain is a file, not a folder/);
  // A path that is not below the base is refused.
  assert.throws(() => writeFileInsideSync(base, path.join(outside, 'x.txt'), 'x'), /is not inside/);
  // A marker written only if missing leaves a link where it is, and writes nothing through it.
  fs.symlinkSync(path.join(outside, 'made-by-marker'), path.join(base, 'marker'));
  writeFileInsideSync(base, path.join(base, 'marker'), 'x', { onlyIfMissing: true });
  assert.ok(!fs.existsSync(path.join(outside, 'made-by-marker')));
});

test('an existing file is replaced, not written into: a hard link to a file outside keeps its content', () => {
  const { base, outside } = temp();
  const victim = path.join(outside, 'victim.txt');
  fs.writeFileSync(victim, 'untouched');
  fs.linkSync(victim, path.join(base, 'snap.txt'));
  writeFileInsideSync(base, path.join(base, 'snap.txt'), 'new text');
  assert.equal(fs.readFileSync(victim, 'utf8'), 'untouched');
  assert.equal(fs.readFileSync(path.join(base, 'snap.txt'), 'utf8'), 'new text');
  assert.deepEqual(listAll(base), ['snap.txt'], 'no temporary file left');
});

test('reads are bounded: a link to /dev/zero is refused, a large file stops at the limit', () => {
  const { base } = temp();
  fs.symlinkSync('/dev/zero', path.join(base, 'zero.json'));
  assert.throws(() => readTextInsideSync(base, path.join(base, 'zero.json'), 1000), /is a symbolic link/);
  fs.writeFileSync(path.join(base, 'big.json'), 'x'.repeat(5000));
  assert.throws(() => readTextInsideSync(base, path.join(base, 'big.json'), 1000), (e: unknown) => e instanceof FileReadError && e.problem === 'too-large');
  assert.equal(readTextInsideSync(base, path.join(base, 'missing/none.json'), 1000), undefined);
});

test('a listing names links as links, and a linked folder is not listed', async () => {
  const { base, outside } = temp();
  fs.writeFileSync(path.join(outside, 'theirs.json'), '{}');
  fs.mkdirSync(path.join(base, 'd'));
  fs.symlinkSync(path.join(outside, 'theirs.json'), path.join(base, 'd', 'l.json'));
  fs.writeFileSync(path.join(base, 'd', 'f.json'), '{}');
  const entries = await listFolderInside(base, path.join(base, 'd'));
  assert.deepEqual(entries.map((e) => [e.name, e.kind]).sort(), [['f.json', 'file'], ['l.json', 'link']]);
  fs.symlinkSync(outside, path.join(base, 'e'));
  await assert.rejects(listFolderInside(base, path.join(base, 'e')), UnsafePathError);
});

test('the state folder: .promptmanager or its sub-folder as a link out is refused, nothing made outside', async () => {
  for (const linkAt of ['.promptmanager', '.promptmanager/test-history']) {
    const { base, outside } = temp();
    fs.mkdirSync(path.join(base, path.dirname(linkAt)), { recursive: true });
    fs.symlinkSync(outside, path.join(base, linkAt));
    await assert.rejects(ensureStateDir(base, 'test-history'), /is a symbolic link/);
    assert.deepEqual(listAll(outside), [], linkAt);
  }
});
