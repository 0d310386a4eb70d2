// Shared by the client and server bundles' plugins (build/clientSlim.mjs, build/serverSlim.mjs):
// the modules of vscode-languageclient / vscode-languageserver and of the protocol packages they
// use, converted from the CommonJS tsc wrote back to the ES modules they were written as
// (build/cjsToEsm.mjs), so that esbuild can leave out what a bundle never uses. The protocol
// packages alone define some 200 request types and helpers, of which we use a few dozen.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { cjsToEsm, pureNamespaces, Unsupported } from './cjsToEsm.mjs';

// Already ES modules (the `module` condition), CommonJS only in their UMD builds.
const ESM_PACKAGES = /^(vscode-languageserver-protocol|vscode-jsonrpc|vscode-languageserver-types|vscode-languageserver-textdocument)(\/|$)/;
export const TYPES_ESM = /[\\/]vscode-languageserver-types[\\/]lib[\\/]esm[\\/]main\.js$/;
const isEsm = (specifier) => specifier.startsWith('./') || specifier.startsWith('../') || ESM_PACKAGES.test(specifier);

/**
 * The library directories of `pkg` (vscode-languageclient or vscode-languageserver, as the
 * bundle resolves it from `from`) and of the protocol and JSON-RPC packages it uses.
 */
export function libraryDirs(pkg, from) {
  const fromHere = createRequire(from);
  // lib/node/main.js is the `<pkg>/node` export (the packages do not export package.json).
  const nodeMain = fromHere.resolve(`${pkg}/node`);
  const root = join(dirname(nodeMain), '..', '..');
  const protocolLib = join(dirname(createRequire(nodeMain).resolve('vscode-languageserver-protocol/node')), '..') + sep;
  const jsonrpcLib = join(dirname(createRequire(join(protocolLib, 'node', 'main.js')).resolve('vscode-jsonrpc/node')), '..') + sep;
  return { root, nodeMain, commonDir: join(root, 'lib', 'common') + sep, converted: [join(root, 'lib') + sep, protocolLib, jsonrpcLib] };
}

/**
 * A converter for the modules under `converted` (directories). `stubExports(spec, importer)`
 * may name the exports of a module a plugin replaces (or return undefined).
 */
export function esmConverter(converted, stubExports = () => undefined) {
  const cache = new Map(); // path -> { source, result } (rebuilds in --watch, and both builds of a test)
  const converting = new Set();
  const isConverted = (file) => converted.some((dir) => file.startsWith(dir));

  /** A converted module: its ES module text and every name it exports (with those of `export *`). */
  function convert(path) {
    const source = readFileSync(path, 'utf8');
    const hit = cache.get(path);
    if (hit?.source === source) return hit.result;
    if (converting.has(path)) throw new Unsupported(`export * cycle through ${path}`);
    converting.add(path);
    try {
      let r = cjsToEsm(source, path, isEsm);
      // Several `export *`: the names each brings, for those that more than one brings.
      if (r.stars.length > 1) r = cjsToEsm(source, path, isEsm, new Map(r.stars.map((spec) => [spec, namesOf(spec, path)])));
      const exportNames = new Set(r.names);
      for (const spec of r.stars) for (const n of namesOf(spec, path)) if (n !== 'default') exportNames.add(n);
      const result = { code: r.code, exportNames };
      cache.set(path, { source, result });
      return result;
    } finally {
      converting.delete(path);
    }
  }

  /** The names the module `spec`, imported from `importer`, exports (resolved as the bundle resolves it). */
  function namesOf(spec, importer) {
    const stubbed = stubExports(spec, importer);
    if (stubbed) return stubbed;
    let file;
    try {
      file = createRequire(importer).resolve(spec);
    } catch {
      throw new Unsupported(`cannot resolve ${spec} from ${importer}`);
    }
    // Node resolves the types package to its UMD build, the bundle (`module` condition) to lib/esm.
    file = file.replace(/([\\/]vscode-languageserver-types[\\/]lib[\\/])umd([\\/]main\.js)$/, '$1esm$2');
    if (TYPES_ESM.test(file)) return new Set([...readFileSync(file, 'utf8').matchAll(/^export (?:var|let|const|function|class) ([\w$]+)/gm)].map((m) => m[1]));
    if (isConverted(file)) return convert(file).exportNames;
    throw new Unsupported(`the names ${spec} exports are unknown`);
  }

  /**
   * Registers the conversion on an esbuild build. `tag` prefixes its warnings; a module the
   * converter does not understand stays CommonJS (correct, only bigger) with a warning.
   */
  function register(build, tag) {
    // The converted modules lose their "use strict" (ES modules are strict without it), and
    // esbuild does not add it to a CommonJS bundle: the whole bundle is strict, as they were.
    const banner = build.initialOptions.banner?.js;
    if (!banner?.startsWith('"use strict";')) build.initialOptions.banner = { ...build.initialOptions.banner, js: banner ? `"use strict";\n${banner}` : '"use strict";' };
    build.onLoad({ filter: /[\\/]vscode-[\w-]+[\\/].*\.js$/ }, (args) => {
      if (TYPES_ESM.test(args.path)) return { contents: pureNamespaces(readFileSync(args.path, 'utf8'), args.path), loader: 'js' };
      if (!isConverted(args.path)) return undefined;
      try {
        return { contents: convert(args.path).code, loader: 'js' };
      } catch (e) {
        if (!(e instanceof Unsupported)) throw e;
        return { contents: readFileSync(args.path, 'utf8'), loader: 'js', warnings: [{ text: `${tag}: kept as CommonJS: ${e.message}` }] };
      }
    });
  }

  return { convert, register };
}
