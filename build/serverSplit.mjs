// The language server ships as two bundles (server/main.ts): dist/server.js holds the connection
// and vscode-languageserver and answers `initialize`; dist/languageService.js, everything else, loads
// right after. Why two: as one bundle, activation to a ready server in code-server took 42-68 ms
// (1.29-1.48x) longer at the median, in each time window measured (bench/RESULTS.md).
//
// Both must use one instance of the library: the connection tells an error answer by
// `instanceof ResponseError`, and message types carry the library's own parameter-structure
// objects. So dist/server.js puts the whole `vscode-languageserver/node` namespace on globalThis
// (LIBRARY_KEY), and this plugin makes every import of a SHARED package in dist/languageService.js
// read from it instead of bundling a second copy.
//
// What this relies on, checked on every build through a real `require` of the packages as the
// bundle resolves them (so an upgrade that changes it fails the build, never the server):
// - every value the core imports from a SHARED module is the very value `vscode-languageserver/node`
//   exports under that name (not another copy or version of the protocol or JSON-RPC package):
//   only those names are exported here, so importing any other fails the build ("No matching
//   export"), and so does importing a module of the library that is not SHARED.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The global under which dist/server.js shares the library (server/main.ts sets it). */
export const LIBRARY_KEY = 'promptmanager.languageServerLibrary';

/** The library's modules the core may import, all read from the library dist/server.js loaded. */
export const SHARED = ['vscode-languageserver/node', 'vscode-languageserver-protocol', 'vscode-languageserver-protocol/node'];
/** Every module of the library's packages (vscode-languageserver-types and -textdocument hold no shared state: bundled). */
const LIBRARY_MODULE = /^(vscode-languageserver|vscode-languageserver-protocol|vscode-jsonrpc)(\/.*)?$/;

/**
 * What `specifier`, resolved and required from `root` as the bundle resolves it, exports: `shared`,
 * the names whose values are the very values `vscode-languageserver/node` exports under them, and
 * `own`, the others (e.g. the protocol package's browser-neutral `createProtocolConnection`).
 */
export function sharedExports(specifier, root = REPO) {
  const requireFromRoot = createRequire(join(root, 'package.json'));
  const library = requireFromRoot('vscode-languageserver/node');
  const mod = requireFromRoot(specifier);
  const names = Object.keys(mod).filter((n) => n !== 'default' && n !== '__esModule');
  return { shared: names.filter((n) => library[n] === mod[n]), own: names.filter((n) => library[n] !== mod[n]) };
}

export function serverSplitPlugin(root = REPO) {
  return {
    name: 'pm-server-split',
    setup(build) {
      build.onResolve({ filter: LIBRARY_MODULE }, (args) => {
        // Only our own modules: a package that used the library would need its own copy.
        if (/[\\/]node_modules[\\/]/.test(args.importer)) return { errors: [{ text: `serverSplit: ${args.importer} imports ${args.path}, which dist/languageService.js does not bundle` }] };
        // Another entry (vscode-jsonrpc, the browser-neutral vscode-languageserver) has values of its own: a second copy.
        if (!SHARED.includes(args.path)) return { errors: [{ text: `serverSplit: ${args.importer} imports ${args.path}; the server's core may import the language server library only as ${SHARED.join(', ')} (build/serverSplit.mjs)` }] };
        return { path: args.path, namespace: 'pm-server-split' };
      });
      build.onLoad({ filter: /.*/, namespace: 'pm-server-split' }, (args) => {
        const { shared, own } = sharedExports(args.path, root);
        // Another copy or version of the package: nothing of it is the library's.
        if (!shared.length) return { errors: [{ text: `serverSplit: none of the values ${args.path} exports is the one vscode-languageserver/node exports: dedupe the dependency (npm ls ${args.path.replace(/\/node$/, '')})` }] };
        // Only the shared values: importing one of `own` fails the build ("No matching export").
        const names = shared;
        const note = own.length ? `// Not shared, so not importable here: ${own.join(', ')}.\n` : '';
        return {
          loader: 'js',
          contents: note + [
            `const lib = globalThis[Symbol.for(${JSON.stringify(LIBRARY_KEY)})];`,
            `if (!lib) throw new Error('dist/languageService.js must be loaded by dist/server.js, which shares the language server library with it');`,
            `export const { ${names.join(', ')} } = lib;`,
          ].join('\n'),
        };
      });
    },
  };
}
