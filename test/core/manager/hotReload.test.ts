/**
 * Hot reload through real file watching in a temp folder. The debounce runs on a FakeClock:
 * the test waits (polling, no fixed sleep) until the watcher has seen the write, then moves
 * the clock past the debounce.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { FakeClock } from '../../../core/clock.js';
import { PromptManager } from '../../../core/manager/promptManager.js';
import { COMPOSITION_RULES, CONTEXT, removeDir, waitFor, writeWorkspace } from './fixtures.js';

const CHILD = process.env.PM_ENGINE_CHILD;

async function changed(m: PromptManager, clock: FakeClock, write: () => void): Promise<void> {
  write();
  await waitFor(() => m.reloadPending, 'the watcher to see the change');
  await clock.advance(100);
}

if (CHILD) {
  // Child mode (see the last test): use a watching manager and leave without closing it, or close it.
  void (async () => {
    const m = await PromptManager.create({ root: CHILD, environment: 'development' });
    await m.render('chat/greeting', { user_id: 'x' });
    if (process.env.PM_ENGINE_CLOSE === '1') await m.close();
    process.stdout.write('done\n');
  })();
} else {
  test('hot reload: invalid change keeps the last good, emits configRejected, degrades health; the fix swaps in', async () => {
    const dir = writeWorkspace();
    const clock = new FakeClock();
    const m = await PromptManager.create({ root: dir, environment: 'development', clock, debounceMs: 100 });
    const events: string[] = [];
    m.events.on('configRejected', () => events.push('rejected'));
    m.events.on('configReloaded', (e: { changedTemplates: string[] }) => events.push('reloaded:' + e.changedTemplates.join(',')));
    try {
      const rules = path.join(dir, 'composition_rules.yaml');
      await changed(m, clock, () => fs.writeFileSync(rules, COMPOSITION_RULES.replace('template: analysis/extract', 'template: analysis/absent')));
      assert.deepEqual(events, ['rejected']);
      assert.equal(m.snapshot.generation, 1);
      assert.equal(m.healthCheck().status, 'degraded');
      assert.equal((await m.render('analysis/extract', CONTEXT)).text, 'Extract facts from Quarterly report');

      await changed(m, clock, () => fs.writeFileSync(rules, COMPOSITION_RULES));
      assert.deepEqual(events, ['rejected', 'reloaded:']);
      assert.equal(m.snapshot.generation, 2);
      assert.equal(m.healthCheck().status, 'healthy');

      const tpl = path.join(dir, 'templates', 'analysis', 'extract.hbs');
      await changed(m, clock, () => fs.writeFileSync(tpl, 'Facts of {{document.title}}'));
      assert.equal(events.at(-1), 'reloaded:analysis/extract');
      assert.equal((await m.render('analysis/extract', CONTEXT)).text, 'Facts of Quarterly report');

      // a new template in a new folder is picked up
      await changed(m, clock, () => {
        fs.mkdirSync(path.join(dir, 'templates', 'fresh'));
        fs.writeFileSync(path.join(dir, 'templates', 'fresh', 'one.hbs'), 'new {{x}}');
      });
      await waitFor(() => m.snapshot.templates.has('fresh/one') || m.reloadPending, 'the new template');
      if (!m.snapshot.templates.has('fresh/one')) await clock.advance(100);
      assert.equal((await m.render('fresh/one', { x: 1 })).text, 'new 1');
    } finally {
      await m.close();
      assert.equal(clock.pending, 0, 'no timer left behind');
      removeDir(dir);
    }
  });

  test('a burst of writes is debounced into one reload', async () => {
    const dir = writeWorkspace();
    // Counts debounce (re)arms, to know when the watcher has seen a write.
    class CountingClock extends FakeClock {
      arms = 0;
      override setTimeout(fn: () => void, ms: number): unknown {
        this.arms++;
        return super.setTimeout(fn, ms);
      }
    }
    const clock = new CountingClock();
    const m = await PromptManager.create({ root: dir, watch: true, clock, debounceMs: 100 });
    let reloads = 0;
    m.events.on('configReloaded', () => reloads++);
    try {
      const tpl = path.join(dir, 'templates', 'chat', 'greeting.hbs');
      fs.writeFileSync(tpl, 'Hi {{user_id}}');
      await waitFor(() => m.reloadPending, 'the first write');
      await clock.advance(50);
      const arms = clock.arms;
      fs.writeFileSync(tpl, 'Hey {{user_id}}');
      await waitFor(() => clock.arms > arms, 'the second write');
      await clock.advance(50); // 100 ms after the first write, 50 after the second: nothing yet
      assert.equal(reloads, 0);
      await clock.advance(60);
      assert.equal(reloads, 1);
      assert.equal((await m.render('chat/greeting', { user_id: 'z' })).text, 'Hey z');
    } finally {
      await m.close();
      assert.equal(clock.pending, 0);
      removeDir(dir);
    }
  });

  test('close() stops watching: later writes are not reloaded', async () => {
    const dir = writeWorkspace();
    const clock = new FakeClock();
    const m = await PromptManager.create({ root: dir, watch: true, clock, debounceMs: 10 });
    await m.close();
    fs.writeFileSync(path.join(dir, 'templates', 'chat', 'greeting.hbs'), 'changed');
    await clock.advance(1000);
    assert.equal(clock.pending, 0);
    assert.equal((await m.render('chat/greeting', { user_id: 'q' })).text, 'Hello q');
    assert.equal(m.healthCheck().components.config.status, 'healthy');
    removeDir(dir);
  });

  test('no timers left behind: a process that used a watching manager exits on its own', () => {
    const dir = writeWorkspace();
    try {
      for (const close of ['0', '1']) {
        const r = spawnSync(process.execPath, [__filename], {
          env: { ...process.env, PM_ENGINE_CHILD: dir, PM_ENGINE_CLOSE: close, NODE_TEST_CONTEXT: '' },
          timeout: 20_000,
          encoding: 'utf8',
        });
        assert.equal(r.error, undefined, `child (close=${close}) did not exit by itself`);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /done/);
      }
    } finally {
      removeDir(dir);
    }
  });
}
