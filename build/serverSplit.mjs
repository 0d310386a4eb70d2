// An esbuild plugin for dist/serverCore.js, the part of the language server that dist/server.js
// loads once it has answered `initialize` (server/main.ts). Wherever the core imports
// vscode-languageserver, vscode-languageserver-protocol or vscode-jsonrpc, it reads the values
// dist/server.js shares (server/languageServerLibrary.ts) instead of bundling a second copy of
// the library: one connection, one ResponseError class, one set of message-type objects.
//
// The values are those server/languageServerLibrary.ts lists. An import of any other value
// fails the build ("No matching export"); type imports are erased and need nothing.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const LIBRARY_MODULE = join(dirname(fileURLToPath(import.meta.url)), '..', 'server', 'languageServerLibrary.ts');
const SHARED = /^(vscode-languageserver|vscode-languageserver-protocol|vscode-jsonrpc)(\/node)?$/;

/** The names languageServerLibrary.ts re-exports from the library (and so shares). */
export function sharedNames() {
  const text = readFileSync(LIBRARY_MODULE, 'utf8');
  const list = /export \{([^}]*)\} from 'vscode-languageserver\/node';/.exec(text)?.[1];
  if (!list) throw new Error(`serverSplit: no export from vscode-languageserver/node in ${LIBRARY_MODULE}`);
  return list.split(',').map((s) => s.trim()).filter((s) => s && !s.startsWith('type '));
}

export function serverSplitPlugin() {
  return {
    name: 'pm-server-split',
    setup(build) {
      build.onResolve({ filter: SHARED }, (args) => {
        // Only our own modules: a package that used the library would need its own copy.
        if (args.importer.includes(`${'/'}node_modules${'/'}`)) return { errors: [{ text: `serverSplit: ${args.importer} imports ${args.path}` }] };
        return { path: 'shared', namespace: 'pm-server-split' };
      });
      build.onLoad({ filter: /.*/, namespace: 'pm-server-split' }, () => {
        const names = sharedNames();
        return {
          loader: 'js',
          contents: [
            `const lib = globalThis[Symbol.for('promptmanager.languageServerLibrary')];`,
            // Also in the template worker thread, which runs dist/server.js: modules build message types as they load.
            `if (!lib) throw new Error('dist/serverCore.js must be loaded by dist/server.js, which shares the language server library with it');`,
            `export const { ${names.join(', ')} } = lib;`,
          ].join('\n'),
        };
      });
    },
  };
}
