// File-watcher benchmark: which watcher the language server uses to watch a
// workspace itself when the client cannot (an editor without dynamic registration of
// workspace/didChangeWatchedFiles, such as Neovim 0.7). Not a test: the figures go to
// bench/RESULTS.md.
//
// A generated workspace: TEMPLATES templates in DIRS folders under templates/, the two YAML
// files, a node_modules/ of NM_FILES files in NM_DIRS folders, a .git/ of 500 files, and a
// symlink `linked/` to a folder outside the workspace. Each candidate runs in its own process
// (so its memory is its own) and reports:
//   - start: from the call to "ready" (every existing folder watched), and the events it
//     reported for files that already existed (noise the server would have to filter);
//   - cost: RSS and heap growth, inotify watches (from /proc/self/fdinfo), open descriptors;
//   - latency (median of ROUNDS) from a write to its event: a template created, changed,
//     deleted; a folder created with a template in it at once;
//   - correctness: no event for node_modules/, .git/, or a write outside the workspace that a
//     symlink inside points to (the server must not follow it); every expected event seen.
//
// Candidates: fs.watch with { recursive: true } (Node's own), the server's own watcher
// (server/folderWatcher.ts: fs.watch on each folder, non-recursive, skipping node_modules,
// dot-folders and symlinks; bundled from source here; its start includes no bundling),
// chokidar and @parcel/watcher. Candidates not installed are skipped: for the full comparison
// install them beside the repo without saving, e.g.
//   npm i --no-save chokidar@5 @parcel/watcher
// or point BENCH_MODULES at a folder whose node_modules holds them.
//   node bench/watch.mjs            TEMPLATES=2000 DIRS=100 NM_FILES=20000 NM_DIRS=2000 ROUNDS=15
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { COMPOSITION_RULES_FILE, SERVICE_MAPPINGS_FILE } from './configFiles.mjs';
import { median, sleep } from './stats.mjs';

const TEMPLATES = Number(process.env.TEMPLATES ?? 2000);
const DIRS = Number(process.env.DIRS ?? 100);
const NM_FILES = Number(process.env.NM_FILES ?? 20000);
const NM_DIRS = Number(process.env.NM_DIRS ?? 2000);
const ROUNDS = Number(process.env.ROUNDS ?? 15);
const IGNORED = new Set(['node_modules', '.git']);
const CANDIDATES = ['fs.watch recursive', 'server/folderWatcher.ts', 'chokidar', '@parcel/watcher'];

const self = fileURLToPath(import.meta.url);
const repo = path.resolve(path.dirname(self), '..');

function load(name) {
  const roots = [path.join(repo, 'package.json'), ...(process.env.BENCH_MODULES ? [path.join(process.env.BENCH_MODULES, 'package.json')] : [])];
  for (const r of roots) {
    try {
      return createRequire(r).resolve(name);
    } catch {
      // next
    }
  }
  return undefined;
}

// ------------------------------------------------------------------ the workspace

function generate() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-watch-'));
  const ws = path.join(root, 'ws');
  const outside = path.join(root, 'outside');
  fs.mkdirSync(path.join(ws, 'templates'), { recursive: true });
  fs.writeFileSync(path.join(ws, COMPOSITION_RULES_FILE), 'version: 1\ncompositions: {}\n');
  fs.writeFileSync(path.join(ws, SERVICE_MAPPINGS_FILE), 'version: 1\nservices: {}\n');
  for (let d = 0; d < DIRS; d++) fs.mkdirSync(path.join(ws, 'templates', `d${d}`), { recursive: true });
  for (let i = 0; i < TEMPLATES; i++) fs.writeFileSync(path.join(ws, 'templates', `d${i % DIRS}`, `t${i}.hbs`), `Template ${i} {{x}}\n`);
  for (let d = 0; d < NM_DIRS; d++) fs.mkdirSync(path.join(ws, 'node_modules', `p${d % 200}`, `lib${d}`), { recursive: true });
  for (let i = 0; i < NM_FILES; i++) fs.writeFileSync(path.join(ws, 'node_modules', `p${i % NM_DIRS % 200}`, `lib${i % NM_DIRS}`, `f${i}.js`), 'module.exports = 1;\n');
  fs.mkdirSync(path.join(ws, '.git', 'objects'), { recursive: true });
  for (let i = 0; i < 500; i++) fs.writeFileSync(path.join(ws, '.git', 'objects', `o${i}`), 'x');
  fs.mkdirSync(path.join(outside, 'more'), { recursive: true });
  for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(outside, 'more', `o${i}.hbs`), 'outside');
  fs.symlinkSync(outside, path.join(ws, 'linked'));
  return { root, ws, outside };
}

// ------------------------------------------------------------------ the candidates (in a child)

const ignoredPath = (ws, p) => path.relative(ws, p).split(path.sep).some((s) => IGNORED.has(s));

/**
 * Each: load() => start(ws, onEvent(absPath)) => Promise<{ close() }>, resolved when ready.
 * Loading (module import, and bundling our source) is not part of the start time.
 */
const adapters = {
  'fs.watch recursive': async () => async (ws, onEvent) => {
    // No ignore option: every folder (node_modules too) gets its watch; events filtered here.
    const w = fs.watch(ws, { recursive: true }, (_e, f) => f && onEvent(path.join(ws, String(f))));
    return { close: () => w.close() };
  },
  'server/folderWatcher.ts': async () => {
    // The server's own watcher, bundled from its source as the build does.
    const esbuild = await import(pathToFileURL(createRequire(path.join(repo, 'package.json')).resolve('esbuild')).href);
    const r = await esbuild.build({ entryPoints: [path.join(repo, 'server', 'folderWatcher.ts')], bundle: true, platform: 'node', format: 'esm', write: false, logLevel: 'silent' });
    const { FolderWatcher } = await import(`data:text/javascript;base64,${Buffer.from(r.outputFiles[0].text).toString('base64')}`);
    return async (ws, onEvent) => {
      const w = new FolderWatcher({ delayMs: 0, accept: () => true, onChanges: (changes) => changes.forEach((c) => onEvent(c.path)) });
      w.add(ws);
      return { close: () => w.close() };
    };
  },
  chokidar: async () => {
    const { watch } = await import(pathToFileURL(load('chokidar')).href);
    return async (ws, onEvent) => {
      const w = watch(ws, { ignoreInitial: true, followSymlinks: false, ignored: (p) => ignoredPath(ws, p) });
      w.on('all', (_e, p) => onEvent(p));
      await new Promise((r) => w.on('ready', r));
      return { close: () => w.close() };
    };
  },
  '@parcel/watcher': async () => {
    const watcher = (await import(pathToFileURL(load('@parcel/watcher')).href)).default;
    return async (ws, onEvent) => {
      const sub = await watcher.subscribe(ws, (err, events) => {
        if (!err) for (const e of events) onEvent(e.path);
      }, { ignore: ['node_modules', '.git'] });
      return { close: () => sub.unsubscribe() };
    };
  },
};

function inotifyWatches() {
  let n = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (!fs.readlinkSync(`/proc/self/fd/${fd}`).includes('inotify')) continue;
      n += fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n').filter((l) => l.startsWith('inotify wd:')).length;
    } catch {
      // gone
    }
  }
  return n;
}

async function child(name, ws, outside) {
  const events = [];
  let waiter;
  const onEvent = (p) => {
    events.push({ p: path.resolve(p), t: performance.now() });
    if (waiter?.test(path.resolve(p))) (waiter.resolve(), (waiter = undefined));
  };
  const start = await adapters[name]();
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const w = await start(ws, onEvent);
  const startMs = performance.now() - t0;
  await sleep(500);
  const initialEvents = events.length;
  global.gc?.();
  const cost = { rssMB: (process.memoryUsage().rss - rss0) / 1e6, heapMB: (process.memoryUsage().heapUsed - heap0) / 1e6, inotify: inotifyWatches(), fds: fs.readdirSync('/proc/self/fd').length };

  const noticed = (file, act) =>
    new Promise((resolve) => {
      const t = performance.now();
      const timer = setTimeout(() => ((waiter = undefined), resolve(undefined)), 3000);
      waiter = { test: (p) => p === file, resolve: () => (clearTimeout(timer), resolve(performance.now() - t)) };
      act();
    });
  const lat = { created: [], changed: [], deleted: [], newFolder: [] };
  const missed = { created: 0, changed: 0, deleted: 0, newFolder: 0 };
  for (let r = 0; r < ROUNDS; r++) {
    const f = path.join(ws, 'templates', `d${r % DIRS}`, `new${r}.hbs`);
    const record = (k, v) => (v === undefined ? missed[k]++ : lat[k].push(v));
    record('created', await noticed(f, () => fs.writeFileSync(f, 'new')));
    await sleep(150);
    record('changed', await noticed(f, () => fs.writeFileSync(f, 'changed')));
    await sleep(150);
    record('deleted', await noticed(f, () => fs.unlinkSync(f)));
    const dir = path.join(ws, 'templates', `fresh${r}`, 'deep');
    const g = path.join(dir, 'x.hbs');
    record('newFolder', await noticed(g, () => (fs.mkdirSync(dir, { recursive: true }), fs.writeFileSync(g, 'x'))));
    await sleep(150);
  }
  // Writes the server must not hear of.
  const before = events.length;
  fs.writeFileSync(path.join(ws, 'node_modules', 'p0', 'lib0', 'new.js'), 'x');
  fs.writeFileSync(path.join(ws, '.git', 'objects', 'new'), 'x');
  fs.writeFileSync(path.join(outside, 'more', 'o1.hbs'), 'changed outside');
  await sleep(1000);
  const leaked = [...new Set(events.slice(before).map((e) => path.relative(ws, e.p)))];
  const tc = performance.now();
  await w.close();
  const closeMs = performance.now() - tc;
  const m = (k) => (lat[k].length ? Number(median(lat[k]).toFixed(1)) : null);
  return { name, startMs: Number(startMs.toFixed(0)), initialEvents, ...cost, latency: { created: m('created'), changed: m('changed'), deleted: m('deleted'), newFolder: m('newFolder') }, missed, leaked, closeMs: Number(closeMs.toFixed(1)) };
}

// ------------------------------------------------------------------ main

if (process.argv[2] === '--child') {
  const [, , , name, ws, outside] = process.argv;
  child(name, ws, outside).then(
    (r) => (console.log(JSON.stringify(r)), process.exit(0)),
    (e) => (console.log(JSON.stringify({ name, error: String(e?.stack ?? e) })), process.exit(0)),
  );
} else {
  const { root, ws, outside } = generate();
  console.log(`workspace: ${TEMPLATES} templates in ${DIRS} folders, node_modules ${NM_FILES} files in ${NM_DIRS} folders, .git 500 files, a symlink out; ${ROUNDS} rounds; Node ${process.version}, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  const rows = [];
  for (const name of CANDIDATES) {
    if ((name === 'chokidar' || name === '@parcel/watcher') && !load(name)) {
      console.log(`${name}: not installed, skipped (npm i --no-save ${name})`);
      continue;
    }
    const out = await new Promise((resolve) => {
      const p = spawn(process.execPath, ['--expose-gc', self, '--child', name, ws, outside], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
      let s = '';
      p.stdout.on('data', (d) => (s += d));
      p.on('exit', () => resolve(s));
    });
    const r = JSON.parse(out.trim().split('\n').pop());
    rows.push(r);
    console.log(JSON.stringify(r));
  }
  console.log('\n| watcher | start (ms) | events for existing files | RSS (MB) | heap (MB) | inotify watches | fds | created / changed / deleted / new folder (median ms) | missed | heard from node_modules, .git, symlink target |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    if (r.error) {
      console.log(`| ${r.name} | failed: ${r.error.split('\n')[0]} |`);
      continue;
    }
    const l = r.latency;
    const missed = Object.entries(r.missed).filter(([, n]) => n).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
    console.log(`| ${r.name} | ${r.startMs} | ${r.initialEvents} | ${r.rssMB.toFixed(1)} | ${r.heapMB.toFixed(1)} | ${r.inotify} | ${r.fds} | ${l.created} / ${l.changed} / ${l.deleted} / ${l.newFolder} | ${missed} | ${r.leaked.join(', ') || 'none'} |`);
  }
  fs.rmSync(root, { recursive: true, force: true });
}
