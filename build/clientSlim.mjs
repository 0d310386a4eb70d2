// An esbuild plugin for the extension client bundle (dist/client.js). vscode-languageclient,
// vscode-languageserver-protocol and vscode-jsonrpc ship as CommonJS, so esbuild keeps all of
// every module they require: the ~25 language features our server never offers (notebooks,
// semantic tokens, pull diagnostics, formatting, file operations...), minimatch and semver for
// those, and every request type, converter and helper whether used or not. This plugin:
//
// 1. converts those packages' modules to the ES modules they were written as (build/cjsToEsm.mjs),
//    so that esbuild tree-shakes what the client never uses, and marks TypeScript namespaces
//    that only define members as pure (also in vscode-languageserver-types' ESM build);
// 2. replaces the feature modules in STUBBED with stubs (build/stubs/stubFeature.mjs) that ask
//    for no client capability and register nothing;
// 3. replaces semver, used for one VS Code version check, with an equivalent for that check.
//
// Why this is safe:
// - The converted library exports the same names in the same shapes, and a full client asks the
//   server for the same capabilities as the slim one but for the stubbed features', which the
//   server does not offer (test/client/clientSlim.test.ts checks all three against the package
//   and dist/server.js). A module the converter does not understand stays CommonJS (a warning).
// - Should a server offer a stubbed capability anyway, the stub says so in the client's output
//   channel; a dynamic registration for it fails as for any unknown feature.
// - The build fails if a stubbed module exports something its stub does not provide, or if the
//   library's VS Code version check changes (build/stubs/semver*.js only implement `^X.Y.Z`).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { esmConverter, libraryDirs } from './libraryToEsm.mjs';

/**
 * Modules of vscode-languageclient/lib/common replaced by stubs: each exported feature class and
 * the server capability it would have used (a path in ServerCapabilities).
 */
export const STUBBED = {
  notebook: { NotebookDocumentSyncFeature: 'notebookDocumentSync' },
  diagnostic: { DiagnosticFeature: 'diagnosticProvider' },
  fileOperations: {
    DidCreateFilesFeature: 'workspace.fileOperations.didCreate',
    DidRenameFilesFeature: 'workspace.fileOperations.didRename',
    DidDeleteFilesFeature: 'workspace.fileOperations.didDelete',
    WillCreateFilesFeature: 'workspace.fileOperations.willCreate',
    WillRenameFilesFeature: 'workspace.fileOperations.willRename',
    WillDeleteFilesFeature: 'workspace.fileOperations.willDelete',
  },
  semanticTokens: { SemanticTokensFeature: 'semanticTokensProvider' },
  formatting: {
    DocumentFormattingFeature: 'documentFormattingProvider',
    DocumentRangeFormattingFeature: 'documentRangeFormattingProvider',
    DocumentOnTypeFormattingFeature: 'documentOnTypeFormattingProvider',
  },
  textDocumentContent: { TextDocumentContentFeature: 'workspace.textDocumentContent' },
  callHierarchy: { CallHierarchyFeature: 'callHierarchyProvider' },
  typeHierarchy: { TypeHierarchyFeature: 'typeHierarchyProvider' },
  inlayHint: { InlayHintsFeature: 'inlayHintProvider' },
  inlineValue: { InlineValueFeature: 'inlineValueProvider' },
  inlineCompletion: { InlineCompletionItemFeature: 'inlineCompletionProvider' },
  linkedEditingRange: { LinkedEditingFeature: 'linkedEditingRangeProvider' },
  codeLens: { CodeLensFeature: 'codeLensProvider' },
  signatureHelp: { SignatureHelpFeature: 'signatureHelpProvider' },
  colorProvider: { ColorProviderFeature: 'colorProvider' },
  foldingRange: { FoldingRangeFeature: 'foldingRangeProvider' },
  selectionRange: { SelectionRangeFeature: 'selectionRangeProvider' },
  documentLink: { DocumentLinkFeature: 'documentLinkProvider' },
  documentHighlight: { DocumentHighlightFeature: 'documentHighlightProvider' },
  declaration: { DeclarationFeature: 'declarationProvider' },
  typeDefinition: { TypeDefinitionFeature: 'typeDefinitionProvider' },
  implementation: { ImplementationFeature: 'implementationProvider' },
  executeCommand: { ExecuteCommandFeature: 'executeCommandProvider' },
};

/** Exports of stubbed modules that are not feature classes, as the stubs define them. */
const EXTRA_EXPORTS = {
  // Type-level namespaces the library's API re-exports (lib/common/api.js); values as in diagnostic.js.
  diagnostic: {
    vsdiag: '{ DocumentDiagnosticReportKind: { full: "full", unChanged: "unChanged" } }',
    DiagnosticPullMode: '{ onType: "onType", onSave: "onSave", onFocus: "onFocus" }',
  },
};

/** Static members the rest of the library reads from a stubbed class. */
const STATICS = {
  NotebookDocumentSyncFeature: { CellScheme: '"vscode-notebook-cell"' },
};

const { nodeMain, commonDir, converted } = libraryDirs('vscode-languageclient', import.meta.url);
const stubsDir = join(dirname(fileURLToPath(import.meta.url)), 'stubs');

/** The names a CommonJS module of the library exports (`exports.X = ...`, as tsc writes them). */
function exportedNames(file) {
  const text = readFileSync(file, 'utf8');
  return new Set([...text.matchAll(/\bexports\.([A-Za-z_$][\w$]*)\s*=/g)].map((m) => m[1]));
}

function stubSource(module) {
  const features = STUBBED[module];
  const extras = EXTRA_EXPORTS[module] ?? {};
  const provided = new Set([...Object.keys(features), ...Object.keys(extras)]);
  const missing = [...exportedNames(join(commonDir, `${module}.js`))].filter((n) => !provided.has(n));
  if (missing.length) throw new Error(`clientSlim: vscode-languageclient's ${module}.js exports ${missing.join(', ')}, which its stub does not: update build/clientSlim.mjs`);
  let src = `import { StubFeature } from ${JSON.stringify(join(stubsDir, 'stubFeature.mjs'))};\n`;
  for (const [name, capability] of Object.entries(features)) {
    src += `export class ${name} extends StubFeature {\n`;
    for (const [k, v] of Object.entries(STATICS[name] ?? {})) src += `  static ${k} = ${v};\n`;
    src += `  constructor(client) { super(client, ${JSON.stringify(name)}, ${JSON.stringify(capability)}); }\n}\n`;
  }
  for (const [name, value] of Object.entries(extras)) src += `export const ${name} = ${value};\n`;
  return src;
}

// semver is only used by lib/node/main.js, to check the VS Code version against one caret range.
const SEMVER_CHECK = /const REQUIRED_VSCODE_VERSION = '\^[1-9]\d*\.\d+\.\d+';/;
const SEMVER_REQUIRES = 'require("semver/functions/parse"),require("semver/functions/satisfies")';

// The stubbed modules' exports, for the `export *` of the modules that re-export them.
const converter = esmConverter(converted, (spec, importer) => {
  const stub = /^\.\/(\w+)$/.exec(spec)?.[1];
  if (stub && STUBBED[stub] && importer.startsWith(commonDir)) return new Set([...Object.keys(STUBBED[stub]), ...Object.keys(EXTRA_EXPORTS[stub] ?? {})]);
  return undefined;
});

export function clientSlimPlugin() {
  return {
    name: 'pm-client-slim',
    setup(build) {
      build.onStart(() => {
        const main = readFileSync(nodeMain, 'utf8');
        const semverUses = (main.match(/require\("semver[^"]*"\)/g) ?? []).join();
        if (!SEMVER_CHECK.test(main) || semverUses !== SEMVER_REQUIRES) {
          return { errors: [{ text: 'clientSlim: vscode-languageclient/lib/node/main.js no longer uses semver as build/stubs/semver*.js expect: update build/clientSlim.mjs' }] };
        }
      });
      const names = Object.keys(STUBBED).join('|');
      build.onResolve({ filter: new RegExp(`^\\./(${names})$`) }, (args) => {
        if (!args.importer.startsWith(commonDir)) return undefined;
        return { path: args.path.slice(2), namespace: 'pm-client-slim' };
      });
      build.onLoad({ filter: /.*/, namespace: 'pm-client-slim' }, (args) => ({ contents: stubSource(args.path), loader: 'js', resolveDir: stubsDir }));
      converter.register(build, 'clientSlim');
      build.onResolve({ filter: /^semver\/functions\/(parse|satisfies)$/ }, (args) => {
        if (args.importer !== nodeMain) return undefined;
        return { path: join(stubsDir, args.path.endsWith('parse') ? 'semverParse.js' : 'semverSatisfies.js') };
      });
    },
  };
}
