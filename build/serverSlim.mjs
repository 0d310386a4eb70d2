// An esbuild plugin for the language server bundle (dist/server.js): vscode-languageserver and
// the protocol packages it uses, converted to ES modules (build/libraryToEsm.mjs) so that
// esbuild leaves out what the server never uses. Nothing is stubbed: every module keeps all it
// does, and the server's connection is the package's own.
//
// Why: the server's start is part of the extension's activation (at most 500 ms to a
// ready server). As CommonJS these packages are 190 KB of the bundle and took 60-70 ms to load
// in Node 24; converted, 77 KB and about 25 ms (bench/RESULTS.md). test/server/serverSlim.test.ts
// holds the converted library to the package's exports; every server test runs the bundle.
import { esmConverter, libraryDirs } from './libraryToEsm.mjs';

const { converted } = libraryDirs('vscode-languageserver', import.meta.url);
const converter = esmConverter(converted);

export function serverSlimPlugin() {
  return {
    name: 'pm-server-slim',
    setup(build) {
      converter.register(build, 'serverSlim');
    },
  };
}
