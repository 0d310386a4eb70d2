/**
 * Hot reload through structural changes, with real file operations in a temp folder: the
 * workspace folder deleted, recreated, or replaced by a rename; the templates folder replaced
 * by a rename; a file that cannot be read tried again.
 * The debounce runs on a FakeClock: each step waits (polling, no fixed sleep) until the watcher
 * has seen the change, then moves the clock past the debounce.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FakeClock } from '../../../core/clock.js';
import { PromptManager } from '../../../core/manager/promptManager.js';
import type { PromptDiagnostic } from '../../../core/model/diagnostics.js';
import { removeDir, waitFor, writeWorkspace } from './fixtures.js';

interface Events {
  log: string[];
  rejected: { diagnostics: readonly PromptDiagnostic[] }[];
}

function watching(dir: string, clock: FakeClock): Promise<PromptManager> {
  return PromptManager.create({ root: dir, environment: 'development', clock, debounceMs: 100 });
}

function record(m: PromptManager): Events {
  const e: Events = { log: [], rejected: [] };
  m.events.on('configRejected', (x: { diagnostics: readonly PromptDiagnostic[] }) => {
    e.log.push('rejected');
    e.rejected.push(x);
  });
  m.events.on('configReloaded', () => e.log.push('reloaded'));
  return e;
}

/** Makes a change, waits until the watcher saw it, then runs the debounce. */
async function changed(m: PromptManager, clock: FakeClock, change: () => void): Promise<void> {
  change();
  await waitFor(() => m.reloadPending, 'the watcher to see the change');
  await clock.advance(100);
}

const greeting = async (m: PromptManager) => (await m.render('chat/greeting', { user_id: 'u' })).text;

/** A parent folder of its own, so that the workspace can be renamed and swapped beside it. */
function workspaceInParent(text: string): { parent: string; dir: string } {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-struct-'));
  const dir = path.join(parent, 'prompts');
  fs.renameSync(writeWorkspace({ 'templates/chat/greeting.hbs': text }), dir);
  return { parent, dir };
}

test('hot reload: a deleted workspace folder keeps the last good configuration and says so; recreated, it is picked up', async () => {
  const { parent, dir } = workspaceInParent('Hello {{user_id}}');
  const clock = new FakeClock();
  const m = await watching(dir, clock);
  const ev = record(m);
  try {
    await changed(m, clock, () => fs.rmSync(dir, { recursive: true, force: true }));
    assert.deepEqual(ev.log, ['rejected'], 'a deleted workspace is not an empty configuration');
    const d = ev.rejected[0]!.diagnostics;
    assert.equal(d[0]?.code, 'unreadable-file');
    assert.match(d[0]!.message, /workspace folder is gone .*last good configuration \(generation 1\)/);
    assert.equal(m.snapshot.generation, 1);
    assert.ok(m.listTemplates().includes('chat/greeting'));
    assert.equal(await greeting(m), 'Hello u');
    const health = m.healthCheck();
    assert.equal(health.status, 'degraded');
    assert.match(health.components.config.reason, /workspace folder is gone/);

    // Recreated with new texts: picked up within the debounce, and watched again from then on.
    await changed(m, clock, () => {
      const fresh = writeWorkspace({ 'templates/chat/greeting.hbs': 'Welcome back {{user_id}}' });
      fs.cpSync(fresh, dir, { recursive: true });
      removeDir(fresh);
    });
    await waitFor(() => ev.log.includes('reloaded') || m.reloadPending, 'the reload of the recreated folder');
    if (!ev.log.includes('reloaded')) await clock.advance(100);
    assert.equal(ev.log.at(-1), 'reloaded');
    assert.equal(await greeting(m), 'Welcome back u');
    assert.equal(m.healthCheck().components.config.status, 'healthy');

    await changed(m, clock, () => fs.writeFileSync(path.join(dir, 'templates', 'chat', 'greeting.hbs'), 'Edited {{user_id}}'));
    assert.equal(await greeting(m), 'Edited u', 'an edit in the recreated folder is seen');
  } finally {
    await m.close();
    assert.equal(clock.pending, 0, 'no timer left behind');
    removeDir(parent);
  }
});

test('hot reload: a workspace folder replaced by a rename is picked up, and its later edits too', async () => {
  const { parent, dir } = workspaceInParent('Version one {{user_id}}');
  const clock = new FakeClock();
  const m = await watching(dir, clock);
  const ev = record(m);
  try {
    const next = writeWorkspace({ 'templates/chat/greeting.hbs': 'Version two {{user_id}}' });
    const staged = path.join(parent, 'prompts.next');
    fs.renameSync(next, staged);
    // The deployment pattern: build beside, then swap by renames.
    await changed(m, clock, () => {
      fs.renameSync(dir, path.join(parent, 'prompts.old'));
      fs.renameSync(staged, dir);
    });
    await waitFor(() => ev.log.includes('reloaded') || m.reloadPending, 'the reload of the swapped folder');
    if (!ev.log.includes('reloaded')) await clock.advance(100);
    assert.equal(await greeting(m), 'Version two u');
    assert.equal(ev.log.at(-1), 'reloaded');

    // The watches follow the new folder, not the old one.
    await changed(m, clock, () => fs.writeFileSync(path.join(dir, 'templates', 'chat', 'greeting.hbs'), 'Version three {{user_id}}'));
    assert.equal(await greeting(m), 'Version three u');
    fs.writeFileSync(path.join(parent, 'prompts.old', 'templates', 'chat', 'greeting.hbs'), 'Stale {{user_id}}');
    await new Promise((r) => setTimeout(r, 200));
    await clock.advance(200);
    assert.equal(await greeting(m), 'Version three u', 'the old folder is no longer watched');
  } finally {
    await m.close();
    assert.equal(clock.pending, 0);
    removeDir(parent);
  }
});

test('hot reload: a templates folder replaced by a rename is picked up, and its later edits too', async () => {
  const dir = writeWorkspace({ 'templates/chat/greeting.hbs': 'One {{user_id}}' });
  const clock = new FakeClock();
  const m = await watching(dir, clock);
  try {
    const templates = path.join(dir, 'templates');
    const staged = path.join(dir, 'templates.next');
    fs.cpSync(templates, staged, { recursive: true });
    fs.writeFileSync(path.join(staged, 'chat', 'greeting.hbs'), 'Two {{user_id}}');
    await changed(m, clock, () => {
      fs.renameSync(templates, path.join(dir, 'templates.old'));
      fs.renameSync(staged, templates);
    });
    await waitFor(() => !m.reloadPending, 'the reload');
    assert.equal(await greeting(m), 'Two u');
    await changed(m, clock, () => fs.writeFileSync(path.join(templates, 'chat', 'greeting.hbs'), 'Three {{user_id}}'));
    assert.equal(await greeting(m), 'Three u', 'an edit in the swapped-in templates folder is seen');
  } finally {
    await m.close();
    removeDir(dir);
  }
});

test('hot reload: a template saved by a rename over it (as editors save), again and again, is picked up each time', async () => {
  const dir = writeWorkspace();
  const clock = new FakeClock();
  const m = await watching(dir, clock);
  try {
    const tpl = path.join(dir, 'templates', 'chat', 'greeting.hbs');
    for (const word of ['One', 'Two', 'Three']) {
      await changed(m, clock, () => {
        fs.writeFileSync(tpl + '.tmp', `${word} {{user_id}}`);
        fs.renameSync(tpl + '.tmp', tpl);
      });
      await waitFor(() => !m.reloadPending, 'the reload');
      assert.equal(await greeting(m), `${word} u`);
    }
    // Deleted and written again: a new file at the same path.
    await changed(m, clock, () => {
      fs.rmSync(tpl);
      fs.writeFileSync(tpl, 'Four {{user_id}}');
    });
    await changed(m, clock, () => fs.writeFileSync(tpl, 'Five {{user_id}}'));
    assert.equal(await greeting(m), 'Five u');
  } finally {
    await m.close();
    removeDir(dir);
  }
});

test('hot reload: a file that cannot be read keeps the last good configuration, degrades health, is tried again, and recovers', async () => {
  const dir = writeWorkspace();
  const clock = new FakeClock();
  const m = await watching(dir, clock);
  const ev = record(m);
  const tpl = path.join(dir, 'templates', 'chat', 'greeting.hbs');
  try {
    // A template replaced by a folder of its name: not read, and not taken as a missing or empty template.
    await changed(m, clock, () => {
      fs.rmSync(tpl);
      fs.mkdirSync(tpl);
    });
    assert.deepEqual(ev.log, ['rejected']);
    assert.ok(ev.rejected[0]!.diagnostics.some((d) => d.code === 'unreadable-file' && d.file === tpl && /is a folder/.test(d.message)), JSON.stringify(ev.rejected[0]!.diagnostics));
    assert.equal(await greeting(m), 'Hello u');
    assert.equal(m.healthCheck().status, 'degraded');

    // Tried again without any event (a passing cause, such as too many open files, goes away
    // unseen), less and less often.
    assert.ok(clock.pending > 0, 'a new attempt is scheduled');
    await clock.advance(1_000);
    assert.deepEqual(ev.log, ['rejected', 'rejected']);
    await clock.advance(1_000);
    assert.equal(ev.log.length, 2, 'the next attempt waits longer');
    await clock.advance(1_000);
    assert.equal(ev.log.length, 3);

    await changed(m, clock, () => {
      fs.rmSync(tpl, { recursive: true });
      fs.writeFileSync(tpl, 'Recovered {{user_id}}');
    });
    assert.equal(ev.log.at(-1), 'reloaded');
    assert.equal(await greeting(m), 'Recovered u');
    assert.equal(m.healthCheck().components.config.status, 'healthy');
    await clock.advance(120_000);
    assert.equal(ev.log.at(-1), 'reloaded', 'no attempts after the recovery');
  } finally {
    await m.close();
    assert.equal(clock.pending, 0);
    removeDir(dir);
  }
});
