// The packages the language server loads at run time, never bundled: BullMQ (it reads its Lua
// scripts from its package) and ioredis, for `promptManager.run.backend: bullmq`. The production
// build copies them and what they need into dist/node_modules/, which the .vsix ships (Node finds
// them from dist/languageService.js), leaving out what Node never loads there: ES module and
// browser builds, type declarations, source maps, documentation. Nothing loads them unless the
// setting asks for that back end.
import * as fs from 'node:fs';
import * as path from 'node:path';

export const RUNTIME_PACKAGES = ['bullmq', 'ioredis'];

/** Paths (relative to a package) never copied: of every package, and of some (builds Node never loads here). */
const SKIP = [/\.map$/, /\.d\.c?ts$/, /\.md$/i, /^(test|tests|docs?)\//];
const SKIP_OF = {
  bullmq: [/^dist\/esm\//],
  luxon: [/^build\/(amd|cjs-browser|es6|global)\/|^src\//],
  msgpackr: [/^dist\/(index|test)[^/]*\.js$/, /\.min\.js$/],
};

/** The package folders `names` need at run time, from package-lock.json (optional dependencies left out: nothing requires them). */
export function closure(root, names) {
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')).packages;
  const out = new Set();
  const visit = (name, from) => {
    // Node's lookup: the nearest node_modules above the requiring package.
    for (let base = from; ; base = base.replace(/\/?node_modules\/[^/]+(\/[^/]+)?$/, '')) {
      const at = `${base ? `${base}/` : ''}node_modules/${name}`;
      if (lock[at]) {
        if (out.has(at)) return;
        out.add(at);
        for (const dep of Object.keys(lock[at].dependencies ?? {})) visit(dep, at);
        return;
      }
      if (!base) return;
    }
  };
  for (const n of names) visit(n, '');
  return [...out].sort();
}

function copyTree(src, dst, skip, rel = '') {
  for (const e of fs.readdirSync(path.join(src, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.name === 'node_modules') continue;
    if (e.isDirectory()) {
      if (skip.some((re) => re.test(`${r}/`))) continue;
      copyTree(src, dst, skip, r);
    } else if (e.isFile() && !skip.some((re) => re.test(r))) {
      fs.mkdirSync(path.dirname(path.join(dst, r)), { recursive: true });
      fs.copyFileSync(path.join(src, r), path.join(dst, r));
    }
  }
}

/** Copies the run-time packages into `outDir/node_modules`; returns what it copied and its size. */
export function copyRuntimeDeps(root, outDir) {
  const target = path.join(outDir, 'node_modules');
  fs.rmSync(target, { recursive: true, force: true });
  const folders = closure(root, RUNTIME_PACKAGES);
  for (const f of folders) copyTree(path.join(root, f), path.join(outDir, f), [...SKIP, ...(SKIP_OF[f.split('node_modules/').pop()] ?? [])]);
  let bytes = 0;
  const size = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) size(path.join(d, e.name));
      else bytes += fs.statSync(path.join(d, e.name)).size;
    }
  };
  if (fs.existsSync(target)) size(target);
  return { folders, bytes };
}
