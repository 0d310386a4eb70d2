/**
 * docs/protocol.md held to the protocol module (protocol/protocol.ts, protocol/workflowTypes.ts, protocol/renderTypes.ts, protocol/testTypes.ts),
 * as rust-analyzer holds its lsp-extensions.md to lsp/ext.rs. Read with TypeScript's parser:
 * - every `promptManager/*` method the protocol declares has a `### \`method\`` heading, and
 *   every such heading names a declared method;
 * - each method's section says whether it is a request or a notification (as declared) and its
 *   direction, as the server implements it (it handles a client → server method and sends a
 *   server → client one);
 * - every field of its params and result types, nested types included, is mentioned (in
 *   backticks) in its section, or in the section of a shared type (`### \`TypeName\``) that
 *   the method's section names;
 * - the error codes, PROTOCOL_VERSION and the settings are stated;
 * - the doc records a hash of the protocol files: any change to them, even a comment,
 *   fails here until someone has read the doc against it and recorded the new hash.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { REPO } from '../helpers/paths.js';
import { parseSource, ts, tsFilesUnder, type TS } from '../helpers/typescript.js';

const DOC = 'docs/protocol.md';
const PROTOCOL_FILES = ['protocol/protocol.ts', 'protocol/workflowTypes.ts', 'protocol/renderTypes.ts', 'protocol/testTypes.ts'];

const docText = () => fs.readFileSync(path.join(REPO, DOC), 'utf8');

// ------------------------------------------------------------------ the protocol, as declared

interface Method {
  name: string;
  /** The exported constant (`RenderRequest`). */
  constant: string;
  kind: 'request' | 'notification';
  params?: TS.TypeNode;
  result?: TS.TypeNode;
}

/** Interfaces and type aliases of the protocol files, exported or not, by name. */
type Declarations = Map<string, TS.InterfaceDeclaration | TS.TypeAliasDeclaration>;

function readProtocol(): { methods: Method[]; declarations: Declarations; sources: Map<string, TS.SourceFile> } {
  const methods: Method[] = [];
  const declarations: Declarations = new Map();
  const sources = new Map<string, TS.SourceFile>();
  for (const file of tsFilesUnder('protocol')) {
    const sf = parseSource(file);
    sources.set(file, sf);
    for (const st of sf.statements) {
      if (ts.isInterfaceDeclaration(st) || ts.isTypeAliasDeclaration(st)) declarations.set(st.name.text, st);
      if (!ts.isVariableStatement(st)) continue;
      for (const d of st.declarationList.declarations) {
        const init = d.initializer;
        if (!init || !ts.isNewExpression(init) || !ts.isIdentifier(init.expression) || !ts.isIdentifier(d.name)) continue;
        const cls = init.expression.text;
        const arg = init.arguments?.[0];
        if (!arg || !ts.isStringLiteral(arg)) continue;
        const targs = init.typeArguments ?? [];
        if (cls === 'RequestType' || cls === 'ProtocolRequestType' || cls === 'RequestType0') {
          methods.push({ name: arg.text, constant: d.name.text, kind: 'request', ...(targs[0] ? { params: targs[0] } : {}), ...(targs[1] ? { result: targs[1] } : {}) });
        } else if (cls === 'NotificationType' || cls === 'NotificationType0') {
          methods.push({ name: arg.text, constant: d.name.text, kind: 'notification', ...(targs[0] ? { params: targs[0] } : {}) });
        }
      }
    }
  }
  return { methods, declarations, sources };
}

/**
 * The fields a type holds, as a tree walked in order: each property is `{ name, of }` where `of`
 * is the named protocol type it was declared in (undefined for an inline object type). Named
 * types are walked once per call (`seen`); types the protocol does not declare (LSP's
 * `Location`, `Range`, `Record`) are leaves.
 */
interface Field {
  name: string;
  /** The protocol type that declares it, if any. */
  owner?: string;
}

/** A type reference's name; works on references the test builds too (they have no source text). */
const refName = (n: TS.TypeReferenceNode) => (ts.isIdentifier(n.typeName) ? n.typeName.text : n.typeName.getText());

function fieldsOf(node: TS.TypeNode | undefined, decls: Declarations, stopAt: (typeName: string) => boolean, seen = new Set<string>()): Field[] {
  if (!node) return [];
  const out: Field[] = [];
  const members = (ms: readonly TS.TypeElement[], owner?: string) => {
    for (const m of ms) {
      if (!ts.isPropertySignature(m) || !m.name) continue;
      const name = ts.isIdentifier(m.name) || ts.isStringLiteral(m.name) ? m.name.text : m.name.getText();
      out.push({ name, ...(owner ? { owner } : {}) });
      out.push(...fieldsOf(m.type, decls, stopAt, seen));
    }
  };
  if (ts.isTypeReferenceNode(node)) {
    const name = refName(node);
    for (const a of node.typeArguments ?? []) out.push(...fieldsOf(a, decls, stopAt, seen));
    const decl = decls.get(name);
    if (!decl || seen.has(name) || stopAt(name)) return out;
    seen.add(name);
    if (ts.isInterfaceDeclaration(decl)) {
      for (const h of decl.heritageClauses ?? []) for (const t of h.types) out.push(...fieldsOf(ts.factory.createTypeReferenceNode((t.expression as TS.Identifier).text, t.typeArguments), decls, stopAt, seen));
      members(decl.members, name);
    } else out.push(...fieldsOf(decl.type, decls, stopAt, seen));
  } else if (ts.isTypeLiteralNode(node)) members(node.members);
  else if (ts.isUnionTypeNode(node) || ts.isIntersectionTypeNode(node)) for (const t of node.types) out.push(...fieldsOf(t, decls, stopAt, seen));
  else if (ts.isArrayTypeNode(node)) out.push(...fieldsOf(node.elementType, decls, stopAt, seen));
  else if (ts.isParenthesizedTypeNode(node)) out.push(...fieldsOf(node.type, decls, stopAt, seen));
  // Indexed access (`WorkflowStatus['status']`), literals and keywords hold no fields of their own.
  return out;
}

/** The protocol types a type refers to (through nesting), by name. */
function typeNamesIn(node: TS.TypeNode | undefined, decls: Declarations, seen = new Set<string>()): Set<string> {
  if (!node) return seen;
  const visit = (n: TS.Node): void => {
    if (ts.isTypeReferenceNode(n)) {
      const name = refName(n);
      const decl = decls.get(name);
      if (decl && !seen.has(name)) {
        seen.add(name);
        visit(decl);
      }
    } else if (ts.isExpressionWithTypeArguments(n)) {
      const name = n.expression.getText();
      const decl = decls.get(name);
      if (decl && !seen.has(name)) {
        seen.add(name);
        visit(decl);
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(node);
  return seen;
}

// ------------------------------------------------------------------ the document

interface Section {
  heading: string;
  /** The text from the heading to the next heading of the same or a higher level. */
  body: string;
}

/** The document's `### \`promptManager/...\`` sections (methods), its other `### \`Name\`` sections (types), and its `## ...` chapters, by name. */
function sections(doc: string): { methods: Map<string, Section>; types: Map<string, Section>; chapters: Map<string, string> } {
  const lines = doc.split('\n');
  const methods = new Map<string, Section>();
  const types = new Map<string, Section>();
  const chapters = new Map<string, string>();
  let chapter = '';
  let chapterStart = -1;
  const flushChapter = (end: number) => {
    if (chapterStart >= 0) chapters.set(chapter, lines.slice(chapterStart, end).join('\n'));
  };
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const h2 = /^## (.+)$/.exec(l);
    if (h2) {
      flushChapter(i);
      chapter = h2[1]!.trim();
      chapterStart = i;
      continue;
    }
    const h3 = /^### `([^`]+)`\s*$/.exec(l);
    if (!h3) continue;
    let end = i + 1;
    while (end < lines.length && !/^#{1,3} /.test(lines[end]!)) end++;
    const s = { heading: h3[1]!, body: lines.slice(i, end).join('\n') };
    if (h3[1]!.startsWith('promptManager/')) methods.set(h3[1]!, s);
    else types.set(h3[1]!, s);
  }
  flushChapter(lines.length);
  return { methods, types, chapters };
}

const mentions = (text: string, word: string) => text.includes('`' + word + '`');

/** How the server uses each protocol constant: handles it (`onRequest`/`onNotification`) or sends it. */
function serverUse(): Map<string, Set<'handles' | 'sends'>> {
  const use = new Map<string, Set<'handles' | 'sends'>>();
  for (const file of tsFilesUnder('server')) {
    const sf = parseSource(file);
    const visit = (n: TS.Node): void => {
      if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && n.arguments[0] && ts.isIdentifier(n.arguments[0])) {
        const how = { onRequest: 'handles', onNotification: 'handles', sendNotification: 'sends', sendRequest: 'sends' }[n.expression.name.text] as 'handles' | 'sends' | undefined;
        if (how) {
          const set = use.get(n.arguments[0].text) ?? new Set();
          set.add(how);
          use.set(n.arguments[0].text, set);
        }
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return use;
}

// ------------------------------------------------------------------ the tests

test('protocol doc: every method the protocol declares has its section, and every section a method', () => {
  const { methods } = readProtocol();
  assert.ok(methods.length >= 15, `${methods.length} methods read from protocol/`);
  const documented = [...sections(docText()).methods.keys()].sort();
  const declared = methods.map((m) => m.name).sort();
  assert.deepEqual(documented, declared, `${DOC} has one "### \`promptManager/...\`" section per method of protocol/protocol.ts: add the missing ones, remove the ones no longer declared`);
});

test('protocol doc: each section says request or notification, and its direction as the server implements it', () => {
  const { methods } = readProtocol();
  const docs = sections(docText()).methods;
  const use = serverUse();
  const problems: string[] = [];
  for (const m of methods) {
    const body = docs.get(m.name)?.body;
    if (!body) continue;
    const how = use.get(m.constant);
    if (!how || how.size !== 1) {
      problems.push(`${m.name}: the server should either handle or send ${m.constant}, found ${how ? [...how].join(' and ') : 'neither'}`);
      continue;
    }
    const direction = how.has('handles') ? 'client → server' : 'server → client';
    const kind = m.kind === 'request' ? 'Request' : 'Notification';
    if (!body.includes(`${kind}, ${direction}`)) problems.push(`${m.name}: its section should say "${kind}, ${direction}"`);
  }
  assert.deepEqual(problems, []);
});

test('protocol doc: every field of every params and result type is documented where the method is', () => {
  const { methods, declarations } = readProtocol();
  const doc = sections(docText());
  const problems: string[] = [];
  const typeSections = doc.types;
  // The shared types: each of their fields is documented in their own section.
  for (const [name, s] of typeSections) {
    const decl = declarations.get(name);
    if (!decl) {
      problems.push(`Types: "${name}" is not a type of protocol/`);
      continue;
    }
    const node = ts.factory.createTypeReferenceNode(name);
    for (const f of fieldsOf(node, declarations, (t) => t !== name && typeSections.has(t) && mentions(s.body, t))) {
      if (!mentions(s.body, f.name)) problems.push(`Types › ${name}: field \`${f.name}\`${f.owner ? ` (of ${f.owner})` : ''} is not mentioned`);
    }
  }
  for (const m of methods) {
    const s = doc.methods.get(m.name);
    if (!s) continue;
    // A shared type the section names is documented in its own section.
    const shared = (t: string) => typeSections.has(t) && mentions(s.body, t);
    for (const [what, node] of [['params', m.params], ['result', m.result]] as const) {
      for (const f of fieldsOf(node, declarations, shared)) {
        if (!mentions(s.body, f.name)) problems.push(`${m.name}: ${what} field \`${f.name}\`${f.owner ? ` (of ${f.owner})` : ''} is not mentioned in its section`);
      }
    }
  }
  assert.deepEqual(problems, [], `document each field in ${DOC}, in backticks, under its method (or under the shared type's section the method names)`);
  // The walk sees the fields it should: a nested one, an inherited one, a union member's.
  const list = fieldsOf(methods.find((m) => m.name === 'promptManager/listTemplates')!.result, declarations, () => false).map((f) => f.name);
  assert.ok(list.includes('usedByCompositions') && list.includes('items'), list.join(', '));
  const progress = fieldsOf(methods.find((m) => m.name === 'promptManager/stepProgress')!.params, declarations, () => false).map((f) => f.name);
  assert.ok(progress.includes('nextAttempt') && progress.includes('runId') && progress.includes('time'), progress.join(', '));
  const graph = fieldsOf(methods.find((m) => m.name === 'promptManager/compositionGraph')!.result, declarations, () => false).map((f) => f.name);
  assert.ok(graph.includes('hasFallback') && graph.includes('templateUri'), graph.join(', '));
});

test('protocol doc: every type a method uses that has a section is named there, so no section documents nothing', () => {
  const { methods, declarations } = readProtocol();
  const doc = sections(docText());
  const used = new Set<string>();
  for (const m of methods) for (const n of [m.params, m.result]) for (const t of typeNamesIn(n, declarations)) used.add(t);
  const orphans = [...doc.types.keys()].filter((t) => !used.has(t) && t !== 'PromptManagerSettings');
  assert.deepEqual(orphans, [], 'a Types section for a type no method uses: remove it, or document what uses it');
});

test('protocol doc: PROTOCOL_VERSION, every error code and every setting are stated', () => {
  const { sources, declarations } = readProtocol();
  const doc = docText();
  const sf = sources.get('protocol/protocol.ts')!;
  const constant = (name: string): TS.Expression => {
    for (const st of sf.statements) {
      if (!ts.isVariableStatement(st)) continue;
      for (const d of st.declarationList.declarations) if (ts.isIdentifier(d.name) && d.name.text === name && d.initializer) return d.initializer;
    }
    throw new Error(`protocol/protocol.ts declares no ${name}`);
  };
  const version = constant('PROTOCOL_VERSION').getText(sf);
  assert.ok(doc.includes(`\`PROTOCOL_VERSION = ${version}\``), `${DOC} states \`PROTOCOL_VERSION = ${version}\``);
  let codes = constant('PROMPT_ERROR_CODES');
  while (ts.isAsExpression(codes) || ts.isSatisfiesExpression(codes)) codes = codes.expression;
  assert.ok(ts.isArrayLiteralExpression(codes));
  const errors = sections(doc).chapters.get('Errors') ?? '';
  const missing = codes.elements.map((e) => (e as TS.StringLiteral).text).filter((c) => !mentions(errors, c));
  assert.deepEqual(missing, [], `the "Errors" chapter of ${DOC} names every PROMPT_ERROR_CODES entry`);
  const settings = sections(doc).types.get('PromptManagerSettings')?.body ?? '';
  const fields = fieldsOf(ts.factory.createTypeReferenceNode('PromptManagerSettings'), declarations, () => false).map((f) => f.name);
  assert.ok(fields.includes('maxProblemsPerFile'));
  assert.deepEqual(fields.filter((f) => !mentions(settings, f)), [], `${DOC} documents every field of PromptManagerSettings`);
});

/** The hash the document records: the protocol files' text, line endings normalized. */
function protocolHash(): string {
  const h = createHash('sha256');
  for (const f of PROTOCOL_FILES) h.update(`${f}\n${fs.readFileSync(path.join(REPO, f), 'utf8').replace(/\r\n?/g, '\n')}\n`);
  return h.digest('hex').slice(0, 16);
}

test('protocol doc: reviewed against the current protocol files (the hash it records)', () => {
  const recorded = /protocol hash: ([0-9a-f]{16})/.exec(docText())?.[1];
  const current = protocolHash();
  assert.equal(
    recorded,
    current,
    `${PROTOCOL_FILES.join(' or ')} changed since ${DOC} was last reviewed against them. ` +
      `Read the change, update ${DOC} where it documents what changed (and bump PROTOCOL_VERSION in protocol/protocol.ts if a client written for the old protocol would break), ` +
      `then replace the hash in ${DOC}'s first lines with: protocol hash: ${current}`,
  );
});
