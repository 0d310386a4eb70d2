// Rewrites the CommonJS that tsc emits (as vscode-languageclient, vscode-languageserver-protocol
// and vscode-jsonrpc ship) into the equivalent ES module, so that esbuild can tree-shake what the
// extension client never uses. Also marks TypeScript namespaces (`var X; (function (X) {...})(X
// || (X = {}))`) as pure when their body only defines members, so that an unused one is dropped.
//
// It only handles the exact shapes tsc writes (see `cjsToEsm` below) and throws on anything
// else; the plugin then keeps that module as CommonJS, which esbuild bundles as before.
import ts from 'typescript';

const HELPERS = new Set(['__createBinding', '__setModuleDefault', '__importStar', '__exportStar', '__importDefault']);

class Unsupported extends Error {}

/**
 * @param {string} source a module's text
 * @param {string} file its path (for messages)
 * @param {(specifier: string) => boolean} isEsm whether a required module is (or becomes) an ES
 *   module, so that `require(s)` can become `import * as x from s` (other requires stay as they are)
 * @param {Map<string, Set<string>>} [starNames] for a module with several `export *`, the names
 *   each one brings (by specifier): CommonJS's `__exportStar` lets the first module that exports
 *   a name win, where ES modules would drop an ambiguous name, so such names are exported by name
 * @returns {{ code: string, names: Set<string>, stars: string[] }} the ES module (only final for
 *   a module with several `export *` when `starNames` is given), the names the module itself
 *   exports and the specifiers it re-exports whole (`export *`), in order
 */
export function cjsToEsm(source, file, isEsm, starNames) {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  const fail = (node, why) => {
    const { line } = sf.getLineAndCharacterOfPosition(node.getStart(sf));
    throw new Unsupported(`${file}:${line + 1}: ${why}: ${node.getText(sf).slice(0, 80)}`);
  };
  const text = (node) => node.getText(sf);
  const isExports = (n) => ts.isIdentifier(n) && n.text === 'exports';
  const exportsProp = (n) => (ts.isPropertyAccessExpression(n) && isExports(n.expression) ? n.name.text : undefined);
  const requireOf = (n) =>
    n && ts.isCallExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'require' && n.arguments.length === 1 && ts.isStringLiteral(n.arguments[0]) ? n.arguments[0].text : undefined;
  const helperCall = (n, name) => n && ts.isCallExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === name ? n.arguments : undefined;

  const declared = new Map(); // top-level name -> number of declarations
  const declare = (name) => declared.set(name, (declared.get(name) ?? 0) + 1);
  for (const st of sf.statements) {
    if ((ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st)) && st.name) declare(st.name.text);
    if (ts.isVariableStatement(st)) for (const d of st.declarationList.declarations) if (ts.isIdentifier(d.name)) declare(d.name.text);
  }

  const namespaces = new Map(); // import namespace name -> specifier
  const out = new Map(); // statement -> replacement text ('' removes it)
  const exported = new Map(); // exported name -> local name
  const reexports = []; // `export ... from` statements
  const reexported = new Set(); // names exported by `reexports` (not counting `export *`)
  const stars = []; // specifiers of `export *`, in order
  const reexport = (name, imported, spec) => {
    reexports.push(`export { ${imported === name ? name : `${imported} as ${name}`} } from ${JSON.stringify(spec)};`);
    reexported.add(name);
  };
  const originalNames = new Set(); // every name the CommonJS module exported

  const statements = sf.statements;
  for (let i = 0; i < statements.length; i++) {
    const st = statements[i];
    if (ts.isExpressionStatement(st)) {
      const e = st.expression;
      if (ts.isStringLiteral(e) && e.text === 'use strict') {
        out.set(st, '');
        continue;
      }
      if (ts.isCallExpression(e) && text(e.expression) === 'Object.defineProperty' && e.arguments.length === 3 && isExports(e.arguments[0]) && ts.isStringLiteral(e.arguments[1])) {
        const name = e.arguments[1].text;
        if (name === '__esModule') {
          out.set(st, '');
          continue;
        }
        // Object.defineProperty(exports, "N", { enumerable: true, get: function () { return m_1.P; } });
        const desc = e.arguments[2];
        const get = ts.isObjectLiteralExpression(desc) && desc.properties.find((p) => p.name && text(p.name) === 'get');
        const fn = get && ts.isPropertyAssignment(get) && ts.isFunctionExpression(get.initializer) ? get.initializer : undefined;
        const ret = fn?.body.statements.length === 1 && ts.isReturnStatement(fn.body.statements[0]) ? fn.body.statements[0].expression : undefined;
        if (!ret || !ts.isPropertyAccessExpression(ret) || !ts.isIdentifier(ret.expression) || !namespaces.has(ret.expression.text)) fail(st, 'unsupported re-export');
        reexport(name, ret.name.text, namespaces.get(ret.expression.text));
        originalNames.add(name);
        out.set(st, '');
        continue;
      }
      const star = helperCall(e, '__exportStar');
      if (star) {
        const spec = requireOf(star[0]);
        if (!spec || !isExports(star[1]) || !isEsm(spec)) fail(st, 'unsupported export *');
        reexports.push(`export * from ${JSON.stringify(spec)};`);
        stars.push(spec);
        out.set(st, '');
        continue;
      }
      if (ts.isBinaryExpression(e) && e.operatorToken.kind === ts.SyntaxKind.EqualsToken && exportsProp(e.left)) {
        // exports.A = exports.B = void 0;
        let chain = e;
        const names = [];
        while (ts.isBinaryExpression(chain) && chain.operatorToken.kind === ts.SyntaxKind.EqualsToken && exportsProp(chain.left)) {
          names.push(exportsProp(chain.left));
          chain = chain.right;
        }
        if (ts.isVoidExpression(chain)) {
          names.forEach((n) => originalNames.add(n));
          out.set(st, '');
          continue;
        }
        if (names.length !== 1) fail(st, 'unsupported export assignment');
        const name = names[0];
        const rhs = e.right;
        originalNames.add(name);
        if (ts.isIdentifier(rhs) && declared.has(rhs.text)) {
          // exports.X = X;   exports.default = X;   exports.TraceValues = TraceValue;
          exported.set(name, rhs.text);
          out.set(st, '');
        } else if (ts.isPropertyAccessExpression(rhs) && ts.isIdentifier(rhs.expression) && namespaces.has(rhs.expression.text)) {
          // exports.RAL = ral_1.default;
          reexport(name, rhs.name.text, namespaces.get(rhs.expression.text));
          out.set(st, '');
        } else {
          // exports.NullLogger = Object.freeze({...});
          if (declared.has(name) || name === 'default') fail(st, 'export name collides with a local');
          exported.set(name, name);
          declare(name);
          out.set(st, `const ${name} = ${text(rhs)};`);
        }
        continue;
      }
      // var X; (function (X) { ... })(X || (exports.X = X = {}));
      const ns = namespaceIife(e);
      if (ns) {
        const prev = statements[i - 1];
        if (ns.exportedAs) {
          originalNames.add(ns.exportedAs);
          exported.set(ns.exportedAs, ns.name);
        }
        const ownVar = prev && ts.isVariableStatement(prev) && prev.declarationList.declarations.length === 1 && text(prev.declarationList.declarations[0].name) === ns.name && !prev.declarationList.declarations[0].initializer;
        if (ownVar && declared.get(ns.name) === 1 && pureBody(ns.fn.body, ns.name)) {
          out.set(prev, '');
          out.set(st, { pure: ns });
        } else {
          out.set(st, { impure: ns });
        }
        continue;
      }
    }
    if (ts.isVariableStatement(st) && st.declarationList.declarations.length === 1) {
      const d = st.declarationList.declarations[0];
      const name = ts.isIdentifier(d.name) ? d.name.text : undefined;
      if (name && HELPERS.has(name)) {
        out.set(st, '');
        continue;
      }
      const init = d.initializer;
      const spec = requireOf(init) ?? requireOf(helperCall(init, '__importStar')?.[0]) ?? requireOf(helperCall(init, '__importDefault')?.[0]);
      if (name && spec) {
        const plain = requireOf(init) !== undefined;
        const viaDefault = !plain && helperCall(init, '__importDefault') !== undefined;
        if (plain && !isEsm(spec)) continue; // const vscode_1 = require("vscode"): stays as it is
        if (viaDefault && !isEsm(spec)) fail(st, 'default import of a CommonJS module');
        // A converted module's namespace has what `require` gave (and `.default` for __importDefault);
        // for another module, __importStar and `import * as` both copy its properties.
        namespaces.set(name, spec);
        out.set(st, `import * as ${name} from ${JSON.stringify(spec)};`);
        continue;
      }
    }
  }

  // Every other `exports`/`module` use must be `exports.N` for an N this module exports.
  const replacements = []; // [start, end, text] inside kept statements
  const visit = (node) => {
    if (ts.isPropertyAccessExpression(node) && isExports(node.expression)) {
      const local = exported.get(node.name.text);
      if (!local) fail(node, 'unsupported use of exports');
      replacements.push([node.getStart(sf), node.end, local]);
      return;
    }
    if (ts.isIdentifier(node) && (node.text === 'exports' || node.text === 'module')) {
      const p = node.parent;
      const isName = (ts.isPropertyAccessExpression(p) && p.name === node) || (ts.isPropertyAssignment(p) && p.name === node) || (ts.isMethodDeclaration(p) && p.name === node) || ts.isPropertyDeclaration(p);
      if (!isName) fail(node, `unsupported use of ${node.text}`);
    }
    if (ts.isIdentifier(node) && HELPERS.has(node.text)) fail(node, 'helper still in use');
    node.forEachChild(visit);
  };
  const rewritten = (node, start = node.getStart(sf), end = node.end) => {
    let s = '';
    let at = start;
    for (const [a, b, t] of replacements.filter(([a, b]) => a >= start && b <= end).sort((x, y) => x[0] - y[0])) {
      s += source.slice(at, a) + t;
      at = b;
    }
    return s + source.slice(at, end);
  };

  for (const st of statements) {
    const r = out.get(st);
    if (r === undefined) visit(st);
    else if (typeof r === 'object') visit((r.pure ?? r.impure).fn);
    else if (r.startsWith('const ')) visit(st.expression.right);
  }

  let result = '';
  for (const st of statements) {
    const r = out.get(st);
    result += '\n';
    if (r === undefined) result += rewritten(st);
    else if (typeof r === 'string') {
      if (r.startsWith('const ')) {
        const rhs = st.expression.right;
        result += r.slice(0, r.indexOf(' = ') + 3) + rewritten(rhs) + ';';
      } else result += r;
    } else if (r.pure) {
      const { name, fn } = r.pure;
      const body = fn.body;
      result += `var ${name} = /* @__PURE__ */ (function (${name}) {${rewritten(body, body.getStart(sf) + 1, body.end - 1)}\n    return ${name};\n})({});`;
    } else {
      const { name, fn } = r.impure;
      result += `(${rewritten(fn)})(${name} || (${name} = {}));`;
    }
  }
  for (const name of originalNames) if (!exported.has(name) && !reexported.has(name)) fail(sf.statements[0], `export ${name} lost`);
  const list = [...exported].map(([name, local]) => (name === local ? name : `${local} as ${name}`));
  if (list.length) result += `\nexport { ${list.join(', ')} };`;
  if (reexports.length) result += '\n' + reexports.join('\n');
  if (stars.length > 1 && starNames) {
    const first = new Map(); // name -> the first `export *` that brings it
    const shared = new Set();
    for (const spec of stars) {
      const names = starNames.get(spec);
      if (!names) fail(sf.statements[0], `names of ${spec} unknown`);
      for (const n of names) {
        if (n === 'default' || exported.has(n) || reexported.has(n)) continue;
        if (first.has(n)) shared.add(n);
        else first.set(n, spec);
      }
    }
    for (const n of shared) result += `\nexport { ${n} } from ${JSON.stringify(first.get(n))};`;
  }
  return { code: result + '\n', names: new Set([...originalNames]), stars };

  /** `(function (X) {...})(X || (exports.X = X = {}))` or `(function (X) {...})(X || (X = {}))`. */
  function namespaceIife(e) {
    if (!ts.isCallExpression(e) || e.arguments.length !== 1 || !ts.isParenthesizedExpression(e.expression)) return undefined;
    const fn = e.expression.expression;
    if (!ts.isFunctionExpression(fn) || fn.parameters.length !== 1 || !ts.isIdentifier(fn.parameters[0].name)) return undefined;
    const name = fn.parameters[0].name.text;
    const arg = e.arguments[0];
    if (!ts.isBinaryExpression(arg) || arg.operatorToken.kind !== ts.SyntaxKind.BarBarToken || text(arg.left) !== name) return undefined;
    let assign = arg.right;
    while (ts.isParenthesizedExpression(assign)) assign = assign.expression;
    if (!ts.isBinaryExpression(assign) || assign.operatorToken.kind !== ts.SyntaxKind.EqualsToken) return undefined;
    let exportedAs;
    if (exportsProp(assign.left)) {
      exportedAs = exportsProp(assign.left);
      assign = assign.right;
      if (!ts.isBinaryExpression(assign) || assign.operatorToken.kind !== ts.SyntaxKind.EqualsToken) return undefined;
    }
    if (text(assign.left) !== name || text(assign.right) !== '{}') return undefined;
    return { name, fn, exportedAs };
  }
}

/**
 * Whether a namespace body only defines the namespace's members (functions, constants, nested
 * namespaces and enums), so that running it has no effect but building the namespace object.
 */
function pureBody(block, name) {
  for (const st of block.statements) {
    if (ts.isFunctionDeclaration(st)) continue;
    if (ts.isVariableStatement(st)) {
      if (st.declarationList.declarations.every((d) => !d.initializer || simpleValue(d.initializer))) continue;
      return false;
    }
    if (ts.isExpressionStatement(st)) {
      const e = st.expression;
      // X.member = value;   X[X["a"] = 0] = "a";
      if (ts.isBinaryExpression(e) && e.operatorToken.kind === ts.SyntaxKind.EqualsToken && memberOf(e.left, name) && simpleValue(e.right)) continue;
      // (function (Y) {...})(Y = X.Y || (X.Y = {}));
      if (ts.isCallExpression(e) && ts.isParenthesizedExpression(e.expression) && ts.isFunctionExpression(e.expression.expression) && e.arguments.length === 1) {
        const inner = e.expression.expression;
        const p = inner.parameters[0]?.name;
        const arg = e.arguments[0];
        if (p && ts.isIdentifier(p) && ts.isBinaryExpression(arg) && arg.getText() === `${p.text} = ${name}.${p.text} || (${name}.${p.text} = {})` && pureBody(inner.body, p.text)) continue;
      }
    }
    return false;
  }
  return true;
}

/** Calls that only build a value: `Object.freeze`, and vscode-languageserver-protocol's `CM.create` (returns `{ client, server }`). */
const PURE_CALLS = /^(Object\.freeze|[\w$]+\.CM\.create)$/;

function memberOf(node, name) {
  if (ts.isPropertyAccessExpression(node)) return ts.isIdentifier(node.expression) && node.expression.text === name;
  if (ts.isElementAccessExpression(node)) {
    if (!ts.isIdentifier(node.expression) || node.expression.text !== name) return false;
    const a = node.argumentExpression;
    return ts.isStringLiteral(a) || ts.isNumericLiteral(a) || (ts.isBinaryExpression(a) && memberOf(a.left, name) && simpleValue(a.right));
  }
  return false;
}

/**
 * A value whose evaluation has no effect outside itself: literals, functions, identifiers, member
 * reads, object and array literals of those, `new` of library classes (the request and
 * notification types these namespaces define), and PURE_CALLS.
 */
function simpleValue(n) {
  while (ts.isParenthesizedExpression(n) || ts.isAsExpression?.(n)) n = n.expression;
  if (ts.isStringLiteral(n) || ts.isNumericLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n) || ts.isRegularExpressionLiteral(n)) return true;
  if (n.kind === ts.SyntaxKind.TrueKeyword || n.kind === ts.SyntaxKind.FalseKeyword || n.kind === ts.SyntaxKind.NullKeyword) return true;
  if (ts.isPrefixUnaryExpression(n)) return simpleValue(n.operand);
  if (ts.isVoidExpression(n)) return simpleValue(n.expression);
  if (ts.isFunctionExpression(n) || ts.isArrowFunction(n) || ts.isIdentifier(n)) return true;
  if (ts.isPropertyAccessExpression(n)) return simpleValue(n.expression);
  if (ts.isBinaryExpression(n) && n.operatorToken.kind !== ts.SyntaxKind.EqualsToken) return simpleValue(n.left) && simpleValue(n.right);
  if (ts.isArrayLiteralExpression(n)) return n.elements.every(simpleValue);
  if (ts.isObjectLiteralExpression(n)) return n.properties.every((p) => (ts.isPropertyAssignment(p) ? simpleValue(p.initializer) && !ts.isComputedPropertyName(p.name) : ts.isMethodDeclaration(p) || ts.isShorthandPropertyAssignment(p)));
  if (ts.isNewExpression(n)) return ts.isPropertyAccessExpression(n.expression) && (n.arguments ?? []).every(simpleValue);
  if (ts.isCallExpression(n)) return PURE_CALLS.test(n.expression.getText()) && n.arguments.every(simpleValue);
  return false;
}

/** For a module that already is ESM (vscode-languageserver-types): `export var X; (function (X) {...})(X || (X = {}));` made pure. */
export function pureNamespaces(source, file) {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  const edits = [];
  const counts = new Map();
  for (const st of sf.statements) if (ts.isVariableStatement(st)) for (const d of st.declarationList.declarations) counts.set(d.name.getText(sf), (counts.get(d.name.getText(sf)) ?? 0) + 1);
  for (let i = 1; i < sf.statements.length; i++) {
    const prev = sf.statements[i - 1];
    const st = sf.statements[i];
    if (!ts.isVariableStatement(prev) || prev.declarationList.declarations.length !== 1 || prev.declarationList.declarations[0].initializer) continue;
    const name = prev.declarationList.declarations[0].name.getText(sf);
    if (!ts.isExpressionStatement(st) || !ts.isCallExpression(st.expression)) continue;
    const e = st.expression;
    if (!ts.isParenthesizedExpression(e.expression) || !ts.isFunctionExpression(e.expression.expression) || e.arguments.length !== 1) continue;
    const fn = e.expression.expression;
    if (fn.parameters.length !== 1 || fn.parameters[0].name.getText(sf) !== name || e.arguments[0].getText(sf) !== `${name} || (${name} = {})`) continue;
    if (counts.get(name) !== 1 || !pureBody(fn.body, name)) continue;
    const isExport = prev.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
    const body = source.slice(fn.body.getStart(sf) + 1, fn.body.end - 1);
    edits.push([prev.getStart(sf), st.end, `${isExport ? 'export ' : ''}var ${name} = /* @__PURE__ */ (function (${name}) {${body}\n    return ${name};\n})({});`]);
  }
  let s = '';
  let at = 0;
  for (const [a, b, t] of edits) {
    s += source.slice(at, a) + t;
    at = b;
  }
  return s + source.slice(at);
}

export { Unsupported };
