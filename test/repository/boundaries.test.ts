/**
 * The layers the folders show, held by a check: every import of core/, cli/,
 * server/, client/ and protocol/ (importGraph.ts reads them with TypeScript's parser, type-only
 * ones included) against the rules below. A forbidden import fails `npm test` with its file,
 * line and rule. The last tests run the check over a small tree with forbidden imports, to show
 * that it finds them.
 *
 *   client ──> protocol <── server ──> core <── cli
 *
 * Inside the core, folders import only folders below them in CORE_FOLDER_ORDER, so there is
 * no cycle between them; core/index.ts, the library's list of exports, is above them all.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { REPO } from '../helpers/paths.js';
import { importsOf, sourceFiles, type ImportEdge } from './importGraph.js';

const LAYERS = ['core', 'cli', 'server', 'client', 'protocol'] as const;
type Layer = (typeof LAYERS)[number];

/**
 * Core's folders, lowest first; `.` is core's own modules (errors, limits, clock, plural).
 * text: positions and the line index; stats: the latency histogram; yaml: the parser and source
 * tree; model: the configuration's model and diagnostics; templates: Handlebars analysis and
 * helpers; workspace: files and discovery; workflow: the DAG engine; validate: the validator;
 * manager: the PromptManager with its caches, metrics, health and factory; testing: the prompt
 * test runner over the manager.
 */
const CORE_FOLDER_ORDER = ['.', 'text', 'stats', 'yaml', 'model', 'templates', 'workspace', 'workflow', 'validate', 'manager', 'testing'] as const;
/** The library's list of exports: it imports from every folder. */
const CORE_BARREL = 'core/index.ts';

const isVscodeModule = (pkg: string) => /^vscode($|-)/.test(pkg) || pkg.startsWith('@vscode/');
const isBuiltin = (pkg: string) => pkg.startsWith('node:');

/** The layer a path (relative to the root) belongs to, if any. */
function layerOf(p: string): Layer | undefined {
  const top = p.split('/')[0];
  return (LAYERS as readonly string[]).includes(top!) ? (top as Layer) : undefined;
}
/** The core folder of a path under core/ (`.` for core's own modules). */
function coreFolderOf(p: string): string {
  const parts = p.split('/');
  return parts.length > 2 ? parts[1]! : '.';
}
/** A core path's place in CORE_FOLDER_ORDER (core/index.ts above them all); -1 for a folder not in it. */
function coreRank(p: string): number {
  if (p.replace(/\.js$/, '.ts') === CORE_BARREL) return CORE_FOLDER_ORDER.length;
  return (CORE_FOLDER_ORDER as readonly string[]).indexOf(coreFolderOf(p));
}

interface Violation {
  file: string;
  line: number;
  specifier: string;
  rule: string;
}

interface Rule {
  /** Says what is allowed, as the failure message. */
  rule: string;
  /** Whether the rule concerns imports of this file. */
  appliesTo(file: string): boolean;
  /** Whether this import breaks it. */
  breaks(edge: ImportEdge): boolean;
}

/** Whether a relative import stays within these layers (or, for `extra`, under these folders). */
const within = (e: ImportEdge, layers: readonly Layer[], extra: readonly string[] = []) =>
  e.target === undefined || layers.includes(layerOf(e.target)!) || extra.some((d) => e.target!.startsWith(`${d}/`));

const RULES: readonly Rule[] = [
  {
    rule: 'core/ imports no editor or LSP module (vscode*) and nothing from server/, client/, protocol/ or cli/ (only core/ and the JSON schemas of schemas/)',
    appliesTo: (f) => layerOf(f) === 'core',
    breaks: (e) => (e.packageName !== undefined && isVscodeModule(e.packageName)) || !within(e, ['core'], ['schemas']),
  },
  {
    rule: 'client/ imports only protocol/ and its own files, vscode, vscode-languageclient and Node builtins',
    appliesTo: (f) => layerOf(f) === 'client',
    breaks: (e) => (e.packageName !== undefined && !(e.packageName === 'vscode' || e.packageName === 'vscode-languageclient' || isBuiltin(e.packageName))) || !within(e, ['client', 'protocol']),
  },
  {
    rule: 'protocol/ imports only vscode-languageserver-protocol and its own files',
    appliesTo: (f) => layerOf(f) === 'protocol',
    breaks: (e) => (e.packageName !== undefined && e.packageName !== 'vscode-languageserver-protocol') || !within(e, ['protocol']),
  },
  {
    rule: 'cli/ imports only core/ and its own files: nothing from server/, client/ or protocol/, no vscode* module',
    appliesTo: (f) => layerOf(f) === 'cli',
    breaks: (e) => (e.packageName !== undefined && isVscodeModule(e.packageName)) || !within(e, ['cli', 'core']),
  },
  {
    rule: 'server/ imports nothing from client/ or cli/ (only server/, core/ and protocol/), and not the editor API (vscode, vscode-languageclient): it runs outside the editor',
    appliesTo: (f) => layerOf(f) === 'server',
    breaks: (e) => (e.packageName !== undefined && (e.packageName === 'vscode' || e.packageName === 'vscode-languageclient' || e.packageName.startsWith('@vscode/'))) || !within(e, ['server', 'core', 'protocol']),
  },
  {
    rule: 'core/workflow/ imports nothing from core/manager/ (the manager uses the workflow engine, not the reverse)',
    appliesTo: (f) => f.startsWith('core/workflow/'),
    breaks: (e) => e.target?.startsWith('core/manager/') === true,
  },
  {
    rule: 'core/yaml/ imports nothing from core/model/ (the model is built from YAML, not the reverse)',
    appliesTo: (f) => f.startsWith('core/yaml/'),
    breaks: (e) => e.target?.startsWith('core/model/') === true,
  },
  {
    rule: `core's folders import only their own and the folders below them: ${CORE_FOLDER_ORDER.join(' < ')} < index.ts`,
    appliesTo: (f) => layerOf(f) === 'core',
    breaks: (e) => {
      if (!e.target?.startsWith('core/')) return false;
      const from = coreRank(e.file);
      const to = coreRank(e.target);
      return from >= 0 && to >= 0 && to > from;
    },
  },
  {
    rule: `every core folder has its place in CORE_FOLDER_ORDER (test/repository/boundaries.test.ts)`,
    appliesTo: (f) => layerOf(f) === 'core',
    breaks: (e) => !(CORE_FOLDER_ORDER as readonly string[]).includes(coreFolderOf(e.file)),
  },
  {
    rule: 'an import names its module with a string literal, so that this check can follow it',
    appliesTo: () => true,
    breaks: (e) => e.dynamic === true,
  },
];

/** Every import of the five layers under `root` that breaks a rule. */
function checkBoundaries(root: string): Violation[] {
  const out: Violation[] = [];
  for (const file of sourceFiles(root, LAYERS)) {
    for (const edge of importsOf(root, file)) {
      for (const r of RULES) if (r.appliesTo(file) && r.breaks(edge)) out.push({ file, line: edge.line, specifier: edge.specifier, rule: r.rule });
    }
  }
  return out;
}

const show = (v: Violation) => `${v.file}:${v.line}: '${v.specifier}': ${v.rule}`;

test('no import crosses a layer the wrong way', () => {
  const files = sourceFiles(REPO, LAYERS);
  // The check reads the real tree: each layer has sources, and the core's folders are all ordered.
  for (const l of LAYERS) assert.ok(files.some((f) => f.startsWith(`${l}/`)), `no source under ${l}/`);
  const violations = checkBoundaries(REPO);
  assert.deepEqual(violations.map(show), [], 'move the code to the layer that may import it, or import it through the layer that may');
});

test('every core folder is in the folder order, and the order names no folder that is gone', () => {
  const folders = new Set(sourceFiles(REPO, ['core']).map(coreFolderOf));
  assert.deepEqual([...folders].sort(), [...CORE_FOLDER_ORDER].sort());
});

test('the check finds forbidden imports of every form, with file, line and rule', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-boundaries-'));
  const files: Record<string, string> = {
    // Allowed: the arrows the layers may have.
    'core/errors.ts': 'export const E = 1;\n',
    'core/model/types.ts': "import { E } from '../errors.js';\nexport type T = typeof E;\n",
    'core/manager/m.ts': "import type { T } from '../model/types.js';\nimport { W } from '../workflow/w.js';\nexport const M: T = W;\n",
    'core/index.ts': "export * from './manager/m.js';\n",
    'protocol/protocol.ts': "import { RequestType } from 'vscode-languageserver-protocol';\nexport * from './types.js';\n",
    'protocol/types.ts': 'export type P = string;\n',
    'client/ok.ts': "import * as vscode from 'vscode';\nimport { LanguageClient } from 'vscode-languageclient/node';\nimport * as fs from 'node:fs';\nimport type { P } from '../protocol/protocol.js';\n",
    'server/ok.ts': "import { createConnection } from 'vscode-languageserver/node';\nimport { M } from '../core/manager/m.js';\nimport type { P } from '../protocol/protocol.js';\n",
    'cli/ok.ts': "import { M } from '../core/index.js';\nimport * as path from 'path';\n",
    // Forbidden, one of each form.
    'core/workflow/w.ts': "export const W = 1;\n\nimport type { M } from '../manager/m.js';\n",
    'core/yaml/y.ts': "// a comment\nconst m = require('../model/types.js');\n",
    'core/model/late.ts': "export async function f() {\n  return import('../validate/v.js');\n}\n",
    'core/validate/v.ts': "export type C = typeof import('vscode-languageserver');\n",
    'core/validate/up.ts': "export { P } from '../../protocol/protocol.js';\n",
    'core/newFolder/n.ts': "import { E } from '../errors.js';\n",
    'client/bad.ts': "import type { M } from '../core/manager/m.js';\nimport { createConnection } from 'vscode-languageserver/node';\n",
    'protocol/bad.ts': "export type { T } from '../core/model/types.js';\nimport x = require('node:fs');\n",
    'cli/bad.ts': "import { S } from '../server/ok.js';\n",
    'server/bad.ts': "import * as vscode from 'vscode';\nconst name = 'x';\nconst c = require(name);\nimport { B } from '../cli/bad.js';\n",
  };
  try {
    for (const [rel, text] of Object.entries(files)) {
      fs.mkdirSync(path.join(root, path.dirname(rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), text);
    }
    const found = checkBoundaries(root).map((v) => `${v.file}:${v.line}: ${v.specifier} | ${v.rule.split(' ').slice(0, 2).join(' ')}`);
    assert.deepEqual(found.sort(), [
      'cli/bad.ts:1: ../server/ok.js | cli/ imports',
      'client/bad.ts:1: ../core/manager/m.js | client/ imports',
      'client/bad.ts:2: vscode-languageserver/node | client/ imports',
      "core/model/late.ts:2: ../validate/v.js | core's folders",
      'core/newFolder/n.ts:1: ../errors.js | every core',
      'core/validate/up.ts:1: ../../protocol/protocol.js | core/ imports',
      'core/validate/v.ts:1: vscode-languageserver | core/ imports',
      "core/workflow/w.ts:3: ../manager/m.js | core's folders",
      'core/workflow/w.ts:3: ../manager/m.js | core/workflow/ imports',
      "core/yaml/y.ts:2: ../model/types.js | core's folders",
      'core/yaml/y.ts:2: ../model/types.js | core/yaml/ imports',
      'protocol/bad.ts:1: ../core/model/types.js | protocol/ imports',
      'protocol/bad.ts:2: node:fs | protocol/ imports',
      'server/bad.ts:1: vscode | server/ imports',
      'server/bad.ts:3: name | an import',
      'server/bad.ts:4: ../cli/bad.js | server/ imports',
    ]);
    const messages = checkBoundaries(root).map(show);
    assert.ok(messages.includes("core/workflow/w.ts:3: '../manager/m.js': core/workflow/ imports nothing from core/manager/ (the manager uses the workflow engine, not the reverse)"), messages.join('\n'));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
