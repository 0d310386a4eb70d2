/**
 * A strict little XML parser for tests of the XML we write (JUnit reports): elements,
 * attributes and text, with the well-formedness rules a CI system's parser enforces (one root,
 * matching tags, quoted attributes without `<`, no repeated attribute, only the five named
 * entities and character references, no character XML 1.0 forbids). It throws on anything else.
 */

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.:-]*/;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

function decode(s: string, where: string): string {
  return s.replace(/&([^;]*);?/g, (m, body: string) => {
    if (!m.endsWith(';')) throw new Error(`${where}: a bare '&'`);
    if (body in ENTITIES) return ENTITIES[body]!;
    const n = /^#x([0-9A-Fa-f]+)$/.exec(body) ?? /^#([0-9]+)$/.exec(body);
    if (!n) throw new Error(`${where}: unknown entity &${body};`);
    const code = parseInt(n[1]!, body.startsWith('#x') ? 16 : 10);
    const ch = String.fromCodePoint(code);
    if (FORBIDDEN.test(ch) || (code >= 0xd800 && code <= 0xdfff)) throw new Error(`${where}: &${body}; is not a character XML allows`);
    return ch;
  });
}

export function parseXml(doc: string): XmlElement {
  if (FORBIDDEN.test(doc)) throw new Error('the document holds a character XML 1.0 forbids');
  let i = 0;
  const skipSpace = () => {
    while (i < doc.length && /\s/.test(doc[i]!)) i++;
  };
  if (doc.startsWith('<?xml')) {
    const end = doc.indexOf('?>');
    if (end < 0) throw new Error('unterminated XML declaration');
    i = end + 2;
  }
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  while (i < doc.length) {
    if (doc[i] !== '<') {
      const next = doc.indexOf('<', i);
      const raw = doc.slice(i, next < 0 ? doc.length : next);
      if (raw.includes('>') && /\]\]>/.test(raw)) throw new Error("']]>' in text");
      const top = stack[stack.length - 1];
      if (!top) {
        if (raw.trim()) throw new Error(`text outside the root element: ${JSON.stringify(raw.slice(0, 40))}`);
      } else top.text += decode(raw, `text of <${top.name}>`);
      i = next < 0 ? doc.length : next;
      continue;
    }
    if (doc.startsWith('</', i)) {
      i += 2;
      const m = NAME.exec(doc.slice(i));
      if (!m) throw new Error('a closing tag without a name');
      i += m[0].length;
      skipSpace();
      if (doc[i] !== '>') throw new Error(`</${m[0]} is not closed`);
      i++;
      const open = stack.pop();
      if (!open || open.name !== m[0]) throw new Error(`</${m[0]}> closes <${open?.name ?? 'nothing'}>`);
      continue;
    }
    i++;
    const m = NAME.exec(doc.slice(i));
    if (!m) throw new Error(`a tag without a name at offset ${i}`);
    i += m[0].length;
    const el: XmlElement = { name: m[0], attributes: {}, children: [], text: '' };
    for (;;) {
      const before = i;
      skipSpace();
      if (doc.startsWith('/>', i) || doc[i] === '>') break;
      if (i === before) throw new Error(`<${el.name}>: attributes must be separated by spaces`);
      const a = NAME.exec(doc.slice(i));
      if (!a) throw new Error(`<${el.name}>: a bad attribute at offset ${i}`);
      i += a[0].length;
      if (doc[i] !== '=') throw new Error(`<${el.name}> ${a[0]}: no '='`);
      i++;
      const q = doc[i];
      if (q !== '"' && q !== "'") throw new Error(`<${el.name}> ${a[0]}: an unquoted value`);
      const end = doc.indexOf(q, i + 1);
      if (end < 0) throw new Error(`<${el.name}> ${a[0]}: an unterminated value`);
      const raw = doc.slice(i + 1, end);
      if (raw.includes('<')) throw new Error(`<${el.name}> ${a[0]}: '<' in a value`);
      if (a[0] in el.attributes) throw new Error(`<${el.name}>: attribute ${a[0]} repeated`);
      el.attributes[a[0]] = decode(raw, `<${el.name}> ${a[0]}`);
      i = end + 1;
    }
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(el);
    else if (root) throw new Error('more than one root element');
    else root = el;
    if (doc.startsWith('/>', i)) i += 2;
    else {
      i++;
      stack.push(el);
    }
  }
  if (stack.length) throw new Error(`<${stack[stack.length - 1]!.name}> is not closed`);
  if (!root) throw new Error('no root element');
  return root;
}
