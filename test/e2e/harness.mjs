// End-to-end harness: a real VS Code (code-server from npm) in headless Debian Chromium,
// driven by playwright-core, read the way a user reads the screen.
// Facts behind this file: ../shared/spec/vscode-e2e.md. Installs come from ./setup.mjs.
//
//   const server = await startCodeServer({ vsix, folder });
//   const { page, close } = await openWorkbench(server.url, folder);
//   await runCommand(page, 'PromptManager: Validate Workspace');
//   const problems = await problemsPanelEntries(page);
//   ...
//   await close(); await server.stop();
//
// Every helper waits with a timeout and, when the screen never shows what was expected, throws
// an error saying what it expected and what the screen showed instead.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ensureE2EDeps, REPO_ROOT, which } from './setup.mjs';

export { REPO_ROOT };
export const RESULTS_DIR = path.join(REPO_ROOT, 'test-results');

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** User settings for every session: no welcome page, no chat, no network, no wrapped output. */
export const DEFAULT_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'workbench.enableExperiments': false,
  'chat.disableAIFeatures': true,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'security.workspace.trust.enabled': false,
  'git.enabled': false,
  'github.gitAuthentication': false,
  'files.autoSave': 'off',
  // output channels are read line by line: one model line = one screen line
  '[Log]': { 'editor.wordWrap': 'off' },
  'editor.wordWrap': 'off',
  'editor.minimap.enabled': false,
  'window.dialogStyle': 'custom',
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Resolves once the page has drawn two more frames: what changed before is on screen. */
const nextFrames = (page) => page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve()))));
const T0 = Date.now();
/** Traces what the harness does when PROMPTMANAGER_E2E_DEBUG is set. */
function debug(msg) {
  if (process.env.PROMPTMANAGER_E2E_DEBUG) process.stderr.write(`[e2e ${((Date.now() - T0) / 1000).toFixed(1)}s] ${msg}\n`);
}
const norm = (s) =>
  String(s ?? '')
    .replace(/\u00a0/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();

// ---------------------------------------------------------------------------------------------
// generic waiting

/**
 * Polls `fn` until it returns a truthy value (returned) or the time is up (throws). `message`
 * may be a function of the last value, to say what the screen showed instead.
 */
export async function waitFor(fn, { timeoutMs = 15_000, intervalMs = 200, message = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  let lastErr;
  for (;;) {
    try {
      last = await fn();
      lastErr = undefined;
      if (last) return last;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline) {
      const what = typeof message === 'function' ? message(last) : message;
      const err = new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `\n(last error: ${lastErr.message})` : ''}`);
      throw err;
    }
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------------------------
// temp dirs and process cleanup

const liveServers = new Set();
let exitHooked = false;
function hookExit() {
  if (exitHooked) return;
  exitHooked = true;
  const killAll = () => {
    for (const s of liveServers) s.killNow();
    if (!process.env.PROMPTMANAGER_E2E_KEEP) for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
  };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => {
      killAll();
      process.exit(128 + (os.constants.signals[sig] || 1));
    });
  }
}

const tempDirs = new Set();
/** A fresh temp dir, removed when the process exits (kept with PROMPTMANAGER_E2E_KEEP=1). */
export function makeTempDir(prefix = 'pm-e2e-') {
  hookExit();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** A throwaway copy of a folder (e.g. examples/), so tests may edit and save files. */
export function copyFolder(src, prefix = 'pm-e2e-ws-') {
  const parent = makeTempDir(prefix);
  const dest = path.join(parent, path.basename(path.resolve(src)));
  fs.cpSync(src, dest, { recursive: true });
  return dest;
}

/**
 * The project's packaged extension: $PROMPTMANAGER_VSIX (set by run.mjs) or
 * <repo>/promptmanager.vsix. Throws when it is missing (run `npm run package`).
 */
export function projectVsix() {
  const vsix = path.resolve(process.env.PROMPTMANAGER_VSIX || path.join(REPO_ROOT, 'promptmanager.vsix'));
  if (!fs.existsSync(vsix)) throw new Error(`the project's .vsix is missing (${vsix}): run \`npm run package\` (or node test/e2e/run.mjs)`);
  return vsix;
}

/** A fresh copy of <repo>/examples in a temp dir (tests edit and save files in it). */
export function examplesCopy() {
  const src = path.join(REPO_ROOT, 'examples');
  if (!fs.existsSync(src)) throw new Error(`no examples folder at ${src}`);
  return copyFolder(src, 'pm-e2e-examples-');
}

async function freeLoopbackPort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function runToEnd(cmd, args, opts) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeout ?? 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: -1, out: out + String(e) });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// code-server

/**
 * Starts code-server on a free loopback port with a fresh user-data-dir and extensions-dir
 * (under a temp dir), after installing the given .vsix file(s) into it.
 *
 * @param {object} o
 * @param {string|string[]} [o.vsix]    packaged extension(s) to install first
 * @param {string} [o.folder]           folder opened by default
 * @param {object} [o.settings]         user settings merged over DEFAULT_SETTINGS
 * @param {object} [o.machineSettings]  settings of the machine code-server runs on (the Settings
 *                                      editor's "Remote" tab): where settings of scope `machine`
 *                                      go, which VS Code ignores in the user settings of a remote window
 * @param {object} [o.env]              extra environment for code-server (and the extension host)
 * @param {boolean} [o.workspaceTrust=false] true: Workspace Trust is on (the folder opens in
 *                                      Restricted Mode until trusted); default: off, as --disable-workspace-trust
 * @param {number} [o.timeoutMs=60000]  how long to wait for HTTP
 * @returns {Promise<{url, port, folder, workbenchUrl, tmpDir, userDataDir, extensionsDir, logFile, logTail(n?), stop()}>}
 */
export async function startCodeServer({ vsix, folder, settings = {}, machineSettings, env = {}, workspaceTrust = false, timeoutMs = 60_000 } = {}) {
  const deps = ensureE2EDeps({ quiet: true });
  hookExit();
  const tmpDir = makeTempDir('pm-e2e-cs-');
  const userDataDir = path.join(tmpDir, 'user-data');
  const extensionsDir = path.join(tmpDir, 'extensions');
  const logFile = path.join(tmpDir, 'code-server.log');
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.mkdirSync(extensionsDir, { recursive: true });
  const trust = workspaceTrust ? { 'security.workspace.trust.enabled': true, 'security.workspace.trust.startupPrompt': 'never' } : {};
  fs.writeFileSync(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify({ ...DEFAULT_SETTINGS, ...trust, ...settings }, null, 2));
  if (machineSettings) {
    fs.mkdirSync(path.join(userDataDir, 'Machine'), { recursive: true });
    fs.writeFileSync(path.join(userDataDir, 'Machine', 'settings.json'), JSON.stringify(machineSettings, null, 2));
  }

  const childEnv = {
    ...process.env,
    PATH: `${deps.nodeBinDir}${path.delimiter}${process.env.PATH || ''}`,
    // code-server writes ~/.config/code-server/config.yaml and ~/.local/share/code-server: keep them in the temp dir
    XDG_CONFIG_HOME: path.join(tmpDir, 'xdg-config'),
    XDG_DATA_HOME: path.join(tmpDir, 'xdg-data'),
    XDG_CACHE_HOME: path.join(tmpDir, 'xdg-cache'),
    ...env,
  };
  for (const k of Object.keys(childEnv)) if (/^(VSCODE_|ELECTRON_RUN_AS_NODE$|NODE_OPTIONS$)/.test(k)) delete childEnv[k];
  const base = [deps.codeServerEntry, '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir];

  for (const v of [vsix].flat().filter(Boolean)) {
    const abs = path.resolve(v);
    if (!fs.existsSync(abs)) throw new Error(`startCodeServer: the .vsix to install does not exist: ${abs}`);
    const r = await runToEnd(deps.node, [...base, '--install-extension', abs, '--force'], { env: childEnv, timeout: 120_000 });
    if (r.code !== 0 || !/successfully installed/i.test(r.out)) {
      throw new Error(`startCodeServer: installing ${path.basename(abs)} failed (exit ${r.code}); code-server said:\n${r.out.trim()}`);
    }
  }

  let lastErr;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freeLoopbackPort();
    const url = `http://127.0.0.1:${port}`;
    const args = [
      ...base,
      '--auth',
      'none',
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--disable-telemetry',
      ...(workspaceTrust ? [] : ['--disable-workspace-trust']),
      '--disable-update-check',
      '--disable-getting-started-override',
      '--config',
      path.join(tmpDir, 'config.yaml'),
      ...(folder ? [path.resolve(folder)] : []),
    ];
    const logFd = fs.openSync(logFile, 'a');
    // own process group: stop() ends code-server and everything it started (extension hosts...)
    const child = spawn(deps.node, args, { env: childEnv, cwd: tmpDir, detached: true, stdio: ['ignore', logFd, logFd] });
    fs.closeSync(logFd);
    let exited = null;
    child.on('exit', (code, signal) => (exited = { code, signal }));

    const server = {
      url,
      port,
      folder: folder ? path.resolve(folder) : undefined,
      workbenchUrl: folder ? workbenchUrl(url, folder) : url,
      tmpDir,
      userDataDir,
      extensionsDir,
      logFile,
      pid: child.pid,
      logTail: (n = 40) => tail(logFile, n),
      killNow() {
        if (exited) return;
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {}
      },
      async stop({ keepFiles = !!process.env.PROMPTMANAGER_E2E_KEEP } = {}) {
        liveServers.delete(server);
        if (!exited) {
          try {
            process.kill(-child.pid, 'SIGTERM');
          } catch {}
          const until = Date.now() + 5000;
          while (!exited && Date.now() < until) await sleep(100);
          try {
            process.kill(-child.pid, 'SIGKILL'); // stragglers of the group
          } catch {}
        }
        if (!keepFiles) fs.rmSync(tmpDir, { recursive: true, force: true });
        else {
          tempDirs.delete(tmpDir);
          process.stderr.write(`[e2e] kept code-server files (logs, user data) in ${tmpDir}\n`);
        }
      },
    };
    liveServers.add(server);

    try {
      await waitFor(
        async () => {
          if (exited) throw new Error(`code-server exited (code ${exited.code}, signal ${exited.signal})`);
          const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) }).catch(() => null);
          return res && res.ok;
        },
        { timeoutMs, intervalMs: 250, message: `code-server to answer HTTP on ${url}/healthz` },
      );
      return server;
    } catch (e) {
      const log = server.logTail(60);
      await server.stop({ keepFiles: true });
      lastErr = new Error(`${e.message}\ncode-server log (${logFile}):\n${log}`);
      if (!/EADDRINUSE/.test(log)) break;
    }
  }
  throw lastErr;
}

function tail(file, n) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-n).join('\n');
  } catch {
    return '(no log)';
  }
}

export function workbenchUrl(url, folder) {
  return `${url.replace(/\/$/, '')}/?folder=${encodeURI(path.resolve(folder))}`;
}

// ---------------------------------------------------------------------------------------------
// browser

/**
 * Opens the workbench for `folder` in headless Chromium and waits for it to settle.
 * @returns {Promise<{browser, context, page, consoleErrors: string[], close()}>}
 */
export async function openWorkbench(url, folder, { viewport = { width: 1400, height: 900 }, timeoutMs = 90_000 } = {}) {
  const { chromium } = await import('playwright-core');
  const executablePath = which('chromium');
  if (!executablePath) throw new Error('openWorkbench: `chromium` is not on PATH (run node test/e2e/setup.mjs)');
  // Chromium writes crash-report and dconf folders under $HOME: keep them in a temp dir
  const browserHome = makeTempDir('pm-e2e-chromium-');
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    env: { ...process.env, XDG_CONFIG_HOME: path.join(browserHome, 'config'), XDG_CACHE_HOME: path.join(browserHome, 'cache') },
  });
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  const consoleErrors = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  const close = async () => {
    await browser.close().catch(() => {});
    fs.rmSync(browserHome, { recursive: true, force: true });
  };
  try {
    await page.goto(folder ? workbenchUrl(url, folder) : url, { timeout: timeoutMs });
    if (process.env.PROMPTMANAGER_E2E_DEBUG) await traceKeysAndToasts(page);
    await trackCodeLenses(page);
    await settleWorkbench(page, { folder, timeoutMs });
  } catch (e) {
    await screenshot(page, 'openWorkbench-failed').catch(() => {});
    await close();
    throw new Error(`openWorkbench: the workbench did not come up: ${e.message}\nbrowser console errors:\n${consoleErrors.slice(-10).join('\n')}`);
  }
  return { browser, context, page, consoleErrors, close };
}

/**
 * With PROMPTMANAGER_E2E_DEBUG: traces, with the harness's own steps, every key the page receives
 * (and where the focus was) and every change of the notification toasts on screen: what a stray
 * key did to a toast shows there.
 */
async function traceKeysAndToasts(page) {
  page.on('console', (m) => m.text().startsWith('[pm-e2e] ') && debug(m.text().slice(9)));
  await page.evaluate(() => {
    const where = (el) => (el ? `${el.tagName.toLowerCase()}.${String(el.className).split(' ').slice(0, 2).join('.')}` : '(none)');
    window.addEventListener('keydown', (e) => console.log(`[pm-e2e] page key ${e.key} in ${where(e.target)}`), true);
    let last = '';
    new MutationObserver(() => {
      const toasts = [...document.querySelectorAll('.notifications-toasts.visible .notification-list-item-message')].map((el) => el.textContent.slice(0, 70)).join(' | ');
      const now = `${toasts || '(none)'}${document.querySelector('.notifications-center.visible') ? ' [center open]' : ''}`;
      if (now !== last) console.log(`[pm-e2e] toasts: ${(last = now)}`);
    }).observe(document.body, { childList: true, subtree: true });
  });
}

/** Waits for the workbench, the explorer showing the folder, and the DOM to go quiet. */
export async function settleWorkbench(page, { folder, timeoutMs = 90_000, quietMs = 1500 } = {}) {
  const t0 = Date.now();
  await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: timeoutMs });
  await page.locator('.part.statusbar').waitFor({ state: 'visible', timeout: timeoutMs });
  if (folder) {
    const name = path.basename(path.resolve(folder));
    await waitFor(
      async () =>
        (await page.locator('.explorer-folders-view .monaco-list-row, .explorer-viewlet .monaco-list-row').count()) > 0 ||
        (await page.getByText(name, { exact: true }).count()) > 0,
      { timeoutMs: Math.max(5000, timeoutMs - (Date.now() - t0)), message: `the Explorer to show the folder "${name}"` },
    );
  }
  // the DOM is quiet: no nodes added/removed for quietMs (cursor blinking only changes attributes)
  await page.evaluate(() => {
    window.__pmE2eLastMutation = Date.now();
    new MutationObserver(() => (window.__pmE2eLastMutation = Date.now())).observe(document.body, { childList: true, subtree: true, characterData: true });
  });
  await waitFor(async () => Date.now() - (await page.evaluate(() => window.__pmE2eLastMutation)) > quietMs, {
    timeoutMs: Math.max(5000, Math.min(30_000, timeoutMs - (Date.now() - t0))),
    intervalMs: 250,
    message: 'the workbench to stop changing',
  }).catch(() => {}); // a busy but usable workbench is fine
}

/** Saves a full-page screenshot as <repo>/test-results/<name>.png and returns the path. */
export async function screenshot(page, name) {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${String(name).replace(/[^\w.-]+/g, '-')}.png`);
  await page.screenshot({ path: file });
  return file;
}

// ---------------------------------------------------------------------------------------------
// lists (quick input, problems, suggest): virtualized, so read them while scrolling

// Monaco's lists and editors render only the rows on screen. Lists are scrolled with the mouse
// wheel (each wheel event moves them ~50 px, whatever its delta), which moves neither the
// keyboard focus nor the selection; editors with Alt+PageUp/PageDown, which do not move the cursor.
// Each scroll step waits until the view has moved (its scroll position, read from the DOM: a
// list's rows and an editor's lines are placed at -scrollTop, in a box as high as what scrolls),
// and the reading goes on until the view is at its end by that measure: on a loaded machine a
// view renders a step late, and a fixed pause would read a view that has not moved yet (stopping
// short) or miss the page that went by (a gap in the text).

/**
 * Polls `read` until its scrollTop differs from `before` (the view moved) and what it read is
 * all drawn for that position (`drawn`, when the read says), and returns that read.
 */
async function scrolledFrom(read, before, what, timeoutMs = 10_000) {
  let last;
  return waitFor(
    async () => {
      last = await read();
      return Math.abs(last.scrollTop - before) > 0.5 && last.drawn !== false ? last : false;
    },
    { timeoutMs, intervalMs: 25, message: () => `${what} to scroll (it stayed at ${before} px of ${last?.scrollHeight} px)` },
  );
}

/** Reads all rows of a Monaco list (skipping tree sticky-scroll copies), scrolling if needed. */
async function collectListRows(page, listLocator, extract, { maxRounds = 400 } = {}) {
  const read = () =>
    listLocator.evaluate((list, extractSrc) => {
      const fn = new Function(`return (${extractSrc})`)();
      const scroller = [...list.querySelectorAll('.monaco-scrollable-element')].find((e) => e.closest('.monaco-list') === list);
      const rowsBox = scroller?.querySelector(':scope > .monaco-list-rows');
      // The height the list shows: its scrollbar's (a quick pick's list box is as high as all
      // its rows, and its max-height cuts it).
      const bar = parseFloat(scroller?.querySelector(':scope > .scrollbar.vertical')?.style.height || '');
      return {
        rows: [...list.querySelectorAll('.monaco-list-row')]
          .filter((row) => !row.closest('[class*="sticky"]') && row.getClientRects().length > 0)
          .map((row) => ({ index: Number(row.dataset.index), last: row.dataset.lastElement === 'true', data: fn(row) })),
        scrollTop: -parseFloat(rowsBox?.style.top || '0') || 0,
        scrollHeight: parseFloat(rowsBox?.style.height || '0') || 0,
        viewport: bar || Math.min(scroller?.clientHeight || Infinity, list.clientHeight),
      };
    }, extract.toString());
  const rows = new Map();
  const add = (r) => r.rows.forEach((x) => rows.set(x.index, x));
  let r = await read();
  add(r);
  const complete = () => rows.size > 0 && rows.has(0) && [...rows.values()].some((x) => x.last) && rows.size === Math.max(...rows.keys()) + 1;
  if (rows.size && !complete()) {
    const box = await listLocator.boundingBox();
    if (!box) throw new Error('a list with rows off screen is not on screen itself: it cannot be scrolled');
    await page.mouse.move(box.x + box.width / 2, box.y + Math.min(box.height / 2, 30));
    const start = r.scrollTop;
    const atEnd = (dir) => (dir > 0 ? r.scrollTop + r.viewport >= r.scrollHeight - 0.5 : r.scrollTop <= 0.5);
    const step = async (dir) => {
      if (atEnd(dir)) return false;
      const before = r.scrollTop;
      // The first wheel event after the mouse comes over a list may scroll nothing: wheel again.
      for (let attempt = 1; ; attempt++) {
        await page.mouse.wheel(0, 120 * dir);
        const moved = await scrolledFrom(read, before, 'the list (mouse wheel)', 1000).catch((e) => {
          if (attempt >= 10) throw e;
        });
        if (moved) {
          r = moved;
          add(r);
          return true;
        }
      }
    };
    for (const dir of [1, -1]) for (let i = 0; i < maxRounds && !complete() && (await step(dir)); i++);
    // back where the user left it (to a wheel step)
    for (let i = 0; i < maxRounds && Math.abs(r.scrollTop - start) >= 25; i++) {
      const dir = r.scrollTop > start ? -1 : 1;
      if (!(await step(dir).catch(() => false)) || Math.sign(start - r.scrollTop) !== dir) break;
    }
    await page.mouse.move(0, 0);
    if (!complete()) {
      const idx = [...rows.keys()].sort((a, b) => a - b);
      throw new Error(`read the list's rows ${idx[0]}..${idx.at(-1)} (${rows.size} rows) but not all of it, though the list scrolled from end to end`);
    }
  }
  return [...rows.values()].sort((a, b) => a.index - b.index).map((x) => x.data);
}

/**
 * Reads all lines of a Monaco editor; returns an array of strings. When lines are off screen it
 * calls `focus()` and scrolls with Alt+PageUp / Alt+PageDown, which do not move the cursor, and
 * then back to where the view was. A line is placed by its number in the gutter, drawn at the
 * same height; in an editor without line numbers (an output channel), by its top / the line
 * height (there a view zone above a line, such as a CodeLens, would read as a blank line).
 */
async function readEditorLines(page, editorLocator, { focus, maxRounds = 500 } = {}) {
  const read = () =>
    editorLocator.evaluate((ed) => {
      const numbers = new Map();
      for (const d of ed.querySelectorAll('.margin-view-overlays > div')) {
        const n = Number(d.querySelector('.line-numbers')?.textContent.trim());
        if (Number.isInteger(n) && n > 0) numbers.set(parseFloat(d.style.top), n);
      }
      const lines = [...ed.querySelectorAll('.view-lines .view-line')].map((l) => {
        const top = parseFloat(l.style.top);
        const h = parseFloat(l.style.height) || parseFloat(l.style.lineHeight) || 19;
        return { top, h, index: numbers.size ? (numbers.get(top) ?? 0) - 1 : Math.round(top / h), text: l.textContent.replace(/\u00a0/g, ' ') };
      });
      const content = ed.querySelector('.lines-content');
      const viewLines = ed.querySelector('.view-lines');
      const viewport = ed.querySelector('.monaco-scrollable-element')?.clientHeight || ed.clientHeight;
      // The gutter can be drawn a frame after the lines: until each line has its number, the read is not whole.
      const drawn = !numbers.size || lines.every((l) => l.index >= 0);
      return { lines, drawn, viewport, scrollTop: -parseFloat(content?.style.top || '0') || 0, scrollHeight: parseFloat(viewLines?.style.height || '0') || 0 };
    });
  const byLine = new Map();
  const seen = []; // [from, to] px ranges that were on screen
  const add = (x) => {
    for (const l of x.lines) if (l.index >= 0) byLine.set(l.index, l.text);
    seen.push([x.scrollTop, x.scrollTop + x.viewport]);
    debug(`readEditorLines: at ${x.scrollTop}+${x.viewport} of ${x.scrollHeight} px: lines ${Math.min(...x.lines.map((l) => l.index))}..${Math.max(...x.lines.map((l) => l.index))}, drawn to ${Math.max(0, ...x.lines.map((l) => l.top + l.h))} px`);
  };
  let r = await waitFor(
    async () => {
      const x = await read();
      return x.drawn ? x : false;
    },
    { timeoutMs: 10_000, intervalMs: 25, message: 'the editor to draw the numbers of its lines' },
  );
  add(r);
  const atTop = () => r.scrollTop <= 0.5;
  const atBottom = () => r.scrollTop + r.viewport >= r.scrollHeight - 0.5;
  // All on screen as it is: the view is at the top, and the last line drawn ends above its
  // bottom with nothing below but the room to scroll past the end (the view's height less a
  // line). A view zone, such as a CodeLens, at the bottom of the view can hide lines below: the
  // height to scroll through says so.
  const lastBottom = Math.max(0, ...r.lines.map((l) => l.top + l.h));
  const lineHeight = r.lines[0]?.h || 19;
  const allShown = atTop() && (atBottom() || (lastBottom < r.viewport - 0.5 && lastBottom >= r.scrollHeight - (r.viewport - lineHeight) - 1));
  if (!allShown) {
    if (!r.scrollHeight) throw new Error('readEditorLines: the editor does not say how high its text is (.view-lines has no height)');
    if (!focus) throw new Error('the editor has more lines than fit on screen and cannot be scrolled');
    await focus();
    const focused = await editorLocator.evaluate((ed) => ed.contains(document.activeElement));
    if (!focused) throw new Error('could not give the keyboard focus to the editor to scroll through its lines');
    const start = r.scrollTop;
    const step = async (key, timeoutMs) => {
      const before = r.scrollTop;
      await page.keyboard.press(key);
      r = await scrolledFrom(read, before, `the editor (${key})`, timeoutMs);
      add(r);
    };
    for (let i = 0; i < maxRounds && !atTop(); i++) await step('Alt+PageUp');
    for (let i = 0; i < maxRounds && !atBottom(); i++) await step('Alt+PageDown');
    // What was on screen covers the text without a gap (a view that moved more than a page would leave one).
    seen.sort((a, b) => a[0] - b[0]);
    let covered = 0;
    for (const [from, to] of seen) if (from <= covered + 0.5) covered = Math.max(covered, to);
    if (covered < r.scrollTop + r.viewport - 0.5) throw new Error(`readEditorLines: the lines from ${covered} px down to ${r.scrollTop} px were never on screen while reading`);
    // Back where the user was: the same scroll position (the cursor never moved).
    for (let i = 0; i < maxRounds; i++) {
      const diff = r.scrollTop - start;
      if (Math.abs(diff) <= lineHeight / 2) break;
      const key = Math.abs(diff) > r.viewport - lineHeight ? (diff > 0 ? 'Alt+PageUp' : 'Alt+PageDown') : diff > 0 ? 'Control+ArrowUp' : 'Control+ArrowDown';
      // a position the view cannot take (the text changed meanwhile): leave it where it is
      if (!(await step(key, 3000).then(() => true, () => false))) break;
    }
  }
  const max = byLine.size ? Math.max(...byLine.keys()) : -1;
  const out = [];
  for (let i = 0; i <= max; i++) out.push(byLine.get(i) ?? '');
  return out;
}

// ---------------------------------------------------------------------------------------------
// quick input (command palette, quick open, quick picks, input boxes)

// A quick input that closes fades out for 150 ms (longer on a loaded machine) before it is
// hidden: inert, under the class below, with the focus back where it was. It is not on screen
// any more for a user, nor for the harness (a key sent to it would go to the workbench).
const QUICK_INPUT = '.quick-input-widget:not(.quick-input-widget-closing)';

function quickInput(page) {
  return page.locator(QUICK_INPUT).filter({ visible: true }).first();
}

async function quickInputVisible(page) {
  return (await page.locator(QUICK_INPUT).filter({ visible: true }).count()) > 0;
}

async function quickInputFocused(page) {
  return page.evaluate((sel) => !!document.activeElement?.closest(sel), QUICK_INPUT);
}

/**
 * Which quick input is on screen (its title, placeholder, input type and the rows on screen;
 * not its message, which changes as an input box validates what is typed), to tell when it has
 * gone on to something else; null when there is none.
 */
async function quickInputState(page) {
  if (!(await quickInputVisible(page))) return null;
  return quickInput(page)
    .evaluate((el) => {
      const t = (s) => (el.querySelector(s)?.textContent || '').replace(/\s+/g, ' ').trim();
      const input = el.querySelector('.quick-input-box input');
      const rows = [...el.querySelectorAll('.quick-input-list .monaco-list-row')].filter((r) => r.getClientRects().length > 0).map((r) => r.getAttribute('aria-label') || '');
      return JSON.stringify([t('.quick-input-title'), input?.getAttribute('placeholder') || '', input?.getAttribute('type') || '', rows]);
    })
    .catch(() => null);
}

/**
 * Waits until the quick input that showed `state` is gone or shows something else (the next
 * step of the command): the choice went through. An extension hides its quick pick or input
 * box when it gets the answer, a moment later (seconds on a loaded machine); a helper that
 * returned before would leave a quick input on its way out for the next one to find.
 */
async function waitForQuickInputToMoveOn(page, state, what, timeoutMs = 20_000) {
  const t0 = Date.now();
  let now = state;
  let message = '';
  await waitFor(
    async () => {
      now = await quickInputState(page);
      if (now === state) message = (await quickInputInfo(page).catch(() => null))?.message ?? '';
      return now !== state;
    },
    { timeoutMs, intervalMs: 50, message: () => `the quick input to take ${what} (to close or go on); it still shows ${now}${message ? `, saying "${message}"` : ''}` },
  );
  debug(`the quick input took ${what} in ${Date.now() - t0} ms`);
}

/**
 * Closes the quick input on screen, if any, and waits until it is gone. Escape goes only to a
 * quick input that has the keyboard focus: one without it is on its way out (it was answered
 * or dismissed; its extension hides it a moment later), and an Escape would land in the
 * workbench, where it hides the notifications on screen. One that stays without the focus
 * (an input that ignores losing the focus) gets the focus back first.
 */
export async function closeQuickInput(page, { timeoutMs = 15_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (await quickInputVisible(page)) {
    if (Date.now() > deadline) throw new Error(`closeQuickInput: the quick input at the top of the window did not close; it shows ${await quickInputState(page)}`);
    if (!(await quickInputFocused(page))) {
      const settled = await waitFor(async () => !(await quickInputVisible(page)) || (await quickInputFocused(page)), { timeoutMs: 2000, intervalMs: 50 }).catch(() => false);
      if (!settled) await quickInput(page).locator('.quick-input-box input').focus({ timeout: 2000 }).catch(() => {});
      continue;
    }
    await page.keyboard.press('Escape');
    await waitFor(async () => !(await quickInputVisible(page)), { timeoutMs: 5000, intervalMs: 50 }).catch(() => {});
  }
}

function extractQuickPickRow(row) {
  // rows are recycled: parts hidden for this item may still hold an older item's text
  const t = (el) =>
    el && el.getClientRects().length > 0
      ? el.textContent
          .replace(/\u00a0/g, ' ')
          .replace(/\s+/g, ' ')
          .trim()
      : '';
  const rowsEls = row.querySelectorAll('.quick-input-list-row');
  const first = rowsEls[0];
  const second = rowsEls[1];
  return {
    label: t(first && first.querySelector('.label-name')),
    description: t(first && first.querySelector('.label-description')),
    detail: t(second && second.querySelector('.label-name')),
    separator: t(row.querySelector('.quick-input-list-separator')),
    checked: row.querySelector('input[type=checkbox], .monaco-checkbox')
      ? !!row.querySelector('input[type=checkbox]:checked, .monaco-checkbox.checked, [aria-checked=true]')
      : undefined,
    focused: row.classList.contains('focused'),
    ariaLabel: row.getAttribute('aria-label') || '',
  };
}

/**
 * The items of the quick pick on screen: [{label, description, detail, separator, focused, ariaLabel}].
 * Waits for the quick input to be visible and its list to fill (or to say there is nothing).
 */
async function quickPickItems_(page, { timeoutMs = 10_000 } = {}) {
  await waitFor(() => quickInputVisible(page), { timeoutMs, message: 'a quick pick (the list at the top of the window) to be visible' });
  const widget = quickInput(page);
  const list = widget.locator('.quick-input-list .monaco-list').first();
  await waitFor(async () => (await widget.locator('.quick-input-progress:not(.done)').filter({ visible: true }).count()) === 0, {
    timeoutMs,
    message: 'the quick pick to finish loading its items',
  });
  if ((await list.count()) === 0 || !(await list.isVisible())) return [];
  return (await collectListRows(page, list, extractQuickPickRow)).filter((i) => i.label || i.description || i.detail);
}

/** Placeholder/title/prompt texts of the quick input on screen (to check which picker is open). */
export async function quickInputInfo(page) {
  if (!(await quickInputVisible(page))) return null;
  const w = quickInput(page);
  return w.evaluate((el) => {
    const t = (s) => (el.querySelector(s)?.textContent || '').replace(/\s+/g, ' ').trim();
    const input = el.querySelector('.quick-input-box input');
    return {
      title: t('.quick-input-title'),
      placeholder: input?.getAttribute('placeholder') || '',
      value: input?.value || '',
      message: t('.quick-input-message'),
    };
  });
}

/**
 * Picks the item whose label is `label` (string: exact, after trimming; RegExp: test) in the
 * quick pick on screen: types into its filter box, then clicks the row.
 */
async function selectQuickPickItem_(page, label, { filter = typeof label === 'string', timeoutMs = 10_000 } = {}) {
  debug(`selectQuickPickItem ${label}`);
  await waitFor(() => quickInputVisible(page), { timeoutMs, message: `a quick pick to choose "${label}" from` });
  const widget = quickInput(page);
  if (filter) {
    const input = widget.locator('.quick-input-box input');
    await input.fill('');
    await page.keyboard.type(String(label));
  }
  const matches = (l) => (label instanceof RegExp ? label.test(l) : norm(l) === norm(label));
  let items = [];
  await waitFor(
    async () => {
      items = await quickPickItems_(page, { timeoutMs: 2000 }).catch(() => []);
      return items.some((i) => matches(i.label));
    },
    { timeoutMs, message: () => `the quick pick to list an item "${label}"; it listed: ${fmtItems(items)}` },
  );
  const row = widget
    .locator('.quick-input-list .monaco-list-row')
    .filter({ has: page.locator('.label-name', { hasText: label instanceof RegExp ? label : exactText(label) }) })
    .first();
  const state = await quickInputState(page);
  if ((await row.count()) > 0) await row.click();
  else {
    // off screen in a long list: walk the focus with the keyboard
    const idx = items.findIndex((i) => matches(i.label));
    const focusedIdx = Math.max(
      0,
      items.findIndex((i) => i.focused),
    );
    for (let i = 0; i < Math.abs(idx - focusedIdx); i++) await page.keyboard.press(idx > focusedIdx ? 'ArrowDown' : 'ArrowUp');
    await page.keyboard.press('Enter');
  }
  await waitForQuickInputToMoveOn(page, state, `the choice "${label}"`);
}

/**
 * Types `text` into the input box on screen (showInputBox / a quick input) and presses Enter,
 * then waits for the input box to take it (to close or go on; an answer it refuses keeps it
 * open with its message, which the error then quotes).
 */
async function fillInputBox_(page, text, { submit = true, timeoutMs = 10_000 } = {}) {
  debug('fillInputBox');
  await waitFor(() => quickInputVisible(page), { timeoutMs, message: 'an input box at the top of the window' });
  const input = quickInput(page).locator('.quick-input-box input');
  await input.fill('');
  await input.focus();
  await page.keyboard.insertText(text);
  if (!submit) return;
  const state = await quickInputState(page);
  await page.keyboard.press('Enter');
  // On a loaded machine an Enter can be lost before the box has it: when the same box still
  // shows the text, with the focus, after a while, Enter again (a box that took it has gone on).
  const took = await waitForQuickInputToMoveOn(page, state, 'the text typed', 5000).then(
    () => true,
    () => false,
  );
  if (took) return;
  const still = (await quickInputState(page)) === state && (await quickInputFocused(page)) && (await input.inputValue().catch(() => null)) === text;
  if (still) {
    debug('fillInputBox: Enter again');
    await page.keyboard.press('Enter');
  }
  await waitForQuickInputToMoveOn(page, state, 'the text typed', 15_000);
}

function exactText(s) {
  return new RegExp(`^\\s*${String(s).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);
}

function fmtItems(items) {
  if (!items || !items.length) return '(nothing)';
  return items.map((i) => JSON.stringify([i.label, i.description, i.detail].filter(Boolean).join(' — '))).join(', ');
}

/**
 * Runs a command as a user does: F1, type the title, pick the row whose label is exactly
 * `title` (e.g. "PromptManager: Preview Render"). Throws, listing what the palette showed,
 * when there is no such command.
 */
export async function runCommand(page, title, opts) {
  return withFailureShot(page, `runCommand ${title}`, () => runCommand_(page, title, opts));
}

async function runCommand_(page, title, { timeoutMs = 15_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let items = [];
  // The palette lists the commands known when it opened: when the command is not there yet
  // (extensions still loading), close it and open it again.
  for (let attempt = 1; ; attempt++) {
    debug(`runCommand "${title}": opening the palette (attempt ${attempt})`);
    await closeQuickInput(page);
    await openPalette(page, timeoutMs);
    debug(`runCommand "${title}": palette open, typing`);
    await page.keyboard.type(title);
    const found = await waitFor(
      async () => {
        items = await quickPickItems_(page, { timeoutMs: 2000 }).catch(() => []);
        return items.some((i) => norm(i.label) === norm(title));
      },
      { timeoutMs: Math.max(500, Math.min(4000, deadline - Date.now())) },
    ).catch(() => false);
    if (found) break;
    if (Date.now() >= deadline) {
      await closeQuickInput(page);
      throw new Error(`timed out after ${timeoutMs} ms waiting for the command palette to list a command titled "${title}"; it listed: ${fmtItems(items)}`);
    }
  }
  const widget = quickInput(page);
  const idx = items.findIndex((i) => norm(i.label) === norm(title));
  if (!items[idx].focused) {
    // move the list focus with the arrow keys from the focused row
    const focusedIdx = Math.max(
      0,
      items.findIndex((i) => i.focused),
    );
    const steps = idx - focusedIdx;
    for (let i = 0; i < Math.abs(steps); i++) await page.keyboard.press(steps > 0 ? 'ArrowDown' : 'ArrowUp');
  }
  await page.keyboard.press('Enter');
  // the palette closes (or is replaced by the command's own quick input)
  await waitFor(
    async () => {
      if (!(await quickInputVisible(page))) return true;
      const v = await widget
        .locator('.quick-input-box input')
        .inputValue()
        .catch(() => '');
      return !v.startsWith('>');
    },
    { timeoutMs: 10_000, message: `the command palette to close after running "${title}"` },
  );
}

let failureCount = 0;
/** Runs fn; when it throws, saves a screenshot and names it in the error message. */
export async function withFailureShot(page, name, fn) {
  try {
    return await fn();
  } catch (e) {
    if (e && e.pmScreenshot) throw e;
    const file = await screenshot(page, `failure-${String(++failureCount).padStart(2, '0')}-${name}`.slice(0, 100)).catch(() => null);
    if (file && e instanceof Error) {
      e.message += `\n(screenshot: ${path.relative(REPO_ROOT, file)})`;
      e.pmScreenshot = file;
    }
    throw e;
  }
}

async function openPalette(page, timeoutMs) {
  for (const key of ['F1', 'Control+Shift+P', 'F1']) {
    debug(`openPalette: pressing ${key}`);
    await page.keyboard.press(key);
    try {
      await waitFor(
        async () => {
          if (!(await quickInputVisible(page))) return false;
          const v = await quickInput(page).locator('.quick-input-box input').inputValue();
          return v.startsWith('>');
        },
        { timeoutMs: Math.min(5000, timeoutMs), message: 'the command palette to open' },
      );
      // drop any text a previous session left after the '>'
      const input = quickInput(page).locator('.quick-input-box input');
      if ((await input.inputValue()) !== '>') await input.fill('>');
      return;
    } catch {
      // focus may be inside a webview iframe: click the status bar to give the workbench focus
      await closeQuickInput(page);
      await page
        .locator('.part.statusbar')
        .click({ position: { x: 5, y: 5 } })
        .catch(() => {});
    }
  }
  throw new Error('runCommand: the command palette did not open (F1 / Ctrl+Shift+P)');
}

// ---------------------------------------------------------------------------------------------
// editors

async function activeEditor(page) {
  return page.locator('.editor-group-container.active .editor-instance .monaco-editor').filter({ visible: true }).first();
}

async function editorHasFocus(page) {
  return page.evaluate(() => {
    const a = document.activeElement;
    return !!a && !!a.closest('.editor-instance .monaco-editor') && !a.closest('.output-view, .panel');
  });
}

/**
 * Opens `relativePath` (relative to the workspace folder) with Quick Open (Ctrl+P), and waits
 * for its tab to be the active one and the editor to have the keyboard focus.
 */
async function openFile_(page, relativePath, { timeoutMs = 20_000 } = {}) {
  debug(`openFile ${relativePath}`);
  const relPosix = relativePath.split(path.sep).join('/').replace(/^\.\//, '');
  const base = path.posix.basename(relPosix);
  const dir = path.posix.dirname(relPosix);
  await closeQuickInput(page);
  await page.keyboard.press('Control+P');
  await waitFor(() => quickInputVisible(page), { timeoutMs: 10_000, message: 'Quick Open (Ctrl+P) to open' });
  await page.keyboard.type(relPosix);
  let items = [];
  const wanted = (i) =>
    i.label === base && (dir === '.' || i.description.replace(/\\/g, '/').replace(/^\.\//, '').endsWith(dir) || i.ariaLabel.includes(relPosix));
  await waitFor(
    async () => {
      items = await quickPickItems_(page, { timeoutMs: 2000 }).catch(() => []);
      return items.some(wanted);
    },
    { timeoutMs, message: () => `Quick Open to list the file "${relPosix}"; it listed: ${fmtItems(items)}` },
  );
  const idx = items.findIndex(wanted);
  const focusedIdx = Math.max(
    0,
    items.findIndex((i) => i.focused),
  );
  for (let i = 0; i < Math.abs(idx - focusedIdx); i++) await page.keyboard.press(idx > focusedIdx ? 'ArrowDown' : 'ArrowUp');
  await page.keyboard.press('Enter');
  await waitFor(
    async () => {
      const tab = page.locator('.editor-group-container.active .tab.active .monaco-icon-label').first();
      const label = (await tab.getAttribute('aria-label').catch(() => '')) || '';
      return label.replace(/\\/g, '/').endsWith(`/${relPosix}`);
    },
    { timeoutMs: 15_000, message: `the editor for "${relPosix}" to be the active tab` },
  );
  // Quick Open gives the focus back to where it was as it closes, which on a loaded machine can
  // come after the editor took it: give it to the editor again.
  await focusEditorElement(page, await activeEditor(page), `the editor for "${relPosix}"`);
}

/** Gives the keyboard focus to `editor` (a .monaco-editor locator) through its input element: the cursor stays where it is. */
async function focusEditorElement(page, editor, what = 'the editor') {
  const hasFocus = () => editor.evaluate((e) => e.contains(document.activeElement)).catch(() => false);
  if (await hasFocus()) return;
  await closeQuickInput(page);
  await editor.locator('.native-edit-context, textarea.inputarea').first().focus();
  await waitFor(hasFocus, { timeoutMs: 10_000, message: `${what} to take the keyboard focus` });
}

async function focusEditor(page) {
  if (await editorHasFocus(page)) return;
  await closeQuickInput(page);
  await page.keyboard.press('Control+1'); // View: Focus First Editor Group
  await waitFor(() => editorHasFocus(page), { timeoutMs: 10_000, message: 'a text editor to have the keyboard focus (open a file first)' });
}

// CodeLenses. VS Code asks for an editor's CodeLenses again after each change, and lets the
// extension host drop the commands of the old ones once it has drawn the new ones on screen.
// Lenses off screen at that moment keep their old links until a scroll brings them into view and
// VS Code draws them again, a debounce later (250 ms and more, seconds on a loaded machine): a
// click on such a link runs a command that is gone ("Actual command not found"). A user does not
// click that fast after scrolling; the harness waits for the lens to be drawn after the scroll.

/**
 * Keeps, in the page, the order in which CodeLens links were drawn and editors scrolled (a
 * counter): a link drawn after its editor last scrolled is one VS Code refreshed on screen.
 */
async function trackCodeLenses(page) {
  await page.evaluate(() => {
    if (window.__pmE2eLens) return;
    const st = (window.__pmE2eLens = { tick: 0, clicks: 0, drawn: new WeakMap(), scrolled: new WeakMap() });
    const tops = new WeakMap();
    const onScroll = new MutationObserver((records) => {
      for (const { target } of records) {
        if (tops.get(target) === target.style.top) continue;
        tops.set(target, target.style.top);
        const editor = target.closest('.monaco-editor');
        if (editor) st.scrolled.set(editor, ++st.tick);
      }
    });
    const watch = (root) => {
      const all = (sel) => (root.matches?.(sel) ? [root] : []).concat([...(root.querySelectorAll?.(sel) ?? [])]);
      for (const a of all('.codelens-decoration a')) st.drawn.set(a, ++st.tick);
      for (const c of all('.lines-content')) {
        tops.set(c, c.style.top);
        onScroll.observe(c, { attributes: true, attributeFilter: ['style'] });
      }
    };
    watch(document.body);
    new MutationObserver((records) => {
      for (const r of records) for (const n of r.addedNodes) if (n.nodeType === 1) watch(n);
    }).observe(document.body, { childList: true, subtree: true });
  });
}

/**
 * Clicks the CodeLens link `title` (string: its exact text; RegExp: test) that sits right above
 * the line of the active editor matching `lineRe`, once VS Code has drawn it since the editor last
 * scrolled (see above). The line must be on screen (goToLine first).
 */
async function clickCodeLens_(page, title, lineRe, { timeoutMs = 30_000 } = {}) {
  debug(`clickCodeLens ${title} ${lineRe}`);
  const deadline = Date.now() + timeoutMs;
  let lenses = [];
  for (;;) {
    const id = await waitFor(
      async () => {
        const r = await page.evaluate(
          ({ title, lineRe }) => {
            const st = window.__pmE2eLens;
            if (!st) throw new Error('clickCodeLens: the page does not track CodeLenses (open it with openWorkbench)');
            const match = (spec, s) => (spec.source !== undefined ? new RegExp(spec.source, spec.flags).test(s) : s === spec.text);
            const editor = [...document.querySelectorAll('.editor-group-container.active .editor-instance .monaco-editor')].find((e) => e.getClientRects().length > 0);
            if (!editor) return { lenses: [] };
            const clean = (s) => s.replace(/\u00a0/g, ' ');
            const lines = [...editor.querySelectorAll('.view-line')].map((l) => ({ top: l.getBoundingClientRect().top, text: clean(l.textContent) })).sort((a, b) => a.top - b.top);
            const scrolled = st.scrolled.get(editor) ?? 0;
            const found = [];
            let target;
            for (const d of editor.querySelectorAll('.codelens-decoration')) {
              const below = lines.find((l) => l.top > d.getBoundingClientRect().top);
              for (const a of d.querySelectorAll('a')) {
                const lens = { text: clean(a.textContent).trim(), line: below ? below.text : '', drawnSinceScroll: (st.drawn.get(a) ?? 0) >= scrolled };
                found.push(lens);
                if (!target && lens.drawnSinceScroll && match(title, lens.text) && below && match(lineRe, below.text)) target = a;
              }
            }
            if (!target) return { lenses: found };
            const id = String(++st.clicks);
            target.setAttribute('data-pm-e2e-lens', id);
            return { lenses: found, id };
          },
          { title: title instanceof RegExp ? { source: title.source, flags: title.flags } : { text: String(title) }, lineRe: { source: lineRe.source, flags: lineRe.flags } },
        );
        lenses = r.lenses;
        return r.id ?? false;
      },
      {
        timeoutMs: Math.max(1000, deadline - Date.now()),
        message: () => `a CodeLens "${title}" right above a line matching ${lineRe}, drawn since the editor last scrolled; the lenses on screen: ${JSON.stringify(lenses)}`,
      },
    );
    // Drawn again between finding it and clicking it: find it again.
    if (await page.locator(`[data-pm-e2e-lens="${id}"]`).click({ timeout: 3000 }).then(() => true, () => false)) return;
    if (Date.now() > deadline) throw new Error(`clickCodeLens: the CodeLens "${title}" above ${lineRe} kept being drawn again before it could be clicked`);
  }
}

/**
 * Types into the active editor (giving it the focus back first). By default keys are typed one
 * by one, as a user would: the editor auto-indents and auto-closes brackets and quotes.
 * `{ paste: true }` pastes the text instead (a clipboard paste event), so it lands as is: what
 * you want for multi-line YAML.
 */
export async function typeInEditor(page, text, { paste = false, delay = 0 } = {}) {
  await focusEditor(page);
  if (!paste) return page.keyboard.type(text, { delay });
  // VS Code applies a paste a moment after the event (it asks its paste providers first): the
  // paste has landed when the cursor has moved (the status bar's "Ln, Col"); keys pressed before
  // would go where the cursor was.
  const cursor = async () => (await statusBarItems(page)).find((t) => /^Ln \d+, Col \d+/.test(t)) ?? null;
  const before = await waitFor(cursor, { timeoutMs: 10_000, message: 'the status bar to show the cursor position (Ln, Col)' });
  const handled = await page.evaluate((t) => {
    const dt = new DataTransfer();
    dt.setData('text/plain', t);
    const ev = new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true });
    document.activeElement.dispatchEvent(ev);
    return ev.defaultPrevented;
  }, text);
  if (!handled) throw new Error('typeInEditor: the editor did not take the pasted text');
  if (text) await waitFor(async () => (await cursor()) !== before, { timeoutMs: 15_000, intervalMs: 50, message: `the pasted text to land in the editor (the cursor stayed at ${before})` });
}

/** Presses keys in the active editor (giving it the focus back first), e.g. 'Control+End', 'Control+Z'. */
export async function pressInEditor(page, ...keys) {
  await focusEditor(page);
  for (const k of keys) await page.keyboard.press(k);
}

/** Presses keys wherever the focus is, e.g. pressKeys(page, 'Escape'). */
export async function pressKeys(page, ...keys) {
  for (const k of keys) await page.keyboard.press(k);
}

/** Moves the cursor of the active editor to line:column (1-based) with Go to Line (Ctrl+G). */
async function goToLine_(page, line, column = 1) {
  await focusEditor(page);
  await page.keyboard.press('Control+G');
  await waitFor(() => quickInputVisible(page), { timeoutMs: 10_000, message: 'Go to Line (Ctrl+G) to open' });
  await page.keyboard.type(`${line}:${column}`);
  await page.keyboard.press('Enter');
  await waitFor(() => editorHasFocus(page), { timeoutMs: 10_000, message: 'the editor to get the focus back after Go to Line' });
}

/** The text of the active editor as shown on screen (all lines, scrolling through them). */
async function editorText_(page) {
  debug('editorText');
  const ed = await activeEditor(page);
  if ((await ed.count()) === 0) throw new Error('editorText: no text editor is open');
  // The editor read takes the focus itself (Ctrl+1 would give it to the first group's editor).
  return (await readEditorLines(page, ed, { focus: () => focusEditorElement(page, ed, 'the editor read') })).join('\n');
}

/**
 * The suggest widget's rows (labels), after triggering it with Ctrl+Space unless
 * `trigger: false`. Waits for "Loading..." to go; returns [] for "No suggestions".
 */
async function completionItems_(page, { trigger = true, timeoutMs = 10_000, detailed = false } = {}) {
  debug('completionItems');
  await focusEditor(page);
  if (trigger) await page.keyboard.press('Control+Space');
  const widget = page.locator('.editor-widget.suggest-widget.visible').first();
  let state = '';
  await waitFor(
    async () => {
      if ((await widget.count()) === 0) return false;
      if ((await widget.locator('.monaco-list-row').count()) > 0) return true;
      state = await widget
        .locator('.message')
        .textContent()
        .catch(() => '');
      return /no suggestions/i.test(state);
    },
    { timeoutMs, message: () => `the suggestion list (Ctrl+Space) to show items${state ? `; it said "${norm(state)}"` : ''}` },
  );
  const list = widget.locator('.monaco-list').first();
  if ((await widget.locator('.monaco-list-row').count()) === 0) return [];
  const rows = await collectListRows(page, list, (row) => {
    const t = (el) => (el && el.getClientRects().length > 0 ? el.textContent.replace(/\u00a0/g, ' ').trim() : '');
    const aria = row.getAttribute('aria-label') || '';
    return {
      label: t(row.querySelector('.label-name')),
      detail: t(row.querySelector('.details-label')) || t(row.querySelector('.signature-label')),
      description: t(row.querySelector('.qualifier-label')),
      kind: aria.includes(', ') ? aria.slice(aria.lastIndexOf(', ') + 2) : '',
    };
  });
  return detailed ? rows : rows.map((r) => r.label);
}

// ---------------------------------------------------------------------------------------------
// panels

async function panelVisible(page, selector) {
  return (await page.locator(selector).filter({ visible: true }).count()) > 0;
}

/**
 * The Problems panel's entries, opened with Ctrl+Shift+M:
 * [{ file, severity: 'error'|'warning'|'info', message, source, code, line, column, text }].
 */
async function problemsPanelEntries_(page, { timeoutMs = 10_000 } = {}) {
  debug('problemsPanelEntries');
  if (!(await panelVisible(page, '.markers-panel'))) {
    await closeQuickInput(page);
    await page.keyboard.press('Control+Shift+M');
    await waitFor(() => panelVisible(page, '.markers-panel'), { timeoutMs, message: 'the Problems panel (Ctrl+Shift+M) to open' });
  }
  const panel = page.locator('.markers-panel').filter({ visible: true }).first();
  await waitFor(
    async () => (await panel.locator('.monaco-list-row').count()) > 0 || (await panel.locator('.message-box-container').filter({ visible: true }).count()) > 0,
    {
      timeoutMs,
      message: 'the Problems panel to show problems or "No problems have been detected"',
    },
  );
  const list = panel.locator('.monaco-list').first();
  if ((await list.locator('.monaco-list-row').count()) === 0) return [];
  const rows = await collectListRows(page, list, (row) => {
    const t = (el) =>
      el && el.getClientRects().length > 0
        ? el.textContent
            .replace(/\u00a0/g, ' ')
            .replace(/\s+/g, ' ')
            .trim()
        : '';
    const level = Number(row.getAttribute('aria-level'));
    if (level === 1)
      return { kind: 'file', file: t(row.querySelector('.label-name')), path: row.querySelector('.monaco-icon-label')?.getAttribute('aria-label') || '' };
    const icon = row.querySelector('.marker-icon');
    const sev = icon ? ['error', 'warning', 'info'].find((s) => icon.classList.contains(s)) || 'info' : '';
    const pos = /Ln (\d+), Col (\d+)/.exec(t(row.querySelector('.marker-line')));
    if (!icon) return { kind: 'related', text: t(row), ariaLabel: row.getAttribute('aria-label') || '' };
    return {
      kind: 'marker',
      severity: sev,
      message: t(row.querySelector('.marker-message')),
      source: t(row.querySelector('.marker-source')),
      code: t(row.querySelector('.marker-code')),
      line: pos ? Number(pos[1]) : undefined,
      column: pos ? Number(pos[2]) : undefined,
      text: t(row),
    };
  });
  const out = [];
  let file = '';
  let filePath = '';
  for (const r of rows) {
    if (r.kind === 'file') {
      file = r.file;
      filePath = r.path;
    } else if (r.kind === 'marker') {
      const { kind, ...rest } = r;
      out.push({ file, path: filePath, ...rest });
    } else if (out.length) (out[out.length - 1].related ||= []).push(r.text);
  }
  return out;
}

/** Polls the Problems panel until `predicate(entries)` holds; the error lists what it showed. */
async function waitForProblems_(page, predicate, { timeoutMs = 20_000, description = 'the expected problems' } = {}) {
  let entries = [];
  await waitFor(
    async () => {
      entries = await problemsPanelEntries_(page, { timeoutMs: 5000 });
      return predicate(entries);
    },
    { timeoutMs, intervalMs: 500, message: () => `the Problems panel to show ${description}; it showed:\n${formatProblems(entries)}` },
  );
  return entries;
}

export function formatProblems(entries) {
  if (!entries.length) return '  (no problems)';
  return entries.map((e) => `  ${e.file} [Ln ${e.line}, Col ${e.column}] ${e.severity}: ${e.message} (${e.source}${e.code ? ` ${e.code}` : ''})`).join('\n');
}

async function showOutputPanel(page, timeoutMs) {
  const select = page.locator('select[aria-label="Switch Output"], .output-view select.monaco-select-box').filter({ visible: true }).first();
  if ((await select.count()) > 0) return select;
  await runCommand_(page, 'Output: Focus on Output View').catch(async () => {
    await page.keyboard.press('Control+K');
    await page.keyboard.press('Control+H');
  });
  await waitFor(async () => (await select.count()) > 0, { timeoutMs, message: 'the Output panel with its channel picker to be visible' });
  return select;
}

/** Names of the channels listed in the Output panel's channel picker. */
export async function outputChannels(page, { timeoutMs = 10_000 } = {}) {
  const select = await showOutputPanel(page, timeoutMs);
  return (await select.locator('option:not([disabled])').allTextContents()).map(norm);
}

/**
 * The text of an output channel: opens the Output panel, picks `channelName` in its channel
 * picker (waiting for the channel to exist), and reads all the lines shown.
 */
async function outputChannelText_(page, channelName, { timeoutMs = 15_000 } = {}) {
  debug(`outputChannelText ${channelName}`);
  const select = await showOutputPanel(page, timeoutMs);
  let names = [];
  await waitFor(
    async () => {
      names = (await select.locator('option:not([disabled])').allTextContents()).map(norm);
      return names.includes(channelName);
    },
    { timeoutMs, message: () => `the Output panel to offer a channel "${channelName}"; it offered: ${names.join(', ') || '(none)'}` },
  );
  const editor = page.locator('.part.panel .output-view .monaco-editor, #workbench\\.panel\\.output .monaco-editor').filter({ visible: true }).first();
  const current = await select.evaluate((s) => s.options[s.selectedIndex]?.textContent || '');
  if (norm(current) !== channelName) {
    // The channel shown is the editor's document (its data-uri): wait for the switch to reach it,
    // then for the next frame to draw it, so that the lines read are the new channel's.
    const shownUri = () => editor.getAttribute('data-uri', { timeout: 1000 }).catch(() => null);
    const before = await shownUri();
    await select.selectOption({ label: channelName });
    await waitFor(async () => norm(await select.evaluate((s) => s.options[s.selectedIndex]?.textContent || '')) === channelName && (await shownUri()) !== before, {
      timeoutMs: 10_000,
      message: `the Output panel to switch to "${channelName}"`,
    });
    await nextFrames(page);
  }
  await editor.waitFor({ state: 'visible', timeout: 5000 });
  const focus = async () => {
    if (await editor.evaluate((ed) => ed.contains(document.activeElement))) return;
    await runCommand_(page, 'Output: Focus on Output View').catch(() => {});
    if (!(await editor.evaluate((ed) => ed.contains(document.activeElement)))) {
      const box = await editor.boundingBox();
      await page.mouse.click(box.x + box.width / 2, box.y + Math.min(30, box.height / 2));
    }
  };
  const lines = await readEditorLines(page, editor, { focus });
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines.join('\n');
}

/** Polls an output channel until its text matches (string: includes; RegExp; or function). */
async function waitForOutput_(page, channelName, expected, { timeoutMs = 30_000 } = {}) {
  const ok = typeof expected === 'function' ? expected : expected instanceof RegExp ? (t) => expected.test(t) : (t) => t.includes(expected);
  let text = '';
  await waitFor(
    async () => {
      text = await outputChannelText_(page, channelName, { timeoutMs: 5000 });
      return ok(text);
    },
    { timeoutMs, intervalMs: 500, message: () => `the "${channelName}" output channel to show ${expected}; it showed:\n${text || '(nothing)'}` },
  );
  return text;
}

/**
 * Texts of the notifications: the toasts on screen, and with `{ all: true }` also those in the
 * notification center (toasts hide after ~10 s; the center keeps them, as the bell shows).
 */
export async function notifications(page, { all = false } = {}) {
  const read = async (sel) => (await page.locator(`${sel} .notification-list-item-message`).filter({ visible: true }).allTextContents()).map(norm);
  const toasts = await read('.notifications-toasts');
  if (!all) return toasts;
  const centerVisible = async () => (await page.locator('.notifications-center').filter({ visible: true }).count()) > 0;
  const wasOpen = await centerVisible();
  if (!wasOpen) {
    await runCommand_(page, 'Notifications: Show Notifications');
    await waitFor(centerVisible, { timeoutMs: 10_000, message: 'the notification center to open' });
  }
  const center = await read('.notifications-center');
  if (!wasOpen) {
    // Closed before going on: while the center is open, new notifications show no toast.
    await runCommand_(page, 'Notifications: Hide Notifications');
    await waitFor(async () => !(await centerVisible()), { timeoutMs: 10_000, message: 'the notification center to close' });
  }
  return [...new Set([...toasts, ...center])];
}

/** Texts of the status bar items on screen. */
export async function statusBarItems(page) {
  return (await page.locator('.part.statusbar .statusbar-item').filter({ visible: true }).allTextContents()).map(norm).filter(Boolean);
}

/**
 * The content frame of the webview on screen (a webview is two nested iframes), as a
 * Playwright FrameLocator: `await webviewFrame(page).locator('svg text').allTextContents()`.
 */
export function webviewFrame(page) {
  return page.frameLocator('iframe.webview.ready:visible').first().frameLocator('iframe#active-frame, iframe').first();
}

/** Waits until the webview on screen has `selector` and returns its text contents. */
async function webviewTexts_(page, selector = 'body', { timeoutMs = 20_000 } = {}) {
  debug(`webviewTexts ${selector}`);
  const frame = webviewFrame(page);
  let texts = [];
  let state = 'no webview on screen';
  await waitFor(
    async () => {
      // Frame locators wait for their frames: only ask once the webview's frame is there
      if ((await page.locator('iframe.webview.ready').filter({ visible: true }).count()) === 0) return false;
      state = 'a webview without the expected content';
      const read = frame.locator(selector).allTextContents();
      texts = (await Promise.race([read.catch(() => []), sleep(2000).then(() => [])])).map(norm);
      return texts.length > 0;
    },
    { timeoutMs, message: () => `a webview showing "${selector}" (there was ${state})` },
  );
  return texts;
}

/** startCodeServer + openWorkbench in one; close() ends both. */
export async function launch({ vsix, folder, settings, machineSettings, env, workspaceTrust, viewport } = {}) {
  const server = await startCodeServer({ vsix, folder, settings, machineSettings, env, workspaceTrust });
  let wb;
  try {
    wb = await openWorkbench(server.url, folder, { viewport });
  } catch (e) {
    await server.stop({ keepFiles: true });
    throw new Error(`${e.message}\ncode-server log:\n${server.logTail(30)}`);
  }
  return {
    server,
    ...wb,
    async close() {
      await wb.close();
      await server.stop();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// the helpers, each saving a screenshot (test-results/failure-*.png) when it fails

export const openFile = (page, ...a) => withFailureShot(page, 'openFile', () => openFile_(page, ...a));
export const goToLine = (page, ...a) => withFailureShot(page, 'goToLine', () => goToLine_(page, ...a));
export const clickCodeLens = (page, ...a) => withFailureShot(page, 'clickCodeLens', () => clickCodeLens_(page, ...a));
export const editorText = (page, ...a) => withFailureShot(page, 'editorText', () => editorText_(page, ...a));
export const quickPickItems = (page, ...a) => withFailureShot(page, 'quickPickItems', () => quickPickItems_(page, ...a));
export const selectQuickPickItem = (page, ...a) => withFailureShot(page, 'selectQuickPickItem', () => selectQuickPickItem_(page, ...a));
export const fillInputBox = (page, ...a) => withFailureShot(page, 'fillInputBox', () => fillInputBox_(page, ...a));
export const completionItems = (page, ...a) => withFailureShot(page, 'completionItems', () => completionItems_(page, ...a));
export const problemsPanelEntries = (page, ...a) => withFailureShot(page, 'problemsPanelEntries', () => problemsPanelEntries_(page, ...a));
export const waitForProblems = (page, ...a) => withFailureShot(page, 'waitForProblems', () => waitForProblems_(page, ...a));
export const outputChannelText = (page, ...a) => withFailureShot(page, 'outputChannelText', () => outputChannelText_(page, ...a));
export const waitForOutput = (page, ...a) => withFailureShot(page, 'waitForOutput', () => waitForOutput_(page, ...a));
export const webviewTexts = (page, ...a) => withFailureShot(page, 'webviewTexts', () => webviewTexts_(page, ...a));
